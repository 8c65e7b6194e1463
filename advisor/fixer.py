"""`advisor scan --fix / --unsafe-fixes / --diff`: apply rule fixes to files without ever losing data.

For each file: analyse, apply the chosen non-overlapping fixes, re-analyse, repeat until nothing is left
to fix (fixes that conflicted in one round land in the next). The result must parse before anything is
written; `safe_write` decides where and how (never through a symlink out of the scanned tree or over a
read-only file; atomic replace, or in place for hard-linked files; owner, group and mode kept), and the
text keeps its encoding (BOM included) and line endings. Notebooks change only the `source` of fixed cells.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from advisor.config import Config
from advisor.engine import analyse_unit, internal_error
from advisor.excerpt import unified_diff
from advisor.fixes import apply_edits
from advisor.rule import Rule, rules_by_code, select_rules
from advisor.safe_write import UnsafeTarget, write_fixed
from advisor.source import SourceError, decode_with_encoding, display_path, read_bytes
from advisor.types import FileError, Finding, Fix
from advisor.unit import SourceUnit

MAX_ROUNDS = 5


@dataclass
class FileFix:
    """What fixing one file did: the findings repaired, the diff, and why it was left alone if it was."""

    path: str
    fixed: list[Finding] = field(default_factory=list)
    diff: str = ""
    error: FileError | None = None
    changed: bool = False


def _wanted(finding: Finding, unsafe: bool) -> bool:
    return finding.fix is not None and bool(finding.fix.edits) and (finding.fix.safe or unsafe)


def _check_python(text: str, where: str) -> None:
    try:
        compile(text, "<fixed>", "exec", flags=ast.PyCF_ONLY_AST | getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0), dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise SourceError(f"the fixed {where} does not parse ({exc}) — nothing was written; please report it") from None


def _fix_python(path: Path, display: str, rules: list[type[Rule]], config: Config, unsafe: bool) -> tuple[bytes, bytes, list[Finding]]:
    data = read_bytes(path, config.max_file_size)
    text, encoding = decode_with_encoding(data)
    original = text
    fixed: list[Finding] = []
    for _ in range(MAX_ROUNDS):
        findings = [f for f in analyse_unit(SourceUnit(display, text), rules, config, diffs=False) if _wanted(f, unsafe)]
        if not findings:
            break
        new_text, applied = apply_edits(text, [f.fix for f in findings if f.fix is not None])
        if new_text == text:
            break
        _check_python(new_text, "file")
        fixed.extend(f for f in findings if f.fix in applied)
        text = new_text
    if text == original:
        return data, data, []
    return data, text.encode(encoding), fixed


def _fix_notebook(path: Path, display: str, rules: list[type[Rule]], config: Config, unsafe: bool) -> tuple[bytes, bytes, list[Finding]]:
    from advisor.notebook import notebook_unit, replace_cell_sources

    data = read_bytes(path, config.max_file_size)
    current = data
    fixed: list[Finding] = []
    for _ in range(MAX_ROUNDS):
        unit = notebook_unit(current, display)
        findings = [f for f in analyse_unit(unit, rules, config, diffs=False) if _wanted(f, unsafe)]
        if not findings:
            break
        sources = {idx: src for idx, src, _ in unit.cell_sources}
        by_cell: dict[int, list[Fix]] = {}
        for f in findings:
            if f.cell is not None and f.fix is not None:
                by_cell.setdefault(f.cell, []).append(f.fix)
        new_sources: dict[int, str] = {}
        applied_all: list[Fix] = []
        for cell, fixes in by_cell.items():
            new_src, applied = apply_edits(sources[cell], fixes)
            if new_src != sources[cell]:
                _check_python(notebook_cell_python(new_src), f"cell {cell + 1}")
                new_sources[cell] = new_src
                applied_all.extend(applied)
        if not new_sources:
            break
        current = replace_cell_sources(current, new_sources)
        notebook_unit(current, display)  # the whole notebook must still load and every cell parse
        fixed.extend(f for f in findings if f.fix in applied_all)
    return data, current, fixed


def notebook_cell_python(source: str) -> str:
    from advisor.notebook import python_lines

    lines, _ = python_lines(source)
    return "\n".join(lines) + "\n"


def fix_file(path: Path, config: Config, *, unsafe: bool = False, write: bool = True, roots: tuple[Path, ...] | None = None) -> FileFix:
    """Fix one file in place (or only compute the diff when `write` is False); never raises for bad input.

    `roots` are the scanned trees (default: the file's own folder): a symlink resolving outside them is
    not written through (see `safe_write`)."""
    display = display_path(path)
    result = FileFix(display)
    rules = [rules_by_code()[r.code] for r in select_rules(config.select, config.ignore)]
    try:
        fixer = _fix_notebook if path.suffix == ".ipynb" else _fix_python
        before, after, fixed = fixer(path, display, rules, config, unsafe)
    except SourceError as exc:
        result.error = FileError(display, str(exc))
        return result
    except Exception as exc:  # a bug in a rule or a fix: this file is left as it was, the run goes on
        result.error = internal_error(display, exc, "fixing", config)
        return result
    if after == before:
        return result
    result.fixed, result.changed = fixed, True
    result.diff = _diff(display, before, after, path.suffix == ".ipynb")
    if write:
        try:
            write_fixed(path, before, after, roots)
        except UnsafeTarget as exc:
            result.error = FileError(display, str(exc))
            result.changed = False
        except OSError as exc:
            result.error = FileError(display, f"cannot write the fixed file ({exc.strerror or exc}) — nothing was changed")
            result.changed = False
    return result


def _diff(display: str, before: bytes, after: bytes, notebook: bool) -> str:
    if notebook:
        from advisor.notebook import load_cells

        old = {c.index: c.source for c in load_cells(before)}
        parts = []
        for cell in load_cells(after):
            if old.get(cell.index) != cell.source:
                name = f"{display}:cell {cell.index + 1}"
                parts.append(unified_diff(old.get(cell.index, ""), cell.source, name))
        return "".join(parts)
    old_text, _ = decode_with_encoding(before)
    new_text, _ = decode_with_encoding(after)
    return unified_diff(old_text, new_text, display)
