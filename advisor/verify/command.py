"""`advisor verify` and `advisor scan --verify`: choose pairs and devices, run them, show the results.

Kept out of advisor/cli.py so that the scanner's import graph never reaches the verifier unless asked.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from functools import partial
from typing import Any, Callable, Iterable, TypeVar

import click

from advisor.present import describe_instructions, describe_verification, format_seconds
from advisor.types import Finding, ScanResult, Verification
from advisor.environment import INSTALL_HINT, environment, frameworks_missing
from advisor.verify.pairs import PairSpec, all_pairs
from advisor.verify.runner import NOT_ASKED, RunOptions, verify_pair, verify_user_function
from advisor.verify.sandbox import stop_children_on_signals
from advisor.verify.spawn import warm_children

EXIT_OK, EXIT_PROBLEM, EXIT_ERROR = 0, 1, 2
T = TypeVar("T")


USER_CODE_WARNING = (
    "advisor: warning: --verify-user-code runs flagged functions lifted from the scanned files "
    "(each proven pure first, in an isolated child) — use it only on code you would run yourself"
)


def run_options(timeout_s: float, no_cache: bool, count_instructions: bool = False, user_code: bool = False) -> RunOptions:
    return RunOptions(timeout_s=timeout_s, use_cache=not no_cache, count_instructions=count_instructions, user_code=user_code)


def require_frameworks() -> None:
    """One line and exit 2 when torch/numpy are absent, instead of a traceback in every child."""
    missing = frameworks_missing()
    if missing:
        click.echo(f"advisor: error: {' and '.join(missing)} not installed — {INSTALL_HINT}", err=True)
        sys.exit(EXIT_ERROR)


def devices_for(spec: PairSpec, choice: str) -> list[str]:
    """auto: every device the pair supports that is present (or its first, to say it is missing);
    cpu/cuda: that one; all: both. Devices a pair does not support come back as "skipped"."""
    if choice == "auto":
        present = ["cpu"] + (["cuda"] if environment().has_cuda else [])
        usable = [d for d in spec.devices if d in present]
        return usable or [spec.devices[0]]
    if choice == "all":
        return ["cpu", "cuda"]
    return [choice]


def _progress(items: list[T], label: str) -> Iterable[T]:
    """On a terminal: the pair being measured, how many are done and an estimate of the rest (redrawn on
    stderr). Off a terminal: one line per finished pair on stderr."""
    from advisor.progress import track

    return track(items, len(items), label, name=_job_name, finished_lines=True)


def _job_name(item: object) -> str:
    """A pair job as a person reads it: `ADV401 cpu` for (code, spec, device), else its label."""
    if isinstance(item, tuple) and len(item) == 3 and isinstance(item[2], str):
        return f"{item[0]} {item[2]}"
    return str(item[0]) if isinstance(item, tuple) and item else str(item)


def _sizes_text(v: Verification) -> str:
    return ", ".join(f"{k}={val}" for k, val in v.sizes.items())


def instructions_text(v: Verification) -> str:
    """The callgrind counts as a clause for the text line, or why there are none; empty when not asked."""
    counted = describe_instructions(v)
    return f"; {counted}" if counted else ""


def text_line(v: Verification) -> str:
    """One readable line per pair and device; a figure only where one was measured and significant."""
    return _text_line(v) + instructions_text(v)


def _text_line(v: Verification) -> str:
    """The reporters' own headline for the pair (one wording, one rounding), then what `advisor verify`
    readers also want: each side's spread and run count, and the sizes timed."""
    runs = ""
    if v.before and v.after:
        runs = (f"; before IQR {format_seconds(v.before.iqr_s)} over {v.before.runs} runs, "
                f"after IQR {format_seconds(v.after.iqr_s)} over {v.after.runs} runs")
    return f"{v.code} {describe_verification(v)}{runs}; {_sizes_text(v)} ({v.sizes_source})"


def results_json(results: list[Verification]) -> str:
    return json.dumps({"version": 1, "results": [asdict(v) for v in results]}, indent=2) + "\n"


def run_verify(codes: list[str], device: str, options: RunOptions, fmt: str) -> int:
    pairs = all_pairs()
    unknown = [c for c in codes if c not in pairs]
    if unknown:
        click.echo(f"advisor: error: no before/after pair for {', '.join(unknown)} — pairs exist for {', '.join(pairs)}", err=True)
        return EXIT_ERROR
    require_frameworks()
    chosen = [pairs[c] for c in (codes or list(pairs))]
    jobs = [(spec.code, spec, d) for spec in chosen for d in devices_for(spec, device)]
    with stop_children_on_signals(), warm_children(options.threads):
        results = [verify_pair(spec, d, options=options) for _, spec, d in _progress(jobs, "verifying")]
    if fmt == "json":
        click.echo(results_json(results), nl=False)
    else:
        for v in results:
            click.echo(text_line(v))
    return EXIT_PROBLEM if any(v.status in ("failed", "not-equivalent") for v in results) else EXIT_OK


def _read(path: str) -> str:
    from advisor.source import SourceError, decode, read_bytes
    from pathlib import Path

    try:
        return decode(read_bytes(Path(path)))
    except (SourceError, OSError):
        return ""


def _user_function_result(finding: Finding, text: str, options: RunOptions, spec: PairSpec) -> Verification | None:
    """The finding's own function run against its rule's pair; None when the flagged code is not in a .py file."""
    from advisor.verify.extract import Extraction, apply_edits, extract_elementwise, extract_function
    from advisor.verify.sizes import sizes_for

    if finding.cell is not None or not text:
        return None
    from advisor.rule import rules_by_code

    rule = rules_by_code()[finding.code]
    sizes = sizes_for(finding, text, spec.default_sizes, rule)
    if rule.user_function_kind == "elementwise":
        fixed = apply_edits(text, [(e.start, e.end, e.replacement) for e in finding.fix.edits]) if finding.fix else None
        extraction: Extraction | None = extract_elementwise(text, finding.span.line, fixed)
    else:
        # The child compares the function with `A @ B`; a product read transposed computes another matrix.
        extraction = extract_function(text, finding.span.line, matvec="matvec" in finding.tags) if "transposed" not in finding.tags else None
    if extraction is None:
        return Verification(
            code=finding.code, device="cpu", status="skipped", equivalent=None, sizes=sizes.values, sizes_source=sizes.source,
            detail="your function was not run: it reads one operand transposed, and it is compared only with `A @ B`",
            extra={"user_function": None},
        )
    if not options.user_code:
        return Verification(
            code=finding.code, device="cpu", status="skipped", equivalent=None, sizes=sizes.values, sizes_source=sizes.source,
            detail=NOT_ASKED, extra={"user_function": None},
        )
    if extraction.function is None:
        return Verification(
            code=finding.code, device="cpu", status="skipped", equivalent=None, sizes=sizes.values, sizes_source=sizes.source,
            detail=f"your function was not run: {extraction.refusal}", extra={"user_function": None},
        )
    return verify_user_function(finding.code, extraction.function, sizes.values, sizes.source, spec.tolerance, options)


def _own_function_job(out: dict[int, Verification | None], i: int, finding: Finding, text: str, options: RunOptions, spec: PairSpec) -> None:
    out[i] = _user_function_result(finding, text, options, spec)


def attach_verifications(result: ScanResult, device: str, options: RunOptions) -> ScanResult:
    """Verify every fired rule that has a pair once (sizes from its first finding that shows any), plus
    the user's own function per finding for rules that verify it; attach the results to the findings."""
    from advisor.rule import rules_by_code
    from advisor.verify.sizes import sizes_for

    require_frameworks()
    if options.user_code:
        click.echo(USER_CODE_WARNING, err=True)
    pairs = all_pairs()
    known = rules_by_code()
    texts: dict[str, str] = {}
    by_code: dict[str, list[Finding]] = {}
    for f in result.findings:
        if f.code in pairs:
            by_code.setdefault(f.code, []).append(f)
            if f.path not in texts:
                texts[f.path] = _read(f.path)
    shared: dict[str, tuple[Verification, ...]] = {}
    jobs: list[tuple[str, Callable[[], Any]]] = []
    for code, findings in by_code.items():
        spec = pairs[code]
        chosen = next((s for s in (sizes_for(f, texts[f.path], spec.default_sizes, known[code]) for f in findings) if s.source == "user code"), None)
        for d in devices_for(spec, device):
            jobs.append((f"{code} on {d}", partial(_shared, shared, spec, d, chosen, options)))
    per_finding: dict[int, Verification | None] = {}
    for i, f in enumerate(result.findings):
        if f.code in pairs and f.code in known and known[f.code].verifies_user_function:
            jobs.append((f"{f.code} {f.path}:{f.line}", partial(_own_function_job, per_finding, i, f, texts[f.path], options, pairs[f.code])))
    with stop_children_on_signals(), warm_children(options.threads):
        for _, job in _progress(jobs, "verifying"):
            job()
    out = []
    unmeasurable = _unmeasurable(result.findings, pairs)
    for i, f in enumerate(result.findings):
        attached = list(shared.get(f.code, ())) or list(unmeasurable.get(f.code, ()))
        own = per_finding.get(i)
        if own is not None:
            # The user's own function, when it could be run, says more than the generic pair.
            attached = [own] if own.status not in ("skipped", "failed") else [own, *attached]
        out.append(f.with_verifications(tuple(attached)) if attached else f)
    result.findings = out
    return result


def _unmeasurable(findings: list[Finding], pairs: dict[str, Any]) -> dict[str, tuple[Verification, ...]]:
    """Fired rules with no pair say why instead of staying silent."""
    from advisor.rule import rules_by_code

    known = rules_by_code()
    out: dict[str, tuple[Verification, ...]] = {}
    for f in findings:
        if f.code not in pairs and f.code in known and f.code not in out:
            out[f.code] = (
                Verification(code=f.code, device="-", status="skipped", equivalent=None, sizes={},
                             sizes_source="defaults", detail=known[f.code].no_pair_reason),
            )
    return out


def _shared(store: dict[str, tuple[Verification, ...]], spec: PairSpec, device: str, chosen: Any, options: RunOptions) -> None:
    v = verify_pair(spec, device, sizes=chosen.values if chosen else None, sizes_source=chosen.source if chosen else "defaults", options=options)
    if chosen is not None and chosen.note:
        v = Verification(**{**asdict(v), "before": v.before, "after": v.after, "detail": "; ".join(filter(None, [v.detail, chosen.note]))})
    store[spec.code] = store.get(spec.code, ()) + (v,)
