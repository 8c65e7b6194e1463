"""ADV101 and ADV102: host→device copies repeated every training step that could happen once, or not at all."""

from __future__ import annotations

import libcst as cst

from advisor.callgraph import call_graph
from advisor.context import STEP_TRIGGERS, FileContext, call_attr, dotted_name, has_star_args, keyword, move_target, positional, walk
from advisor.host_tensors import (
    host_corpus,
    SAME_TENSOR,
    SHAPE_FACTORIES,
    Origin,
    alias_on_device,
    factory_origin,
    preceding_binding,
    unwrap_variable,
)
from advisor.fixes import DeleteLine, FixPlan, InsertBefore, Replace, fresh_name, guarded, with_keyword
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence

# Drawing random numbers on the device uses the device's generator: same distribution, other values.
RANDOM_FACTORIES = frozenset({"torch.rand", "torch.randn", "torch.randint", "torch.randperm"})
# Calls that move or convert a module or tensor; another one on the same object keeps a hoist from being safe.
MOVES = frozenset({"to", "cuda", "cpu", "half", "float", "double", "bfloat16", "type", "xpu", "mps", "to_empty", "apply", "_apply"})


def _source(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _is_invariant(dotted: str, assigned: set[str]) -> bool:
    """`self.model` is invariant in a loop unless `self`, `self.model` or a longer target is rebound."""
    parts = dotted.split(".")
    prefixes = {".".join(parts[: i + 1]) for i in range(len(parts))}
    if prefixes & assigned:
        return False
    return not any(a.startswith(dotted + ".") for a in assigned)


class LoopInvariantTransfer(Rule):
    code = "ADV101"
    name = "loop-invariant-transfer"
    summary = "A model or constant tensor moved to the device inside the training loop"
    message = "Move this `.to(device)` above the training loop: the object does not change between steps"
    why = (
        "A tensor that lives on the host is copied to the device again on every step (a synchronous "
        "host-to-device transfer); moving a module repeats a walk over all its parameters. Once is enough."
    )
    suggestion = "move it once before the loop and keep the device copy (`w = w.to(device)` above the loop)"
    triggers = STEP_TRIGGERS
    pair = "adv101"
    fix_safe = True
    fix_title = "hoist the move above the training loop"
    docs = RuleDocs(
        what="Finds `.to(device)` / `.cuda()` inside a training step loop applied to something the loop "
        "never changes: the model, a constant tensor, a tensor built before the loop. Moving each batch "
        "from the DataLoader is necessary and is not reported.",
        why="`x.to(device)` on a host tensor allocates device memory and copies the data each time it runs; "
        "the original stays on the host, so the next step pays again. For a module, `.to()` is a no-op "
        "after the first call but still visits every parameter and buffer every step.",
        example="""
            import torch

            model = torch.nn.Linear(10, 1)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            weights = torch.ones(10)
            for x, y in loader:
                model.to("cuda")
                loss = ((model(x.cuda() * weights.to("cuda")) - y.cuda()) ** 2).mean()
                loss.backward()
                optimizer.step()
        """,
        use_instead="""
            import torch

            model = torch.nn.Linear(10, 1).to("cuda")
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            weights = torch.ones(10, device="cuda")
            for x, y in loader:
                loss = ((model(x.cuda() * weights) - y.cuda()) ** 2).mean()
                loss.backward()
                optimizer.step()
        """,
        references=(
            "PyTorch Performance Tuning Guide: avoid unnecessary CPU-GPU synchronization and copies",
            "PyTorch docs: torch.Tensor.to, torch.nn.Module.to",
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        if not isinstance(node.func, cst.Attribute) or node.func.attr.value not in ("to", "cuda"):
            return
        kind = move_target(self.ctx, node)
        if kind is None:
            return
        loop = self.ctx.training_step_loop(node)
        if loop is None or self.ctx.is_conditional_within(node, loop):
            self._corpus_slice(node, kind)
            return
        receiver = node.func.value
        dotted = dotted_name(receiver)
        if dotted is None or not _is_invariant(dotted, self.ctx.loop_facts(loop).assigned):
            return
        for arg in node.args:  # the device expression must not change either
            for name in _names(arg.value):
                if not _is_invariant(name, self.ctx.loop_facts(loop).assigned):
                    return
        what = self.ctx.kind_of(receiver)
        call = _source(node)
        if what == "model":
            self.report(
                node,
                f"Move `{call}` above the training loop: a module stays on the device once moved",
                confidence=Confidence.HIGH if kind == "device" else Confidence.MEDIUM,
                suggestion=f"call `{call}` once before the loop; inside the loop it re-walks every parameter each step",
                fix=self._hoist_module_move(node, loop, dotted),
            )
            return
        if _is_discarded(self.ctx, node):
            return  # `t.to(d)` as a statement does nothing for a tensor: a bug, not a slow copy
        confident = kind == "device" and what in ("tensor", None) and self._bound_before(dotted, loop)
        self.report(
            node,
            f"Hoist `{call}` above the training loop: `{dotted}` does not change, but is copied to the device every step",
            confidence=Confidence.HIGH if confident else Confidence.MEDIUM,
            suggestion=f"move it once before the loop (`{dotted}_dev = {call}`) and use the device copy inside",
            fix=self._hoist_tensor_move(node, loop, dotted, confident),
        )

    def _corpus_slice(self, node: cst.Call, kind: str) -> None:
        """`x = torch.stack([data[i:i + n] for i in ix]); x.to(device)` in a `get_batch()` the training loop
        calls every step, over a tensor built once on the host: moving that tensor to the device once
        removes a host-to-device copy per step. Its size is unknown here (it may not fit), hence LOW."""
        if kind != "device":
            return
        rep = call_graph(self.ctx).repeat_of(node)
        if self.ctx.innermost_loop(node) is not None or rep is None or not rep.training or rep.gated:
            return
        corpus = host_corpus(self.ctx, node.func.value, node)  # type: ignore[union-attr]
        if corpus is None:
            return
        self.report(
            node,
            f"Move `{corpus}` to the device once before the training loop and slice it there: each step copies a slice of it from the host",
            confidence=Confidence.LOW,
            suggestion=f"`{corpus} = {corpus}.to(device)` once (if it fits in device memory), then index it on the device",
            via=rep,
        )

    @guarded
    def _hoist_module_move(self, node: cst.Call, loop: cst.For | cst.While, dotted: str) -> FixPlan | None:
        """`model.to(device)` alone on a line of the loop body: move that line above the loop.

        `Module.to` works in place and is idempotent, so once before the loop leaves the same module on the
        same device at every step; safe unless something else in the loop moves or converts it again.
        """
        expr = self.ctx.parent(node)
        line = self.ctx.parent(expr) if isinstance(expr, cst.Expr) else None
        if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1 or self.ctx.parent(line) is not loop.body:
            return None
        others = [c for c in _moves_in(self.ctx, loop, dotted) if c is not node]
        return self.plan(InsertBefore(loop, _source(node)), DeleteLine(line), safe=not others)

    @guarded
    def _hoist_tensor_move(self, node: cst.Call, loop: cst.For | cst.While, dotted: str, bound: bool) -> FixPlan | None:
        """`w.to(device)` inside an expression: compute `w_dev = w.to(device)` once above the loop and use it.

        Safe only for a plain local name bound before the loop that the loop touches through this very
        move and nothing else (no in-place update could make the hoisted copy stale); otherwise unsafe.
        """
        if not isinstance(node.func.value, cst.Name):  # type: ignore[union-attr]
            return None
        call = _source(node)
        same = [c for c in _moves_in(self.ctx, loop, dotted) if _source(c) == call]
        uses = sum(1 for n in self.ctx.nodes_by_type.get("Name", ()) if n.value == dotted and _inside(self.ctx, n, loop.body))
        new = _fresh_name(self.ctx, f"{dotted}_dev")
        ops = [InsertBefore(loop, f"{new} = {call}"), *(Replace(c, new) for c in same)]
        return self.plan(*ops, safe=bound and uses == len(same), description=f"compute `{new} = {call}` once above the training loop")

    def _bound_before(self, dotted: str, loop: cst.CSTNode) -> bool:
        """The receiver is bound in this file (a local or attribute we can see), not a mystery global."""
        return dotted.split(".")[0] in self.ctx.bindings or dotted in self.ctx.bindings or _is_parameter(self.ctx, dotted, loop)


class HostTensorThenMove(Rule):
    code = "ADV102"
    name = "host-tensor-then-move"
    summary = "A tensor created on the host each step and then moved to the device"
    message = "Create the tensor on the device with `device=` instead of building it on the host and moving it"
    why = (
        "The tensor is allocated and filled in host memory, then copied to the device: two allocations and "
        "a host-to-device transfer per call, where `device=` allocates it directly on the device."
    )
    suggestion = "pass `device=` to the factory, e.g. `torch.zeros(n, device=device)`"
    triggers = (".to(", ".cuda(", "cuda.FloatTensor", "cuda.LongTensor", "cuda.DoubleTensor", "cuda.HalfTensor")
    pair = "adv102"
    fix_safe = True
    fix_title = "create the tensor with `device=`"
    docs = RuleDocs(
        what="Finds `torch.zeros(...).to(device)`, `torch.randn(...).cuda()`, `torch.tensor(x).to(device)` "
        "and similar factory calls immediately moved to a device, inside a loop or a module's `forward` "
        "(which runs every step).",
        why="A factory without `device=` builds the tensor in host memory; `.to(device)` then allocates "
        "again on the device and copies. For shape factories (zeros, ones, randn, arange…) `device=` "
        "removes the copy entirely.",
        example="""
            import torch

            class Model(torch.nn.Module):
                def forward(self, x):
                    h = torch.zeros(x.shape[0], 128).to(x.device)
                    return x + h.sum()
        """,
        use_instead="""
            import torch

            class Model(torch.nn.Module):
                def forward(self, x):
                    h = torch.zeros(x.shape[0], 128, device=x.device)
                    return x + h.sum()
        """,
        references=("PyTorch Performance Tuning Guide: create tensors directly on the target device",),
    )

    def visit_Call(self, node: cst.Call) -> None:
        moved = self._moved(node)
        if moved is None:
            return
        expr, move, device = moved
        origin = factory_origin(self.ctx, expr)
        if origin is None and isinstance(unwrap_variable(self.ctx, expr), cst.Name):
            origin = self._origin_of_name(unwrap_variable(self.ctx, expr), node)  # type: ignore[arg-type]
        if origin is None:
            return
        factory, q = origin.factory, origin.qualname
        if keyword(factory, "device") is not None or has_star_args(factory):
            return
        via = None
        repeated = self._repeats(node)
        if repeated is None:
            rep = call_graph(self.ctx).repeat_of(node)
            if rep is None:
                return
            repeated, via = (Confidence.HIGH if rep.training and not rep.gated else Confidence.MEDIUM), rep
        confidence = repeated if q in SHAPE_FACTORIES or origin.suggest != origin.qualname.rsplit(".", 1)[-1] else Confidence.MEDIUM
        self.report(
            node,
            f"Create this tensor on the device: `torch.{origin.suggest}(..., device={device})` instead of `{move}` afterwards",
            confidence=confidence,
            suggestion=f"pass `device={device}` to `torch.{origin.suggest}` and drop the `{move}`",
            fix=self._with_device(node, factory, q) if origin.direct and move.startswith(".") else None,
            via=via,
        )

    def _moved(self, node: cst.Call) -> tuple[cst.BaseExpression, str, str] | None:
        """(the expression moved to the device, how it is moved, the device as source text) for a `.to()` /
        `.cuda()` call, a project helper that moves its argument, or a CUDA tensor type built from a NumPy
        draw; None for anything else."""
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("to", "cuda"):
            if move_target(self.ctx, node) != "device" or len(positional(node)) > 1 or keyword(node, "dtype"):
                return None  # `.to(device, dtype)` or non-device targets: leave them alone
            attr = func.attr.value
            device = '"cuda"' if attr == "cuda" else _source((keyword(node, "device") or positional(node)[0]).value)
            return func.value, f".{attr}()", device
        helper = self._mover(node)
        if helper is not None:
            index, attr = helper
            args = positional(node)
            if index < len(args):
                device = '"cuda"' if attr == "cuda" else "device"
                return args[index].value, f"{_source(node.func)}(...)", device
            return None
        origin = factory_origin(self.ctx, node)
        if origin is not None and origin.qualname == dotted_name(node.func) and alias_on_device(self.ctx, node):
            return node, f"{_source(node.func)}(...)", '"cuda"'
        return None

    def _mover(self, call: cst.Call) -> tuple[int, str] | None:
        """A function of this file whose every `return` moves its parameter to the device
        (`return Variable(x).cuda()` / `return x.to(device)`, maybe only under a CUDA check): the index of
        that argument at this call site, and the move used."""
        for target in call_graph(self.ctx).targets(call):
            found = _moved_parameter(self.ctx, target)
            if found is not None:
                name, attr = found
                params = [p.name.value for p in target.params.params]
                if params and params[0] == "self" and isinstance(call.func, cst.Attribute):
                    params = params[1:]
                if name in params:
                    return params.index(name), attr
        return None

    def _origin_of_name(self, name: cst.Name, move: cst.Call) -> Origin | None:
        """`z = torch.randn(...)` in an earlier statement, then `z.cuda()` / `helper(z)`: the tensor was
        built on the host. The loop-wide binding check of the plain shape comes first; then the nearest
        earlier assignment of the same block (following `eta = eta.expand(...)` rebindings)."""
        factory = self._factory_bound_to(name, move)
        if factory is not None:
            origin = factory_origin(self.ctx, factory)
            return Origin(origin.factory, origin.qualname, origin.suggest, origin.direct) if origin else None
        current: cst.CSTNode = move
        for _ in range(4):
            value = preceding_binding(self.ctx, name.value, current)
            if value is None:
                return None
            origin = factory_origin(self.ctx, value)
            if origin is not None:
                return Origin(origin.factory, origin.qualname, origin.suggest, False)
            base = unwrap_variable(self.ctx, value)
            while isinstance(base, cst.Call) and call_attr(base) in SAME_TENSOR and isinstance(base.func, cst.Attribute):
                base = base.func.value
            if not (isinstance(base, cst.Name) and base.value == name.value):
                return None
            current = value
        return None


    def _factory_bound_to(self, name: cst.Name, move: cst.Call) -> cst.Call | None:
        """The factory call `name` holds when it is moved: inside the loop around the move, every binding of
        the name is that one factory or the move of the name itself. Anything else (a batch, a carried
        state, a binding outside the loop) leaves the origin unknown."""
        loop = self.ctx.innermost_loop(move)
        if loop is None:
            return None
        factory: cst.Call | None = None
        for value in self.ctx.bindings.get(name.value, ()):
            if not any(a is loop for a in self.ctx.ancestors(value)):
                return None
            if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value in ("to", "cuda"):
                if isinstance(value.func.value, cst.Name) and value.func.value.value == name.value:
                    continue
            candidate = unwrap_variable(self.ctx, value)
            if factory is not None or not isinstance(candidate, cst.Call):
                return None
            factory = candidate
        return factory

    @guarded
    def _with_device(self, node: cst.Call, factory: cst.Call, qualname: str) -> FixPlan | None:
        """`torch.zeros(n).to(d)` → `torch.zeros(n, device=d)`: the same values, dtype and layout.

        Unsafe for random factories (the device's generator draws other numbers) and with
        `requires_grad=True` (the result becomes a leaf tensor, so gradients reach it differently).
        """
        move = node.func.attr.value  # type: ignore[union-attr]
        if move == "cuda":
            if node.args:
                return None
            device: cst.BaseExpression = cst.SimpleString('"cuda"')
        else:
            extra = [a for a in node.args if a.keyword is not None and a.keyword.value != "device"]
            if extra or len(node.args) != 1:
                return None  # non_blocking=, copy=, memory_format=: keep the explicit move
            device = node.args[0].value
        grad = keyword(factory, "requires_grad")
        safe = qualname not in RANDOM_FACTORIES and (grad is None or (isinstance(grad.value, cst.Name) and grad.value.value == "False"))
        return self.plan(Replace(node, with_keyword(factory, "device", device)), safe=safe)

    def _repeats(self, node: cst.CSTNode) -> Confidence | None:
        """HIGH inside a training step loop or a module's forward, MEDIUM in another loop, None once-only."""
        if self.ctx.in_test_function(node):
            return None
        loop = self.ctx.innermost_loop(node)
        if loop is not None:
            if self.ctx.loop_facts(loop).is_step_loop and not self.ctx.is_conditional_within(node, loop):
                return Confidence.HIGH
            return Confidence.MEDIUM
        func = self.ctx.enclosing_function(node)
        cls = self.ctx.enclosing_class(node)
        if func is not None and func.name.value == "forward" and cls is not None and cls.name.value in self.ctx.module_classes():
            return Confidence.HIGH
        return None


def _moved_parameter(ctx: FileContext, func: cst.FunctionDef) -> tuple[str, str] | None:
    """(parameter, "cuda" | "to") when every `return` of `func` returns that parameter moved to the device
    (through `Variable(...)`), or the parameter itself on a CPU-only branch."""
    moved: tuple[str, str] | None = None
    returns = [n for n in walk(func.body) if isinstance(n, cst.Return)]
    for ret in returns:
        value = ret.value
        if value is None:
            return None
        value = unwrap_variable(ctx, value)
        attr = call_attr(value) if isinstance(value, cst.Call) else None
        if attr in ("cuda", "to") and move_target(ctx, value) == "device":  # type: ignore[arg-type]
            inner = unwrap_variable(ctx, value.func.value)  # type: ignore[union-attr]
            if not isinstance(inner, cst.Name) or (moved is not None and moved[0] != inner.value):
                return None
            moved = (inner.value, attr)  # type: ignore[assignment]
        elif not (isinstance(value, cst.Name) and (moved is None or moved[0] == value.value)):
            return None
    return moved


def _names(node: cst.CSTNode) -> list[str]:
    out: list[str] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (cst.Name, cst.Attribute)):
            d = dotted_name(n)
            if d:
                out.append(d)
                continue
        stack.extend(n.children)
    return out


def _inside(ctx: FileContext, node: cst.CSTNode, container: cst.CSTNode) -> bool:
    return any(a is container for a in ctx.ancestors(node))


def _moves_in(ctx: FileContext, loop: cst.For | cst.While, dotted: str) -> list[cst.Call]:
    """Calls in the loop body that move or convert `dotted` (`dotted.to(...)`, `.cuda()`, `.half()`...)."""
    return [
        c
        for attr in MOVES
        for c in ctx.calls_by_attr.get(attr, ())
        if dotted_name(c.func.value) == dotted and _inside(ctx, c, loop.body)  # type: ignore[union-attr]
    ]


def _fresh_name(ctx: FileContext, base: str) -> str:
    return fresh_name({n.value for n in ctx.nodes_by_type.get("Name", ())}, base)


def _is_discarded(ctx, node: cst.Call) -> bool:  # type: ignore[no-untyped-def]
    parent = ctx.parent(node)
    return isinstance(parent, cst.Expr)


def _is_parameter(ctx, dotted: str, loop: cst.CSTNode) -> bool:  # type: ignore[no-untyped-def]
    func = ctx.enclosing_function(loop)
    if func is None:
        return False
    head = dotted.split(".")[0]
    params = func.params
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    return any(p.name.value == head for p in every)
