"""GitHub Actions workflow commands: one `::warning …::message` line per finding, shown as annotations.

Values are escaped the way the Actions runner decodes them: `%`, CR and LF in the message; those plus
`:` and `,` in properties. Columns only describe a single line there, so a multi-line span keeps its
lines and start column and drops `endColumn`. Notebook findings annotate the file and name the cell in
the message, since cell lines are not lines of the .ipynb file.
"""

from __future__ import annotations

from advisor.present import describe_runtime, verification_lines
from advisor.types import Finding, ScanResult, Severity

COMMANDS = {Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(name: str, properties: dict[str, object], message: str) -> str:
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    return f"::{name} {props}::{escape_data(message)}"


def annotation(f: Finding) -> str:
    properties: dict[str, object] = {"file": f.path}
    lines = [f"{f.message}", f"fix: {f.suggestion}", *(line for v in f.verifications for line in verification_lines(v))]
    if f.runtime is not None:
        lines.append(describe_runtime(f.runtime))
    if f.cell is None:
        properties.update(line=f.span.line, col=f.span.column, endLine=f.span.end_line)
        if f.span.end_line == f.span.line:
            properties["endColumn"] = f.span.end_column
    else:
        lines[0] = f"cell {f.cell + 1}, line {f.span.line}, column {f.span.column}: {lines[0]}"
    properties["title"] = f.code
    return _command(COMMANDS[f.severity], properties, "\n".join(lines))


def render(result: ScanResult, **_: object) -> str:
    out = [annotation(f) for f in result.findings]
    out += [_command("error", {"file": e.path, "title": "advisor"}, e.message) for e in result.errors]
    return "".join(line + "\n" for line in out)
