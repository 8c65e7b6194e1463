"""The whole scan data path for one file, and the loop over many.

read/decode → cheap prefilter → parse once → one context pre-pass → one batched traversal of all
enabled rules → positions (only if something was reported) → suppressions and per-file ignores.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import libcst as cst

from advisor.config import Config
from advisor.context import FileContext, Parsed, Parser, build_context
from advisor.excerpt import excerpt, fix_diff, split_lines
from advisor.fixes import DEBUG, Anchors, Unanchorable, plan_edits, to_fix
from advisor.positions import LazyPositions
from advisor.rule import Report, Rule, rules_by_code, select_rules
from advisor.source import SourceError, decode, display_path, read_bytes
from advisor.suppress import is_suppressed, suppressions
from advisor.types import FileError, Finding, Fix, ScanResult, Span
from advisor.unit import SourceUnit

if TYPE_CHECKING:
    from advisor.project import ExternalFacts
    from advisor.scan_cache import ScanCache

# Below this many files a process pool costs more to start than it saves.
PARALLEL_THRESHOLD = 16
# Valid code can nest deeper than Python's default recursion limit allows libcst to walk (a 350-term
# `a + b + ...` is 350 levels): such a file is analysed again in a thread with a bigger stack and limit.
DEEP_RECURSION_LIMIT = 60_000
DEEP_STACK_BYTES = 1024 * 1024 * 1024  # address space only; pages are used as the recursion goes
# A syntax error on a line that only parses as Python 2: the print statement, `except X, e:`,
# `exec "..."`, backquotes, `<>`.
PYTHON2 = re.compile(
    r"^[ \t]*(print[ \t]+(?![ \t]*[(=.,)\[]|[ \t]*$)|exec[ \t]+[\"']|except[ \t]+[\w.]+[ \t]*,[ \t]*\w+[ \t]*:)|`\w[^`\n]*`|\w[ \t]*<>[ \t]*\w"
)


def load_unit(path: Path, display: str, data: bytes | None = None) -> SourceUnit:
    data = read_bytes(path) if data is None else data
    if path.suffix == ".ipynb":
        from advisor.notebook import notebook_unit  # only notebooks pay for it

        return notebook_unit(data, display)
    return SourceUnit(display, decode(data))


def prefilter(text: str, rules: Iterable[type[Rule]]) -> list[type[Rule]]:
    """Rules whose trigger strings occur in the text; the others cannot match, so skip them."""
    return [r for r in rules if r.may_match(text)]


def parse_module(text: str) -> cst.Module:
    """The module, or a SourceError that says what is wrong and where."""
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        # CPython's parser names the right line and says more (libcst puts every TabError at 1:1)
        _check_syntax(text)
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
        advice = "fix the syntax; advisor analyses only code that parses"
        if PYTHON2.search(exc.text or ""):
            advice = "this looks like Python 2 code; advisor analyses Python 3 only: port it or exclude it"
        raise SourceError(f"syntax error at line {exc.lineno}, column {exc.offset or 1}: {exc.msg} — {advice}") from None
    except (RecursionError, MemoryError, ValueError):
        raise SourceError("too deeply nested to parse — simplify the file or exclude it") from None


def _with_deep_stack(fn: Any, *args: Any) -> Any:
    """Call fn(*args) in a thread with a big stack and recursion limit; re-raise what it raises."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, DEEP_RECURSION_LIMIT))
        try:
            outcome["value"] = fn(*args)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc
        finally:
            sys.setrecursionlimit(old)

    previous = threading.stack_size(DEEP_STACK_BYTES)
    try:
        worker = threading.Thread(target=run, name="advisor-deep")
        worker.start()
    finally:
        threading.stack_size(previous)
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def parse_whole(text: str, path: str) -> Parsed:
    """One parse and one pre-pass of the whole text (the scan's way; the language server reuses pieces)."""
    module = parse_module(text)
    return Parsed(module, build_context(module, text, path))


def analyse_unit(
    unit: SourceUnit, rules: list[type[Rule]], config: Config | None = None, parser: Parser | None = None,
    external: "ExternalFacts | None" = None, diffs: bool = True,
) -> list[Finding]:
    """Findings for one source unit, suppressions applied. Raises SourceError for unparsable input.
    `external`: what the other files of a project scan say about this one (`advisor/project.py`).
    `diffs=False` leaves each fix's `diff` empty (the language server and the fixer never show it, and on
    a long file each costs a diff of the whole text).

    Code nested deeper than the default recursion limit (long operator chains CPython compiles) is
    analysed again with a deeper stack; only what even that cannot walk is a per-file error."""
    try:
        return _analyse_unit(unit, rules, config, parser, external, diffs)
    except RecursionError:
        pass
    try:
        found: list[Finding] = _with_deep_stack(_analyse_unit, unit, rules, config, parser, external, diffs)
        return found
    except RecursionError:
        raise SourceError("too deeply nested to analyse — simplify the expression or exclude the file") from None


def _analyse_unit(
    unit: SourceUnit, rules: list[type[Rule]], config: Config | None, parser: Parser | None, external: "ExternalFacts | None" = None,
    diffs: bool = True,
) -> list[Finding]:
    config = config or Config()
    token = DEBUG.set(config.debug)
    try:
        return _analyse(unit, rules, config, parser, external, diffs)
    finally:
        DEBUG.reset(token)


def _analyse(
    unit: SourceUnit, rules: list[type[Rule]], config: Config, parser: Parser | None, external: "ExternalFacts | None" = None,
    diffs: bool = True,
) -> list[Finding]:
    active = prefilter(unit.text, rules)
    if external is not None and external.repeats:
        active = [r for r in rules if r in active or r.may_match_called(unit.text)]
    ignored_here = config.ignored_for(unit.path)
    if ignored_here:
        active = [r for r in active if not any(r.code.startswith(c) for c in ignored_here)]
    if not active:
        _check_syntax(unit.text)  # nothing to look for, but a broken file is still reported
        return []
    parsed = (parser or parse_whole)(unit.text, unit.path)
    module, ctx = parsed.module, parsed.ctx
    if external:
        ctx.shared["project"] = external
    visitors = [rule(ctx, config.options.get(rule.code)) for rule in active]
    _dispatch(ctx, visitors)
    reported = [(v, r) for v in visitors for r in v.reports]
    if not reported:
        return []
    positions = LazyPositions(module, unit.text, ctx.parent, parsed.starts)  # only the statements holding findings
    silenced = suppressions(unit.text)
    lines = split_lines(unit.text)
    anchors = Anchors(unit.text, positions, module, ctx.parent) if any(r.fix for _, r in reported) else None
    findings: list[Finding] = []
    seen: set[tuple[str, int | None, int, int]] = set()
    for visitor, report in reported:
        found = _finding(unit, visitor, report, positions, silenced, ctx, lines, anchors, diffs)
        if found is None:
            continue
        key = (found.code, found.cell, found.span.line, found.span.column)  # notebook lines restart per cell
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
    diffs: bool = True,
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
    if fix is not None and not fix.diff and diffs:
        text, name = unit.fixed_text_and_name(cell)
        fix = replace(fix, diff=fix_diff(text, fix, name))
    return Finding(
        code=rule.code,
        name=rule.name,
        path=unit.path,
        span=Span(line, col, end_line, end_col),
        message=report.message + _via(unit, report, positions),
        why=rule.why,
        suggestion=report.suggestion,
        severity=rule.severity,
        confidence=report.confidence,
        fix=fix,
        cell=cell,
        excerpt=shown,
        tags=report.tags,
    )


def _via(unit: SourceUnit, report: Report, positions: Any) -> str:
    """`; called every step from train.py:88` for a finding in a function that a loop elsewhere calls."""
    via = report.via
    if via is not None and via.elsewhere is not None:
        return f" (called {via.how} from {via.elsewhere})"
    if via is None or via.loop not in positions:
        return ""
    cell, line, _ = unit.locate(positions[via.loop].start.line, 1)
    where = f"{os.path.basename(unit.path)}:{line}" if cell is None else f"{os.path.basename(unit.path)}:cell {cell + 1}:{line}"
    return f" (called {via.how} from {where})"


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
    return display_path(path)


def scan_file(
    path: Path, codes: list[str], config: Config, cache: "ScanCache | None" = None, external: "ExternalFacts | None" = None
) -> tuple[list[Finding], FileError | None, int]:
    """Scan one file; never raises for bad input. Returns findings, an error, and the line count.

    With a cache, an unchanged file (same bytes, rules, options, analyser and what the other files of
    the scan say about it) is not parsed again."""
    display = _display(path)
    key = None
    try:
        data = read_bytes(path, config.max_file_size)
    except SourceError as exc:
        return [], FileError(display, str(exc)), 0
    if cache is not None:
        from advisor.scan_cache import cache_key

        key = cache_key(data, display, codes, config.options, config.ignored_for(display), external.fingerprint() if external else "")
        hit = cache.get(key)
        if hit is not None:
            return hit
    outcome = _analyse_file(path, display, data, codes, config, external)
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


def _analyse_file(
    path: Path, display: str, data: bytes, codes: list[str], config: Config, external: "ExternalFacts | None"
) -> tuple[list[Finding], FileError | None, int]:
    known = rules_by_code()
    rules = [known[c] for c in codes]
    try:
        unit = load_unit(path, display, data)
        return analyse_unit(unit, rules, config, external=external), None, unit.text.count("\n") + 1
    except SourceError as exc:
        return [], FileError(display, str(exc)), 0
    except MemoryError:
        return [], FileError(display, "out of memory while analysing — exclude the file or lower max-file-size"), 0
    except Exception as exc:  # a bug in a rule must not end the run or hide the other files
        return [], internal_error(display, exc, "analysing", config), 0


Work = tuple[Path, list[str], Config, "ScanCache | None", "ExternalFacts | None"]


def _scan_star(args: Work) -> tuple[list[Finding], FileError | None, int]:
    return scan_file(*args)


def _lost(args: Work, why: str) -> tuple[list[Finding], FileError | None, int]:
    return [], FileError(_display(args[0]), f"not analysed: {why} — exclude the file or lower max-file-size"), 0


def scan(
    files: list[Path], config: Config, jobs: int | None = None, cache: "ScanCache | None" = None,
    progress: Callable[[str], None] | None = None,
) -> ScanResult:
    """Scan files (in a process pool when there are many) and return sorted results. `progress`, if
    given, is called with each file's name as it is finished.

    Memory follows file size (libcst's tree is ~550 bytes per source byte), so in a pool the big files
    (over a quarter of max-file-size) run one at a time after the others: peak memory stays that of
    one big file, not one per worker."""
    from advisor.pool import map_surviving, worker_count
    from advisor.project import project_facts

    codes = [r.code for r in select_rules(config.select, config.ignore)]
    result = ScanResult()
    workers = worker_count(jobs, len(files))
    try:
        facts = project_facts(files, config)
    except Exception:  # a bug in the pre-pass costs the cross-file findings, never the scan
        if config.debug:
            raise
        facts = {}
    work: list[Work] = [(f, codes, config, cache, facts.get(f)) for f in files]
    outcomes = []
    if workers > 1 and len(files) >= PARALLEL_THRESHOLD:
        big = [w for w in work if _size(w[0]) > config.max_file_size // 4]
        small = [w for w in work if _size(w[0]) <= config.max_file_size // 4]
        report: dict[str, Any] = {} if progress is None else {"done": lambda w: progress(str(w[0]))}
        outcomes = map_surviving(_scan_star, small, workers, _lost, **report) + (map_surviving(_scan_star, big, 1, _lost, **report) if big else [])
    else:
        for w in work:
            outcomes.append(scan_file(*w))
            if progress is not None:
                progress(str(w[0]))
    for findings, error, lines in outcomes:
        result.findings.extend(findings)
        if error is not None:
            result.errors.append(error)
        else:
            result.files_scanned += 1
            result.lines_scanned += lines
    result.sort()
    return result


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def analyse_text(text: str, path: str = "<string>", codes: list[str] | None = None, config: Config | None = None) -> list[Finding]:
    """Convenience for tests and the verifier: analyse a string with the given (or all) rules."""
    known = rules_by_code()
    rules = [known[c] for c in codes] if codes else list(known.values())
    return analyse_unit(SourceUnit(path, text), rules, config)
