"""ADV204: a DataLoader feeding a CUDA training loop without pinned memory."""

from __future__ import annotations

from typing import Any

import libcst as cst

from advisor.syntax import has_star_args, keyword, positional, walk
from advisor.fixes import FixPlan, Replace, guarded, with_keyword
from advisor.rule import RuleDocs
from advisor.rules._training import LoaderUse, arg_value, batch_moves, host_copy_written, literal, moves_batches
from advisor.rules.data._loader import _LoaderRule
from advisor.types import Confidence, Severity
from advisor.verify.sizes import Literals, matrices, nearest


class DataLoaderNoPinMemory(_LoaderRule):
    code = "ADV204"
    runtime_signal = "unpinned-copy"
    name = "dataloader-no-pin-memory"
    summary = "DataLoader feeding a CUDA training loop without `pin_memory=True`"
    message = "Pass `pin_memory=True` to this DataLoader: its batches are copied to the GPU every step"
    # Measured on an H100 with `advisor verify`: no significant gain at any size tried (docs/verify.md), so
    # this is advice to measure on the user's own host, not a warning.
    severity = Severity.INFO
    why = (
        "Copies from pageable host memory are staged through a pinned buffer by the driver and cannot "
        "overlap with compute; batches the loader puts in pinned memory are copied by DMA, asynchronously "
        "with `.to(device, non_blocking=True)`."
    )
    suggestion = "add `pin_memory=True` to the DataLoader and move batches with `.to(device, non_blocking=True)`"
    # The batches hold the same values; only the memory they sit in changes, and a host-to-device copy
    # with non_blocking=True is ordered before every later use of the copy on its stream.
    fix_safe = True
    fix_title = "add `pin_memory=True` to the DataLoader and `non_blocking=True` to the copies of its batches"
    docs = RuleDocs(
        what="Finds a `DataLoader` whose batches feed a training loop that moves them to the device "
        "(`x.to(device)`, `x.cuda()`) in a file that shows CUDA (`.cuda()`, `\"cuda\"`, "
        "`torch.device(\"cuda\")`), with no `pin_memory` or `pin_memory=False`. A value from a variable or "
        "config (`pin_memory=use_cuda`) is left alone.",
        why="A host-to-GPU copy from ordinary (pageable) memory is synchronous and goes through an extra "
        "staging copy. The loader can return batches in page-locked memory instead; the copy then runs "
        "by DMA and, with `non_blocking=True`, overlaps with the GPU's work on the previous batch.",
        example="""
            import torch
            from torch.utils.data import DataLoader

            device = torch.device("cuda")
            loader = DataLoader(train_set, batch_size=128, shuffle=True, num_workers=4)
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                loss = loss_fn(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """,
        use_instead="""
            import torch
            from torch.utils.data import DataLoader

            device = torch.device("cuda")
            loader = DataLoader(train_set, batch_size=128, shuffle=True, num_workers=4, pin_memory=True)
            for x, y in loader:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                loss = loss_fn(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """,
        references=(
            "PyTorch Performance Tuning Guide: enable asynchronous data loading and augmentation (pin_memory)",
            "PyTorch docs: torch.utils.data, Memory Pinning",
            "PyTorch tutorial: A guide on good usage of non_blocking and pin_memory()",
        ),
    )

    @classmethod
    def pair_sizes(cls, lits: Literals, line: int, end_line: int) -> dict[str, Any]:
        """The nearest literal matrix shape is the data set (samples, features); the nearest literal
        DataLoader `batch_size` the batch."""
        out: dict[str, Any] = {}
        shape = nearest(matrices(lits), line)
        if shape:
            out["samples"], out["features"] = shape
        batch = nearest(lits.batch_sizes, line)
        if batch:
            out["batch_size"] = batch
        return out

    def finish(self) -> None:
        if self.ctx.runs_on_cuda:
            super().finish()

    def check(self, call: cst.Call, uses: list[LoaderUse]) -> None:
        arg = arg_value(call, "pin_memory", 7)
        if arg is not None:
            value = literal(self.ctx, arg.value)
            if not (isinstance(value, cst.Name) and value.value == "False"):
                return
        moving = [u for u in uses if moves_batches(self.ctx, u)]
        if not moving:
            return
        fix = self._pin(call, arg, [m for u in moving for m in batch_moves(self.ctx, u)])
        if any(self._non_blocking(u) for u in moving):
            self.report(
                call,
                "Pass `pin_memory=True` to this DataLoader: `non_blocking=True` copies from unpinned memory are still synchronous",
                confidence=Confidence.HIGH,
                fix=fix,
            )
        else:
            self.report(call, confidence=Confidence.HIGH, fix=fix)

    @guarded
    def _pin(self, call: cst.Call, arg: cst.Arg | None, moves: list[cst.Call]) -> FixPlan | None:
        """`pin_memory=False` → `True`, or the keyword added (never beside `**kwargs`, which may hold it),
        and `non_blocking=True` on each copy of a batch, without which pinning gains nothing. When a copy
        cannot take the keyword (or its host batch is changed in place), that copy stays synchronous and the fix says so."""
        if arg is not None:
            pin = Replace(arg.value, "True")
        elif has_star_args(call):
            return None
        else:
            pin = Replace(call, with_keyword(call, "pin_memory", cst.Name("True")))
        unique = list({id(m): m for m in moves}.values())
        todo = [m for m in unique if keyword(m, "non_blocking") is None]
        unsafe = [m for m in todo if has_star_args(m) or len(positional(m)) > 1 or host_copy_written(self.ctx, m)]
        copies = [Replace(m, with_keyword(m, "non_blocking", cst.Name("True"))) for m in todo if m not in unsafe]
        if unsafe:
            return self.plan(pin, *copies, description="add `pin_memory=True` to the DataLoader and `non_blocking=True` to the "
                             "copies that can take it (a copy whose host batch is changed in place, or that passes other "
                             "arguments, stays synchronous)")
        return self.plan(pin, *copies)

    def _non_blocking(self, use: LoaderUse) -> bool:
        for node in walk(use.loop.body):
            if isinstance(node, cst.Arg) and node.keyword is not None and node.keyword.value == "non_blocking":
                return True
        return False

