"""ADV306: an optimizer over CUDA parameters forced onto the per-tensor loop (`foreach=False`), or on a PyTorch
version whose default is that loop."""

from __future__ import annotations

import re

import libcst as cst

from advisor.syntax import keyword
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence

# Optimizers with a multi-tensor (`foreach`) implementation.
FOREACH_OPTIMIZERS = frozenset(
    f"torch.optim.{name}" for name in "SGD Adam AdamW Adamax Adadelta Adagrad ASGD NAdam RAdam RMSprop Rprop".split()
)
# PyTorch made the foreach implementation the default on CUDA in 2.0.
FOREACH_DEFAULT_SINCE = (2, 0)
VERSION = re.compile(r"^\s*(\d+)\.(\d+)")


class OptimizerForeachOff(Rule):
    code = "ADV306"
    name = "optimizer-foreach-off"
    summary = "Optimizer over CUDA parameters on the per-tensor loop (`foreach=False`, or PyTorch < 2.0)"
    message = "Drop `foreach=False`: the multi-tensor implementation updates all parameters in a few kernels"
    why = (
        "The for-loop implementation launches several small kernels per parameter tensor every step; the "
        "foreach (multi-tensor) implementation groups all tensors into a handful of launches, which on a "
        "GPU with many parameter tensors is several times faster."
    )
    suggestion = "remove `foreach=False` (the default on CUDA since PyTorch 2.0), or pass `fused=True` for Adam/AdamW/SGD"
    triggers = ("optim",)
    # The PyTorch version the project runs ("1.13", "2.1", ...). Unset: only `foreach=False` is reported,
    # because the scanner never imports torch and the installed one may not be the one the project uses.
    options = {"torch-version": ""}
    docs = RuleDocs(
        what="Finds `torch.optim` optimizers that have a multi-tensor implementation (SGD, Adam, AdamW, "
        "RMSprop, ...) built with `foreach=False` in a file that runs on CUDA. With the option "
        "`[tool.advisor.options.ADV306] torch-version = \"1.13\"` (any version before 2.0), optimizers "
        "built without `foreach=` are reported too, since those versions default to the per-tensor loop. "
        "`foreach=` from a variable and CPU-only files are left alone.",
        why="An optimizer step touches every parameter tensor. The single-tensor implementation does so in "
        "a Python loop with several kernel launches per tensor; for models with hundreds of tensors the step "
        "becomes launch-bound. The foreach implementation (the CUDA default since PyTorch 2.0) and the "
        "fused one do the same arithmetic in a few large launches.",
        example="""
            import torch

            model = Net().cuda()
            optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, foreach=False)
        """,
        use_instead="""
            import torch

            model = Net().cuda()
            optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)  # foreach on CUDA by default (2.0+)
        """,
        references=(
            "PyTorch docs: torch.optim — Algorithms (foreach and fused implementations)",
            "PyTorch Performance Tuning Guide: use fused or multi-tensor optimizers",
        ),
    )

    def finish(self) -> None:
        if not self.ctx.runs_on_cuda:
            return
        for node in self.ctx.calls_to(FOREACH_OPTIMIZERS):
            self._check(node)

    def _check(self, node: cst.Call) -> None:
        q = self.ctx.call_qualname(node) or ""
        arg = keyword(node, "foreach")
        name = q.rsplit(".", 1)[-1]
        if arg is not None:
            if isinstance(arg.value, cst.Name) and arg.value.value == "False":
                self.report(
                    node,
                    f"Drop `foreach=False` from `{name}`: the multi-tensor implementation updates all parameters in a few kernels instead of a loop per tensor",
                    confidence=Confidence.HIGH,
                )
            return
        version = self._version()
        if version is not None and version < FOREACH_DEFAULT_SINCE and keyword(node, "fused") is None:
            shown = ".".join(map(str, version))
            self.report(
                node,
                f"Pass `foreach=True` to `{name}`: PyTorch {shown} (configured) defaults to a loop per parameter tensor",
                confidence=Confidence.MEDIUM,
                suggestion="pass `foreach=True`, or upgrade to PyTorch 2.0 or later where it is the CUDA default",
            )

    def _version(self) -> tuple[int, int] | None:
        m = VERSION.match(str(self.opts.get("torch-version") or ""))
        return (int(m.group(1)), int(m.group(2))) if m else None
