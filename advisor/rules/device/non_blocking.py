"""ADV104: batches from a pinned-memory DataLoader copied to the GPU without `non_blocking=True`."""

from __future__ import annotations

from typing import Callable, cast

import libcst as cst

from advisor.context import FileContext
from advisor.syntax import dotted_name, has_star_args, keyword, node_code
from advisor.fixes import FixPlan, Replace, guarded, with_keyword
from advisor.rule import Rule, RuleDocs
from advisor.rules._training import LoaderUse, all_loader_uses, arg_value, batch_moves, host_copy_written, literal
from advisor.types import Confidence

CUDA_AVAILABLE = "torch.cuda.is_available"


class CopyWithoutNonBlocking(Rule):
    code = "ADV104"
    name = "copy-without-non-blocking"
    summary = "Pinned DataLoader batches copied to the GPU without `non_blocking=True`"
    message = "Pass `non_blocking=True` to this copy: the loader pins its batches, so the copy can overlap with GPU work"
    why = (
        "A host-to-GPU copy without `non_blocking=True` blocks the Python thread until the copy is done; "
        "from pinned memory it can run asynchronously while the host prepares the next step."
    )
    suggestion = "write `.to(device, non_blocking=True)` (or `.cuda(non_blocking=True)`) for batches of a `pin_memory=True` loader"
    triggers = ("pin_memory",)
    # Adding the keyword keeps every value, but a batch changed in place on the host after the copy was
    # queued would race with it; we cannot prove it is not, so the fix is offered as unsafe.
    fix_safe = False
    fix_title = "add `non_blocking=True` to the copy"
    docs = RuleDocs(
        what="Finds `.to(device)` and `.cuda()` calls that copy the batches of a DataLoader built with "
        "`pin_memory=True` (or `pin_memory=torch.cuda.is_available()`, also through a `**kwargs` dict "
        "literal) to the GPU inside a loop that trains, in a file that shows CUDA, without a "
        "`non_blocking=` argument. Loaders without pinning are ADV204's business; a `non_blocking=` of any "
        "value, a `**kwargs` call and copies of tensors that are not the batch are left alone.",
        why="Pinning only pays off when the copy is asynchronous. With `non_blocking=False` (the default) the "
        "host waits for every batch copy to finish before it queues the forward pass, so the transfer and "
        "the previous step's GPU work cannot overlap and the pinned buffer buys little.",
        example="""
            import torch
            from torch.utils.data import DataLoader

            device = torch.device("cuda")
            loader = DataLoader(train_set, batch_size=256, shuffle=True, num_workers=4, pin_memory=True)
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                loss = loss_fn(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """,
        use_instead="""
            for x, y in loader:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                loss = loss_fn(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """,
        references=(
            "PyTorch tutorial: A guide on good usage of non_blocking and pin_memory()",
            "PyTorch Performance Tuning Guide: enable asynchronous data loading and augmentation",
            "PyTorch docs: torch.Tensor.to (non_blocking)",
        ),
    )

    def finish(self) -> None:
        if not self.ctx.runs_on_cuda:
            return
        seen: set[int] = set()
        for call, uses in all_loader_uses(self.ctx):
            if not self._pins(call):
                continue
            for use in uses:
                if use.training:
                    self._check(use, seen)

    def _check(self, use: LoaderUse, seen: set[int]) -> None:
        for move in sorted(batch_moves(self.ctx, use), key=_order(self.ctx)):
            if id(move) in seen or has_star_args(move) or _has_non_blocking(move) or host_copy_written(self.ctx, move):
                continue
            seen.add(id(move))
            shown = node_code(cast(cst.Attribute, move.func).value)  # batch_moves yields `x.to(...)` / `x.cuda()` calls
            self.report(
                move,
                f"Pass `non_blocking=True` when copying `{shown}`: its loader pins memory, so the copy can overlap with GPU work",
                confidence=Confidence.HIGH,
                fix=self._fix(move),
            )

    @guarded
    def _fix(self, move: cst.Call) -> FixPlan | None:
        return self.plan(Replace(move, with_keyword(move, "non_blocking", cst.Name("True"))))

    def _pins(self, call: cst.Call) -> bool:
        """The loader is built with pinned memory: a literal True, `torch.cuda.is_available()`, or a
        `**kwargs` dict literal (either branch of a conditional) that says so."""
        arg = arg_value(call, "pin_memory", 7)
        if arg is not None:
            return self._true(arg.value)
        for star in (a for a in call.args if a.star == "**"):
            if any(self._dict_pins(d) for d in self._dicts(star.value)):
                return True
        return False

    def _true(self, expr: cst.BaseExpression) -> bool:
        value = literal(self.ctx, expr)
        if isinstance(value, cst.Name) and value.value == "True":
            return True
        return isinstance(expr, cst.Call) and self.ctx.call_qualname(expr) == CUDA_AVAILABLE

    def _dicts(self, expr: cst.BaseExpression) -> list[cst.Dict | cst.Call]:
        """Dict literals (`{...}` or `dict(...)`) that `expr` may be, through names and conditionals."""
        if isinstance(expr, cst.Dict) or (isinstance(expr, cst.Call) and dotted_name(expr.func) == "dict"):
            return [expr]
        if isinstance(expr, cst.IfExp):
            return self._dicts(expr.body) + self._dicts(expr.orelse)
        name = dotted_name(expr)
        if name is None:
            return []
        return [d for v in self.ctx.bindings.get(name, []) if not isinstance(v, cst.Name) for d in self._dicts(v)]

    def _dict_pins(self, d: cst.Dict | cst.Call) -> bool:
        if isinstance(d, cst.Call):
            arg = keyword(d, "pin_memory")
            return arg is not None and self._true(arg.value)
        for el in d.elements:
            if isinstance(el, cst.DictElement) and isinstance(el.key, cst.SimpleString):
                if el.key.evaluated_value == "pin_memory" and self._true(el.value):
                    return True
        return False


def _has_non_blocking(call: cst.Call) -> bool:
    return keyword(call, "non_blocking") is not None


def _order(ctx: FileContext) -> Callable[[cst.Call], int]:
    order = {id(n): i for i, n in enumerate(ctx.nodes(cst.Call))}
    return lambda call: order.get(id(call), 0)
