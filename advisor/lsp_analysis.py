"""What the language server knows, without the protocol: analyse an editor buffer or a notebook's
cells, place errors, build the `# advisor: ignore[...]` edit, and write the hover page.

Kept free of pygls so the scanner installs without it and these pieces are tested directly; the
protocol wiring lives in `advisor.server`.
"""

from __future__ import annotations

import gc
import io
import json
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from advisor.config import Config, ConfigError, find_pyproject, load_config
from advisor.engine import analyse_unit
from advisor.incremental import IncrementalParser
from advisor.unit import SourceUnit
from advisor.rule import Rule, rules_by_code, select_rules
from advisor.source import SourceError
from advisor.types import Edit, Finding

_WHERE = re.compile(r"(?:in cell (?P<cell>\d+) )?at line (?P<line>\d+), column (?P<column>\d+)")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_IGNORE = re.compile(r"#\s*advisor\s*:\s*ignore\[(?P<codes>[^\]]*)\]", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    """A document that could not be analysed: where (0-based line/column; the cell for notebooks) and why."""

    message: str
    line: int = 0
    column: int = 0
    cell: int | None = None


@dataclass(frozen=True)
class Analysis:
    """One analysis of one document version: its findings, or the problem that stopped it."""

    findings: tuple[Finding, ...] = ()
    problem: Problem | None = None
    skipped: str = ""  # why nothing was analysed (excluded by configuration), empty otherwise


@dataclass
class ConfigCache:
    """`[tool.advisor]` per pyproject.toml, re-read when the file's modification time changes."""

    entries: dict[Path, tuple[float, Config]] = field(default_factory=dict)

    def config_for(self, path: Path | None, root: Path | None) -> Config:
        """The configuration that `advisor scan` would use for this file. Raises ConfigError."""
        start = path.parent if path is not None else root
        while start is not None and not start.exists() and start != start.parent:
            start = start.parent  # a buffer not saved yet, in a folder not created yet
        pyproject = find_pyproject(start) if start is not None and start.exists() else None
        if pyproject is None:
            return Config()
        mtime = pyproject.stat().st_mtime
        cached = self.entries.get(pyproject)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        config = load_config(pyproject)
        self.entries[pyproject] = (mtime, config)
        return config

    def clear(self) -> None:
        self.entries.clear()


def display_path(path: Path | None, config: Config) -> str:
    """The path as the scan would show it: relative to the project when there is one, so
    per-file-ignores patterns such as `tests/**` match as they do on the command line."""
    if path is None:
        return "<untitled>"
    if config.source is not None:
        try:
            return path.relative_to(config.source.parent).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def _rules(config: Config) -> list[type[Rule]]:
    known = rules_by_code()
    return [known[r.code] for r in select_rules(config.select, config.ignore)]


def _excluded(display: str, config: Config) -> bool:
    from advisor.discover import excluded_by

    return bool(config.exclude) and excluded_by(Path(display), config.exclude)


def _problem(exc: SourceError) -> Problem:
    """A SourceError as a located problem: its message names the line and column (and cell) it found."""
    message = str(exc)
    where = _WHERE.search(message)
    if where is None:
        return Problem(message)
    cell = int(where["cell"]) - 1 if where["cell"] else None
    return Problem(message, max(int(where["line"]) - 1, 0), max(int(where["column"]) - 1, 0), cell)


def analyse_python(text: str, path: Path | None, config: Config, parser: IncrementalParser | None = None) -> Analysis:
    """Findings for the text of an open .py buffer (not the file on disk), as `advisor scan` finds them.

    With the document's `parser`, only the top-level statements changed since its last version are parsed
    again; the findings are the same as those of a whole parse."""
    display = display_path(path, config)
    if _excluded(display, config):
        return Analysis(skipped=f"{display} is excluded by [tool.advisor] exclude")
    try:
        found = analyse_unit(SourceUnit(display, text), _rules(config), config, parser.parse if parser is not None else None, diffs=False)
        return Analysis(tuple(found))
    except SourceError as exc:
        return Analysis(problem=_problem(exc))


def analyse_cells(cells: list[tuple[bool, str]], path: Path | None, config: Config, parser: IncrementalParser | None = None) -> Analysis:
    """Findings for a notebook's cells as the editor holds them: (is code, text) in notebook order.

    The cells go through the same reader as a saved .ipynb (IPython lines blanked, each cell parsed on its
    own), so a finding's `cell` is the index into `cells`."""
    from advisor.notebook import notebook_unit

    display = display_path(path, config)
    if _excluded(display, config):
        return Analysis(skipped=f"{display} is excluded by [tool.advisor] exclude")
    document = {"cells": [{"cell_type": "code" if code else "markdown", "source": text} for code, text in cells]}
    try:
        unit = notebook_unit(json.dumps(document).encode("utf-8"), display)
        return Analysis(tuple(analyse_unit(unit, _rules(config), config, parser.parse if parser is not None else None, diffs=False)))
    except SourceError as exc:
        return Analysis(problem=_problem(exc))


def pause_collector() -> None:
    """Pause Python's cycle collector for one analysis, until `settle_after_analysis`.

    An open 5,000-line document is a few hundred thousand live tree nodes, and one analysis allocates as
    many short-lived objects again: the collector's automatic passes during it cost tens of milliseconds,
    and a full pass over the trees several hundred, on the keystroke that happens to trigger it. Turning
    it back on at the end of the analysis would run the pass at once, before the diagnostics are sent:
    the server publishes first, then settles."""
    gc.disable()


def settle_after_analysis() -> None:
    """Collect the cycles the last analysis left (all in the youngest generation, since the collector
    was paused), freeze what survives (the open documents' trees, reused from one version to the next)
    so later full passes skip it, and turn the collector back on. Frozen objects are still freed when no
    longer referenced; only a frozen object that ends up in an unreachable cycle would stay, and the
    trees and parse state kept across versions hold no cycles."""
    gc.collect(0)
    gc.freeze()
    gc.enable()


def line_starts(text: str) -> list[int]:
    """Offsets where each line begins, with the line breaks the LSP recognises (`\\n`, `\\r\\n`, `\\r`)."""
    return [0] + [m.end() for m in _LINE_BREAK.finditer(text)]


def offset_to_position(text: str, offset: int, starts: list[int] | None = None) -> tuple[int, int]:
    """(0-based line, column in code points) of a character offset."""
    import bisect

    starts = starts if starts is not None else line_starts(text)
    line = bisect.bisect_right(starts, offset) - 1
    return line, offset - starts[line]


def _comment_is_safe(python: str, line: int) -> bool:
    """Whether a comment may be appended to 1-based `line`: the line must end outside any string and not
    continue with a backslash, or the comment would change the code."""
    lines = python.splitlines()
    if not 0 < line <= len(lines) or lines[line - 1].rstrip().endswith("\\"):
        return False
    try:
        for tok in tokenize.generate_tokens(io.StringIO(python).readline):
            if tok.start[0] > line:
                break
            if tok.start[0] <= line < tok.end[0] and tok.type not in (tokenize.NL, tokenize.NEWLINE):
                return False  # a string (or f-string) spans the end of this line
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return False
    return True


def ignore_edit(text: str, line: int, code: str, python: str | None = None) -> Edit | None:
    """The edit that silences `code` on 1-based `line` of `text`: extend an existing
    `# advisor: ignore[...]` there, or append one. None where a comment cannot go safely.

    `python` is the text as analysed when it differs from the editor's (notebook cells with IPython
    lines blanked); line numbers are the same in both."""
    if not _comment_is_safe(python if python is not None else text, line):
        return None
    starts = line_starts(text)
    start = starts[line - 1]
    end = starts[line] if line < len(starts) else len(text)
    content = text[start:end].rstrip("\r\n")
    existing = _IGNORE.search(content)
    if existing is not None:
        codes = existing["codes"].strip()
        at = start + existing.end("codes")
        return Edit(at, at, f", {code}" if codes else code)
    at = start + len(content)
    return Edit(at, at, f"{'  ' if content.strip() else ''}# advisor: ignore[{code}]")


def hover_markdown(finding: Finding) -> str:
    """The hover page: the finding's message, the rule's explain page, and what was measured here."""
    from advisor.explain import docs_markdown, measured_gain_text

    rule = rules_by_code().get(finding.code)
    parts = [f"**{finding.code}** {finding.message}", ""]
    if finding.suggestion:
        parts += [f"Fix: {finding.suggestion}", ""]
    if rule is not None:
        parts += [docs_markdown(rule), "## Measured gain", measured_gain_text(rule)]
    return "\n".join(parts).rstrip() + "\n"


__all__ = [
    "Analysis", "ConfigCache", "ConfigError", "Problem", "analyse_cells", "analyse_python", 
    "hover_markdown", "ignore_edit", "line_starts", "offset_to_position", "pause_collector", "settle_after_analysis",
]
