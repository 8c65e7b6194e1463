"""ADV307: gradient accumulation under DistributedDataParallel without `no_sync()` on the accumulation steps."""

from __future__ import annotations

import libcst as cst

from advisor.syntax import call_attr, walk
from advisor.rule import Rule, RuleDocs
from advisor.rules.distributed.data_parallel import wraps_in_ddp
from advisor.types import Confidence


class DdpAccumulationWithoutNoSync(Rule):
    code = "ADV307"
    name = "ddp-accumulation-without-no-sync"
    summary = "Gradient accumulation under DDP that all-reduces on every micro-batch (no `no_sync()`)"
    message = "Wrap the accumulation steps' backward in `model.no_sync()`: DDP all-reduces gradients on every backward"
    why = (
        "DistributedDataParallel starts an all-reduce of the gradients during every `backward()`. When the "
        "optimizer steps only every N micro-batches, N-1 of those all-reduces are wasted network traffic; "
        "`no_sync()` skips them and the last backward reduces the accumulated sum once."
    )
    suggestion = "run `loss.backward()` under `with model.no_sync():` on the micro-batches that do not step (e.g. `contextlib.nullcontext()` on the last)"
    triggers = ("DistributedDataParallel", "DDP")
    no_pair_reason = "needs two or more processes that all-reduce over a real interconnect: on one device DDP has nothing to skip"
    docs = RuleDocs(
        what="In a file that wraps a model in `DistributedDataParallel` (or a project's `*ddp*` wrapper) and "
        "never mentions `no_sync`, finds a training loop that calls `.backward()` on every iteration but "
        "steps the optimizer only under a condition (`if (i + 1) % accum_steps == 0:`). Frameworks that "
        "handle accumulation themselves (Accelerate, Lightning, DeepSpeed) are not reported.",
        why="Each DDP backward pass registers hooks that all-reduce gradient buckets across all processes. "
        "With gradient accumulation only the reduce before the optimizer step matters; the others cost "
        "communication time that grows with the model size and the number of processes. PyTorch provides "
        "`DistributedDataParallel.no_sync()` for exactly this.",
        example="""
            from torch.nn.parallel import DistributedDataParallel as DDP

            model = DDP(model, device_ids=[rank])
            for i, (x, y) in enumerate(loader):
                loss = criterion(model(x), y) / accum_steps
                loss.backward()
                if (i + 1) % accum_steps == 0:
                    optimizer.step()
                    optimizer.zero_grad()
        """,
        use_instead="""
            import contextlib
            from torch.nn.parallel import DistributedDataParallel as DDP

            model = DDP(model, device_ids=[rank])
            for i, (x, y) in enumerate(loader):
                stepping = (i + 1) % accum_steps == 0
                with contextlib.nullcontext() if stepping else model.no_sync():
                    loss = criterion(model(x), y) / accum_steps
                    loss.backward()
                if stepping:
                    optimizer.step()
                    optimizer.zero_grad()
        """,
        references=(
            "PyTorch docs: DistributedDataParallel.no_sync",
            "PyTorch docs: Distributed Data Parallel — internal design (gradient bucketing and all-reduce in backward)",
        ),
    )

    def finish(self) -> None:
        if "no_sync" in self.ctx.text or self.ctx.uses_framework() or not wraps_in_ddp(self.ctx):
            return
        for call in self.ctx.calls_by_attr.get("backward", ()):
            loop = self.ctx.innermost_loop(call)
            if loop is None or self.ctx.in_test_function(loop) or self.ctx.is_conditional_within(call, loop):
                continue
            if self._steps_only_sometimes(loop):
                self.report(call, confidence=Confidence.MEDIUM)

    def _steps_only_sometimes(self, loop: cst.For | cst.While) -> bool:
        """The loop's optimizer steps all sit under an `if` whose test uses `%` (every N micro-batches)."""
        steps = [
            n
            for n in walk(loop.body)
            if isinstance(n, cst.Call) and call_attr(n) == "step" and self.ctx.is_training_call(n) and self.ctx.innermost_loop(n) is loop
        ]
        if not steps:
            return False
        return all(self._under_modulo_test(s, loop) for s in steps)

    def _under_modulo_test(self, node: cst.CSTNode, loop: cst.CSTNode) -> bool:
        for anc in self.ctx.ancestors(node):
            if anc is loop:
                return False
            if isinstance(anc, cst.If) and any(
                isinstance(n, cst.BinaryOperation) and isinstance(n.operator, cst.Modulo) for n in walk(anc.test)
            ):
                return True
        return False
