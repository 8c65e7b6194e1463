"""The self-contained HTML report: one file, inline CSS and JS, nothing fetched, readable offline.

This module only arranges the findings model for display (excerpt rows with the flagged characters,
diff rows, chart geometry); every fact comes from the ScanResult. Jinja2 autoescaping covers all user
text, and no user data is placed inside <script>: the page script reads `data-*` attributes instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from markupsafe import Markup, escape

from advisor import __version__
from advisor.present import arrays_kept, describe_arrays_kept, describe_instructions, describe_runtime, describe_verification, format_ratio, format_seconds, step_parts
from advisor.report.text import location
from advisor.types import Finding, ProfileLoop, ScanResult, Severity, Verification

CHART_WIDTH = 220  # px of the longest bar
SEVERITY_ORDER = {Severity.WARNING.value: 0, Severity.INFO.value: 1}


@dataclass(frozen=True)
class Row:
    """One excerpt line, split around the flagged characters so the template can mark them."""

    number: int
    before: str
    marked: str
    after: str


@dataclass(frozen=True)
class Bar:
    """One bar of the inline SVG chart, its width already scaled to the longest bar; `low`/`high` are
    the ends of its interval whisker in the same pixels (None: no interval to draw)."""

    label: str
    width: int
    text: str
    low: int | None = None
    high: int | None = None


@dataclass(frozen=True)
class Segment:
    """One part of one step in the per-step breakdown chart, already placed in pixels."""

    x: int
    width: int
    part: str
    title: str


@dataclass(frozen=True)
class StepRow:
    label: str
    segments: list[Segment]
    total: str


@dataclass
class LoopView:
    """One profiled loop: its facts and the stacked per-step chart."""

    site: str
    facts: list[tuple[str, str]]
    rows: list[StepRow]
    shown: int
    total: int


@dataclass
class VerificationView:
    """A verifier result as shown: the text output's sentence, labelled facts and an optional chart."""

    headline: str
    status: str
    facts: list[tuple[str, str]]
    bars: list[Bar] = field(default_factory=list)
    chart_title: str = ""


@dataclass
class FindingView:
    """A finding plus what the template cannot compute: its rows, diff lines and verification views."""

    anchor: str
    order: int
    finding: Finding
    location: str
    rows: list[tuple[Row, bool]]
    diff: list[tuple[str, str]]
    verifications: list[VerificationView]
    gain: float  # best measured speed-up, 0 when none: the page sorts on it

    @property
    def gain_text(self) -> str:
        return f"{format_ratio(self.gain)} faster, measured" if self.gain else ""


def excerpt_rows(f: Finding) -> list[tuple[Row, bool]]:
    """(row, flagged) pairs; on the first and last flagged line only the span's own columns are marked."""
    if f.excerpt is None:
        return []
    rows = []
    for i, text in enumerate(f.excerpt.lines):
        n = f.excerpt.first_line + i
        if not f.span.line <= n <= f.span.end_line:
            rows.append((Row(n, text, "", ""), False))
            continue
        start = f.span.column - 1 if n == f.span.line else len(text) - len(text.lstrip())
        end = f.span.end_column - 1 if n == f.span.end_line else len(text)
        start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
        rows.append((Row(n, text[:start], text[start:end], text[end:]), True))
    return rows


def diff_rows(f: Finding) -> list[tuple[str, str]]:
    if f.fix is None or not f.fix.diff:
        return []
    kinds = {"+": "add", "-": "del", "@": "hunk"}
    return [(kinds.get(line[:1], "ctx") if not line.startswith(("+++", "---")) else "file", line) for line in f.fix.diff.splitlines()]


def _sizes(v: Verification) -> str:
    shown = ", ".join(f"{k}={val}" for k, val in v.sizes.items()) or "none"
    return f"{shown} ({v.sizes_source})"


def _equivalence(v: Verification) -> str:
    return {True: "same results (checked before timing)", False: "different results: no gain claimed", None: "not checked"}[v.equivalent]


def _bars(values: list[tuple[str, float, str]], spreads: list[float] | None = None) -> list[Bar]:
    """Bars scaled to the longest; with `spreads`, each bar's whisker spans median ± spread / 2."""
    halves = [s / 2 for s in spreads] if spreads else [0.0] * len(values)
    top = max((val + half for (_, val, _), half in zip(values, halves)), default=0.0)
    if top <= 0:
        return []

    def px(x: float) -> int:
        return round(CHART_WIDTH * x / top)

    return [
        Bar(label, max(2, px(val)), text, *((px(max(0.0, val - half)), px(val + half)) if spreads else (None, None)))
        for (label, val, text), half in zip(values, halves)
    ]


def _side_labels(v: Verification) -> tuple[str, str]:
    """What the pair calls its two sides (its `LABELS`, e.g. "fixed LR" / "scheduler"), else before/after."""
    labels = v.extra.get("labels")
    if isinstance(labels, (list, tuple)) and len(labels) == 2 and all(isinstance(x, str) for x in labels):
        return str(labels[0]), str(labels[1])
    return "before", "after"


def verification_view(v: Verification) -> VerificationView:
    where = v.device + (f" ({v.device_name})" if v.device_name else "")
    facts = [("device", where), ("sizes", _sizes(v)), ("equivalence", _equivalence(v))]
    view = VerificationView(headline=describe_verification(v), status=v.status, facts=facts)
    if v.metric == "time" and v.before and v.after:
        facts.insert(0, ("before", f"median {format_seconds(v.before.median_s)}, IQR {format_seconds(v.before.iqr_s)}, {v.before.runs} runs"))
        facts.insert(1, ("after", f"median {format_seconds(v.after.median_s)}, IQR {format_seconds(v.after.iqr_s)}, {v.after.runs} runs"))
        if v.speedup is not None:
            facts.insert(2, ("speed-up", f"{format_ratio(v.speedup)} (interval {format_ratio(v.speedup_low)}–{format_ratio(v.speedup_high)})"))
        bars = [("before", v.before.median_s, format_seconds(v.before.median_s)), ("after", v.after.median_s, format_seconds(v.after.median_s))]
        spreads = [v.before.iqr_s, v.after.iqr_s]
        kept = arrays_kept(v)
        kept_after = kept.get("after") if kept else None
        if isinstance(kept_after, dict) and isinstance(kept_after.get("median_s"), (int, float)):
            facts.insert(3 if v.speedup is not None else 2, ("arrays kept", describe_arrays_kept(v) or ""))
            bars.append(("arrays kept", float(kept_after["median_s"]), format_seconds(float(kept_after["median_s"]))))
            spreads.append(float(kept_after.get("iqr_s") or 0.0))
        view.bars = _bars(bars, spreads)
        view.chart_title = "median time per call, whisker: interquartile range (shorter is faster)"
    elif v.metric == "loss" and isinstance(v.extra.get("before"), dict) and isinstance(v.extra.get("after"), dict):
        b, a = v.extra["before"].get("loss_mean"), v.extra["after"].get("loss_mean")
        if isinstance(b, (int, float)) and isinstance(a, (int, float)):
            before, after = _side_labels(v)
            view.bars = _bars([(before, float(b), f"{b:.4g}"), (after, float(a), f"{a:.4g}")])
            view.chart_title = "mean held-out loss (lower is better)"
    if v.detail and v.status not in ("measured",):
        facts.append(("detail", v.detail))
    counted = describe_instructions(v)
    if counted:
        facts.append(("instructions", counted))
    return view


def best_speedup(f: Finding) -> float:
    return max((v.speedup or 0.0 for v in f.verifications if v.status == "measured" and v.metric == "time"), default=0.0)


def finding_view(i: int, f: Finding) -> FindingView:
    return FindingView(
        anchor=f"finding-{i + 1}",
        order=i,
        finding=f,
        location=location(f),
        rows=excerpt_rows(f),
        diff=diff_rows(f),
        verifications=[verification_view(v) for v in f.verifications],
        gain=best_speedup(f),
    )


STEP_CHART_WIDTH = 420  # px of the longest step
STEP_ROWS = 40  # steps drawn per loop; the rest are summarised by the facts


def loop_view(loop: ProfileLoop) -> LoopView:
    """Each step as one stacked bar (data, optimizer, syncs, copies, compute), scaled to the longest."""
    steps = loop.steps[:STEP_ROWS]
    top = max((s.total_s for s in steps), default=0.0)
    rows = []
    for i, step in enumerate(steps):
        x, segments = 0.0, []
        for part, value in step_parts(step):
            width = STEP_CHART_WIDTH * value / top if top > 0 else 0.0
            if width >= 0.5:
                segments.append(Segment(round(x), max(1, round(width)), part, f"{part} {format_seconds(value)}"))
            x += width
        rows.append(StepRow(f"step {i + 1}", segments, format_seconds(step.total_s)))
    return LoopView(loop.site, list(loop.facts), rows, len(steps), len(loop.steps))


def share_width(f: Finding) -> int:
    """Pixels of the estimated-share bar of a finding's runtime evidence (0: none to draw)."""
    if f.runtime is None or f.runtime.share is None:
        return 0
    return max(1, round(CHART_WIDTH * f.runtime.share))


def rule_summary(result: ScanResult) -> list[dict[str, Any]]:
    """Per rule: findings, and the measured speed-ups per device as one figure or a low–high range."""
    rows: dict[str, dict[str, Any]] = {}
    for f in result.findings:
        row = rows.setdefault(f.code, {"code": f.code, "name": f.name, "count": 0, "gains": {}})
        row["count"] += 1
        for v in f.verifications:
            if v.status == "measured" and v.metric == "time" and v.speedup:
                row["gains"].setdefault(v.device, set()).add(v.speedup)
    out = []
    for _, row in sorted(rows.items()):
        parts = []
        for device, gains in sorted(row["gains"].items()):
            low, high = min(gains), max(gains)
            shown = format_ratio(low) if format_ratio(low) == format_ratio(high) else f"{format_ratio(low)}–{format_ratio(high)}"
            parts.append(f"{shown} on {device}")
        out.append({**row, "gains": "; ".join(parts)})
    return out


def ticks(text: str) -> Markup:
    """Escape text and show its `backtick` spans as code, the way the messages are written."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: show it as it is
        return Markup(escape(text))
    return Markup("").join(Markup("<code>{}</code>").format(p) if i % 2 else escape(p) for i, p in enumerate(parts))


def _template() -> Any:
    import jinja2

    package = resources.files("advisor.report")
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["ticks"] = ticks
    env.globals.update(describe_runtime=describe_runtime, share_width=share_width)
    template = env.from_string((package / "report.html.j2").read_text(encoding="utf-8"))
    return template, (package / "report.css").read_text(encoding="utf-8"), (package / "report.js").read_text(encoding="utf-8")


def context(result: ScanResult) -> dict[str, Any]:
    severities = Counter(f.severity.value for f in result.findings)
    files = Counter(f.path for f in result.findings)
    return {
        "version": __version__,
        "findings": [finding_view(i, f) for i, f in enumerate(result.findings)],
        "errors": result.errors,
        "files_scanned": result.files_scanned,
        "lines_scanned": result.lines_scanned,
        "by_rule": rule_summary(result),
        "by_file": sorted(files.items(), key=lambda kv: (-kv[1], kv[0])),
        "by_severity": sorted(severities.items(), key=lambda kv: SEVERITY_ORDER.get(kv[0], 9)),
        "profile": result.profile,
        "loops": [loop_view(loop) for loop in result.profile.loops] if result.profile else [],
        "step_chart_width": STEP_CHART_WIDTH,
        "environment": result.environment,
        "chart_width": CHART_WIDTH,
    }


def render(result: ScanResult, **_: object) -> str:
    template, css, js = _template()
    if "</script" in js.lower() or "</style" in css.lower():
        raise RuntimeError("report.js/report.css must not close their own element")
    return str(template.render(**context(result), css=Markup(css), js=Markup(js)))
