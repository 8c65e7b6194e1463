"""Human output, the way Ruff/flake8 users read it: `path:line:col: CODE message`, then a fix hint."""

from __future__ import annotations

from collections import Counter
from typing import Any

from advisor.types import Finding, ProfileLoop, ProfileRun, ProfileStep, RuntimeEvidence, ScanResult, Verification


def location(f: Finding) -> str:
    cell = f"cell {f.cell + 1}:" if f.cell is not None else ""
    return f"{f.path}:{cell}{f.span.line}:{f.span.column}"


def describe_verification(v: Verification) -> str:
    """One line a person can trust: a number only when it was measured and significant."""
    where = f"{v.device}{f' ({v.device_name})' if v.device_name else ''}"
    if v.status == "measured" and v.speedup is not None and v.before and v.after:
        return (
            f"measured on {where}: {format_ratio(v.speedup)} faster "
            f"(interval {format_ratio(v.speedup_low)}–{format_ratio(v.speedup_high)}, "
            f"{format_seconds(v.before.median_s)} → {format_seconds(v.after.median_s)}, {sizes_origin(v)})"
        )
    if v.metric == "loss" and v.detail and v.status in ("measured", "no-significant-gain"):
        # a quality pair trains our own small model: the figures say what a schedule did there, not for yours
        return f"on {where}, our synthetic task (not your model): {v.detail}"
    if v.status == "no-significant-gain":
        return f"measured on {where}: no significant gain ({v.detail})" if v.detail else f"measured on {where}: no significant gain"
    if v.status == "not-equivalent":
        return f"on {where}: before and after gave different results — no gain claimed ({v.detail})"
    if v.status == "skipped":
        return f"not measured: {v.detail}" if v.device == "-" else f"not measured on {where}: {v.detail}"
    return f"verification {v.status} on {where}: {v.detail}"


def describe_instructions(v: Verification) -> str | None:
    """The callgrind counts (`--count-instructions`) as one line, or why there are none; None when not asked."""
    ins = v.instructions
    if ins is None:
        return None
    if ins.get("before") is None or ins.get("after") is None:
        return f"instructions on {v.device}: {ins.get('detail') or 'not counted'}"
    sizes = ", ".join(f"{k}={val}" for k, val in (ins.get("sizes") or {}).items()) or "no sizes"
    ratio = ins.get("ratio")
    return (
        f"instructions per call ({ins.get('tool', 'callgrind')}, {sizes}): "
        f"before {ins['before']:,}, after {ins['after']:,} (before/after {format_ratio(ratio)})"
    )


def verification_lines(v: Verification) -> list[str]:
    """What each reporter shows of one result: the headline, the figure with the data kept as arrays
    (a user's matrix product on lists), then the instruction counts if any."""
    extra = describe_instructions(v)
    kept = describe_arrays_kept(v)
    return [describe_verification(v)] + ([kept] if kept else []) + ([extra] if extra else [])


ARRAYS_KEPT = "arrays_kept"


def arrays_kept(v: Verification) -> dict[str, Any] | None:
    """The second figure of a user's product written over lists: the same product on arrays that
    already exist, timed in the same rounds as the function and its as-is replacement."""
    also = v.extra.get("also") if isinstance(v.extra, dict) else None
    kept = also.get(ARRAYS_KEPT) if isinstance(also, dict) else None
    return kept if isinstance(kept, dict) and v.status in ("measured", "no-significant-gain") else None


def describe_arrays_kept(v: Verification) -> str | None:
    """`with the data kept as arrays: 1,400x faster (...)`: why the advice says to keep arrays."""
    kept = arrays_kept(v)
    if kept is None:
        return None
    after = kept.get("after") or {}
    seconds = f"{format_seconds(v.before.median_s)} → {format_seconds(after['median_s'])}, " if v.before and "median_s" in after else ""
    if kept.get("status") == "measured" and kept.get("speedup") is not None:
        return (
            f"with the data kept as arrays (no list → array conversion per call): {format_ratio(kept['speedup'])} faster "
            f"(interval {format_ratio(kept.get('speedup_low'))}–{format_ratio(kept.get('speedup_high'))}, {seconds}same rounds, same device)"
        )
    return f"with the data kept as arrays: no significant gain ({kept.get('detail', '')})"


def sizes_origin(v: Verification) -> str:
    """Whose code was timed, and at which sizes: the user's own function (ADV401) or our pair."""
    sizes = "sizes from your code" if v.sizes_source == "user code" else "default sizes"
    function = v.extra.get("user_function") if isinstance(v.extra, dict) else None
    replacement = v.extra.get("replacement") if isinstance(v.extra, dict) else None
    against = f" against `{replacement}`" if isinstance(replacement, str) and replacement else ""
    if arrays_kept(v) is not None:
        against += " as is, its lists converted on every call"
    return f"your function `{function}`{against}, {sizes}" if isinstance(function, str) and function else sizes


def format_ratio(x: float | None) -> str:
    if x is None:
        return "?"
    if x >= 100:
        return f"{x:,.0f}x"
    if x >= 10:
        return f"{x:.0f}x"
    return f"{x:.1f}x"


def format_seconds(s: float) -> str:
    """Three significant digits at most: timings on a shared machine carry no more."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if s >= scale or unit == "µs":
            return f"{float(f'{s / scale:.3g}'):g} {unit}"
    return f"{s:g} s"


RUNTIME_LABELS = {
    "confirmed": "confirmed at runtime",
    "minor": "seen at runtime, minor",
    "not-observed": "not observed in this run",
    "cannot-observe": "cannot be observed on {device}",
    "runtime-only": "found at runtime only (the scan did not report it)",
}

SUMMARY_LABELS = {"confirmed": "confirmed", "minor": "minor", "not-observed": "not observed", "cannot-observe": "not observable here", "runtime-only": "runtime-only"}


def describe_runtime(ev: RuntimeEvidence) -> str:
    """The one line `advisor profile` adds to a finding."""
    label = RUNTIME_LABELS.get(ev.status, ev.status).format(device=ev.device or "this device")
    return f"{label}: {ev.detail}" if ev.detail else label


def step_parts(step: ProfileStep) -> list[tuple[str, float]]:
    """The parts of a step the breakdown shows, in the order charts stack them."""
    return [("data", step.data_s), ("optimizer", step.optimizer_s), ("syncs", step.sync_s), ("copies", step.copy_s), ("compute", step.compute_s)]


def median_step(loop: ProfileLoop) -> ProfileStep | None:
    """The step whose total is the median one: a real step, so its parts add up."""
    if not loop.steps:
        return None
    ordered = sorted(loop.steps, key=lambda s: s.total_s)
    return ordered[len(ordered) // 2]


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

    return click.style(text, **STYLES[kind])  # type: ignore[arg-type]


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
