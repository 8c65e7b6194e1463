"""ADV102: a tensor built on the host every step and then moved, where `device=` builds it in place."""

from __future__ import annotations

from typing import Any

import libcst as cst

from advisor.context import FileContext, has_star_args, keyword, move_target, positional
from advisor.fixes import FixPlan, Replace, guarded, node_code, with_keyword
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence
from advisor.verify.sizes import Literals, nearest

# Factories that build a tensor from a shape: with `device=` they allocate straight on the device.
SHAPE_FACTORIES = frozenset(
    "torch.zeros torch.ones torch.full torch.empty torch.rand torch.randn torch.randint torch.randperm "
    "torch.arange torch.linspace torch.logspace torch.eye torch.tril_indices torch.triu_indices".split()
)

# Factories that copy Python/NumPy data: `device=` saves the intermediate host tensor, not the copy.
DATA_FACTORIES = frozenset({"torch.tensor", "torch.as_tensor"})

# Drawing random numbers on the device uses the device's generator: same distribution, other values.
RANDOM_FACTORIES = frozenset({"torch.rand", "torch.randn", "torch.randint", "torch.randperm"})

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
    triggers = (".to(", ".cuda(")
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
        if not isinstance(node.func, cst.Attribute) or node.func.attr.value not in ("to", "cuda"):
            return
        factory: cst.BaseExpression | None = _unwrap_variable(self.ctx, node.func.value)
        if isinstance(factory, cst.Name):
            factory = self._factory_bound_to(factory, node)  # `h = torch.zeros(n)` ... `h = h.cuda()`
        if factory is None:
            return
        q = self.ctx.call_qualname(factory)
        if q not in SHAPE_FACTORIES and q not in DATA_FACTORIES:
            return
        assert isinstance(factory, cst.Call)
        if keyword(factory, "device") is not None or has_star_args(factory):
            return
        if move_target(self.ctx, node) != "device" or len(positional(node)) > 1 or keyword(node, "dtype"):
            return  # `.to(device, dtype)` or non-device targets: leave them alone
        repeated = self._repeats(node)
        if repeated is None:
            return
        confidence = repeated if q in SHAPE_FACTORIES else Confidence.MEDIUM
        short = q.rsplit(".", 1)[-1]
        device = '"cuda"' if node.func.attr.value == "cuda" else node_code((keyword(node, "device") or positional(node)[0]).value)
        self.report(
            node,
            f"Create this tensor on the device: `torch.{short}(..., device={device})` instead of `.{node.func.attr.value}()` afterwards",
            confidence=confidence,
            suggestion=f"pass `device={device}` to `torch.{short}` and drop the `.{node.func.attr.value}(...)`",
            fix=self._with_device(node, factory, q),
        )

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
            candidate = _unwrap_variable(self.ctx, value)
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
        move = node.func.attr.value
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

def _unwrap_variable(ctx: FileContext, node: cst.BaseExpression) -> cst.BaseExpression:
    """`Variable(torch.ones(n))` is `torch.ones(n)` for placement: the legacy wrapper copies nothing."""
    if isinstance(node, cst.Call) and ctx.qualname(node.func) == "torch.autograd.Variable":
        args = positional(node)
        if len(args) == 1 and len(node.args) == 1:
            return args[0].value
    return node
