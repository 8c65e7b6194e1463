"""ADV501: single-process `nn.DataParallel` where DistributedDataParallel scales."""

from __future__ import annotations

import re

import libcst as cst

from advisor.context import FileContext
from advisor.syntax import dotted_name
from advisor.rule import Rule, RuleDocs

DATA_PARALLEL = frozenset(
    {
        "torch.nn.DataParallel",
        "torch.nn.parallel.DataParallel",
        "torch.nn.parallel.data_parallel.DataParallel",
        "torch.nn.parallel.data_parallel",
        "torch.nn.parallel.data_parallel.data_parallel",
    }
)

DDP = frozenset(
    {
        "torch.nn.parallel.DistributedDataParallel",
        "torch.nn.parallel.distributed.DistributedDataParallel",
        "torch.nn.DistributedDataParallel",
    }
)
# A project's own wrapper around DDP (often imported from a helper module): `smart_DDP`, `wrap_ddp`.
DDP_WRAPPER = re.compile(r"((^|_)ddp(_|$)|DistributedDataParallel)", re.I)


class DataParallelInsteadOfDDP(Rule):
    code = "ADV501"
    runtime_unobservable = "DataParallel only splits work across two or more GPUs: needs them to observe"
    name = "data-parallel"
    summary = "`nn.DataParallel` used where `DistributedDataParallel` scales"
    message = "Use `DistributedDataParallel` (one process per GPU) instead of `nn.DataParallel`"
    why = (
        "DataParallel runs every GPU from one Python process: each step it scatters the batch, replicates "
        "the model and gathers outputs on GPU 0, under the GIL. DDP overlaps gradient all-reduce with the "
        "backward pass and is faster even on a single machine."
    )
    suggestion = (
        "launch with `torchrun --nproc_per_node=N`, call `dist.init_process_group()`, wrap the model in "
        "`DistributedDataParallel(model, device_ids=[local_rank])` and give the DataLoader a `DistributedSampler`"
    )
    triggers = ("DataParallel", "data_parallel")
    no_pair_reason = "needs two or more GPUs to measure: on one device DataParallel and DDP do the same work"
    docs = RuleDocs(
        what="Finds models wrapped in `torch.nn.DataParallel` (or the functional `data_parallel`), unless the "
        "same file also wraps in DDP (then DataParallel is the single-process fallback).",
        why="PyTorch's own documentation recommends DistributedDataParallel over DataParallel even on one "
        "machine: DataParallel is single-process and multi-threaded, replicates the module on every forward "
        "pass, gathers outputs on one device (unbalancing memory) and is limited by the GIL.",
        example="""
            import torch.nn as nn

            model = nn.DataParallel(Net()).cuda()
        """,
        use_instead="""
            import os
            import torch
            import torch.distributed as dist
            from torch.nn.parallel import DistributedDataParallel as DDP

            dist.init_process_group("nccl")
            local_rank = int(os.environ["LOCAL_RANK"])
            torch.cuda.set_device(local_rank)
            model = DDP(Net().cuda(local_rank), device_ids=[local_rank])
            # run with: torchrun --nproc_per_node=4 train.py
        """,
        references=(
            "PyTorch docs: torch.nn.DataParallel (note recommending DistributedDataParallel)",
            "PyTorch tutorial: Getting Started with Distributed Data Parallel",
        ),
    )

    def finish(self) -> None:
        calls = self.ctx.calls_to(DATA_PARALLEL)
        if calls and not self._file_wraps_in_ddp():
            for node in calls:
                self.report(node)

    def _file_wraps_in_ddp(self) -> bool:
        """DataParallel next to a DDP wrap in the same file is the single-process fallback of a script
        that already offers DDP (`if distributed: DDP(...) else: DataParallel(...)`): the advice is taken."""
        return wraps_in_ddp(self.ctx)


def wraps_in_ddp(ctx: FileContext) -> bool:
    """The file wraps a model in DistributedDataParallel, or in a project's own `*ddp*` helper (found
    once per file: two rules ask)."""
    found = ctx.shared.get("wraps_in_ddp")
    if found is None:
        wrapper: dict[str, bool] = {}  # per called name: DDP_WRAPPER matches it (a file repeats its names)
        found = ctx.shared["wraps_in_ddp"] = any(_wraps(ctx, call) for call in ctx.nodes(cst.Call) if _may_wrap(ctx, call, wrapper))
    return bool(found)


def _wraps(ctx: FileContext, call: cst.Call) -> bool:
    if ctx.call_qualname(call) in DDP:
        return True
    name = dotted_name(call.func)
    return name is not None and DDP_WRAPPER.search(name.rsplit(".", 1)[-1]) is not None


def _may_wrap(ctx: FileContext, call: cst.Call, wrapper: dict[str, bool]) -> bool:
    """A cheap necessary condition for `_wraps`: the called name's last part is a DDP wrapper's (which
    `DistributedDataParallel` is), or a bare name imported as DDP under another name."""
    func = call.func
    if type(func) is cst.Name:
        last = func.value
        if ctx.imports.get(last) in DDP:
            return True
    elif type(func) is cst.Attribute:
        last = func.attr.value
    else:
        return False
    found = wrapper.get(last)
    if found is None:
        found = wrapper[last] = DDP_WRAPPER.search(last) is not None
    return found
