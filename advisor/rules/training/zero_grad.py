"""ADV305: gradients zeroed in place (`zero_grad(set_to_none=False)`, `p.grad.zero_()` loops) instead of set to None."""

from __future__ import annotations

import libcst as cst

from advisor.syntax import call_attr, call_receiver, dotted_name, keyword, walk
from advisor.fixes import FixPlan, Replace, guarded
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence

PARAMETER_SOURCES = frozenset({"parameters", "named_parameters"})
# In-place ways to clear a gradient: `p.grad.zero_()`, `p.grad.data.zero_()`, `p.grad.fill_(0)`.
IN_PLACE = frozenset({"zero_", "fill_"})


class ZeroGradInPlace(Rule):
    code = "ADV305"
    name = "zero-grad-in-place"
    summary = "Gradients zeroed in place (`set_to_none=False`, `p.grad.zero_()` loops) instead of set to None"
    message = "Let `zero_grad()` set gradients to None instead of filling them with zeros"
    why = (
        "Zeroing writes every gradient tensor with a memset each step, and the next backward then adds "
        "into it (a read and a write) instead of simply writing its result; a Python loop over the "
        "parameters adds an interpreter round trip per tensor on top."
    )
    suggestion = "call `optimizer.zero_grad()` (`set_to_none=True` is the default since PyTorch 2.0)"
    triggers = ("zero_grad", "zero_", "fill_")
    # Unsafe: afterwards `p.grad` is None until the next backward; code that reads it in between would break.
    fix_safe = False
    fix_title = "change `set_to_none=False` to `set_to_none=True`"
    docs = RuleDocs(
        what="Finds `zero_grad(set_to_none=False)` on an optimizer or a model, and loops over "
        "`model.parameters()` (or `named_parameters()`) that clear each gradient in place with "
        "`p.grad.zero_()`, `p.grad.data.zero_()` or `p.grad.fill_(0)`. A loop that sets `p.grad = None`, "
        "the body of a method named `zero_grad` (an optimizer implementing it) and test functions are not "
        "reported.",
        why="The PyTorch Performance Tuning Guide recommends setting gradients to None: it skips a memset "
        "of every gradient, and backward then writes gradients instead of accumulating into zeros. "
        "PyTorch 2.0 made `set_to_none=True` the default for `Optimizer.zero_grad` and `Module.zero_grad`.",
        example="""
            for x, y in loader:
                optimizer.zero_grad(set_to_none=False)
                loss = criterion(model(x), y)
                loss.backward()
                optimizer.step()
        """,
        use_instead="""
            for x, y in loader:
                optimizer.zero_grad()
                loss = criterion(model(x), y)
                loss.backward()
                optimizer.step()
        """,
        references=(
            "PyTorch Performance Tuning Guide: use parameter.grad = None instead of model.zero_grad() or optimizer.zero_grad()",
            "PyTorch docs: torch.optim.Optimizer.zero_grad (set_to_none)",
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        if call_attr(node) != "zero_grad" or self.ctx.in_test_function(node):
            return
        arg = keyword(node, "set_to_none")
        if arg is None or not (isinstance(arg.value, cst.Name) and arg.value.value == "False"):
            return
        self.report(
            node,
            "Drop `set_to_none=False`: setting gradients to None skips a memset per parameter and lets backward write instead of accumulate",
            confidence=Confidence.HIGH,
            fix=self._fix(arg),
        )

    @guarded
    def _fix(self, arg: cst.Arg) -> FixPlan | None:
        return self.plan(Replace(arg.value, "True"))

    def visit_For(self, node: cst.For) -> None:
        owner = _parameter_owner(node.iter)
        if owner is None or self.ctx.in_test_function(node) or self._inside_zero_grad(node):
            return
        param = _param_name(node.target)
        if param is None or not self._clears_in_place(node, param):
            return
        self.report(
            node,
            f"Replace this loop with `optimizer.zero_grad()` (or `{owner}.zero_grad()`): it sets gradients to None instead of zeroing each one in Python",
            confidence=Confidence.HIGH,
            suggestion=f"call `optimizer.zero_grad()` or `{owner}.zero_grad()` once; both set gradients to None by default since PyTorch 2.0",
        )

    def _clears_in_place(self, loop: cst.For, param: str) -> bool:
        for n in walk(loop.body):
            if not isinstance(n, cst.Call) or call_attr(n) not in IN_PLACE:
                continue
            receiver = dotted_name(call_receiver(n))
            if receiver not in (f"{param}.grad", f"{param}.grad.data"):
                continue
            if call_attr(n) == "fill_" and not _fills_zero(n):
                continue
            return True
        return False

    def _inside_zero_grad(self, node: cst.CSTNode) -> bool:
        func = self.ctx.enclosing_function(node)
        return func is not None and func.name.value == "zero_grad"


def _parameter_owner(expr: cst.BaseExpression) -> str | None:
    """`model` for `model.parameters()` / `model.named_parameters()` (also inside `list(...)`)."""
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "list" and len(expr.args) == 1:
        expr = expr.args[0].value
    if isinstance(expr, cst.Call) and call_attr(expr) in PARAMETER_SOURCES:
        return dotted_name(call_receiver(expr))
    return None


def _param_name(target: cst.BaseExpression) -> str | None:
    """`p` for `for p in ...` and `for name, p in ...`."""
    if isinstance(target, cst.Name):
        return target.value
    if isinstance(target, cst.Tuple) and len(target.elements) == 2 and isinstance(target.elements[1].value, cst.Name):
        return target.elements[1].value.value
    return None


def _fills_zero(call: cst.Call) -> bool:
    return len(call.args) == 1 and isinstance(call.args[0].value, (cst.Integer, cst.Float)) and float(call.args[0].value.value) == 0.0
