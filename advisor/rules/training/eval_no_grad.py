"""ADV302: an evaluation loop that runs the model with autograd still recording."""

from __future__ import annotations

import re

import libcst as cst

from advisor.context import dotted_name, walk
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence

NO_GRAD = frozenset(
    {"torch.no_grad", "torch.inference_mode", "torch.set_grad_enabled", "torch.autograd.no_grad", "torch.enable_grad"}
)
GRAD_NEEDED = frozenset({"torch.autograd.grad", "torch.autograd.backward", "torch.func.grad", "torch.func.vjp"})
# A project's own wrapper around no_grad / inference_mode (often imported from a helper module):
# the name says what it does, and `enable_grad` never matches.
GRAD_OFF_WRAPPER = re.compile(r"(^|_)(no_grad|inference_mode)(_|$)", re.I)
EVAL_NAME = re.compile(r"(^|_)(eval|evaluate|evaluation|valid|validate|validation|test|predict|inference|infer)(_|$)", re.I)


class EvalWithoutNoGrad(Rule):
    code = "ADV302"
    name = "eval-without-no-grad"
    summary = "Evaluation loop runs the model without `torch.no_grad()`"
    message = "Wrap this evaluation loop in `with torch.no_grad():` (or `torch.inference_mode()`)"
    why = (
        "With autograd on, every forward pass records the graph and keeps each layer's activations alive "
        "for a backward pass that never comes: the saving is mostly memory (larger eval batches fit); the "
        "time saved depends on the model, so measure it with `advisor verify ADV302`."
    )
    suggestion = "put the loop under `with torch.inference_mode():` (or decorate the function with `@torch.no_grad()`)"
    triggers = (".eval(",)
    docs = RuleDocs(
        what="Finds loops that put a model in `eval()` mode (or live in a function named like evaluate / "
        "validate / test / predict) and call it on data, with no `torch.no_grad()`, `torch.inference_mode()` "
        "or `set_grad_enabled(False)` around them, no decorator doing the same, and no caller in the file "
        "that disables gradients.",
        why="`model.eval()` only changes dropout and batch-norm behaviour; it does not turn autograd off. "
        "Without no_grad every activation is kept for backward, which costs memory and time.",
        example="""
            import torch

            def evaluate(model, loader):
                model.eval()
                correct = 0
                for x, y in loader:
                    correct += (model(x).argmax(1) == y).sum()
                return correct
        """,
        use_instead="""
            import torch

            @torch.inference_mode()
            def evaluate(model, loader):
                model.eval()
                correct = 0
                for x, y in loader:
                    correct += (model(x).argmax(1) == y).sum()
                return correct
        """,
        references=(
            "PyTorch docs: torch.no_grad, torch.inference_mode",
            "PyTorch docs: Autograd mechanics, locally disabling gradient computation",
        ),
    )

    def visit_For(self, node: cst.For) -> None:
        self._check(node)

    def visit_While(self, node: cst.While) -> None:
        self._check(node)

    def _check(self, loop: cst.For | cst.While) -> None:
        if self.ctx.loop_facts(loop).is_training_loop or self.ctx.in_test_function(loop):
            return
        outer = self.ctx.innermost_loop(loop)
        if outer is not None and not self.ctx.loop_facts(outer).is_training_loop:
            return  # report the outermost evaluation loop only (an epoch loop around it is fine)
        models = self._models_called(loop)
        if not models:
            return
        func = self.ctx.enclosing_function(loop)
        evaluating = any(self._eval_called_before(m, loop, func) for m in models) or (
            func is not None and EVAL_NAME.search(func.name.value) is not None and self._eval_called_anywhere(func)
        )
        if not evaluating or self._grad_disabled_around(loop):
            return
        confidence = Confidence.HIGH
        if func is not None:
            callers = self._callers(func.name.value)
            if callers and all(self._grad_disabled_around(c) for c in callers):
                return
            if not callers:
                confidence = Confidence.MEDIUM  # may be called under no_grad from another module
        self.report(loop, confidence=confidence)

    def _models_called(self, loop: cst.CSTNode) -> set[str]:
        names: set[str] = set()
        for node in walk(loop):
            if isinstance(node, cst.Call):
                if self.ctx.call_qualname(node) in GRAD_NEEDED or (
                    isinstance(node.func, cst.Attribute) and node.func.attr.value in ("backward", "requires_grad_")
                ):
                    return set()  # gradients are wanted here (saliency, adversarial examples)
                callee = dotted_name(node.func)
                if callee and self.ctx.kind_of(node.func) == "model" and not self._grad_disabled_within(node, loop):
                    names.add(callee)
        return names

    def _grad_disabled_within(self, node: cst.CSTNode, loop: cst.CSTNode) -> bool:
        """The call sits under a `with torch.no_grad():` opened inside the loop body: that forward
        pass builds no graph, so it is no evidence of a missing `no_grad`."""
        for anc in self.ctx.ancestors(node):
            if anc is loop:
                return False
            if isinstance(anc, cst.With) and any(self._disables_grad(item.item) for item in anc.items):
                return True
        return False

    def _eval_called_before(self, model: str, loop: cst.CSTNode, func: cst.FunctionDef | None) -> bool:
        """`model.eval()` in the same function (or module level) as the loop, or at module level for a
        global model the loop's function uses as is (a script that loads its network and calls `.eval()`)."""
        for call in self.ctx.calls_by_attr.get("eval", ()):
            if dotted_name(call.func.value) != model:
                continue
            where = self.ctx.enclosing_function(call)
            if where is func:
                return True
            if where is None and func is not None and self._global_in(model, func):
                return True
        return False

    def _global_in(self, model: str, func: cst.FunctionDef) -> bool:
        """`model` inside `func` is the module-level object: not a parameter, not rebound there, and not
        switched back to training mode there."""
        head = model.split(".")[0]
        params = func.params
        if any(p.name.value == head for p in (*params.posonly_params, *params.params, *params.kwonly_params)):
            return False
        if any(self.ctx.enclosing_function(v) is func for v in self.ctx.bindings.get(head, ())):
            return False
        return not any(
            dotted_name(c.func.value) == model and self.ctx.enclosing_function(c) is func
            for c in self.ctx.calls_by_attr.get("train", ())
        )

    def _eval_called_anywhere(self, func: cst.FunctionDef) -> bool:
        return any(isinstance(n, cst.Call) and getattr(n.func, "attr", None) is not None and n.func.attr.value == "eval" for n in walk(func))

    def _grad_disabled_around(self, node: cst.CSTNode) -> bool:
        for anc in self.ctx.ancestors(node):
            if isinstance(anc, cst.With) and any(self._disables_grad(item.item) for item in anc.items):
                return True
            if isinstance(anc, cst.FunctionDef) and any(self._disables_grad(d.decorator) for d in anc.decorators):
                return True
        func = self.ctx.enclosing_function(node)
        scope = func.body if func is not None else self.ctx.module
        # torch.set_grad_enabled(False) / torch.no_grad().__enter__() earlier in the same function
        for call in self.ctx.nodes_by_type.get("Call", ()):
            if self.ctx.call_qualname(call) in ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled"):
                if self.ctx.enclosing_function(call) is func and any(a is scope for a in self.ctx.ancestors(call)):
                    return True
        return False

    def _disables_grad(self, expr: cst.BaseExpression) -> bool:
        target = expr.func if isinstance(expr, cst.Call) else expr
        q = self.ctx.qualname(target)
        if q in NO_GRAD:
            return q != "torch.enable_grad"
        name = dotted_name(target)
        if name is None or (q or "").startswith("torch."):
            return False
        return GRAD_OFF_WRAPPER.search(name.rsplit(".", 1)[-1]) is not None

    def _callers(self, name: str) -> list[cst.Call]:
        return [
            c
            for c in self.ctx.nodes_by_type.get("Call", ())
            if isinstance(c, cst.Call)
            if (isinstance(c.func, cst.Name) and c.func.value == name)
            or (isinstance(c.func, cst.Attribute) and c.func.attr.value == name)
        ]
