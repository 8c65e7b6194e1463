"""ADV302: an evaluation loop that runs the model with autograd still recording."""

from __future__ import annotations

import re

from typing import Any

import libcst as cst

from advisor.callgraph import Repeat, call_graph, step_gated
from advisor.syntax import call_attr, call_receiver, dotted_name, walk
from advisor.grad_flow import DETACHED, HOST, GradFlow
from advisor.context import FileContext
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
# Functions whose loop produces outputs rather than training: sampling text, decoding, generating images.
GENERATE_NAME = re.compile(r"(^|_)(generate|generation|sample|sampling|decode|translate|predict|infer|inference)(_|$)", re.I)
MODEL_NAME = re.compile(r"(^|_)(model|net|network|decoder|encoder|generator|gen|rnn|lstm|gru|policy|actor|critic|transformer)$", re.I)
# Methods of a model that are not a forward pass.
NOT_FORWARD = frozenset(
    "parameters named_parameters modules children state_dict load_state_dict train eval to cuda cpu half float "
    "double zero_grad apply requires_grad_ register_buffer add_module buffers named_buffers save load".split()
)


class EvalWithoutNoGrad(Rule):
    code = "ADV302"
    runtime_signal = "eval-autograd"
    name = "eval-without-no-grad"
    summary = "Evaluation loop runs the model without `torch.no_grad()`"
    message = "Wrap this evaluation loop in `with torch.no_grad():` (or `torch.inference_mode()`)"
    why = (
        "With autograd on, every forward pass records the graph and keeps each layer's activations alive "
        "for a backward pass that never comes: the saving is mostly memory (larger eval batches fit); the "
        "time saved depends on the model, so measure it with `advisor verify ADV302`."
    )
    suggestion = "put the loop under `with torch.inference_mode():` (or decorate the function with `@torch.no_grad()`)"
    triggers = (".eval(", ".step(", "def generate", "def sample", "def predict", "def decode", "def evaluate")
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

    def __init__(self, ctx: FileContext, options: dict[str, Any] | None = None) -> None:
        super().__init__(ctx, options)
        self._reported_loops: set[int] = set()
        self._model_calls: dict[int, bool] = {}

    def visit_For(self, node: cst.For) -> None:
        self._check(node)

    def visit_While(self, node: cst.While) -> None:
        self._check(node)

    def _uses_torch(self) -> bool:
        """Autograd only exists in torch code: a NumPy network's `network.update(X, y)` is no forward pass."""
        return any(v == "torch" or v.startswith("torch.") for v in self.ctx.imports.values()) or self.ctx.star_imports

    def _check(self, loop: cst.For | cst.While) -> None:
        if not self._uses_torch():
            return
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
        if not evaluating:
            evaluating = self._outputs_discarded(loop) or (
                func is not None
                and (GENERATE_NAME.search(func.name.value) is not None or EVAL_NAME.search(func.name.value) is not None)
                and not self._trains_in(func)
            )
        if not evaluating or self._grad_disabled_around(loop):
            return
        confidence = Confidence.HIGH
        if func is not None:
            callers = self._callers(func.name.value)
            if callers and all(self._caller_disabled(c) for c in callers):
                return
            if not callers:
                confidence = Confidence.MEDIUM  # may be called under no_grad from another module
        self._reported_loops.add(id(loop))
        self.report(loop, confidence=confidence)

    # ------------------------------------------------------------------ forward passes outside eval loops
    def finish(self) -> None:
        """A forward pass whose output never reaches a backward pass, run every (or every N) training
        steps or in a function a loop calls: periodic sampling inside the training loop, an action picked
        by the network, a `generate_images()` helper. Reported at the call, naming the loop."""
        if not self._uses_torch():
            return
        for call in self.ctx.nodes(cst.Call):
            if not self._is_model_call(call) or self.ctx.in_test_function(call) or self._inside_model(call):
                continue
            where = self._repeated(call)
            if where is None:
                continue
            loop, via = where
            if self._inside_reported_loop(call) or self._grad_disabled_around(call) or self._grad_disabled_within(call, loop):
                continue
            if self._method_forwards(call) and not self._method_of_module(call):
                continue  # a helper method: the forward passes inside it are judged where they are
            fate = self._flow().fate(call)
            func = self.ctx.enclosing_function(call)
            if fate not in (HOST, DETACHED) or self._gradients_wanted(call):
                continue
            trains = (func is not None and self._trains_in(func)) or (
                via is None and isinstance(loop, (cst.For, cst.While)) and self.ctx.loop_facts(loop).is_training_loop
            )
            if fate == DETACHED and trains and not step_gated(self.ctx, call, loop):
                continue  # a target network's `.detach()` inside the training step: not an evaluation
            if via is not None and func is not None:
                callers = self._callers(func.name.value)
                if callers and all(self._caller_disabled(c) for c in callers):
                    continue
            self.report(
                call,
                "Run this forward pass under `torch.no_grad()`: its output is never backpropagated",
                confidence=Confidence.MEDIUM if via is not None and via.gated else Confidence.HIGH,
                suggestion="wrap the call (or the function) in `with torch.no_grad():` / `@torch.no_grad()`",
                via=via,
            )

    def _repeated(self, call: cst.Call) -> tuple[cst.CSTNode, Repeat | None] | None:
        """The loop that repeats this forward pass: a training loop around it, or the loop whose call chain
        reaches its function (None when it runs once)."""
        loop = self.ctx.innermost_loop(call)
        if loop is not None:
            outer = loop
            for anc in self.ctx.ancestors(call):
                if isinstance(anc, (cst.For, cst.While)) and self.ctx.loop_facts(anc).is_training_loop:
                    return anc, None
                if isinstance(anc, cst.FunctionDef):
                    break
            return (outer, None) if self._acting(outer) else None
        rep = call_graph(self.ctx).repeat_of(call)
        if rep is None:
            return None
        site_loop = self.ctx.innermost_loop(rep.site)
        if site_loop is not None and id(site_loop) in self._reported_loops:
            return None
        return rep.loop, rep

    def _acting(self, loop: cst.CSTNode) -> bool:
        """The loop steps an environment (`env.step(action)`): the network picks actions."""
        for call in self.ctx.calls_by_attr.get("step", ()):
            recv = dotted_name(call_receiver(call)) or ""
            if "env" in recv.rsplit(".", 1)[-1].lower() and any(a is loop for a in self.ctx.ancestors(call)):
                return True
        return False

    def _method_of_module(self, call: cst.Call) -> bool:
        """`q_network.get_action(x)`: a method of an nn.Module subclass (its layers are not judged alone)."""
        return any(
            (cls := self.ctx.enclosing_class(t)) is not None and cls.name.value in self.ctx.module_classes()
            for t in call_graph(self.ctx).targets(call)
        )

    def _inside_model(self, node: cst.CSTNode) -> bool:
        """Layers called inside a module's own methods are part of the forward pass that calls them."""
        cls = self.ctx.enclosing_class(node)
        return cls is not None and cls.name.value in self.ctx.module_classes()

    def _inside_reported_loop(self, node: cst.CSTNode) -> bool:
        return any(id(a) in self._reported_loops for a in self.ctx.ancestors(node))

    def _outputs_discarded(self, loop: cst.For | cst.While) -> bool:
        """Every forward pass in the loop ends in `.item()`, `.numpy()`, `.data`, an argmax or a sample, and
        the loop either steps an environment or lives in a function that never trains."""
        calls = [c for c in walk(loop) if isinstance(c, cst.Call) and self._is_model_call(c)]
        if not calls or any(self._flow().fate(c) not in (HOST, DETACHED) for c in calls):
            return False
        func = self.ctx.enclosing_function(loop)
        return self._acting(loop) or func is None or not self._trains_in(func)

    def _trains_in(self, func: cst.FunctionDef) -> bool:
        return any(isinstance(n, cst.Call) and self.ctx.is_training_call(n) for n in walk(func))

    def _gradients_wanted(self, call: cst.Call) -> bool:
        """Input gradients are taken in the same function (saliency, gradient penalty, adversarial input)."""
        func = self.ctx.enclosing_function(call)
        scope: cst.CSTNode = func if func is not None else self.ctx.module
        return any(
            isinstance(n, cst.Call) and (self.ctx.call_qualname(n) in GRAD_NEEDED or call_attr(n) == "requires_grad_")
            for n in walk(scope)
        )

    def _flow(self) -> GradFlow:
        flow = self.ctx.shared.get("gradflow")
        if flow is None:
            flow = self.ctx.shared["gradflow"] = GradFlow(self.ctx, self._is_model_call, self._method_forwards)
        return flow

    def _is_model_call(self, call: cst.Call) -> bool:
        """A forward pass: a module called (`model(x)`, `self.G(z)`, `self(x)` in a module), or a method of
        a model of this file that runs one (`model.pi(s)`, `q.sample_action(s)`, `net.forward(x)`)."""
        key = id(call)
        cache = self._model_calls
        if key in cache:
            return cache[key]
        cache[key] = False
        func = call.func
        result = False
        if self._model_like(func, call) or self._named_like_model(call):
            result = True
        elif isinstance(func, cst.Name) and func.value == "self":
            cls = self.ctx.enclosing_class(call)
            result = cls is not None and cls.name.value in self.ctx.module_classes()
        elif isinstance(func, cst.Attribute) and func.attr.value not in NOT_FORWARD:
            recv = func.value
            if func.attr.value == "forward" and (self._model_like(recv, call) or dotted_name(recv) == "self"):
                result = True
            elif self._model_like(recv, call) or dotted_name(recv) == "self":
                graph = call_graph(self.ctx)
                targets = graph.targets(call)
                if targets:
                    result = any(self._runs_model(t) for t in targets) and not any(self._trains_in(t) for t in targets)
                else:  # a model whose class is not in this file: a method of it that returns something
                    result = graph.class_of(recv, call) is None and dotted_name(recv) != "self"
        cache[key] = result
        return result

    def _model_like(self, expr: cst.BaseExpression, where: cst.CSTNode, depth: int = 0) -> bool:
        """A module: bound to one (`self.gen = gen` where `gen` is a model), or a parameter named like a
        network (`policy`, `generator`, `model`) that nothing in the file binds to anything else."""
        if self.ctx.kind_of(expr) == "model":
            return True
        dotted = dotted_name(expr)
        if dotted is None or depth > 2:
            return False
        values = self.ctx.bindings.get(dotted, ())
        if values:
            return all(isinstance(v, cst.Name) and self._model_like(v, where, depth + 1) for v in values)
        func = self.ctx.enclosing_function(where)
        params = func.params.params if func is not None else ()
        last = dotted.rsplit(".", 1)[-1]
        return "." not in dotted and any(p.name.value == last for p in params) and MODEL_NAME.search(last) is not None

    def _named_like_model(self, call: cst.Call) -> bool:
        """`decoder(x, h)` in a generate / evaluate / predict function, where `decoder` is a parameter or a
        `torch.load`-ed object: named like a network and called, nothing says it is anything else."""
        func = call.func
        if not isinstance(func, cst.Name) or not MODEL_NAME.search(func.value):
            return False
        where = self.ctx.enclosing_function(call)
        if where is None or not (GENERATE_NAME.search(where.name.value) or EVAL_NAME.search(where.name.value)):
            return False
        values = self.ctx.bindings.get(func.value, ())
        return all(self.ctx.call_qualname(v) == "torch.load" for v in values)

    def _method_forwards(self, call: cst.Call) -> list[cst.Call]:
        """The forward passes run inside a model method called here (`q.sample_action(s)`), if it is one."""
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value == "forward" or not self._is_model_call(call):
            return []
        out: list[cst.Call] = []
        for target in call_graph(self.ctx).targets(call):
            if target.name.value == "forward":
                return []
            out.extend(n for n in walk(target.body) if isinstance(n, cst.Call) and self._is_model_call(n))
        return out

    def _runs_model(self, fdef: cst.FunctionDef) -> bool:
        return any(isinstance(n, cst.Call) and self._is_model_call(n) for n in walk(fdef.body))

    def _models_called(self, loop: cst.CSTNode) -> set[str]:
        names: set[str] = set()
        for node in walk(loop):
            if isinstance(node, cst.Call):
                if self.ctx.call_qualname(node) in GRAD_NEEDED or (
                    isinstance(node.func, cst.Attribute) and node.func.attr.value in ("backward", "requires_grad_")
                ):
                    return set()  # gradients are wanted here (saliency, adversarial examples)
                callee = dotted_name(node.func)
                if callee and self._is_model_call(node) and not self._grad_disabled_within(node, loop):
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
            if dotted_name(call_receiver(call)) != model:
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
            dotted_name(call_receiver(c)) == model and self.ctx.enclosing_function(c) is func
            for c in self.ctx.calls_by_attr.get("train", ())
        )

    def _eval_called_anywhere(self, func: cst.FunctionDef) -> bool:
        return any(isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value == "eval" for n in walk(func))

    def _grad_disabled_around(self, node: cst.CSTNode) -> bool:
        for anc in self.ctx.ancestors(node):
            if isinstance(anc, cst.With) and any(self._disables_grad(item.item) for item in anc.items):
                return True
            if isinstance(anc, cst.FunctionDef) and any(self._disables_grad(d.decorator) for d in anc.decorators):
                return True
        func = self.ctx.enclosing_function(node)
        scope = func.body if func is not None else self.ctx.module
        # torch.set_grad_enabled(False) / torch.no_grad().__enter__() earlier in the same function
        for call in self.ctx.nodes(cst.Call):
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

    def _caller_disabled(self, call: cst.Call, depth: int = 0) -> bool:
        """The call runs with gradients off: under no_grad itself, or inside a function every caller of
        which does (`benchmark_all()` called under `no_grad` calling `validation()`), a few levels up."""
        if self._grad_disabled_around(call):
            return True
        func = self.ctx.enclosing_function(call)
        if func is None or depth >= 3:
            return False
        callers = [c for c in self._callers(func.name.value) if c is not call and not self._inside(c, func)]
        return bool(callers) and all(self._caller_disabled(c, depth + 1) for c in callers)

    def _inside(self, node: cst.CSTNode, func: cst.FunctionDef) -> bool:
        return any(a is func for a in self.ctx.ancestors(node))

    def _callers(self, name: str) -> list[cst.Call]:
        return [
            c
            for c in self.ctx.nodes(cst.Call)
            if isinstance(c, cst.Call)
            if (isinstance(c.func, cst.Name) and c.func.value == name)
            or (isinstance(c.func, cst.Attribute) and c.func.attr.value == name)
        ]
