"""ADV406: a convolution with a bias directly followed by BatchNorm, which cancels that bias."""

from __future__ import annotations

from typing import Any

import libcst as cst

from advisor.syntax import dotted_name, has_star_args, keyword, positional
from advisor.fixes import FixPlan, Replace, guarded, with_keyword
from advisor.context import FileContext
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence, Severity

CONVS = frozenset(f"torch.nn.{kind}{d}d" for kind in ("Conv", "ConvTranspose", "LazyConv", "LazyConvTranspose") for d in (1, 2, 3))
NORMS = frozenset(f"torch.nn.BatchNorm{d}d" for d in (1, 2, 3)) | frozenset(
    {"torch.nn.SyncBatchNorm", "torch.nn.LazyBatchNorm1d", "torch.nn.LazyBatchNorm2d", "torch.nn.LazyBatchNorm3d"}
)
# Position of `bias` among the positional parameters of Conv*d (ConvTranspose*d has output_padding before it).
BIAS_POSITION = {"Conv": 7, "ConvTranspose": 8, "LazyConv": 6, "LazyConvTranspose": 7}


class ConvBiasBeforeBatchNorm(Rule):
    code = "ADV406"
    name = "conv-bias-before-batchnorm"
    summary = "`Conv*d` with a bias immediately followed by BatchNorm"
    message = "Pass `bias=False` to this convolution: the BatchNorm after it subtracts the mean, which cancels the bias"
    severity = Severity.INFO
    why = (
        "BatchNorm subtracts the per-channel mean, so a constant per-channel bias added by the convolution "
        "before it has no effect on the output; it still costs an add in the forward pass, a reduction for "
        "its gradient in the backward pass, and optimizer state."
    )
    suggestion = "construct the convolution with `bias=False`; BatchNorm's own `beta` provides the shift"
    triggers = ("BatchNorm",)
    # Unsafe: the module loses its `bias` parameter, so saved state dicts no longer load with strict=True.
    fix_safe = False
    fix_title = "pass `bias=False` to the convolution"
    docs = RuleDocs(
        what="Finds `nn.Conv1d/2d/3d` (and transposed and lazy variants) built without `bias=False` whose "
        "output goes straight into `nn.BatchNorm*d`: adjacent in `nn.Sequential(...)`, in a list of layers "
        "(also `(name, module)` pairs for an `OrderedDict`), or as `self.bn(self.conv(x))` / two "
        "consecutive statements in a module's methods. A `bias=` from a variable, `**kwargs`, or anything "
        "(an activation, a pooling layer) between the two is left alone.",
        why="The PyTorch Performance Tuning Guide lists this: disable bias for convolutions directly followed "
        "by a batch norm. BatchNorm normalises each channel with its batch mean, so any constant the "
        "convolution adds per channel is subtracted again; the parameter is dead weight that still "
        "costs compute, memory and optimizer updates.",
        example="""
            import torch.nn as nn

            block = nn.Sequential(
                nn.Conv2d(64, 128, kernel_size=3, padding=1),
                nn.BatchNorm2d(128),
                nn.ReLU(),
            )
        """,
        use_instead="""
            import torch.nn as nn

            block = nn.Sequential(
                nn.Conv2d(64, 128, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(128),
                nn.ReLU(),
            )
        """,
        references=(
            "PyTorch Performance Tuning Guide: disable bias for convolutions directly followed by a batch norm",
            "PyTorch docs: torch.nn.Conv2d (bias), torch.nn.BatchNorm2d",
        ),
    )

    def __init__(self, ctx: FileContext, options: dict[str, Any] | None = None) -> None:
        super().__init__(ctx, options)
        self._reported: set[int] = set()

    # ------------------------------------------------------------------ layer lists
    def visit_Call(self, node: cst.Call) -> None:
        q = self.ctx.call_qualname(node)
        if q in ("torch.nn.Sequential", "torch.nn.modules.container.Sequential"):
            self._adjacent([a.value for a in node.args if a.star == ""])
            return
        # `self.bn(self.conv(x))`
        norm = self._module_kind(node.func)
        if norm == "norm" and len(node.args) == 1 and isinstance(node.args[0].value, cst.Call):
            self._conv_attribute(node.args[0].value.func)

    def visit_List(self, node: cst.List) -> None:
        self._adjacent([e.value for e in node.elements])

    def visit_Tuple(self, node: cst.Tuple) -> None:
        self._adjacent([e.value for e in node.elements])

    def _adjacent(self, items: list[cst.BaseExpression]) -> None:
        layers = [_unpair(i) for i in items]
        for conv, norm in zip(layers, layers[1:]):
            if isinstance(norm, cst.Call) and self.ctx.call_qualname(norm) in NORMS and isinstance(conv, cst.Call):
                self._check_conv(conv)

    # ------------------------------------------------------------------ modules held as attributes
    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        """`out = self.conv1(x)` followed by `out = self.bn1(out)` in a method body."""
        lines = node.body
        for first, second in zip(lines, lines[1:]):
            conv_call = _assigned_call(first)
            norm_call = _assigned_call(second)
            if conv_call is None or norm_call is None:
                continue
            target = _assigned_name(first)
            args = positional(norm_call)
            if target is None or len(args) != 1 or dotted_name(args[0].value) != target:
                continue
            if self._module_kind(norm_call.func) == "norm":
                self._conv_attribute(conv_call.func)

    def _conv_attribute(self, func: cst.BaseExpression) -> None:
        name = dotted_name(func)
        if name is None or not name.startswith("self."):
            return
        values = self.ctx.bindings.get(name, [])
        if len(values) == 1 and isinstance(values[0], cst.Call):
            self._check_conv(values[0])

    def _module_kind(self, func: cst.BaseExpression) -> str | None:
        """"norm" when `func` is `self.x` bound once, to a BatchNorm constructor."""
        name = dotted_name(func)
        if name is None or not name.startswith("self."):
            return None
        values = self.ctx.bindings.get(name, [])
        if len(values) == 1 and isinstance(values[0], cst.Call) and self.ctx.call_qualname(values[0]) in NORMS:
            return "norm"
        return None

    # ------------------------------------------------------------------ the convolution
    def _check_conv(self, conv: cst.Call) -> None:
        q = self.ctx.call_qualname(conv)
        if q not in CONVS or id(conv) in self._reported or has_star_args(conv):
            return
        arg = keyword(conv, "bias")
        if arg is None:
            args = positional(conv)
            position = BIAS_POSITION[q.rsplit(".", 1)[-1][: -len("2d")]]  # `Conv2d` → "Conv"
            if len(args) > position:
                arg = args[position]
        if arg is not None and not (isinstance(arg.value, cst.Name) and arg.value.value == "True"):
            return
        self._reported.add(id(conv))
        self.report(conv, confidence=Confidence.HIGH, fix=self._fix(conv, arg))

    @guarded
    def _fix(self, conv: cst.Call, arg: cst.Arg | None) -> FixPlan | None:
        if arg is not None:
            return self.plan(Replace(arg.value, "False"))
        return self.plan(Replace(conv, with_keyword(conv, "bias", cst.Name("False"))))


def _unpair(item: cst.BaseExpression) -> cst.BaseExpression:
    """`("conv1", nn.Conv2d(...))` → the module; anything else as is."""
    if isinstance(item, cst.Tuple) and len(item.elements) == 2 and isinstance(item.elements[0].value, cst.SimpleString):
        return item.elements[1].value
    return item


def _assigned_call(line: cst.CSTNode) -> cst.Call | None:
    if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(line.body[0], cst.Assign):
        value = line.body[0].value
        return value if isinstance(value, cst.Call) else None
    return None


def _assigned_name(line: cst.CSTNode) -> str | None:
    if isinstance(line, cst.SimpleStatementLine) and isinstance(line.body[0], cst.Assign) and len(line.body[0].targets) == 1:
        return dotted_name(line.body[0].targets[0].target)
    return None
