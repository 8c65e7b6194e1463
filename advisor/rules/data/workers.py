"""ADV203: a training DataLoader with no workers over a dataset doing per-item CPU work."""

from __future__ import annotations

from typing import Any

import libcst as cst

from advisor.syntax import dotted_name, target_names, walk
from advisor.rule import RuleDocs
from advisor.rules._training import LoaderUse, arg_value, literal
from advisor.rules.data._loader import _LoaderRule
from advisor.types import Confidence
from advisor.verify.sizes import Literals, matrices, nearest

# Library datasets that open and decode a file for every item.
FILE_DATASETS = frozenset({"torchvision.datasets.ImageFolder", "torchvision.datasets.DatasetFolder", "torchvision.datasets.folder.ImageFolder"})

WRAPPING_DATASETS = frozenset({"torch.utils.data.Subset", "torch.utils.data.dataset.Subset"})

RANDOM_SPLIT = frozenset({"torch.utils.data.random_split", "torch.utils.data.dataset.random_split"})

# Per-item work in __getitem__ that worker processes would take off the training loop.
WORK_MODULES = frozenset(
    "PIL cv2 numpy imageio skimage scipy librosa torchaudio torchvision albumentations soundfile pandas "
    "json h5py nibabel pydicom tifffile pydub".split()
)

LIGHT_MODULES = frozenset({"numpy", "json", "pandas"})

WORK_CALLS = frozenset({"torch.load", "torch.from_file", "open"})

WORK_METHODS = frozenset({"convert", "decode", "resize", "crop", "rotate", "thumbnail"})  # PIL-style image ops

WORK_ATTR_WORDS = ("transform", "augment", "aug", "preprocess", "decode", "load", "tokeniz", "read")

class DataLoaderNoWorkers(_LoaderRule):
    code = "ADV203"
    runtime_signal = "loader-wait"
    name = "dataloader-no-workers"
    summary = "Training DataLoader loads and transforms items in the main process (`num_workers=0`)"
    message = "Set `num_workers=` (e.g. 4) on this training DataLoader: its dataset does per-item CPU work in the training process"
    why = (
        "With `num_workers=0` each item is read, decoded and transformed by the training process itself, "
        "between steps; the model waits for the data. Worker processes prepare the next batches in parallel."
    )
    suggestion = "pass `num_workers=4` (up to the CPU cores you can spare) and `persistent_workers=True`; measure, since worker start-up costs too"
    docs = RuleDocs(
        what="Finds a training `DataLoader` with no `num_workers` (default 0) or `num_workers=0` whose "
        "dataset does CPU work per item: a class defined in the same file whose `__getitem__` decodes images "
        "(PIL, OpenCV), reads files, runs NumPy operations or `self.transform(...)`, or a torchvision "
        "`ImageFolder` (also through `Subset` or `random_split`). A `TensorDataset`, an in-memory library "
        "dataset or a `__getitem__` that only indexes tensors does no per-item work and is not reported.",
        why="Single-process loading runs `__getitem__` and `collate_fn` in the training loop's own process, "
        "one item after another: the GPU (or the CPU's training threads) idles while images are decoded. "
        "Worker processes overlap loading with training.",
        example="""
            import numpy as np
            from PIL import Image
            from torch.utils.data import DataLoader, Dataset

            class Images(Dataset):
                def __init__(self, paths, labels):
                    self.paths, self.labels = paths, labels
                def __len__(self):
                    return len(self.paths)
                def __getitem__(self, i):
                    img = np.asarray(Image.open(self.paths[i]).convert("RGB"), dtype=np.float32) / 255
                    return img, self.labels[i]

            loader = DataLoader(Images(paths, labels), batch_size=64, shuffle=True)
            for x, y in loader:
                loss = loss_fn(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """,
        use_instead="""
            loader = DataLoader(Images(paths, labels), batch_size=64, shuffle=True,
                                num_workers=4, persistent_workers=True)
        """,
        references=(
            "PyTorch Performance Tuning Guide: enable asynchronous data loading and augmentation",
            "PyTorch docs: torch.utils.data, Single- and Multi-process Data Loading",
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

    def check(self, call: cst.Call, uses: list[LoaderUse]) -> None:
        arg = arg_value(call, "num_workers", 5)
        if arg is not None:
            value = literal(self.ctx, arg.value)
            if not (isinstance(value, cst.Integer) and int(value.value, 0) == 0):
                return
        data = arg_value(call, "dataset", 0)
        if data is None:
            return
        found = self._dataset_work(data.value)
        if found is None:
            return
        cls, evidence, confidence = found
        self.report(
            call,
            f"Set `num_workers=` (e.g. 4) on this training DataLoader: `{cls}.__getitem__` {evidence} in the training process",
            confidence=confidence,
        )

    def _dataset_work(self, expr: cst.BaseExpression) -> tuple[str, str, Confidence] | None:
        source = self._dataset_source(expr, frozenset())
        if isinstance(source, str):
            short = source.rsplit(".", 1)[-1]
            return short, "opens and decodes an image file per item", Confidence.HIGH
        if source is None:
            return None
        getitem = self._method(source, "__getitem__", set())
        if getitem is None:
            return None
        return self._work_in(source.name.value, source, getitem)

    def _dataset_source(self, expr: cst.BaseExpression, seen: frozenset[str]) -> cst.ClassDef | str | None:
        """What builds this dataset: a class defined here (`Cls(...)`, a name bound only to that, the
        dataset inside `Subset(...)` or `random_split(...)`), or a library dataset that reads files."""
        if isinstance(expr, cst.Call):
            if isinstance(expr.func, cst.Name) and expr.func.value in self.ctx.classes:
                return self.ctx.classes[expr.func.value]
            q = self.ctx.call_qualname(expr)
            if q in FILE_DATASETS:
                return q
            if q in WRAPPING_DATASETS and expr.args:
                return self._dataset_source(expr.args[0].value, seen)
            return None
        name = dotted_name(expr)
        if name is None or name in seen:
            return None
        values = self.ctx.bindings.get(name, [])
        if values and all(isinstance(v, cst.Name) and v.value == "__unknown__" for v in values):
            values = self._split_sources(name)  # train_set, val_set = random_split(full, [...])
        sources = {self._dataset_source(v, seen | {name}) for v in values}
        return sources.pop() if len(sources) == 1 else None

    def _split_sources(self, name: str) -> list[cst.BaseExpression]:
        """The dataset that `random_split(...)` split into a tuple of names including `name`."""
        found: list[cst.BaseExpression] = []
        for assign in self.ctx.nodes(cst.Assign):
            value = assign.value
            if not isinstance(value, cst.Call) or self.ctx.call_qualname(value) not in RANDOM_SPLIT or not value.args:
                continue
            if any(name in target_names(t.target) for t in assign.targets):
                found.append(value.args[0].value)
        return found

    def _method(self, cls: cst.ClassDef, name: str, seen: set[str]) -> cst.FunctionDef | None:
        """`name` defined on `cls` or inherited from a base class defined in this file."""
        for stmt in cls.body.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
                return stmt
        seen.add(cls.name.value)
        for base in cls.bases:
            base_name = dotted_name(base.value)
            if base_name in self.ctx.classes and base_name not in seen:
                found = self._method(self.ctx.classes[base_name], name, seen)
                if found is not None:
                    return found
        return None

    def _work_in(self, cls_name: str, cls: cst.ClassDef, func: cst.FunctionDef, depth: int = 0) -> tuple[str, str, Confidence] | None:
        """What per-item work `func` does: a certain kind (decoding, file reads, NumPy), or a likely one (a
        `self.transform(...)`, which may be given as None). Helper methods are followed one level."""
        likely: tuple[str, str, Confidence] | None = None
        certain: list[tuple[int, str]] = []  # (rank, evidence): decoding and I/O first, NumPy last
        for node in walk(func.body):
            if not isinstance(node, cst.Call):
                continue
            q = self.ctx.call_qualname(node)
            if q is not None and (q.split(".")[0] in WORK_MODULES or q in WORK_CALLS):
                certain.append((2 if q.split(".")[0] in LIGHT_MODULES else 0, f"calls `{q}` per item"))
            elif isinstance(node.func, cst.Name) and node.func.value == "open" and "open" not in self.ctx.imports:
                certain.append((0, "opens a file per item"))
            elif isinstance(node.func, cst.Attribute):
                attr = node.func.attr.value
                if dotted_name(node.func.value) == "self":
                    helper = self._method(cls, attr, set())
                    if helper is not None and depth == 0:
                        inner = self._work_in(cls_name, cls, helper, depth + 1)
                        if inner is not None and inner[2] is Confidence.HIGH:
                            certain.append((0, inner[1]))
                        likely = likely or inner
                    elif helper is None and any(w in attr.lower() for w in WORK_ATTR_WORDS):
                        likely = likely or (cls_name, f"runs `self.{attr}(...)` per item", Confidence.MEDIUM)
                elif attr in WORK_METHODS:
                    certain.append((1, f"calls `.{attr}()` per item"))
        if certain:
            return cls_name, min(certain, key=lambda c: c[0])[1], Confidence.HIGH
        return likely
