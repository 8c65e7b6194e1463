"""ADV107: debugging aids left switched on in a training run (anomaly detection, gradcheck, an open profiler)."""

from __future__ import annotations

import libcst as cst

from advisor.syntax import keyword, positional, walk
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence

SET_ANOMALY = frozenset({"torch.autograd.set_detect_anomaly", "torch.autograd.anomaly_mode.set_detect_anomaly"})
ANOMALY_CONTEXT = frozenset({"torch.autograd.detect_anomaly", "torch.autograd.anomaly_mode.detect_anomaly"}) | SET_ANOMALY
GRADCHECKS = frozenset({"torch.autograd.gradcheck", "torch.autograd.gradgradcheck", "torch.autograd.gradcheck.gradcheck"})
PROFILERS = frozenset(
    {
        "torch.profiler.profile",
        "torch.autograd.profiler.profile",
        "torch.autograd.profiler.emit_nvtx",
        "torch.autograd.profiler_legacy.profile",
        "torch.cuda.profiler.profile",
    }
)
CONDITIONAL = (cst.If, cst.Else, cst.IfExp, cst.BooleanOperation, cst.ExceptHandler)


class DebugSwitchesInTraining(Rule):
    code = "ADV107"
    name = "debug-switches-in-training"
    summary = "Anomaly detection, `gradcheck` or a profiler left on around the training loop"
    message = "Turn this debugging aid off for training runs"
    why = (
        "Anomaly detection records a traceback for every autograd node and checks every gradient for "
        "NaN; a profiler records every operator; `gradcheck` runs the model many times in float64. Each "
        "multiplies the cost of a step."
    )
    suggestion = "remove it, or put it behind a debug flag (`if args.debug:`) so normal runs go at full speed"
    triggers = ("anomaly", "gradcheck", "profile", "emit_nvtx")
    docs = RuleDocs(
        what="Finds `torch.autograd.set_detect_anomaly(True)` in a file that trains (not under an `if`), "
        "`with torch.autograd.detect_anomaly():` around code that takes training steps, `gradcheck` / "
        "`gradgradcheck` on every training step, and `torch.profiler.profile()` / "
        "`torch.autograd.profiler.profile()` / `emit_nvtx()` wrapping a whole training loop with neither "
        "a `schedule=` (which records only a few steps) nor an `enabled=` switch. Test functions are left "
        "alone.",
        why="These tools trade speed for information. Anomaly mode stores the Python stack of every "
        "forward operation and validates every backward result; PyTorch's docs say it should be enabled "
        "only for debugging because it slows execution. A profiler without a schedule records and keeps "
        "every event of every step. They belong in a debugging session, not in the run that trains.",
        example="""
            import torch

            torch.autograd.set_detect_anomaly(True)
            for x, y in loader:
                loss = criterion(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """,
        use_instead="""
            import torch

            torch.autograd.set_detect_anomaly(args.debug)
            for x, y in loader:
                loss = criterion(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """,
        references=(
            "PyTorch docs: torch.autograd — Anomaly detection (\"should be enabled only for debugging\")",
            "PyTorch docs: torch.profiler (schedule: record a few steps of a long run)",
            "PyTorch Performance Tuning Guide: disable debugging APIs",
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        q = self.ctx.call_qualname(node)
        if q is None or self.ctx.in_test_function(node):
            return
        if q in SET_ANOMALY and not self._as_context(node):
            self._check_set_anomaly(node)
        elif q in ANOMALY_CONTEXT and self._as_context(node):
            if _switched_on(node) and self._with_trains(node):
                self.report(node, "Remove anomaly detection from the training run: it records and checks every autograd operation", confidence=Confidence.HIGH)
        elif q in GRADCHECKS:
            if self.ctx.training_step_loop(node) is not None:
                self.report(node, f"Move `{q.rsplit('.', 1)[-1]}` out of the training loop: it re-runs the function many times in float64 every step", confidence=Confidence.HIGH)
        elif q in PROFILERS and self._as_context(node):
            if keyword(node, "schedule") is None and keyword(node, "enabled") is None and self._with_loops(node):
                self.report(
                    node,
                    "Profile a few steps, not the whole training loop: pass `schedule=torch.profiler.schedule(wait=1, warmup=1, active=3)` and call `prof.step()`, or remove the profiler",
                    confidence=Confidence.HIGH,
                    suggestion="record a handful of steps with `torch.profiler.schedule(...)` and `prof.step()` each step, or guard the profiler with a flag",
                )

    def _check_set_anomaly(self, node: cst.Call) -> None:
        if not _switched_on(node) or any(isinstance(a, CONDITIONAL) for a in self.ctx.ancestors(node)):
            return
        if not self._file_trains():
            return
        self.report(node, "Turn anomaly detection off for training runs: `set_detect_anomaly(True)` records and checks every autograd operation", confidence=Confidence.HIGH)

    def _as_context(self, node: cst.Call) -> bool:
        return isinstance(self.ctx.parent(node), cst.WithItem)

    def _with_body(self, node: cst.Call) -> cst.With | None:
        item = self.ctx.parent(node)
        with_stmt = self.ctx.parent(item) if item is not None else None
        return with_stmt if isinstance(with_stmt, cst.With) else None

    def _with_trains(self, node: cst.Call) -> bool:
        """The `with` body takes a training step (or calls a local function that does)."""
        stmt = self._with_body(node)
        if stmt is None:
            return False
        facts = self.ctx.function_facts()
        for n in walk(stmt.body):
            if isinstance(n, cst.Call):
                if self.ctx.is_training_call(n):
                    return True
                callee = n.func.value if isinstance(n.func, cst.Name) else None
                ff = facts.get(callee) if callee else None
                if ff is not None and (ff.steps or ff.epochs):
                    return True
        return False

    def _with_loops(self, node: cst.Call) -> bool:
        """The `with` body holds a loop that trains: the profiler is open for the whole run."""
        stmt = self._with_body(node)
        if stmt is None:
            return False
        return any(isinstance(n, (cst.For, cst.While)) and self.ctx.loop_facts(n).is_training_loop for n in walk(stmt.body))

    def _file_trains(self) -> bool:
        """Some loop outside a test function trains (directly or through a local helper)."""
        return any(
            self.ctx.loop_facts(loop).is_training_loop and not self.ctx.in_test_function(loop)
            for loop in self.ctx.all_loops()
        )


def _switched_on(call: cst.Call) -> bool:
    """`set_detect_anomaly(True)`, `detect_anomaly()` (on by default), not `(False)` or a variable."""
    args = positional(call)
    mode = keyword(call, "mode")
    value = mode.value if mode is not None else (args[0].value if args else None)
    if value is None:
        return True
    return isinstance(value, cst.Name) and value.value == "True"
