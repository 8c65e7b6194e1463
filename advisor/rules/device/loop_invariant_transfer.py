"""ADV101: a model or constant tensor copied to the device every training step, where once would do."""

from __future__ import annotations

from typing import Any

import libcst as cst

from advisor.callgraph import call_graph
from advisor.context import STEP_TRIGGERS, FileContext
from advisor.kinds import move_target
from advisor.syntax import call_receiver, dotted_name, node_code
from advisor.host_tensors import host_corpus
from advisor.fixes import DeleteLine, FixPlan, InsertBefore, Op, Replace, fresh_name, guarded
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence
from advisor.verify.sizes import Literals, matrices, nearest

# Calls that move or convert a module or tensor; another one on the same object keeps a hoist from being safe.
MOVES = frozenset({"to", "cuda", "cpu", "half", "float", "double", "bfloat16", "type", "xpu", "mps", "to_empty", "apply", "_apply"})

def _is_invariant(dotted: str, assigned: set[str]) -> bool:
    """`self.model` is invariant in a loop unless `self`, `self.model` or a longer target is rebound."""
    parts = dotted.split(".")
    prefixes = {".".join(parts[: i + 1]) for i in range(len(parts))}
    if prefixes & assigned:
        return False
    return not any(a.startswith(dotted + ".") for a in assigned)

class LoopInvariantTransfer(Rule):
    code = "ADV101"
    runtime_signal = "same-tensor-move"
    name = "loop-invariant-transfer"
    summary = "A model or constant tensor moved to the device inside the training loop"
    message = "Move this `.to(device)` above the training loop: the object does not change between steps"
    why = (
        "A tensor that lives on the host is copied to the device again on every step (a synchronous "
        "host-to-device transfer); moving a module repeats a walk over all its parameters. Once is enough."
    )
    suggestion = "move it once before the loop and keep the device copy (`w = w.to(device)` above the loop)"
    triggers = STEP_TRIGGERS
    called_triggers = (".to(", ".cuda(")  # a helper another module calls every step (corpus slices)
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

    @classmethod
    def pair_sizes(cls, lits: Literals, line: int, end_line: int) -> dict[str, Any]:
        """The nearest literal matrix shape is one batch: (batch, features)."""
        shape = nearest(matrices(lits), line)
        return dict(zip(("batch", "features"), shape)) if shape else {}

    def visit_Call(self, node: cst.Call) -> None:
        if type(node.func) is not cst.Attribute or node.func.attr.value not in ("to", "cuda"):
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
        call = node_code(node)
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
        moved = call_receiver(node)
        corpus = host_corpus(self.ctx, moved, node) if moved is not None else None
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
        return self.plan(InsertBefore(loop, node_code(node)), DeleteLine(line), safe=not others)

    @guarded
    def _hoist_tensor_move(self, node: cst.Call, loop: cst.For | cst.While, dotted: str, bound: bool) -> FixPlan | None:
        """`w.to(device)` inside an expression: compute `w_dev = w.to(device)` once above the loop and use it.

        Safe only for a plain local name bound before the loop that the loop touches through this very
        move and nothing else (no in-place update could make the hoisted copy stale); otherwise unsafe.
        """
        if not isinstance(call_receiver(node), cst.Name):
            return None
        call = node_code(node)
        same = [c for c in _moves_in(self.ctx, loop, dotted) if node_code(c) == call]
        uses = sum(1 for n in self.ctx.nodes(cst.Name) if isinstance(n, cst.Name) and n.value == dotted and _inside(self.ctx, n, loop.body))
        new = _fresh_name(self.ctx, f"{dotted}_dev")
        ops: list[Op] = [InsertBefore(loop, f"{new} = {call}"), *(Replace(c, new) for c in same)]
        return self.plan(*ops, safe=bound and uses == len(same), description=f"compute `{new} = {call}` once above the training loop")

    def _bound_before(self, dotted: str, loop: cst.CSTNode) -> bool:
        """The receiver is bound in this file (a local or attribute we can see), not a mystery global."""
        return dotted.split(".")[0] in self.ctx.bindings or dotted in self.ctx.bindings or _is_parameter(self.ctx, dotted, loop)

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
        if dotted_name(call_receiver(c)) == dotted and _inside(ctx, c, loop.body)
    ]

def _fresh_name(ctx: FileContext, base: str) -> str:
    return fresh_name({n.value for n in ctx.nodes(cst.Name)}, base)

def _is_discarded(ctx: FileContext, node: cst.Call) -> bool:
    parent = ctx.parent(node)
    return isinstance(parent, cst.Expr)

def _is_parameter(ctx: FileContext, dotted: str, loop: cst.CSTNode) -> bool:
    func = ctx.enclosing_function(loop)
    if func is None:
        return False
    head = dotted.split(".")[0]
    params = func.params
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    return any(p.name.value == head for p in every)
