"""GitHub Actions annotations: one workflow command per finding, escaped as the runner decodes them."""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import unquote

from advisor.report import render
from advisor.report.github import escape_data, escape_property
from advisor.types import FileError, ScanResult, Severity
from report_samples import sample_result

COMMAND = re.compile(r"^::(warning|notice|error) ((?:[A-Za-z]+=[^,:]*)(?:,[A-Za-z]+=[^,:]*)*)::(.*)$")


def parse(line: str) -> tuple[str, dict[str, str], str]:
    """Decode a workflow command the way the Actions runner does."""
    match = COMMAND.match(line)
    assert match, line
    props = dict(p.split("=", 1) for p in match.group(2).split(","))
    return match.group(1), {k: unquote(v) for k, v in props.items()}, unquote(match.group(3))


def test_one_annotation_per_finding_with_exact_positions():
    lines = render("github", sample_result()).splitlines()
    assert len(lines) == 3
    kind, props, message = parse(next(line for line in lines if "src/mm.py" in line))
    assert kind == "warning"
    assert props == {"file": "src/mm.py", "line": "5", "col": "12", "endLine": "5", "endColumn": "76", "title": "ADV401"}
    assert message.splitlines()[0].startswith("Replace this Python-loop matrix multiplication")
    assert "fix: " in message and "5,210x faster" in message


def test_escaping_of_data_and_properties():
    assert escape_data("100%\r\ndone") == "100%25%0D%0Adone"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    result = sample_result()
    tricky = replace(result.findings[2], path="dir,x/we:ird%.py", message="50% of steps\nsync, here: now")
    (line,) = render("github", ScanResult(findings=[tricky])).splitlines()
    assert "\n" not in line and line.count("::") == 2
    _, props, message = parse(line)
    assert props["file"] == "dir,x/we:ird%.py"
    assert message.startswith("50% of steps\nsync, here: now\n")


def test_notebook_findings_name_the_cell_instead_of_a_file_line():
    notebook = next(f for f in sample_result().findings if f.cell is not None)
    _, props, message = parse(render("github", ScanResult(findings=[notebook])).strip())
    assert props == {"file": "nb/explore.ipynb", "title": notebook.code}
    assert message.startswith(f"cell 3, line 4, column {notebook.span.column}: ")


def test_multiline_span_drops_end_column_and_info_is_a_notice():
    f = sample_result().findings[2]
    f = replace(f, span=replace(f.span, end_line=f.span.line + 2), severity=Severity.INFO)
    kind, props, _ = parse(render("github", ScanResult(findings=[f])).strip())
    assert kind == "notice" and "endColumn" not in props and props["endLine"] == str(f.span.line + 2)


def test_unanalysable_files_are_errors():
    out = render("github", ScanResult(errors=[FileError("bad.py", "syntax error at line 1, column 2: x — fix it")]))
    kind, props, message = parse(out.strip())
    assert kind == "error" and props["file"] == "bad.py" and message.startswith("syntax error")
