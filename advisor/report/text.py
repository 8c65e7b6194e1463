"""Human output, the way Ruff/flake8 users read it: `path:line:col: CODE message`, then a fix hint."""

from __future__ import annotations

from collections import Counter

from advisor.present import SUMMARY_LABELS, describe_runtime, format_seconds, median_step, step_parts, verification_lines
from advisor.types import Finding, ProfileRun, ScanResult


def location(f: Finding) -> str:
    cell = f"cell {f.cell + 1}:" if f.cell is not None else ""
    return f"{f.path}:{cell}{f.span.line}:{f.span.column}"


def profile_lines(run: ProfileRun) -> list[str]:
    """The run summary the text output ends with."""
    where = f"{run.device}{f' ({run.device_name})' if run.device_name else ''}"
    lines = [f"Profile of {run.script} on {where}, torch {run.torch}: {run.total_steps} optimizer steps in {run.elapsed_s:.1f} s; stopped: {run.ended}"]
    for loop in run.loops:
        lines.append(f"  loop at {loop.site}")
        lines.extend(f"    {k}: {v}" for k, v in loop.facts)
        step = median_step(loop)
        if step is not None:
            parts = ", ".join(f"{name} {format_seconds(value)}" for name, value in step_parts(step))
            lines.append(f"    median step {format_seconds(step.total_s)}: {parts}")
    lines.extend(f"  torch's pattern matcher: {p}" for p in run.patterns)
    lines.extend(f"  note: {n}" for n in run.notes)
    return lines


# ANSI styles, Ruff-like: the location bold, the code by severity, the fixable mark green, hints dim.
STYLES = {"location": {"bold": True}, "warning": {"fg": "red", "bold": True}, "info": {"fg": "cyan", "bold": True},
          "fixable": {"fg": "green", "bold": True}, "hint": {"dim": True}}


def _style(text: str, kind: str, color: bool) -> str:
    if not color:
        return text
    import click

    return click.style(text, **STYLES[kind])  # type: ignore[arg-type]  # STYLES mixes str and bool values; click's keywords are typed one by one


def fix_mark(f: Finding) -> str:
    """`[*]` as Ruff prints it: `--fix` applies this finding's fix. Unsafe fixes are counted in the summary."""
    return "[*] " if f.fix is not None and f.fix.safe else ""


def headline(f: Finding, color: bool = False) -> str:
    """`path:line:col: CODE [*] message (severity, confidence)`: what a reader needs to triage one finding."""
    return (
        f"{_style(location(f), 'location', color)}: {_style(f.code, f.severity.value, color)} "
        f"{_style(fix_mark(f), 'fixable', color) if fix_mark(f) else ''}{f.message} "
        f"({f.severity.value}, {f.confidence.value} confidence)"
    )


def render(result: ScanResult, *, statistics: bool = False, quiet: bool = False, color: bool = False, **_: object) -> str:
    """Findings with their fix hints and measurements, then the summary. `quiet` drops the fix hints and the
    summary only: a measurement is the point of `--verify`. `statistics` prints the counts table alone."""
    if statistics:
        rows = render_statistics(result)
        return "\n".join(rows) + "\n" if rows else ""
    lines: list[str] = []
    for f in result.findings:
        lines.append(headline(f, color))
        if not quiet:
            lines.append(_style(f"  fix: {f.suggestion}", "hint", color))
        for v in f.verifications:
            lines.extend(f"  {line}" for line in verification_lines(v))
        if f.runtime is not None:
            lines.append(f"  {describe_runtime(f.runtime)}")
    if result.profile is not None and not quiet:
        lines.extend(profile_lines(result.profile))
    if not quiet:
        lines.append(summary(result))
    return "\n".join(lines) + "\n" if lines else ""


def render_concise(result: ScanResult, **_: object) -> str:
    return "".join(f"{location(f)}: {f.code} {f.message}\n" for f in result.findings)


def render_statistics(result: ScanResult) -> list[str]:
    counts = Counter((f.code, f.name) for f in result.findings)
    fixable = {f.code for f in result.findings if fix_mark(f)}
    return [
        f"{n:5d}  {code}  {'[*] ' if code in fixable else '    '}{name}"
        for (code, name), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def summary(result: ScanResult) -> str:
    n = len(result.findings)
    fixable = sum(1 for f in result.findings if f.fix is not None and f.fix.safe)
    unsafe = sum(1 for f in result.findings if f.fix is not None and not f.fix.safe)
    parts = [f"Found {n} finding{'s' if n != 1 else ''} in {result.files_scanned} file{'s' if result.files_scanned != 1 else ''}"]
    if fixable:
        parts.append(f"{fixable} fixable with --fix")
    if unsafe:
        parts.append(f"{unsafe} more with --unsafe-fixes")
    if result.errors:
        parts.append(f"{len(result.errors)} file{'s' if len(result.errors) != 1 else ''} could not be analysed")
    if result.profile is not None:
        counts = Counter(f.runtime.status for f in result.findings if f.runtime is not None)
        shown = [f"{counts[k]} {SUMMARY_LABELS[k]}" for k in SUMMARY_LABELS if counts[k]]
        if shown:
            parts.append("runtime: " + ", ".join(shown))
    return "; ".join(parts) + "."
