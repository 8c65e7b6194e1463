"""The whole scan data path for one file, and the loop over many.

read/decode → cheap prefilter → parse once → one context pre-pass → one batched traversal of all
enabled rules → positions (only if something was reported) → suppressions and per-file ignores.
"""

from __future__ import annotations

import ast
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from advisor.config import Config
from advisor.context import FileContext, build_context
from advisor.excerpt import excerpt, fix_diff, split_lines
from advisor.fixes import DEBUG, Anchors, Unanchorable, plan_edits, to_fix
from advisor.rule import Report, Rule, rules_by_code, select_rules
from advisor.source import SourceError, decode, read_bytes
from advisor.suppress import is_suppressed, suppressions
from advisor.types import FileError, Finding, Fix, ScanResult, Span
from advisor.unit import SourceUnit

if TYPE_CHECKING:
    from advisor.scan_cache import ScanCache

# Below this many files a process pool costs more to start than it saves.
PARALLEL_THRESHOLD = 16


def load_unit(path: Path, display: str, data: bytes | None = None) -> SourceUnit:
    data = read_bytes(path) if data is None else data
    if path.suffix == ".ipynb":
        from advisor.notebook import notebook_unit  # only notebooks pay for it

        return notebook_unit(data, display)
    return SourceUnit(display, decode(data))


def prefilter(text: str, rules: Iterable[type[Rule]]) -> list[type[Rule]]:
    """Rules whose trigger strings occur in the text; the others cannot match, so skip them."""
    return [r for r in rules if r.may_match(text)]


def _parse(text: str) -> cst.Module:
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        raise SourceError(
            f"syntax error at line {exc.raw_line}, column {exc.raw_column + 1}: {exc.message.splitlines()[0]}"
            " — fix the syntax; advisor analyses only code that parses"
        ) from None
    except (RecursionError, MemoryError):
        raise SourceError("too deeply nested to parse — simplify the file or exclude it") from None


def _check_syntax(text: str) -> None:
    """CPython's own parser: far cheaper than building a CST for a file no rule can match."""
    try:
        compile(text, "<advisor>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        raise SourceError(
            f"syntax error at line {exc.lineno}, column {exc.offset or 1}: {exc.msg}"
            " — fix the syntax; advisor analyses only code that parses"
        ) from None
    except (RecursionError, MemoryError, ValueError):
        raise SourceError("too deeply nested to parse — simplify the file or exclude it") from None


def analyse_unit(unit: SourceUnit, rules: list[type[Rule]], config: Config | None = None) -> list[Finding]:
    """Findings for one source unit, suppressions applied. Raises SourceError for unparsable input."""
    config = config or Config()
    token = DEBUG.set(config.debug)
    try:
        return _analyse(unit, rules, config)
    finally:
        DEBUG.reset(token)


def _analyse(unit: SourceUnit, rules: list[type[Rule]], config: Config) -> list[Finding]:
    active = prefilter(unit.text, rules)
    ignored_here = config.ignored_for(unit.path)
    if ignored_here:
        active = [r for r in active if not any(r.code.startswith(c) for c in ignored_here)]
    if not active:
        _check_syntax(unit.text)  # nothing to look for, but a broken file is still reported
        return []
    module = _parse(unit.text)
    ctx = build_context(module, unit.text, unit.path)
    visitors = [rule(ctx, config.options.get(rule.code)) for rule in active]
    _dispatch(ctx, visitors)
    reported = [(v, r) for v in visitors for r in v.reports]
    if not reported:
        return []
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    silenced = suppressions(unit.text)
    lines = split_lines(unit.text)
    anchors = Anchors(unit.text, positions, module, ctx.parent) if any(r.fix for _, r in reported) else None
    findings: list[Finding] = []
    seen: set[tuple[str, int, int]] = set()
    for visitor, report in reported:
        found = _finding(unit, visitor, report, positions, silenced, ctx, lines, anchors)
        if found is None:
            continue
        key = (found.code, found.span.line, found.span.column)
        if key not in seen:
            seen.add(key)
            findings.append(found)
    return findings


def _finding(
    unit: SourceUnit,
    rule: Rule,
    report: Report,
    positions: Any,
    silenced: dict[int, set[str]],
    ctx: Any,
    lines: list[str],
    anchors: Anchors | None,
) -> Finding | None:
    rng = positions[report.node]
    stmt = ctx.statement_of(report.node)
    stmt_line = positions[stmt].start.line if stmt in positions else rng.start.line
    if is_suppressed(rule.code, (rng.start.line, stmt_line), silenced):
        return None
    cell, line, col = unit.locate(rng.start.line, rng.start.column + 1)
    end_cell, end_line, end_col = unit.locate(rng.end.line, rng.end.column + 1)
    if end_cell != cell:  # a span never crosses cells; clamp to the start line
        end_line, end_col = line, col
    locate = None if unit.cells is None else (lambda n: unit.locate(n, 1)[:2])
    shown = excerpt(lines, rng.start.line, rng.end.line if end_cell == cell else rng.start.line, locate)
    fix = _fix(unit, report, anchors, cell)
    if fix is not None and not fix.diff:
        text, name = unit.fixed_text_and_name(cell)
        fix = replace(fix, diff=fix_diff(text, fix, name))
    return Finding(
        code=rule.code,
        name=rule.name,
        path=unit.path,
        span=Span(line, col, end_line, end_col),
        message=report.message,
        why=rule.why,
        suggestion=report.suggestion,
        severity=rule.severity,
        confidence=report.confidence,
        fix=fix,
        cell=cell,
        excerpt=shown,
        tags=report.tags,
    )


def _fix(unit: SourceUnit, report: Report, anchors: Anchors | None, cell: int | None) -> Fix | None:
    """The report's plan as text edits, or None when it has no clean place in this text."""
    if report.fix is None or anchors is None:
        return None
    try:
        edits = plan_edits(report.fix, anchors, unit.same_cell)
        return to_fix(report.fix, unit.display_edits(edits, cell))
    except Unanchorable:
        return None
    except Exception:  # a bug in a fix costs the fix, not the finding
        if DEBUG.get():
            raise
        return None


def _dispatch(ctx: FileContext, visitors: list[Rule]) -> None:
    """Run every rule over the node index the pre-pass built: the pre-pass was the only traversal."""
    index = ctx.nodes_by_type
    for visitor in visitors:
        for type_name, method_name in visitor.visit_methods.items():
            nodes = index.get(type_name)
            if nodes:
                method = getattr(visitor, method_name)
                for node in nodes:
                    method(node)
        visitor.finish()


def _display(path: Path) -> str:
    return str(path)


def scan_file(
    path: Path, codes: list[str], config: Config, cache: "ScanCache | None" = None
) -> tuple[list[Finding], FileError | None, int]:
    """Scan one file; never raises for bad input. Returns findings, an error, and the line count.

    With a cache, an unchanged file (same bytes, rules, options and analyser) is not parsed again."""
    display = _display(path)
    key = None
    try:
        data = read_bytes(path)
    except SourceError as exc:
        return [], FileError(display, str(exc)), 0
    if cache is not None:
        from advisor.scan_cache import cache_key

        key = cache_key(data, display, codes, config.options, config.ignored_for(display))
        hit = cache.get(key)
        if hit is not None:
            return hit
    outcome = _analyse_file(path, display, data, codes, config)
    if cache is not None and key is not None and not _internal_error(outcome[1]):
        cache.put(key, *outcome)
    return outcome


def _internal_error(error: FileError | None) -> bool:
    return error is not None and error.message.startswith("internal error")


def internal_error(display: str, exc: Exception, doing: str, config: Config) -> FileError:
    """A bug in advisor (a rule, a fix) while handling one file: one file error, the run goes on; with
    `--debug` it re-raises with its traceback instead. Call it from an `except` block."""
    if config.debug:
        raise exc
    return FileError(display, f"internal error while {doing} ({type(exc).__name__}: {exc}) — please report it; run with --debug for the traceback")


def _analyse_file(path: Path, display: str, data: bytes, codes: list[str], config: Config) -> tuple[list[Finding], FileError | None, int]:
    known = rules_by_code()
    rules = [known[c] for c in codes]
    try:
        unit = load_unit(path, display, data)
        return analyse_unit(unit, rules, config), None, unit.text.count("\n") + 1
    except SourceError as exc:
        return [], FileError(display, str(exc)), 0
    except Exception as exc:  # a bug in a rule must not end the run or hide the other files
        return [], internal_error(display, exc, "analysing", config), 0


def _scan_star(args: tuple[Path, list[str], Config, "ScanCache | None"]) -> tuple[list[Finding], FileError | None, int]:
    return scan_file(*args)


def scan(files: list[Path], config: Config, jobs: int | None = None, cache: "ScanCache | None" = None) -> ScanResult:
    """Scan files (in a process pool when there are many) and return sorted results."""
    codes = [r.code for r in select_rules(config.select, config.ignore)]
    result = ScanResult()
    jobs = jobs or os.cpu_count() or 1
    work = [(f, codes, config, cache) for f in files]
    if jobs > 1 and len(files) >= PARALLEL_THRESHOLD:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            outcomes = list(pool.map(_scan_star, work, chunksize=max(1, len(work) // (jobs * 4))))
    else:
        outcomes = [scan_file(*w) for w in work]
    for findings, error, lines in outcomes:
        result.findings.extend(findings)
        if error is not None:
            result.errors.append(error)
        else:
            result.files_scanned += 1
            result.lines_scanned += lines
    result.sort()
    return result


def analyse_text(text: str, path: str = "<string>", codes: list[str] | None = None, config: Config | None = None) -> list[Finding]:
    """Convenience for tests and the verifier: analyse a string with the given (or all) rules."""
    known = rules_by_code()
    rules = [known[c] for c in codes] if codes else list(known.values())
    return analyse_unit(SourceUnit(path, text), rules, config)
