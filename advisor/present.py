"""How a measurement, a runtime observation or a profile step reads, in words: the one place every
reporter (text, HTML, SARIF, GitHub, notebooks, `advisor explain`, `advisor verify`) takes them from, so
the same figure is never rounded two ways. Depends only on the finding model.
"""

from __future__ import annotations

from typing import Any

from advisor.types import ProfileLoop, ProfileStep, RuntimeEvidence, Verification


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
    """Whose code was timed, and at which sizes: the user's own lifted function (and what it was
    compared with) or our pair."""
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
