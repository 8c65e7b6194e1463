"""ADV302: an evaluation loop that runs the model with autograd still recording."""

from __future__ import annotations

import re

from typing import Any

import libcst as cst

from advisor.callgraph import Repeat, call_graph, calls_within, step_gated
from advisor.syntax import call_attr, call_receiver, callee_name, dotted_name, walk
from advisor.grad_flow import DETACHED, HOST, GradFlow
from advisor.context import FileContext
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence

NO_GRAD = frozenset(
    {"torch.no_grad", "torch.inference_mode", "torch.set_grad_enabled", "torch.autograd.no_grad", "torch.enable_grad"}
)
GRAD_NEEDED = frozenset({"torch.autograd.grad", "torch.autograd.backward", "torch.func.grad", "torch.func.vjp"})
SET_GRAD_ENABLED = frozenset({"torch.set_grad_enabled", "torch.autograd.set_grad_enabled"})
# The last part of each GRAD_NEEDED name: an `x.y.name(...)` call ending otherwise is none of them.
GRAD_NEEDED_TAILS = frozenset(q.rsplit(".", 1)[-1] for q in GRAD_NEEDED)
# A project's own wrapper around no_grad / inference_mode (often imported from a helper module):
# the name says what it does, and `enable_grad` never matches.
GRAD_OFF_WRAPPER = re.compile(r"(^|_)(no_grad|inference_mode)(_|$)", re.I)
EVAL_NAME = re.compile(r"(^|_)(eval|evaluate|evaluation|valid|validate|validation|test|predict|inference|infer)(_|$)", re.I)
# Functions whose loop produces outputs rather than training: sampling text, decoding, generating images.
GENERATE_NAME = re.compile(r"(^|_)(generate|generation|sample|sampling|decode|translate|predict|infer|inference)(_|$)", re.I)
MODEL_NAME = re.compile(r"(^|_)(model|net|network|decoder|encoder|generator|gen|rnn|lstm|gru|policy|actor|critic|transformer)$", re.I)
# Methods of a model that are not a forward pass.
# What `_model_like` remembers for a name whose answer depends on where it is used.
_PARAMETER = "parameter"
_BOUND_TO_NAMES = "bound to names"
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
    called_triggers = ("torch",)  # a helper another module calls in its training loop
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
        # Per-file memos (nodes live as long as the context): these answers are pure functions of the
        # file, asked again and again for the same node, function or name while the rule runs.
        self._torch: bool | None = None
        self._like: dict[tuple[str, int], object] = {}
        self._funcs: dict[int, cst.FunctionDef | None] = {}
        self._trains: dict[int, bool] = {}
        self._wants_grads: dict[int, bool] = {}
        self._evals_in: dict[int, bool] = {}
        self._acts: dict[int, bool] = {}
        self._forwards: dict[int, list[cst.Call]] = {}
        self._disabled_around: dict[int, bool] = {}
        self._grad_switches: list[cst.Call] | None = None
        self._never_models: set[str] = set()  # callees (`torch.matmul`) no call of which is a forward pass

    def visit_For(self, node: cst.For) -> None:
        self._check(node)

    def visit_While(self, node: cst.While) -> None:
        self._check(node)

    def _uses_torch(self) -> bool:
        """Autograd only exists in torch code: a NumPy network's `network.update(X, y)` is no forward pass."""
        if self._torch is None:
            self._torch = any(v == "torch" or v.startswith("torch.") for v in self.ctx.imports.values()) or self.ctx.star_imports
        return self._torch

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

    def _repeated(self, call: cst.Call) -> tuple[cst.CSTNode | None, Repeat | None] | None:
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
        site_loop = self.ctx.innermost_loop(rep.site) if rep.site is not None else None
        if site_loop is not None and id(site_loop) in self._reported_loops:
            return None
        return rep.loop, rep

    def _acting(self, loop: cst.CSTNode) -> bool:
        """The loop steps an environment (`env.step(action)`): the network picks actions."""
        known = self._acts.get(id(loop))
        if known is None:
            known = self._acts[id(loop)] = any(
                "env" in (dotted_name(call_receiver(call)) or "").rsplit(".", 1)[-1].lower()
                and any(a is loop for a in self.ctx.ancestors(call))
                for call in self.ctx.calls_by_attr.get("step", ())
            )
        return known

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
        calls = [c for c in calls_within(self.ctx).of(loop) if self._is_model_call(c)]
        if not calls or any(self._flow().fate(c) not in (HOST, DETACHED) for c in calls):
            return False
        func = self.ctx.enclosing_function(loop)
        return self._acting(loop) or func is None or not self._trains_in(func)

    def _trains_in(self, func: cst.FunctionDef) -> bool:
        known = self._trains.get(id(func))
        if known is None:
            known = self._trains[id(func)] = any(self.ctx.is_training_call(n) for n in calls_within(self.ctx).of(func))
        return known

    def _gradients_wanted(self, call: cst.Call) -> bool:
        """Input gradients are taken in the same function (saliency, gradient penalty, adversarial input)."""
        func = self._function_of(call)
        scope: cst.CSTNode = func if func is not None else self.ctx.module
        known = self._wants_grads.get(id(scope))
        if known is None:
            calls = calls_within(self.ctx).of(func) if func is not None else self.ctx.nodes(cst.Call)
            known = self._wants_grads[id(scope)] = any(
                call_attr(n) == "requires_grad_" or self.ctx.call_qualname(n) in GRAD_NEEDED for n in calls
            )
        return known

    def _function_of(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        """`ctx.enclosing_function`, remembered per node (asked several times for the same call)."""
        key = id(node)
        if key in self._funcs:
            return self._funcs[key]
        func = self._funcs[key] = self.ctx.enclosing_function(node)
        return func

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
        func = call.func
        callee = dotted_name(func)
        if callee is not None and callee in self._never_models:
            return False
        cache[key] = False
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
        if not result and callee is not None and self._never_model(func, callee):
            self._never_models.add(callee)
        return result

    def _never_model(self, func: cst.BaseExpression, callee: str) -> bool:
        """Calling `callee` is no forward pass wherever it is written: what decided that for this call
        depends on the names alone (remembered in `_like`), not on the function or class around it."""
        if self._like.get((callee, 0)) is not False:
            return False
        if type(func) is cst.Name:
            return callee != "self" and MODEL_NAME.search(callee) is None
        if type(func) is not cst.Attribute:
            return False
        if func.attr.value in NOT_FORWARD:
            return True
        receiver = callee.rpartition(".")[0]
        return receiver != "self" and self._like.get((receiver, 0)) is False

    def _model_like(self, expr: cst.BaseExpression, where: cst.CSTNode, depth: int = 0) -> bool:
        """A module: bound to one (`self.gen = gen` where `gen` is a model), or a parameter named like a
        network (`policy`, `generator`, `model`) that nothing in the file binds to anything else.
        What depends on the name alone is remembered per (name, depth); only a parameter named like a
        network, or a name bound to other names, is looked at again for each place it is used."""
        dotted = dotted_name(expr)
        if dotted is None:
            return self.ctx.kind_of(expr) == "model"
        key = (dotted, depth)
        known = self._like.get(key)
        if known is None:
            known = self._like[key] = self._name_verdict(expr, dotted, depth)
        if known is _PARAMETER:
            func = self._function_of(where)
            params = func.params.params if func is not None else ()
            return any(p.name.value == dotted for p in params)
        if known is _BOUND_TO_NAMES:
            return all(isinstance(v, cst.Name) and self._model_like(v, where, depth + 1) for v in self.ctx.bindings[dotted])
        return known is True

    def _name_verdict(self, expr: cst.BaseExpression, dotted: str, depth: int) -> object:
        """True / False when the name alone decides; `_PARAMETER` when it is a model if the function using
        it takes a parameter of that name; `_BOUND_TO_NAMES` when its bindings must be followed."""
        if self.ctx.kind_of(expr) == "model":
            return True
        if depth > 2:
            return False
        values = self.ctx.bindings.get(dotted, ())
        if values:
            return _BOUND_TO_NAMES if isinstance(values[0], cst.Name) else False
        if "." in dotted or MODEL_NAME.search(dotted) is None:
            return False
        return _PARAMETER

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
        """The forward passes run inside a model method called here (`q.sample_action(s)`), if it is one.
        Remembered per call: asking again would only re-read the same remembered model calls."""
        known = self._forwards.get(id(call))
        if known is None:
            known = self._forwards[id(call)] = self._find_method_forwards(call)
        return known

    def _find_method_forwards(self, call: cst.Call) -> list[cst.Call]:
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value == "forward" or not self._is_model_call(call):
            return []
        out: list[cst.Call] = []
        for target in call_graph(self.ctx).targets(call):
            if target.name.value == "forward":
                return []
            out.extend(n for n in calls_within(self.ctx).in_body(target) if self._is_model_call(n))
        return out

    def _runs_model(self, fdef: cst.FunctionDef) -> bool:
        return any(self._is_model_call(n) for n in calls_within(self.ctx).in_body(fdef))

    def _models_called(self, loop: cst.For | cst.While) -> set[str]:
        names: set[str] = set()
        for node in calls_within(self.ctx).of(loop):
            if call_attr(node) in ("backward", "requires_grad_") or (
                (type(node.func) is cst.Name or callee_name(node) in GRAD_NEEDED_TAILS)
                and self.ctx.call_qualname(node) in GRAD_NEEDED
            ):
                return set()  # gradients are wanted here (saliency, adversarial examples)
            callee = dotted_name(node.func)
            if callee and self._is_model_call(node) and not self._grad_disabled_within(node, loop):
                names.add(callee)
        return names

    def _grad_disabled_within(self, node: cst.CSTNode, loop: cst.CSTNode | None) -> bool:
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
        """Some `x.eval()` inside `func` (its decorators and nested functions included)."""
        known = self._evals_in.get(id(func))
        if known is None:
            known = self._evals_in[id(func)] = any(call_attr(n) == "eval" for n in calls_within(self.ctx).of(func))
        return known

    def _grad_disabled_around(self, node: cst.CSTNode) -> bool:
        known = self._disabled_around.get(id(node))
        if known is None:
            known = self._disabled_around[id(node)] = self._find_grad_disabled_around(node)
        return known

    def _find_grad_disabled_around(self, node: cst.CSTNode) -> bool:
        for anc in self.ctx.ancestors(node):
            if isinstance(anc, cst.With) and any(self._disables_grad(item.item) for item in anc.items):
                return True
            if isinstance(anc, cst.FunctionDef) and any(self._disables_grad(d.decorator) for d in anc.decorators):
                return True
        func = self._function_of(node)
        scope = func.body if func is not None else self.ctx.module
        # torch.set_grad_enabled(False) / torch.no_grad().__enter__() earlier in the same function
        for call in self._grad_switches_of_file():
            if self.ctx.enclosing_function(call) is func and any(a is scope for a in self.ctx.ancestors(call)):
                return True
        return False

    def _grad_switches_of_file(self) -> list[cst.Call]:
        """Every `torch.set_grad_enabled(...)` call of the file, in document order (found once)."""
        if self._grad_switches is None:
            aliases = {name for name, full in self.ctx.imports.items() if full in SET_GRAD_ENABLED}
            candidates = self.ctx.nodes(cst.Call) if aliases else self.ctx.calls_by_attr.get("set_grad_enabled", [])
            self._grad_switches = [c for c in candidates if self.ctx.call_qualname(c) in SET_GRAD_ENABLED]
        return self._grad_switches

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
        return list(self.ctx.calls_named(name))
