"""Parent side: join a profile run with `advisor scan` of the same files.

Each static finding gets runtime evidence: confirmed (with figures from the profiled steps), minor,
not observed, or cannot be observed on this device (and why). Runtime events at lines the scan did not
flag become runtime-only findings of the rule whose problem they show. The table `SIGNALS` says which
runtime signal speaks for which rule: it is the one place that ties rule codes to runtime events.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from advisor.excerpt import excerpt, split_lines
from advisor.profile.result import ChildResult, Event, Loader, Window, Where
from advisor.present import format_seconds
from advisor.rule import rules_by_code
from advisor.source import SourceError, read_source
from advisor.types import Confidence, Finding, ProfileLoop, ProfileRun, ProfileStep, RuntimeEvidence, ScanResult, Span

MINOR_SHARE = 0.05  # below this share of step time, a confirmed data wait is called minor
RUNTIME_ONLY_DATA_SHARE = 0.20  # a loader the scan did not flag must cost this much to be reported


@dataclass(frozen=True)
class Run:
    """The child's result plus the figures every rule's evidence is computed from."""

    child: ChildResult
    base: str  # the working folder: paths under it are shown relative, as the scan shows them

    @property
    def windows(self) -> tuple[Window, ...]:
        return self.child.windows

    def show(self, where: Where) -> str:
        return where.short(self.base)

    @property
    def device_aware(self) -> bool:
        """The script moves tensors between devices (so it runs on a GPU where there is one): only then
        is a read-back on this CPU a sync that costs something elsewhere."""
        return self.child.device == "cuda" or any(e.kind == "move" for w in self.windows for e in w.events)


def _steps(w: Window) -> int:
    return max(1, len(w.steps))


def _step_total(w: Window) -> float:
    return sum(s.total_s for s in w.steps)


def _median_step(w: Window) -> float:
    return statistics.median([s.total_s for s in w.steps]) if w.steps else 0.0


def _in_span(f: Finding, path: str, line: int) -> bool:
    return os.path.abspath(f.path) == path and f.span.line <= line <= f.span.end_line


def _events_in(f: Finding, run: Run, kind: str) -> list[tuple[Window, Event]]:
    """Events charged to a line of the finding, or issued from a call on one of its lines."""
    return [
        (w, e)
        for w in run.windows
        for e in w.events
        if e.kind == kind and (_in_span(f, e.where.path, e.where.line) or any(_in_span(f, c.path, c.line) for c in e.callers))
    ]


def _per_step(hits: list[tuple[Window, Event]]) -> tuple[float, float | None, Window, Event]:
    """Count per step and estimated share of step time, from the window where the event is most frequent."""
    w, e = max(hits, key=lambda h: h[1].count / _steps(h[0]))
    total = _step_total(w)
    return e.count / _steps(w), (e.seconds / total if total > 0 else None), w, e


def _device_note(run: Run, e: Event) -> str:
    if e.tensor_device == "cpu" and run.child.device == "cpu":
        return "the tensor is on the CPU here, so this costs nothing on this machine; on a GPU each one waits for the device"
    return ""


def _sync(f: Finding, run: Run) -> RuntimeEvidence | None:
    hits = _events_in(f, run, "readback")
    if not hits:
        return None
    per_step, share, w, e = _per_step(hits)
    note = _device_note(run, e)
    detail = (
        f"{per_step:.3g} {e.op} per step from {run.show(e.where)} ({e.count} in {len(w.steps)} steps), "
        f"{format_seconds(e.seconds / max(1, e.count))} each, {share or 0:.1%} of step time" + (f"; {note}" if note else "")
    )
    status = "confirmed" if e.steps_seen * 2 >= len(w.steps) else "minor"
    return RuntimeEvidence(status, detail, run.child.device, per_step=per_step, share=share if not note else None)


def _move_text(run: Run, w: Window, e: Event) -> str:
    size = e.bytes // max(1, e.count)
    same = f", the same tensor in {e.same_tensor_steps + 1} of {len(w.steps)} steps" if e.same_tensor_steps else ", a new tensor each time"
    where = {"none": "a no-op on this device: its copy time needs a CUDA device to measure", "h2d": "host to device", "d2h": "device to host", "d2d": "device to device"}[e.direction]
    return f"{e.count / _steps(w):.3g} {e.op} per step from {run.show(e.where)} ({_bytes(size)} each{same}; {where})"


def _move(f: Finding, run: Run) -> RuntimeEvidence | None:
    hits = _events_in(f, run, "move")
    if not hits:
        return None
    per_step, share, w, e = _per_step(hits)
    return RuntimeEvidence("confirmed", _move_text(run, w, e), run.child.device, per_step=per_step, share=share if e.direction != "none" else None)


def _per_sample(f: Finding, run: Run) -> RuntimeEvidence | None:
    for w in run.windows:
        if w.site is None or not _in_span(f, w.site.path, w.site.line):
            continue
        samples = _samples(w)
        if samples is None:
            return RuntimeEvidence("not-observed", f"the loop at {run.show(w.site)} ran, but no model input showed its batch size", run.child.device)
        detail = f"{samples} sample{'s' if samples != 1 else ''} per optimizer step over {len(w.steps)} profiled steps at {run.show(w.site)}, {format_seconds(_median_step(w))} per step (median)"
        return RuntimeEvidence("confirmed" if samples == 1 else "not-observed", detail, run.child.device, per_step=float(samples))
    return None


def _samples(w: Window) -> int | None:
    seen = [s.samples for s in w.steps if s.samples is not None]
    return int(statistics.median(seen)) if seen else None


def _loader_uses(f: Finding, run: Run) -> list[tuple[Window, Loader, float, int]]:
    """(window, loader, wait in seconds, batches) for each use of a loader constructed in the span."""
    out = []
    for index, loader in enumerate(run.child.loaders):
        if loader.where is None or not _in_span(f, loader.where.path, loader.where.line):
            continue
        for w in run.windows:
            for use in w.loaders:
                if use.loader == index and use.batches:
                    out.append((w, loader, use.wait_s, use.batches))
    return out


def _batch_one(f: Finding, run: Run) -> RuntimeEvidence | None:
    uses = _loader_uses(f, run)
    if not uses:
        return None
    w, loader, _, batches = uses[0]
    detail = f"batches of {loader.batch_size} sample{'s' if loader.batch_size != 1 else ''}: {batches} batches in {len(w.steps)} profiled steps"
    return RuntimeEvidence("confirmed" if loader.batch_size == 1 else "not-observed", detail, run.child.device, per_step=batches / _steps(w))


def _workers(f: Finding, run: Run) -> RuntimeEvidence | None:
    uses = _loader_uses(f, run)
    if not uses:
        return None
    w, loader, wait, batches = max(uses, key=lambda u: u[2])
    total = _step_total(w)
    share = wait / total if total > 0 else 0.0
    detail = (
        f"waiting for the next batch is {share:.0%} of step time ({format_seconds(wait / _steps(w))} of "
        f"{format_seconds(total / _steps(w))} per step), loaded in the training process (num_workers={loader.num_workers})"
    )
    if loader.num_workers:
        return RuntimeEvidence("not-observed", detail, run.child.device, share=share)
    return RuntimeEvidence("confirmed" if share >= MINOR_SHARE else "minor", detail, run.child.device, share=share)


def _eval_grad(f: Finding, run: Run) -> RuntimeEvidence | None:
    for w in run.windows:
        for fw in w.forwards:
            if fw.eval_grad_calls and _in_span(f, fw.where.path, fw.where.line):
                detail = f"{fw.eval_grad_calls} forward call{'s' if fw.eval_grad_calls != 1 else ''} of {fw.module} in eval mode with autograd on, from {run.show(fw.where)}"
                return RuntimeEvidence("confirmed", detail, run.child.device)
    return None


def _pinned(f: Finding, run: Run) -> RuntimeEvidence | None:
    """Unpinned batches: the host→device copies of the steps that fetched this loader's batches (CUDA only)."""
    if run.child.device != "cuda":
        return RuntimeEvidence("cannot-observe", "pinned memory only speeds up copies from the host to a GPU: needs a CUDA device to observe", run.child.device)
    uses = _loader_uses(f, run)
    if not uses:
        return None
    w, loader, _, _ = uses[0]
    copies = [e for e in w.events if e.kind == "move" and e.direction == "h2d"]
    if loader.pin_memory or not copies:
        return RuntimeEvidence("not-observed", "no host→device copy of unpinned batches in the profiled steps", run.child.device)
    count, seconds, size = sum(e.count for e in copies), sum(e.seconds for e in copies), sum(e.bytes for e in copies)
    total = _step_total(w)
    detail = f"{count / _steps(w):.3g} host→device copies per step from unpinned memory ({_bytes(size // max(1, count))} each, {format_seconds(seconds / _steps(w))} per step)"
    return RuntimeEvidence("confirmed", detail, run.child.device, per_step=count / _steps(w), share=seconds / total if total > 0 else None)


# runtime signal (a rule's `runtime_signal`) -> how its evidence is found (None: the profiled steps did not run it)
SIGNALS: dict[str, Callable[[Finding, Run], RuntimeEvidence | None]] = {
    "same-tensor-move": _move,
    "host-move": _move,
    "sync": _sync,
    "per-sample-step": _per_sample,
    "batch-of-one": _batch_one,
    "loader-wait": _workers,
    "unpinned-copy": _pinned,
    "eval-autograd": _eval_grad,
}


def evidence(f: Finding, run: Run) -> RuntimeEvidence:
    rule = rules_by_code().get(f.code)
    if rule is not None and rule.runtime_unobservable:
        return RuntimeEvidence("cannot-observe", rule.runtime_unobservable, run.child.device)
    check = SIGNALS.get(rule.runtime_signal or "") if rule is not None else None
    if check is None:
        return RuntimeEvidence("cannot-observe", "advisor profile has no runtime signal for this rule", run.child.device)
    found = check(f, run)
    if found is not None:
        return found
    return RuntimeEvidence("not-observed", "the profiled steps did not run this code (it may run outside the training loop, or later)", run.child.device)


def code_for(signal: str) -> str:
    """The rule a runtime-only finding of this signal belongs to (one rule declares each signal)."""
    codes = [code for code, rule in rules_by_code().items() if rule.runtime_signal == signal]
    if len(codes) != 1:
        raise LookupError(f"runtime signal {signal!r} is declared by {len(codes)} rules, expected one")
    return codes[0]


# ---- runtime-only findings ------------------------------------------------------------------------

def _covered(findings: list[Finding], code: str, where: Where, callers: tuple[Where, ...] = ()) -> bool:
    return any(f.code == code and (_in_span(f, where.path, where.line) or any(_in_span(f, c.path, c.line) for c in callers)) for f in findings)


def _runtime_finding(code: str, where: Where, message: str, ev: RuntimeEvidence, run: Run) -> Finding | None:
    rule = rules_by_code().get(code)
    if rule is None:
        return None
    try:
        lines = split_lines(read_source(Path(where.path)))
    except (SourceError, OSError):
        lines = []
    text = lines[where.line - 1] if 0 < where.line <= len(lines) else ""
    start = len(text) - len(text.lstrip()) + 1
    return Finding(
        code=code,
        name=rule.name,
        path=_display_path(where.path, run.base),
        span=Span(where.line, start, where.line, max(start, len(text.rstrip()) + 1)),
        message=message,
        why=rule.why,
        suggestion=rule.suggestion,
        severity=rule.severity,
        confidence=Confidence.HIGH,
        excerpt=excerpt(lines, where.line, where.line) if text else None,
        runtime=ev,
    )


def runtime_only(findings: list[Finding], run: Run) -> list[Finding]:
    out: list[Finding] = []
    seen: set[tuple[str, str, int]] = set()

    def add(code: str, where: Where, message: str, ev: RuntimeEvidence) -> None:
        if (code, where.path, where.line) in seen:
            return
        seen.add((code, where.path, where.line))
        found = _runtime_finding(code, where, message, ev, run)
        if found is not None:
            out.append(found)

    for w in run.windows:
        for e in w.events:
            every_step = e.steps_seen * 2 >= len(w.steps) and len(w.steps) >= 2
            if not every_step:
                continue
            called_from = f" (called from {run.show(e.callers[0])})" if e.callers else ""
            if e.kind == "readback" and run.device_aware and not _covered(findings, code_for("sync"), e.where, e.callers):
                share = e.seconds / _step_total(w) if _step_total(w) > 0 else None
                note = _device_note(run, e)
                ev = RuntimeEvidence("runtime-only", f"{e.count / _steps(w):.3g} {e.op} per step{called_from}, {format_seconds(e.seconds / max(1, e.count))} each" + (f"; {note}" if note else ""), run.child.device, per_step=e.count / _steps(w), share=None if note else share)
                add(code_for("sync"), e.where, f"Avoid syncing with the device every step: `{e.op}` here runs {e.count / _steps(w):.3g}x per training step{called_from}; keep the value on the device", ev)
            elif e.kind == "move" and e.same_tensor_steps and not _covered(findings, code_for("same-tensor-move"), e.where, e.callers):
                ev = RuntimeEvidence("runtime-only", _move_text(run, w, e), run.child.device, per_step=e.count / _steps(w))
                add(code_for("same-tensor-move"), e.where, f"Hoist this `{e.op}` above the training loop: it moves the same tensor to the device every step{called_from}", ev)
        for index, loader in enumerate(run.child.loaders):
            use = next((u for u in w.loaders if u.loader == index and u.batches), None)
            if use is None or loader.where is None:
                continue
            total = _step_total(w)
            share = use.wait_s / total if total > 0 else 0.0
            if loader.num_workers == 0 and share >= RUNTIME_ONLY_DATA_SHARE and not _covered(findings, code_for("loader-wait"), loader.where):
                ev = RuntimeEvidence("runtime-only", f"waiting for the next batch is {share:.0%} of step time, loaded in the training process", run.child.device, share=share)
                add(code_for("loader-wait"), loader.where, f"Set `num_workers=` on this DataLoader: waiting for its batches is {share:.0%} of each training step", ev)
            if loader.batch_size == 1 and not _covered(findings, code_for("batch-of-one"), loader.where):
                ev = RuntimeEvidence("runtime-only", f"batches of 1 sample: {use.batches} in {len(w.steps)} profiled steps", run.child.device, per_step=use.batches / _steps(w))
                add(code_for("batch-of-one"), loader.where, "Set `batch_size=` on this DataLoader: it yields one sample per training step", ev)
        samples = _samples(w)
        loaders_used = {u.loader for u in w.loaders if u.batches}
        batch_one_loader = any(run.child.loaders[i].batch_size == 1 for i in loaders_used if i < len(run.child.loaders))
        if w.site is not None and samples == 1 and len(w.steps) >= 2 and not batch_one_loader and not _covered(findings, code_for("per-sample-step"), w.site):
            ev = RuntimeEvidence("runtime-only", f"1 sample per optimizer step over {len(w.steps)} profiled steps", run.child.device, per_step=1.0)
            add(code_for("per-sample-step"), w.site, "Train on mini-batches: this optimizer step runs once per sample", ev)
    return out


# ---- the run summary ------------------------------------------------------------------------------

def _bytes(n: int) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def _optimizer_text(run: Run, w: Window) -> str:
    parts = []
    for opt in run.child.optimizers:
        if opt.fused:
            impl = "fused"
        elif opt.foreach:
            impl = "foreach (multi-tensor)"
        elif opt.foreach is None and opt.fused is None and opt.default_foreach is not None:
            impl = ("foreach (multi-tensor)" if opt.default_foreach else "single-tensor (a loop over parameters)") + ", torch's default here"
        else:
            impl = "single-tensor (a loop over parameters)"
        parts.append(f"{opt.name}: {impl}")
    seen = []
    if w.fused_ops:
        seen.append(f"{w.fused_ops} fused ops")
    if w.foreach_ops:
        seen.append(f"{w.foreach_ops} foreach ops")
    text = "; ".join(parts) or "none stepped"
    return text + (f" (profiler saw {', '.join(seen)})" if seen else "")


def _loop(run: Run, w: Window) -> ProfileLoop:
    steps = tuple(ProfileStep(s.total_s, s.data_s, s.optimizer_s, s.readback_s, s.move_s, s.samples) for s in w.steps)
    site = f"{run.show(w.site)} ({w.site.function})" if w.site else "no optimizer step: a time window"
    facts: list[tuple[str, str]] = []
    if w.kind == "steps":
        facts.append(("steps profiled", str(len(w.steps))))
        timing = f"median {format_seconds(_median_step(w))} with advisor's hooks"
        if w.unprofiled_step_s:
            timing += f"; {format_seconds(w.unprofiled_step_s)} unprofiled"
        facts.append(("step time", timing))
        samples = _samples(w)
        facts.append(("samples per step", str(samples) if samples is not None else "not seen (no model input with a batch dimension)"))
    else:
        facts.append(("seconds profiled", f"{w.seconds:.1f}"))
    total = _step_total(w)
    if total > 0:
        data = sum(s.data_s for s in w.steps)
        facts.append(("waiting for data", f"{data / total:.0%} of step time" if data else "no DataLoader batch fetched in these steps"))
    facts.append(("optimizer", _optimizer_text(run, w)))
    facts.append(("autocast", "on: " + ", ".join(w.autocast) if w.autocast else "off"))
    if w.cuda:
        facts.append(("CUDA", f"kernels {format_seconds(w.cuda.get('kernel_s', 0.0))}, {int(w.cuda.get('memcpy_h2d', 0))} host→device and {int(w.cuda.get('memcpy_d2h', 0))} device→host memcpy ({format_seconds(w.cuda.get('memcpy_s', 0.0))}) in the profiler's steps"))
    return ProfileLoop(site=site, kind=w.kind, steps=steps, facts=tuple(facts))


def _pattern_path(run: Run, path: str) -> str:
    """torch's matcher names files by a shortened path: show the user file it means, as the scan does."""
    known = {w.site.path for w in run.windows if w.site} | {e.where.path for w in run.windows for e in w.events}
    for full in sorted(known):
        if full == path or full.endswith(os.sep + path):
            return _display_path(full, run.base)
    return path


def _display_path(path: str, base: str) -> str:
    return os.path.relpath(path, base) if path.startswith(base.rstrip(os.sep) + os.sep) else path


def _patterns(run: Run) -> tuple[str, ...]:
    out: list[str] = []
    for w in run.windows:
        for p in w.patterns:
            path = _pattern_path(run, p.path)
            line = f"{path}:{p.line}: {p.name}: {p.message}" if p.line else f"{path}: {p.name}: {p.message}"
            if line not in out:
                out.append(line)
    return tuple(out)


def _notes(run: Run) -> tuple[str, ...]:
    notes = []
    if run.child.device == "cpu":
        notes.append(
            "CPU run: counts of syncs, copies and samples per step and the DataLoader share are measured; "
            "the time a sync waits for a GPU and host↔device copy times need a CUDA device"
        )
    for w in run.windows:
        if w.pattern_note and w.pattern_note not in notes:
            notes.append(w.pattern_note)
    if not run.windows:
        notes.append("nothing was profiled: the script ended before a whole optimizer step (or a time window) ran")
    return tuple(notes)


def summary(run: Run, script: str, args: tuple[str, ...]) -> ProfileRun:
    c = run.child
    return ProfileRun(
        script=script,
        args=args,
        device=c.device,
        device_name=c.device_name,
        torch=c.torch,
        ended=c.ended,
        elapsed_s=c.elapsed_s,
        total_steps=c.total_steps,
        loops=tuple(_loop(run, w) for w in run.windows),
        patterns=_patterns(run),
        notes=_notes(run),
    )


def join(scan: ScanResult, child: ChildResult, script: str, args: tuple[str, ...], base: str) -> ScanResult:
    """The scan's findings with runtime evidence, plus the runtime-only findings and the run summary."""
    run = Run(child, base)
    findings = [replace(f, runtime=evidence(f, run)) for f in scan.findings]
    findings += runtime_only(scan.findings, run)
    result = ScanResult(findings=findings, errors=list(scan.errors), files_scanned=scan.files_scanned, lines_scanned=scan.lines_scanned, environment=dict(scan.environment))
    result.profile = summary(run, script, args)
    result.sort()
    return result
