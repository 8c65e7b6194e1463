"""`%load_ext advisor`: the `%advisor` and `%%advisor` IPython magics.

`%advisor` scans the cells this kernel has run (its input history, magics and `!shell` lines skipped the
way a saved notebook's are); `%%advisor` scans the cell it heads, with the earlier cells as context so
their imports count, and does not run it. Both return one display object: an HTML table in a notebook,
readable text in a terminal IPython. `--verify` measures the fired rules' pairs in child processes of
this kernel's own Python, so the figures describe the environment the notebook trains in.

Only this module imports IPython, and only when the extension is loaded.
"""

from __future__ import annotations

import html
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.types import Finding, ScanResult

USAGE = "usage: %advisor [--select CODES] [--ignore CODES] [--verify] [--device auto|cpu|cuda|all] [--timeout S]"


@dataclass
class Options:
    select: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    verify: bool = False
    device: str = "auto"
    timeout: float = 60.0


class UsageError(Exception):
    """Bad magic arguments: shown to the user as one line, never a traceback."""


def parse_options(line: str) -> Options:
    """The magic's own small argument syntax (the CLI's names, a subset of its options)."""
    import argparse

    from advisor.rule import is_known_code

    parser = argparse.ArgumentParser(prog="%advisor", add_help=False, exit_on_error=False)
    parser.add_argument("--select", action="append", default=[])
    parser.add_argument("--ignore", action="append", default=[])
    parser.add_argument("--verify", action="store_true")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "all"], default="auto")
    parser.add_argument("--timeout", type=float, default=60.0)
    try:
        args, extra = parser.parse_known_args(shlex.split(line))
    except (argparse.ArgumentError, ValueError) as exc:
        raise UsageError(f"{exc} — {USAGE}") from None
    if extra:
        raise UsageError(f"unexpected {' '.join(extra)} — {USAGE}")

    def codes(values: list[str], option: str) -> list[str]:
        out = [c.strip().upper() for v in values for c in v.split(",") if c.strip()]
        unknown = [c for c in out if not is_known_code(c)]
        if unknown:
            raise UsageError(f"{option}: unknown rule code {', '.join(unknown)} — run `advisor rules` for the list")
        return out

    return Options(codes(args.select, "--select") or None, codes(args.ignore, "--ignore"), args.verify, args.device, args.timeout)


@dataclass
class AdvisorResult:
    """What a magic shows: findings located by the `In [n]` they came from, or a one-line problem."""

    findings: list[Finding]
    labels: dict[int, str]  # cell index in the scanned unit -> "In [n]" or "this cell"
    cells: int
    problem: str = ""

    def where(self, f: Finding) -> str:
        label = self.labels.get(f.cell if f.cell is not None else -1, "cell")
        return f"{label}, line {f.span.line}, column {f.span.column}"

    def _summary(self) -> str:
        if self.problem:
            return f"advisor: {self.problem}"
        n = len(self.findings)
        return f"{n} finding{'s' if n != 1 else ''} in {self.cells} cell{'s' if self.cells != 1 else ''}."

    def text(self) -> str:
        from advisor.present import verification_lines

        lines: list[str] = []
        for f in self.findings:
            lines.append(f"{self.where(f)}: {f.code} {f.message}")
            lines.append(f"  fix: {f.suggestion}")
            for v in f.verifications:
                lines.extend(f"  {line}" for line in verification_lines(v))
        lines.append(self._summary())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def _repr_html_(self) -> str:
        from advisor.present import verification_lines

        esc = html.escape
        if not self.findings:
            return f"<p><strong>{esc(self._summary())}</strong></p>"
        rows = []
        for f in self.findings:
            measured = "<br>".join(esc(line) for v in f.verifications for line in verification_lines(v))
            rows.append(
                f"<tr><td><code>{esc(f.code)}</code></td><td>{esc(self.where(f))}</td>"
                f"<td>{esc(f.message)}<br><small>fix: {esc(f.suggestion)}</small></td><td>{measured}</td></tr>"
            )
        return (
            '<table class="advisor-findings"><thead><tr><th>rule</th><th>where</th><th>finding</th>'
            "<th>measured here</th></tr></thead><tbody>" + "".join(rows) + f"</tbody></table><p>{esc(self._summary())}</p>"
        )


def _unique_history(sources: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """A cell run several times counts once (its last run), so its findings are not repeated."""
    last: dict[str, int] = {}
    for n, src in sources:
        last[src] = n
    return [(n, src) for n, src in sources if last[src] == n and src.strip()]


def scan_cells(history: list[tuple[int, str]], options: Options, current: str | None = None) -> AdvisorResult:
    """Scan executed inputs `(execution count, raw source)`; with `current`, report that cell only,
    the history serving as its context."""
    from advisor.config import ConfigError, find_pyproject, load_config
    from advisor.lsp_analysis import analyse_cells

    cells = _unique_history(history)
    labels = {i: f"In [{n}]" for i, (n, _) in enumerate(cells)}
    sources = [src for _, src in cells]
    if current is not None:
        labels[len(sources)] = "this cell"
        sources.append(current)
    try:
        config = load_config(find_pyproject(Path.cwd()))
    except ConfigError as exc:
        return AdvisorResult([], labels, 0, str(exc))
    config = config.with_command_line(options.select, options.ignore)
    analysis = analyse_cells([(True, src) for src in sources], None, config)
    if analysis.problem is not None:
        problem = analysis.problem
        where = labels.get(problem.cell if problem.cell is not None else -1, "")
        return AdvisorResult([], labels, len(sources), f"{where}: {problem.message}" if where else problem.message)
    findings = list(analysis.findings)
    if current is not None:
        findings = [f for f in findings if f.cell == len(sources) - 1]
    result = AdvisorResult(findings, labels, 1 if current is not None else len(sources))
    if options.verify and findings:
        return _verified(result, options)
    return result


def _verified(result: AdvisorResult, options: Options) -> AdvisorResult:
    """Measure the fired rules' pairs here: child processes of this kernel's interpreter."""
    from advisor.verify.command import attach_verifications, run_options
    from advisor.environment import INSTALL_HINT, frameworks_missing

    missing = frameworks_missing()
    if missing:
        result.problem = f"--verify needs {' and '.join(missing)} in this kernel's environment — {INSTALL_HINT}"
        return result
    scanned = ScanResult(findings=list(result.findings), files_scanned=1)
    result.findings = attach_verifications(scanned, options.device, run_options(options.timeout, False)).findings
    return result


def _history(shell: Any) -> list[tuple[int, str]]:
    """This session's executed inputs with their execution counts (the `In` list, raw, before magics
    were rewritten); the cell running the magic itself is not among them yet."""
    raw = list(shell.history_manager.input_hist_raw)
    return [(n, src) for n, src in enumerate(raw) if n > 0 and n < shell.execution_count]


def advisor_line(shell: Any, line: str) -> AdvisorResult:
    try:
        options = parse_options(line)
    except UsageError as exc:
        return AdvisorResult([], {}, 0, str(exc))
    return scan_cells(_history(shell), options)


def advisor_cell(shell: Any, line: str, cell: str) -> AdvisorResult:
    try:
        options = parse_options(line)
    except UsageError as exc:
        return AdvisorResult([], {}, 0, str(exc))
    # A blank first line stands for the `%%advisor` line, so line numbers are those of the cell on screen.
    return scan_cells(_history(shell), options, current="\n" + cell)


def register(shell: Any) -> None:
    """Register `%advisor` and `%%advisor` on this IPython shell."""
    shell.register_magic_function(lambda line: advisor_line(shell, line), magic_kind="line", magic_name="advisor")
    shell.register_magic_function(lambda line, cell: advisor_cell(shell, line, cell), magic_kind="cell", magic_name="advisor")
