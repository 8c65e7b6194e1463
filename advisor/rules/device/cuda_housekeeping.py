"""ADV105: `torch.cuda.empty_cache()` or `torch.cuda.synchronize()` on every training step."""

from __future__ import annotations

import libcst as cst

from advisor.context import STEP_TRIGGERS
from advisor.syntax import walk
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence

EMPTY_CACHE = frozenset({"torch.cuda.empty_cache", "torch.cuda.memory.empty_cache"})
SYNCHRONIZE = frozenset({"torch.cuda.synchronize"})
# A loop that reads a clock around a synchronize is timing itself on purpose.
CLOCKS = frozenset({"time.time", "time.perf_counter", "time.monotonic", "time.process_time", "timeit.default_timer"})


class CudaHousekeepingEveryStep(Rule):
    code = "ADV105"
    name = "cuda-housekeeping-every-step"
    summary = "`torch.cuda.empty_cache()` or `torch.cuda.synchronize()` on every training step"
    message = "Remove this per-step CUDA call from the training loop"
    why = (
        "`empty_cache()` hands the allocator's cached blocks back to the driver, so the next step pays for "
        "`cudaMalloc` again; `synchronize()` makes the host wait for every queued kernel. Either one, every "
        "step, stalls the pipeline between host and GPU."
    )
    suggestion = "delete the call, or run it once per epoch (or under `if step % N == 0`) where it is really needed"
    triggers = ("empty_cache", "synchronize")
    docs = RuleDocs(
        what="Finds `torch.cuda.empty_cache()` and `torch.cuda.synchronize()` reached unconditionally on every "
        "iteration of a loop that trains (`.backward()` or an optimizer step in its body). Calls under a "
        "condition (`if step % 100 == 0`), after the loop, in evaluation loops, and a `synchronize()` in a "
        "loop that reads a clock (deliberate timing) are not reported. Memory queries "
        "(`torch.cuda.memory_allocated()`, `max_memory_allocated()`) read host-side counters of the caching "
        "allocator without waiting for the GPU, so they are not reported either.",
        why="PyTorch's caching allocator keeps freed GPU memory for reuse because `cudaMalloc`/`cudaFree` are "
        "slow and synchronising. `empty_cache()` releases that cache (it does not give your own tensors "
        "more memory), so the next step allocates from the driver again. `synchronize()` blocks the host "
        "until the GPU is idle, so the host cannot queue the next step's work while the GPU runs.",
        example="""
            import torch

            for x, y in loader:
                x, y = x.cuda(), y.cuda()
                loss = criterion(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                torch.cuda.empty_cache()
        """,
        use_instead="""
            import torch

            for x, y in loader:
                x, y = x.cuda(), y.cuda()
                loss = criterion(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """,
        references=(
            "PyTorch docs: CUDA semantics — Memory management (caching allocator, empty_cache)",
            "PyTorch Performance Tuning Guide: avoid unnecessary CPU-GPU synchronization",
            "PyTorch docs: torch.cuda.synchronize",
        ),
    )

    @classmethod
    def may_match(cls, text: str) -> bool:
        return any(t in text for t in cls.triggers) and any(t in text for t in STEP_TRIGGERS)

    def visit_Call(self, node: cst.Call) -> None:
        q = self.ctx.call_qualname(node)
        if q not in EMPTY_CACHE and q not in SYNCHRONIZE:
            return
        loop = self.ctx.training_step_loop(node)
        if loop is None or self.ctx.is_conditional_within(node, loop):
            return
        if q in SYNCHRONIZE:
            if self._times_itself(loop):
                return
            self.report(
                node,
                "Remove `torch.cuda.synchronize()` from the training loop: it makes the host wait for the GPU every step",
                confidence=Confidence.HIGH,
                suggestion="delete it; PyTorch orders work on a stream for you, and reading a value (`.item()`) syncs where it is needed",
            )
        else:
            self.report(
                node,
                "Remove `torch.cuda.empty_cache()` from the training loop: it frees the allocator's cache, so every step allocates from the driver again",
                confidence=Confidence.HIGH,
            )

    def _times_itself(self, loop: cst.CSTNode) -> bool:
        return any(isinstance(n, cst.Call) and self.ctx.call_qualname(n) in CLOCKS for n in walk(loop))
