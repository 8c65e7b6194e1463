"""ADV405: scaled dot-product attention written out (`softmax(q @ k.transpose(-2, -1) / sqrt(d)) @ v`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from typing import Any

import libcst as cst

from advisor.syntax import call_attr, call_receiver, dotted_name, positional, walk
from advisor.context import FileContext
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence

SOFTMAXES = frozenset({"torch.softmax", "torch.nn.functional.softmax", "torch.special.softmax"})
SOFTMAX_MODULES = frozenset({"torch.nn.Softmax", "torch.nn.modules.activation.Softmax"})
MATMULS = frozenset({"torch.matmul", "torch.bmm"})
DROPOUTS = frozenset({"torch.nn.functional.dropout", "torch.dropout"})
TRANSPOSES = frozenset({"transpose", "permute", "t", "swapaxes"})
SDPA = "scaled_dot_product_attention"
MAX_DEPTH = 8


@dataclass
class _Chain:
    """What resolving an attention expression found: names it went through and whether it was masked."""

    names: list[cst.Name] = field(default_factory=list)
    masked: bool = False


class ManualAttention(Rule):
    code = "ADV405"
    name = "manual-attention"
    summary = "Attention written as `softmax(q @ k.transpose(-2, -1) / sqrt(d)) @ v`"
    message = "Use `torch.nn.functional.scaled_dot_product_attention(q, k, v)` instead of writing attention out"
    why = (
        "The written-out form materialises the full L×L score and probability matrices and runs several "
        "kernels over them; `scaled_dot_product_attention` dispatches to fused FlashAttention or "
        "memory-efficient kernels that never store the L×L matrix."
    )
    suggestion = "call `F.scaled_dot_product_attention(q, k, v, attn_mask=..., dropout_p=..., is_causal=...)` (PyTorch 2.0+)"
    triggers = ("softmax", "Softmax")
    docs = RuleDocs(
        what="Finds `P @ v` (or `torch.matmul(P, v)`, `torch.bmm`) where `P` is a softmax, possibly through "
        "dropout, of scores `q @ k.transpose(...)` (or `k.mT`, `k.permute(...)`, `k.t()`), possibly "
        "scaled and masked (`masked_fill`, `+ mask`), also across statements of one function. Not reported "
        "when the attention probabilities are used for anything else (returned, stored, visualised: the "
        "fused function does not return them), or when the file already calls "
        "`scaled_dot_product_attention` (the written-out form is then the fallback for old PyTorch).",
        why="For sequence length L the scores and probabilities are L×L per head: for long sequences they "
        "dominate memory and memory traffic. PyTorch's fused attention computes the same result in tiles "
        "without writing them out (FlashAttention, memory-efficient attention, and a fused CPU kernel), "
        "which is faster and uses far less memory.",
        example="""
            import math
            import torch.nn.functional as F

            def attention(q, k, v):
                scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
                return F.softmax(scores, dim=-1) @ v
        """,
        use_instead="""
            import torch.nn.functional as F

            def attention(q, k, v):
                return F.scaled_dot_product_attention(q, k, v)
        """,
        references=(
            "PyTorch docs: torch.nn.functional.scaled_dot_product_attention",
            "PyTorch tutorial: (Beta) Implementing High-Performance Transformers with Scaled Dot Product Attention (SDPA)",
        ),
    )

    def __init__(self, ctx: FileContext, options: dict[str, Any] | None = None) -> None:
        super().__init__(ctx, options)
        self._order: dict[int, dict[int, int]] = {}

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.MatrixMultiply):
            self._check(node, node.left)

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.call_qualname(node) in MATMULS:
            args = positional(node)
            if len(args) == 2:
                self._check(node, args[0].value)

    def _check(self, node: cst.CSTNode, probs: cst.BaseExpression) -> None:
        if SDPA in self.ctx.text:
            return
        func = self.ctx.enclosing_function(node)
        chain = _Chain()
        scores = self._probabilities(probs, node, func, chain, 0)
        if scores is None or not self._scores(scores, func, chain, 0):
            return
        if self._probabilities_used_elsewhere(func, chain):
            return
        self.report(
            node,
            "Use `F.scaled_dot_product_attention(q, k, v)` instead of `softmax(q @ k.T / sqrt(d)) @ v`: a fused kernel that never stores the L×L scores",
            confidence=Confidence.MEDIUM if chain.masked else Confidence.HIGH,
            suggestion="pass the mask as `attn_mask=` (True where attention is allowed) or `is_causal=True`, and dropout as `dropout_p=`"
            if chain.masked
            else None,
        )

    # ------------------------------------------------------------------ the probabilities and the scores
    def _probabilities(self, expr: cst.BaseExpression, at: cst.CSTNode, func: cst.FunctionDef | None, chain: _Chain, depth: int) -> cst.BaseExpression | None:
        """The scores a softmax was taken of, following names and dropout; None if `expr` is not that."""
        if depth > MAX_DEPTH:
            return None
        if isinstance(expr, cst.Name):
            value = self._reaching(expr, at, func)
            if value is None:
                return None
            chain.names.append(expr)
            return self._probabilities(value, value, func, chain, depth + 1)
        if not isinstance(expr, cst.Call):
            return None
        q = self.ctx.call_qualname(expr)
        args = positional(expr)
        softmaxed = call_receiver(expr) if call_attr(expr) == "softmax" else None
        if q in SOFTMAXES or (softmaxed is not None and self.ctx.qualname(softmaxed) is None):
            if q in SOFTMAXES:
                return args[0].value if args else None
            return call_receiver(expr)
        if self._softmax_module(expr):  # `self.attend = nn.Softmax(dim=-1)` ... `self.attend(dots)`
            return args[0].value if len(args) == 1 else None
        if q in DROPOUTS or self._dropout_module(expr):
            return self._probabilities(args[0].value, at, func, chain, depth + 1) if args else None
        return None

    def _softmax_module(self, call: cst.Call) -> bool:
        """`self.attend(x)` where `self.attend` is bound once, to `nn.Softmax(...)`."""
        name = dotted_name(call.func)
        values = self.ctx.bindings.get(name, []) if name is not None and name.startswith("self.") else []
        return len(values) == 1 and isinstance(values[0], cst.Call) and self.ctx.call_qualname(values[0]) in SOFTMAX_MODULES

    def _dropout_module(self, call: cst.Call) -> bool:
        """`self.attn_drop(p)`, `self.dropout(p)`: a module attribute named for dropout, one argument."""
        name = dotted_name(call.func)
        return name is not None and "drop" in name.rsplit(".", 1)[-1].lower() and len(call.args) == 1 and self.ctx.qualname(call.func) is None

    def _scores(self, expr: cst.BaseExpression, func: cst.FunctionDef | None, chain: _Chain, depth: int, at: cst.CSTNode | None = None) -> bool:
        """`expr` is `q @ k.transpose(...)`, scaled and/or masked, possibly through names."""
        if depth > MAX_DEPTH:
            return False
        at = at or expr
        if isinstance(expr, cst.Name):
            value = self._reaching(expr, at, func)
            return value is not None and self._scores(value, func, chain, depth + 1, value)
        if isinstance(expr, cst.BinaryOperation):
            if isinstance(expr.operator, cst.MatrixMultiply):
                return self._transposed(expr.right, func, at)
            if isinstance(expr.operator, (cst.Divide, cst.Multiply)):
                return self._scores(expr.left, func, chain, depth + 1, at) or (
                    isinstance(expr.operator, cst.Multiply) and self._scores(expr.right, func, chain, depth + 1, at)
                )
            if isinstance(expr.operator, cst.Add):
                chain.masked = True
                return self._scores(expr.left, func, chain, depth + 1, at)
            return False
        if isinstance(expr, cst.Call):
            q = self.ctx.call_qualname(expr)
            args = positional(expr)
            if q in MATMULS and len(args) == 2:
                return self._transposed(args[1].value, func, at)
            filled = call_receiver(expr) if call_attr(expr) in ("masked_fill", "masked_fill_") else None
            if filled is not None:
                chain.masked = True
                return self._scores(filled, func, chain, depth + 1, at)
        return False

    def _transposed(self, expr: cst.BaseExpression, func: cst.FunctionDef | None, at: cst.CSTNode) -> bool:
        """`k.transpose(-2, -1)`, `k.mT`, `k.permute(...)`, `k.t()`, or a name bound to one of them."""
        if isinstance(expr, cst.Name):
            value = self._reaching(expr, at, func)
            return value is not None and self._transposed(value, func, value)
        if isinstance(expr, cst.Attribute) and expr.attr.value in ("mT", "T"):
            return True
        return isinstance(expr, cst.Call) and call_attr(expr) in TRANSPOSES

    # ------------------------------------------------------------------ names within one function
    def _reaching(self, name: cst.Name, at: cst.CSTNode, func: cst.FunctionDef | None) -> cst.BaseExpression | None:
        """The value of the last `name = value` of this function before the statement holding `at`."""
        if func is None:
            return None
        order = self._statement_order(func)
        here = order.get(id(self.ctx.statement_of(at)))
        if here is None:
            return None
        best: tuple[int, cst.BaseExpression] | None = None
        for index, target, value in self._assignments(func).values():
            if target == name.value and index < here and (best is None or index > best[0]):
                best = (index, value)
        return best[1] if best else None

    def _statement_order(self, func: cst.FunctionDef) -> dict[int, int]:
        if id(func) not in self._order:
            lines = [n for n in walk(func.body) if isinstance(n, (cst.SimpleStatementLine, cst.BaseCompoundStatement))]
            self._order[id(func)] = {id(n): i for i, n in enumerate(lines)}
        return self._order[id(func)]

    def _assignments(self, func: cst.FunctionDef) -> dict[int, tuple[int, str, cst.BaseExpression]]:
        order = self._statement_order(func)
        found: dict[int, tuple[int, str, cst.BaseExpression]] = {}
        for n in walk(func.body):
            if isinstance(n, cst.SimpleStatementLine):
                for small in n.body:
                    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                        found[id(small)] = (order[id(n)], small.targets[0].target.value, small.value)
        return found

    def _probabilities_used_elsewhere(self, func: cst.FunctionDef | None, chain: _Chain) -> bool:
        """A name that held the probabilities is read somewhere the resolution did not go through."""
        if func is None or not chain.names:
            return False
        names = {n.value for n in chain.names}
        used = {id(n) for n in chain.names}
        for n in walk(func.body):
            if isinstance(n, cst.Name) and n.value in names and id(n) not in used and not self._is_target(n):
                if not self._inside_chain_value(n, names):
                    return True
        return False

    def _is_target(self, name: cst.Name) -> bool:
        return isinstance(self.ctx.parent(name), cst.AssignTarget)

    def _inside_chain_value(self, name: cst.Name, names: set[str]) -> bool:
        """`p = dropout(p)`: the read of `p` inside a re-assignment of the same name is part of the chain."""
        for anc in self.ctx.ancestors(name):
            if isinstance(anc, cst.Assign):
                return len(anc.targets) == 1 and isinstance(anc.targets[0].target, cst.Name) and anc.targets[0].target.value in names
            if isinstance(anc, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return False
        return False
