"""ADV106: a convolutional network trained on CUDA with `torch.backends.cudnn.benchmark` never enabled."""

from __future__ import annotations

import libcst as cst

from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence, Severity

CONVS = frozenset(f"torch.nn.{kind}{d}d" for kind in ("Conv", "ConvTranspose") for d in (2, 3))


class CudnnBenchmarkOff(Rule):
    code = "ADV106"
    name = "cudnn-benchmark-off"
    summary = "Convolutional net trained on CUDA without `torch.backends.cudnn.benchmark = True`"
    message = "Set `torch.backends.cudnn.benchmark = True` once before training if the input sizes do not change"
    severity = Severity.INFO
    why = (
        "With benchmark mode cuDNN times its convolution algorithms for each new input shape on first use "
        "and keeps the fastest; without it, a heuristic picks one that is often slower."
    )
    suggestion = "add `torch.backends.cudnn.benchmark = True` at start-up (leave it off if input shapes vary from batch to batch)"
    triggers = ("Conv",)
    docs = RuleDocs(
        what="Reports the first 2-d or 3-d convolution layer of a file that builds one, trains (a loop with "
        "`.backward()` or an optimizer step) and runs on CUDA, when the file never mentions `cudnn` (setting "
        "`benchmark`, or `deterministic` for reproducibility, is a decision already made). Advice (info, low "
        "confidence): the scanner cannot see whether input sizes are fixed, and with sizes that change every "
        "batch benchmark mode re-tunes for each new shape.",
        why="The PyTorch Performance Tuning Guide recommends enabling cuDNN's auto-tuner for convolutional "
        "networks: for fixed input sizes it measures the available algorithms once per shape and reuses "
        "the fastest, which is commonly 10-30 % faster per convolution than the default heuristic choice.",
        example="""
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Conv2d(3, 64, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10)).cuda()
            for x, y in loader:
                loss = nn.functional.cross_entropy(model(x.cuda()), y.cuda())
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """,
        use_instead="""
            import torch
            import torch.nn as nn

            torch.backends.cudnn.benchmark = True
            model = nn.Sequential(nn.Conv2d(3, 64, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10)).cuda()
            for x, y in loader:
                loss = nn.functional.cross_entropy(model(x.cuda()), y.cuda())
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """,
        references=(
            "PyTorch Performance Tuning Guide: enable cuDNN auto-tuner",
            "PyTorch docs: torch.backends.cudnn.benchmark",
        ),
    )

    def finish(self) -> None:
        if "cudnn" in self.ctx.text or not self.ctx.runs_on_cuda or not self._trains():
            return
        for call in self.ctx.nodes(cst.Call):
            if self.ctx.call_qualname(call) in CONVS:
                self.report(call, confidence=Confidence.LOW)
                return

    def _trains(self) -> bool:
        return any(
            self.ctx.loop_facts(loop).is_training_loop and not self.ctx.in_test_function(loop)
            for loop in self.ctx.all_loops()
        )
