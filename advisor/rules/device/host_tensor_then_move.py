"""ADV102: a tensor built on the host every step and then moved, where `device=` builds it in place."""

from __future__ import annotations

from typing import Any

import libcst as cst

from advisor.callgraph import call_graph
from advisor.context import FileContext
from advisor.kinds import move_target
from advisor.syntax import call_attr, dotted_name, has_star_args, keyword, node_code, positional, walk
from advisor.host_tensors import SAME_TENSOR, SHAPE_FACTORIES, Origin, alias_on_device, factory_origin, preceding_binding, unwrap_variable
from advisor.fixes import FixPlan, Replace, guarded, with_keyword
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence
from advisor.verify.sizes import Literals, nearest

# Drawing random numbers on the device uses the device's generator: same distribution, other values.
RANDOM_FACTORIES = frozenset({"torch.rand", "torch.randn", "torch.randint", "torch.randperm"})

class HostTensorThenMove(Rule):
    code = "ADV102"
    runtime_signal = "host-move"
    name = "host-tensor-then-move"
    summary = "A tensor created on the host each step and then moved to the device"
    message = "Create the tensor on the device with `device=` instead of building it on the host and moving it"
    why = (
        "The tensor is allocated and filled in host memory, then copied to the device: two allocations and "
        "a host-to-device transfer per call, where `device=` allocates it directly on the device."
    )
    suggestion = "pass `device=` to the factory, e.g. `torch.zeros(n, device=device)`"
    triggers = (".to(", ".cuda(", "cuda.FloatTensor", "cuda.LongTensor", "cuda.DoubleTensor", "cuda.HalfTensor")
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

    _candidates: dict[int, str] | None = None  # see `_mover_candidates`
    _candidate_names: set[str] = set()

    # 64 Mi elements: beyond this one verification takes minutes.
    size_caps = {"n": 64 * 2**20}
    @classmethod
    def pair_sizes(cls, lits: Literals, line: int, end_line: int) -> dict[str, Any]:
        """The element count of the literal shape built on the flagged line."""
        shape = nearest([(ln, s) for ln, s in lits.shapes if ln == line], line)
        if not shape:
            return {}
        total = 1
        for d in shape:
            total *= d
        return {"n": total}

    def visit_Call(self, node: cst.Call) -> None:
        moved = self._moved(node)
        if moved is None:
            return
        expr, move, device = moved
        origin = factory_origin(self.ctx, expr)
        unwrapped = unwrap_variable(self.ctx, expr)
        if origin is None and isinstance(unwrapped, cst.Name):
            origin = self._origin_of_name(unwrapped, node)
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
            device = '"cuda"' if attr == "cuda" else node_code((keyword(node, "device") or positional(node)[0]).value)
            return func.value, f".{attr}()", device
        helper = self._mover(node)
        if helper is not None:
            index, attr = helper
            args = positional(node)
            if index < len(args):
                device = '"cuda"' if attr == "cuda" else "device"
                return args[index].value, f"{node_code(node.func)}(...)", device
            return None
        if not self.ctx.bindings.get(dotted_name(node.func) or ""):
            return None  # no alias bound under the called name: not `Tensor(...)` with a CUDA type (below)
        origin = factory_origin(self.ctx, node)
        if origin is not None and origin.qualname == dotted_name(node.func) and alias_on_device(self.ctx, node):
            return node, f"{node_code(node.func)}(...)", '"cuda"'
        return None

    def _mover(self, call: cst.Call) -> tuple[int, str] | None:
        """A function of this file whose every `return` moves its parameter to the device
        (`return Variable(x).cuda()` / `return x.to(device)`, maybe only under a CUDA check): the index of
        that argument at this call site, and the move used."""
        candidates = self._mover_candidates()
        if not candidates or not self._may_reach(call, candidates):
            return None
        for target in call_graph(self.ctx).targets(call):
            if id(target) not in candidates:
                continue  # no `.to()` / `.cuda()` call inside: `_moved_parameter` would find nothing
            found = _moved_parameter(self.ctx, target)
            if found is not None:
                name, attr = found
                params = [p.name.value for p in target.params.params]
                if params and params[0] == "self" and isinstance(call.func, cst.Attribute):
                    params = params[1:]
                if name in params:
                    return params.index(name), attr
        return None

    def _mover_candidates(self) -> dict[int, str]:
        """The functions holding a `.to()` / `.cuda()` call (nested ones count: `_moved_parameter` walks them
        too), by id, with their names; only these can move a parameter. Found once per file from the index."""
        if self._candidates is None:
            found: dict[int, str] = {}
            for attr in ("to", "cuda"):
                for call in self.ctx.calls_by_attr.get(attr, ()):
                    for a in self.ctx.ancestors(call):
                        if isinstance(a, cst.FunctionDef):
                            found[id(a)] = a.name.value
            self._candidates = found
            self._candidate_names = set(found.values())
        return self._candidates

    def _may_reach(self, call: cst.Call, candidates: dict[int, str]) -> bool:
        """The call graph resolves `f(...)` / `x.f(...)` to a function named `f` or to a `forward`: without
        a candidate of either name, no target of this call can move its argument."""
        func = call.func
        name = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else None
        return name in self._candidate_names or "forward" in self._candidate_names

    def _origin_of_name(self, name: cst.Name, move: cst.Call) -> Origin | None:
        """`z = torch.randn(...)` in an earlier statement, then `z.cuda()` / `helper(z)`: the tensor was
        built on the host. The loop-wide binding check of the plain shape comes first; then the nearest
        earlier assignment of the same block (following `eta = eta.expand(...)` rebindings). A tensor
        whose items are then written on the host (`batch[i, :n] = row`) holds data: created on the device,
        each write would become a copy, so it is left alone."""
        if self._written_by_index(name.value, move):
            return None
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


    def _written_by_index(self, name: str, move: cst.Call) -> bool:
        """`name[...] = ...` (or `name[i][j] = ...`, `+=`) before the move, in the function (or module)
        that moves it: the items were written on the host. Writes after the move are on the device."""
        scope: cst.CSTNode = self.ctx.enclosing_function(move) or self.ctx.module
        for node in walk(scope):
            if node is move:
                return False
            if isinstance(node, (cst.Assign, cst.AugAssign)):
                targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
                for target in targets:
                    base: cst.BaseExpression = target
                    while isinstance(base, cst.Subscript):
                        base = base.value
                    if base is not target and isinstance(base, cst.Name) and base.value == name:
                        return True
        return False

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
        move = call_attr(node)
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
        func_ = value.func if isinstance(value, cst.Call) else None
        attr = func_.attr.value if isinstance(func_, cst.Attribute) else None
        if isinstance(value, cst.Call) and isinstance(func_, cst.Attribute) and attr in ("cuda", "to") and move_target(ctx, value) == "device":
            inner = unwrap_variable(ctx, func_.value)
            if not isinstance(inner, cst.Name) or (moved is not None and moved[0] != inner.value):
                return None
            moved = (inner.value, attr)
        elif not (isinstance(value, cst.Name) and (moved is None or moved[0] == value.value)):
            return None
    return moved
