"""ADV404: activations, softmax and log-sum-exp written out by hand over tensors."""

from __future__ import annotations

import libcst as cst

from advisor.syntax import call_attr, call_receiver, node_code, positional
from advisor.fixes import FixPlan, Replace, guarded
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence

EXP = "torch.exp"
LOG = "torch.log"
SUMS = frozenset({"torch.sum"})
SOFTMAXES = frozenset({"torch.softmax", "torch.nn.functional.softmax", "torch.special.softmax"})


class ManualActivation(Rule):
    code = "ADV404"
    name = "manual-activation"
    summary = "Sigmoid, softmax, log-softmax or log-sum-exp written out by hand over tensors"
    message = "Use the fused PyTorch function instead of this hand-written formula"
    why = (
        "A formula such as `1 / (1 + torch.exp(-x))` runs one kernel per operator and materialises a "
        "temporary tensor for each; the built-in function is one fused kernel, and the softmax family "
        "also subtracts the maximum so it does not overflow."
    )
    suggestion = "call `torch.sigmoid`, `torch.softmax(x, dim)`, `F.log_softmax(x, dim)` or `torch.logsumexp(x, dim)`"
    triggers = ("exp", "log")
    # Unsafe: the fused kernel rounds differently in the last bits (and, for log-sum-exp and softmax, does
    # not overflow where the formula did), so results are not bit-identical.
    fix_safe = False
    fix_title = "replace `1 / (1 + torch.exp(-x))` with `torch.sigmoid(x)`"
    docs = RuleDocs(
        what="Finds, on torch tensors (functions resolved through the file's imports): the logistic "
        "`1 / (1 + torch.exp(-x))` (also `x.neg().exp()`), softmax as `torch.exp(x) / torch.exp(x).sum(...)` "
        "(also through a name bound to the exponential), `torch.log(torch.softmax(x, dim))` and "
        "`torch.log(torch.sum(torch.exp(x), dim))`. NumPy formulas and expressions that differ in the "
        "operand (`torch.exp(x) / z.sum()`) are not reported.",
        why="Each operator of a formula is a separate pass over memory and a separate kernel launch with its "
        "own temporary; the built-in functions do the same in one pass. The softmax family is also "
        "numerically safer: `torch.exp` overflows to inf for inputs above ~88 in float32, while "
        "`torch.softmax`, `log_softmax` and `logsumexp` subtract the maximum first.",
        example="""
            import torch

            def gate(x):
                return 1 / (1 + torch.exp(-x))

            def probabilities(logits):
                e = torch.exp(logits)
                return e / e.sum(dim=-1, keepdim=True)
        """,
        use_instead="""
            import torch

            def gate(x):
                return torch.sigmoid(x)

            def probabilities(logits):
                return torch.softmax(logits, dim=-1)
        """,
        references=(
            "PyTorch docs: torch.sigmoid, torch.softmax, torch.nn.functional.log_softmax, torch.logsumexp",
            "PyTorch Performance Tuning Guide: fuse pointwise operations",
        ),
    )

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if not isinstance(node.operator, cst.Divide):
            return
        x = self._sigmoid_input(node)
        if x is not None:
            x = x.with_changes(lpar=[], rpar=[])  # an argument needs no parentheses of its own
            torch = self._torch_alias()
            self.report(
                node,
                f"Use `torch.sigmoid({node_code(x)})` instead of `1 / (1 + exp(-x))`: one fused kernel instead of four",
                confidence=Confidence.HIGH,
                fix=self._sigmoid_fix(node, x, torch),
            )
            return
        exp_input = self._softmax_input(node)
        if exp_input is not None:
            self.report(
                node,
                f"Use `torch.softmax({node_code(exp_input)}, dim=...)` instead of dividing `exp` by its sum: one kernel, and no overflow for large inputs",
                confidence=Confidence.HIGH,
                suggestion="call `torch.softmax(x, dim=d)` with the dimension the sum ran over",
            )

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.call_qualname(node) != LOG and call_attr(node) != "log":
            return
        inner = _only_arg(node) if self.ctx.call_qualname(node) == LOG else self._method_receiver(node, "log")
        if inner is None:
            return
        if isinstance(inner, cst.Call) and (self.ctx.call_qualname(inner) in SOFTMAXES or call_attr(inner) == "softmax" and self._is_tensor_method(inner)):
            self.report(
                node,
                "Use `F.log_softmax(x, dim)` instead of `log(softmax(x))`: one kernel, and no `log(0)` = -inf when probabilities underflow",
                confidence=Confidence.HIGH,
                suggestion="call `torch.nn.functional.log_softmax(x, dim=d)` (or `x.log_softmax(d)`)",
            )
        elif isinstance(inner, cst.Call) and self._sum_of_exp(inner):
            self.report(
                node,
                "Use `torch.logsumexp(x, dim)` instead of `log(sum(exp(x)))`: one kernel that subtracts the maximum, so it does not overflow",
                confidence=Confidence.HIGH,
                suggestion="call `torch.logsumexp(x, dim=d)`",
            )

    # ------------------------------------------------------------------ shapes
    def _sigmoid_input(self, node: cst.BinaryOperation) -> cst.BaseExpression | None:
        """x for `1 / (1 + exp(-x))` or `1 / (exp(-x) + 1)`."""
        if not _is_one(node.left) or not isinstance(node.right, cst.BinaryOperation) or not isinstance(node.right.operator, cst.Add):
            return None
        add = node.right
        for one, other in ((add.left, add.right), (add.right, add.left)):
            if _is_one(one):
                arg = self._exp_arg(other)
                if arg is not None:
                    return _negated(arg)
        return None

    def _softmax_input(self, node: cst.BinaryOperation) -> cst.BaseExpression | None:
        """x for `exp(x) / exp(x).sum(...)`, `exp(x) / torch.sum(exp(x), ...)`, or `e / e.sum(...)` with
        `e = torch.exp(x)` bound once in the file."""
        numerator = self._exp_value(node.left)
        if numerator is None:
            return None
        summed = self._summed(node.right)
        if summed is None:
            return None
        if node_code(summed) == node_code(node.left) or node_code(self._exp_value(summed) or summed) == node_code(numerator):
            arg = self._exp_arg(numerator)
            return arg
        return None

    def _sum_of_exp(self, call: cst.Call) -> bool:
        summed = self._summed(call)
        return summed is not None and self._exp_value(summed) is not None

    def _summed(self, expr: cst.BaseExpression) -> cst.BaseExpression | None:
        """What `expr` sums: `t.sum(...)` → t, `torch.sum(t, ...)` → t."""
        if not isinstance(expr, cst.Call):
            return None
        if self.ctx.call_qualname(expr) in SUMS:
            args = positional(expr)
            return args[0].value if args else None
        if call_attr(expr) == "sum" and self._is_tensor_method(expr):
            return call_receiver(expr)
        return None

    def _exp_value(self, expr: cst.BaseExpression) -> cst.BaseExpression | None:
        """`expr` itself when it is an exponential call, or the one value a plain name is bound to."""
        if self._exp_arg(expr) is not None:
            return expr
        if isinstance(expr, cst.Name):
            values = self.ctx.bindings.get(expr.value, [])
            if len(values) == 1 and self._exp_arg(values[0]) is not None:
                return values[0]
        return None

    def _exp_arg(self, expr: cst.BaseExpression) -> cst.BaseExpression | None:
        """x for `torch.exp(x)` or `x.exp()` (on a torch file)."""
        if not isinstance(expr, cst.Call):
            return None
        if self.ctx.call_qualname(expr) == EXP:
            return _only_arg(expr)
        if call_attr(expr) == "exp" and not expr.args and self._is_tensor_method(expr):
            return call_receiver(expr)
        return None

    def _is_tensor_method(self, call: cst.Call) -> bool:
        """A method call whose receiver is not a module alias (`np.exp` resolves to numpy, not a tensor),
        in a file that imports torch."""
        owner = call.func.value if isinstance(call.func, cst.Attribute) else None
        if owner is None or self.ctx.qualname(owner) is not None:
            return False
        return any(v == "torch" or v.startswith("torch.") for v in self.ctx.imports.values())

    def _method_receiver(self, call: cst.Call, name: str) -> cst.BaseExpression | None:
        if call_attr(call) == name and not call.args and self._is_tensor_method(call):
            return call_receiver(call)
        return None

    def _torch_alias(self) -> str | None:
        for local, full in self.ctx.imports.items():
            if full == "torch":
                return local
        return None

    @guarded
    def _sigmoid_fix(self, node: cst.BinaryOperation, x: cst.BaseExpression, torch: str | None) -> FixPlan | None:
        if torch is None:
            return None
        new = cst.parse_expression(f"{torch}.sigmoid({node_code(x)})")
        if node.lpar:
            new = new.with_changes(lpar=node.lpar, rpar=node.rpar)
        return self.plan(Replace(node, new))


def _only_arg(call: cst.Call) -> cst.BaseExpression | None:
    args = positional(call)
    return args[0].value if len(args) == 1 and len(call.args) == 1 else None


def _is_one(expr: cst.BaseExpression) -> bool:
    return (isinstance(expr, cst.Integer) and expr.value == "1") or (isinstance(expr, cst.Float) and float(expr.value) == 1.0)


def _negated(expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """x for `-x` or `x.neg()`; None for anything else (`exp(x)` alone is not a sigmoid)."""
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        return expr.expression
    if isinstance(expr, cst.Call) and call_attr(expr) == "neg" and not expr.args:
        return call_receiver(expr)
    return None

