"""ADV202: a training DataLoader that yields one sample per step (batch_size absent or 1)."""

from __future__ import annotations

from typing import Any

import libcst as cst

from advisor.rule import RuleDocs
from advisor.rules._training import LoaderUse, arg_value, literal
from advisor.rules.data._loader import _LoaderRule
from advisor.types import Confidence
from advisor.verify.sizes import Literals, matrices, nearest


class DataLoaderBatchSize(_LoaderRule):
    code = "ADV202"
    runtime_signal = "batch-of-one"
    name = "dataloader-batch-size-one"
    summary = "Training DataLoader with `batch_size` left at its default of 1 (or set to 1)"
    message = "Set `batch_size=` on this training DataLoader (e.g. `batch_size=64`): the default trains one sample per step"
    why = (
        "With batch size 1 every optimizer step runs the model, the backward pass and the update for a "
        "single sample: per-call overheads dominate and the vectorised kernels have almost nothing to work on."
    )
    suggestion = (
        "pass `batch_size=64` (any size from 32 to 256 that fits in memory; retune the learning rate with it); "
        "keep `batch_size=1` only for inputs that cannot be stacked"
    )
    docs = RuleDocs(
        what="Finds a `DataLoader` whose batches feed a training loop (a loop that calls `.backward()` or "
        "`optimizer.step()`) and that has no `batch_size` (the default is 1) or a literal `batch_size=1`. "
        "Loaders given `batch_sampler=`, `batch_size=None`, `**kwargs`, or a size from a variable or a "
        "config object are left alone, as are loaders used only for evaluation.",
        why="The default `batch_size=1` is easy to miss. Each step then pays the Python, kernel-launch and "
        "optimizer overhead for one sample, and the matrix kernels that make a batch cheap never get "
        "a batch. Training also becomes noisier per sample seen.",
        example="""
            import torch
            from torch.utils.data import DataLoader, TensorDataset

            loader = DataLoader(TensorDataset(X, y), shuffle=True)
            for epoch in range(10):
                for xb, yb in loader:
                    loss = loss_fn(model(xb), yb)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        """,
        use_instead="""
            import torch
            from torch.utils.data import DataLoader, TensorDataset

            loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True)
            for epoch in range(10):
                for xb, yb in loader:
                    loss = loss_fn(model(xb), yb)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        """,
        references=(
            "PyTorch docs: torch.utils.data, Automatic batching (default)",
            "PyTorch docs: torch.utils.data.DataLoader (batch_size defaults to 1)",
        ),
    )

    @classmethod
    def pair_sizes(cls, lits: Literals, line: int, end_line: int) -> dict[str, Any]:
        """The nearest literal matrix shape is the data set: (samples, features)."""
        shape = nearest(matrices(lits), line)
        return dict(zip(("samples", "features"), shape)) if shape else {}

    def check(self, call: cst.Call, uses: list[LoaderUse]) -> None:
        if arg_value(call, "batch_sampler", 4) is not None:
            return
        arg = arg_value(call, "batch_size", 1)
        if arg is None:
            self.report(call, confidence=Confidence.HIGH)
            return
        value = literal(self.ctx, arg.value)
        if isinstance(value, cst.Integer) and int(value.value, 0) == 1:
            self.report(
                call,
                "Raise `batch_size=1` on this training DataLoader (e.g. to 64): each step trains on a single sample",
                # batch size 1 is sometimes deliberate (inputs of different sizes), so say so with less certainty
                confidence=Confidence.MEDIUM,
            )
