"""ADV303: CUDA training in full float32 with no autocast / GradScaler anywhere in the file (advice)."""

from __future__ import annotations

import libcst as cst

from advisor.rule import Rule, RuleDocs
from advisor.rules.training._mentions import Mentions
from advisor.types import Confidence, Severity

# Any of these in the file (ignoring case) means precision is already being handled (or configured) somewhere.
PRECISION_WORDS = Mentions(
    terms=("autocast", "GradScaler", "cuda.amp", "torch.amp", ".half(", "float16", "bfloat16", "mixed_precision", "use_amp", "tf32"),
    words=("apex", "amp", "fp16", "bf16", "precision"),
)

# Reinforcement-learning environments: their networks are small and the environment, not the GPU's
# arithmetic, bounds the step, so mixed precision is not worth suggesting there.
RL_LIBRARIES = frozenset({"gym", "gymnasium", "envpool", "procgen", "pettingzoo", "dm_control", "isaacgym", "stable_baselines3"})


HEAVY_LAYERS = frozenset(
    {"Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "MultiheadAttention",
     "Transformer", "TransformerEncoderLayer", "TransformerDecoderLayer", "scaled_dot_product_attention"}
)
MODEL_LIBRARIES = ("torchvision.models.", "timm.", "transformers.")
WIDE = 1024


class NoMixedPrecision(Rule):
    code = "ADV303"
    name = "no-mixed-precision"
    summary = "CUDA training loop in float32 without autocast / GradScaler"
    message = "Consider mixed precision: run the forward pass under `torch.autocast(\"cuda\", dtype=torch.bfloat16)`"
    severity = Severity.INFO
    why = (
        "On GPUs with tensor cores (Volta and later), matrix products and convolutions in bfloat16 or "
        "float16 run several times faster than in float32 and move half the bytes; autocast picks the "
        "precision per operation and keeps the sensitive ones in float32."
    )
    suggestion = "wrap forward and loss in `with torch.autocast(\"cuda\", dtype=torch.bfloat16):` (or float16 with `torch.amp.GradScaler`) and measure"
    triggers = ("backward",)
    docs = RuleDocs(
        what="Reports once per file the first `.backward()` of a loop that trains, in a file that runs on "
        "CUDA (`.cuda()`, a `\"cuda\"` device), when nothing in the file mentions reduced or mixed precision "
        "(`autocast`, `GradScaler`, `amp`, `.half()`, `float16`, `bfloat16`, `fp16`, `precision`, `tf32`, "
        "apex) and no training framework (Lightning, Accelerate, Transformers, ...) owns the loop. "
        "The file must also build a model large enough for tensor cores to matter (convolutions, attention or "
        "transformer layers, a torchvision or timm model, or a linear/LSTM/embedding layer of width 1024 or "
        "more): a logistic regression or a small MLP is launch-bound and would not get faster. "
        "Reinforcement-learning scripts (importing gym, gymnasium, envpool, ...) are left alone: their small "
        "networks wait on the environment, not on the GPU. It is "
        "advice (info, low confidence): small models, or GPUs without tensor cores, may gain nothing.",
        why="Automatic mixed precision is the PyTorch Performance Tuning Guide's largest single speed-up for "
        "compute-bound training on recent NVIDIA GPUs: tensor cores multiply bfloat16/float16 matrices at "
        "several times the float32 rate, and half-width activations halve memory traffic. With float16 a "
        "GradScaler keeps small gradients from underflowing; bfloat16 has float32's range and needs none.",
        example="""
            import torch
            import torchvision

            model = torchvision.models.resnet50().cuda()
            for x, y in loader:
                x, y = x.cuda(), y.cuda()
                loss = criterion(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """,
        use_instead="""
            import torch
            import torchvision

            model = torchvision.models.resnet50().cuda()
            for x, y in loader:
                x, y = x.cuda(), y.cuda()
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    loss = criterion(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """,
        references=(
            "PyTorch Performance Tuning Guide: use Automatic Mixed Precision (AMP)",
            "PyTorch docs: Automatic Mixed Precision package - torch.amp",
            "PyTorch recipe: Automatic Mixed Precision",
        ),
    )

    def _heavy_model(self) -> bool:
        """The file builds a model big enough for tensor cores to matter: convolutions, attention or
        transformer layers, a torchvision/timm model, or a linear layer at least `WIDE` wide. A logistic
        regression or a small MLP is launch-bound, and mixed precision would not change its speed."""
        for call in self.ctx.nodes(cst.Call):
            q = self.ctx.call_qualname(call)
            if q is None:
                continue
            if q.startswith(MODEL_LIBRARIES) or q.rsplit(".", 1)[-1] in HEAVY_LAYERS and q.startswith("torch.nn"):
                return True
            if q in ("torch.nn.Linear", "torch.nn.LSTM", "torch.nn.GRU", "torch.nn.Embedding"):
                if any(isinstance(a.value, cst.Integer) and int(a.value.value, 0) >= WIDE for a in call.args if a.keyword is None or a.keyword.value != "num_layers"):
                    return True
        return False

    def finish(self) -> None:
        if self.ctx.uses_framework() or PRECISION_WORDS.search(self.ctx.text) or not self.ctx.runs_on_cuda:
            return
        if any(v.split(".")[0] in RL_LIBRARIES for v in self.ctx.imports.values()):
            return
        if not self._heavy_model():
            return
        for call in self.ctx.calls_by_attr.get("backward", ()):
            if self.ctx.training_step_loop(call) is not None:
                self.report(call, confidence=Confidence.LOW)
                return
