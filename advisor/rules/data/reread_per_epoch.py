"""ADV205: the same dataset or data file read again on every epoch."""

from __future__ import annotations

import libcst as cst

from advisor.syntax import names_in
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence

# Readers of whole data files. `torch.load` is left out on purpose: in an epoch loop it is usually a
# checkpoint being restored, not data being re-read.
READERS = frozenset(
    {
        "pandas.read_csv",
        "pandas.read_table",
        "pandas.read_parquet",
        "pandas.read_feather",
        "pandas.read_json",
        "pandas.read_excel",
        "pandas.read_pickle",
        "pandas.read_hdf",
        "numpy.load",
        "numpy.loadtxt",
        "numpy.genfromtxt",
        "numpy.fromfile",
        "h5py.File",
        "datasets.load_dataset",
    }
)
DATASET_PREFIX = "torchvision.datasets."
_READER_LAST = frozenset(q.rsplit(".", 1)[-1] for q in READERS)


class RereadPerEpoch(Rule):
    code = "ADV205"
    name = "reread-per-epoch"
    summary = "A dataset or data file read again on every epoch"
    message = "Load the data once before the epoch loop and reuse it"
    why = (
        "Reading and parsing a file (CSV, NumPy, HDF5) or building a dataset object costs disk I/O and "
        "parsing every time; inside the epoch loop the same bytes are read and parsed once per epoch "
        "while the model waits."
    )
    suggestion = "move the read above the epoch loop (it reads the same path every time) and keep the result in a variable"
    triggers = ("read_", "load", "genfromtxt", "fromfile", "h5py", "datasets")
    docs = RuleDocs(
        what="Finds `pd.read_csv` (and the other pandas readers), `np.load`, `np.loadtxt`, `np.genfromtxt`, "
        "`np.fromfile`, `h5py.File`, `datasets.load_dataset` and torchvision dataset constructors "
        "(`datasets.MNIST(...)`, `ImageFolder(...)`) called unconditionally in the body of an epoch loop "
        "(a loop whose nested loop, or a local function it calls, takes the training steps) with arguments "
        "that do not change from one epoch to the next. Reads that depend on the epoch (`f'shard_{epoch}.npy'`), "
        "reads under a condition and `torch.load` (usually a checkpoint) are not reported.",
        why="The data does not change between epochs, so neither does the result of reading it. Re-reading "
        "repeats disk or network I/O and parsing (CSV parsing is slow) every epoch; with small models the "
        "read can cost more than the epoch's training.",
        example="""
            import pandas as pd

            for epoch in range(20):
                frame = pd.read_csv("train.csv")
                for x, y in batches(frame):
                    loss = loss_fn(model(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        """,
        use_instead="""
            import pandas as pd

            frame = pd.read_csv("train.csv")
            for epoch in range(20):
                for x, y in batches(frame):
                    loss = loss_fn(model(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        """,
        references=(
            "PyTorch Performance Tuning Guide: enable asynchronous data loading (keep data preparation off the training path)",
            "pandas docs: IO tools (read_csv)",
            "NumPy docs: numpy.load (mmap_mode for arrays larger than memory)",
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func  # `a.b.X(...)` resolves to a name ending in X: a reader's, or a dataset class's
        if type(func) is cst.Attribute and func.attr.value not in _READER_LAST and not func.attr.value[:1].isupper():
            return
        q = self.ctx.call_qualname(node)
        if q is None or not (q in READERS or (q.startswith(DATASET_PREFIX) and q.rsplit(".", 1)[-1][:1].isupper())):
            return
        loop = self.ctx.innermost_loop(node)
        if loop is None or self.ctx.in_test_function(loop):
            return
        facts = self.ctx.loop_facts(loop)
        if not facts.is_training_loop or facts.is_step_loop or self.ctx.is_conditional_within(node, loop):
            return
        changing = names_in(node) & {n for n in facts.assigned if "." not in n}
        if changing:
            return
        what = q.replace("numpy.", "np.", 1).replace("pandas.", "pd.", 1).replace("torchvision.", "", 1)
        self.report(
            node,
            f"Read the data once before the epoch loop: `{what}(...)` reads the same input again every epoch",
            confidence=Confidence.HIGH,
        )
