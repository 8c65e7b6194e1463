"""ADV201–ADV204: feeding the training loop — per-sample steps, batch size, loader workers, pinned memory.

The loader rules only speak about a DataLoader whose batches we can follow into a loop that trains
(see `_training.py`); values that arrive through `**kwargs`, `args.batch_size` or a config object are
not literals, so they are never reported.
"""

from __future__ import annotations

import libcst as cst

from advisor.context import FileContext, callee_name, dotted_name, has_star_args, int_value, names_in, positional, target_names, walk
from advisor.fixes import FixPlan, Replace, guarded, with_keyword
from advisor.rule import Rule, RuleDocs
from advisor.rules._training import (
    LoaderUse,
    all_loader_uses,
    arg_value,
    literal,
    loader_loops,
    moves_batches,
    step_every_iteration,
    steps_optimizer,
)
from advisor.types import Confidence, Severity

TRIGGERS = ("DataLoader",)
# Producers whose items are batches or plain indices, not samples (and `torch.load`, which may hold either).
NOT_SAMPLES = frozenset(
    {"split", "chunk", "tensor_split", "array_split", "batched", "DataLoader", "arange", "linspace", "logspace", "randperm"}
)
SAMPLE_MODULES = ("torch", "numpy", "pandas", "sklearn", "torchvision.datasets", "datasets")
INDEX_ORDERS = frozenset({"torch.randperm", "numpy.random.permutation"})
# Constructors that turn Python values into a tensor on the host.
ITEM_TENSOR_BUILDERS = frozenset(
    {"torch.tensor", "torch.as_tensor", "torch.Tensor", "torch.LongTensor", "torch.FloatTensor", "torch.IntTensor"}
)


class PerSampleTraining(Rule):
    code = "ADV201"
    name = "per-sample-training"
    summary = "Training loop runs forward, backward and an optimizer step for one sample at a time"
    message = "Train on mini-batches instead of one sample per step: wrap the data in a `DataLoader(..., batch_size=64, shuffle=True)`"
    why = (
        "Each sample pays a full forward pass, backward pass and optimizer update with the per-call "
        "overhead of Python and kernel launches; a mini-batch does the same arithmetic in a few large, "
        "vectorised calls."
    )
    suggestion = "build `DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True)` and loop over its batches (retune the learning rate for the batch size)"
    triggers = ("backward(", "backprop", ".dot(")
    pair = "adv201"
    docs = RuleDocs(
        what="Finds a training loop that steps once per sample: it iterates a dataset, a tensor or array "
        "(`zip(X, y)`, `for x, y in dataset`) or an index over one (`for i in range(len(X))` with `X[i]`, "
        "`torch.randperm(n)`), or adds the batch dimension to each item (`x.unsqueeze(0)`, `x[None]`), "
        "and calls `.backward()` every iteration. Loops over a DataLoader, over slices "
        "(`X[i:i + bs]`) or over anything named as batches are not reported.",
        why="Per-sample SGD turns one large matrix product into thousands of tiny ones, each with Python, "
        "dispatcher and kernel-launch overhead and an optimizer update over every parameter. Batching is "
        "usually 10x or more faster per epoch, and averages out gradient noise.",
        example="""
            import torch

            X, y = torch.randn(2048, 32), torch.randn(2048, 1)
            for epoch in range(10):
                for xi, yi in zip(X, y):
                    loss = loss_fn(model(xi.unsqueeze(0)), yi.unsqueeze(0))
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        """,
        use_instead="""
            import torch
            from torch.utils.data import DataLoader, TensorDataset

            X, y = torch.randn(2048, 32), torch.randn(2048, 1)
            loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True)
            for epoch in range(10):
                for xb, yb in loader:
                    loss = loss_fn(model(xb), yb)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        """,
        references=(
            "PyTorch docs: torch.utils.data (DataLoader, TensorDataset, automatic batching)",
            "PyTorch tutorial: Training with PyTorch (the training loop over mini-batches)",
        ),
    )

    def __init__(self, ctx: FileContext, options=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(ctx, options)
        self._loader_loops: set[int] | None = None

    def visit_For(self, node: cst.For) -> None:
        if step_every_iteration(self.ctx, node) != "always" or not steps_optimizer(self.ctx, node):
            evidence = numpy_per_sample(self.ctx, node)
            if evidence is not None:
                self.report(node, f"Train on mini-batches instead of one sample at a time: {evidence}", confidence=Confidence.MEDIUM)
            return
        if self._loader_loops is None:
            self._loader_loops = loader_loops(self.ctx)
        if id(node) in self._loader_loops:
            return
        evidence = self._per_sample(node)
        if evidence is not None:
            self.report(node, f"Train on mini-batches instead of one sample per step: {evidence}")

    def _per_sample(self, loop: cst.For) -> str | None:
        """Why this loop visits single samples, or None when the code does not show it."""
        targets = target_names(loop.target)
        if any(_batch_named(t) for t in targets):
            return None
        iterable = _unwrap(loop.iter, "enumerate")
        sources = positional(iterable) if callee_name(iterable) == "zip" else []
        collections = [a.value for a in sources] if sources else [iterable]
        if any(_batch_named(dotted_name(c) or "") for c in collections):
            return None
        if any(self._holds_samples(c) for c in collections):
            shown = cst.Module([]).code_for_node(loop.iter)
            return f"this loop steps the optimizer once per item of `{shown}`; batch it with `DataLoader(..., batch_size=64)`"
        index = self._index_loop(loop, iterable, targets)
        if index is not None:
            return index
        if self._adds_batch_dim(loop, targets):
            return "each item gets a batch dimension of 1 and its own optimizer step; batch with `DataLoader(..., batch_size=64)`"
        if callee_name(iterable) != "range" and self._tensor_per_item(loop, targets):
            return "each item becomes its own small tensor and optimizer step; batch the items with `DataLoader(..., batch_size=64)`"
        return None

    def _tensor_per_item(self, loop: cst.For, targets: set[str]) -> bool:
        """`torch.LongTensor([vocab[w] for w in words])` built from the loop's item (or what is unpacked
        from it) every step: the item is one sample. A tensor of a whole pre-cut group (`torch.tensor(rows)`)
        is not evidence; only a list literal or comprehension over the item's parts is."""
        items = set(targets)
        body = list(walk(loop.body))
        for node in body:
            if isinstance(node, cst.Assign) and isinstance(node.value, (cst.Name, cst.Subscript)):
                if names_in(node.value) & items:
                    for t in node.targets:
                        items |= target_names(t.target)
        for node in body:
            if not isinstance(node, cst.Call) or self.ctx.call_qualname(node) not in ITEM_TENSOR_BUILDERS:
                continue
            args = positional(node)
            if args and isinstance(args[0].value, (cst.List, cst.ListComp)) and names_in(args[0].value) & items:
                return True
        return False

    def _holds_samples(self, expr: cst.BaseExpression, seen: frozenset[str] = frozenset()) -> bool:
        """A dataset, tensor or array built in this file (its items are samples), not a list of batches."""
        if isinstance(expr, cst.Call):
            q = self.ctx.call_qualname(expr)
            if q is None or q.rsplit(".", 1)[-1] in NOT_SAMPLES or "Sampler" in q or q == "torch.load":
                return False
            return q.startswith(SAMPLE_MODULES) or self.ctx.kind_of(expr) == "dataset"
        name = dotted_name(expr)
        if name is None or name in seen:
            return False
        if self.ctx.kind_of(expr) == "dataset":
            return True
        values = self.ctx.bindings.get(name, [])
        return bool(values) and all(self._holds_samples(v, seen | {name}) for v in values)

    def _index_loop(self, loop: cst.For, iterable: cst.BaseExpression, targets: set[str]) -> str | None:
        """`for i in range(len(X))` / `range(n)` / `torch.randperm(n)` with `X[i]` read each step."""
        if not isinstance(loop.target, cst.Name):
            return None
        var = loop.target.value
        q = self.ctx.call_qualname(iterable) if isinstance(iterable, cst.Call) else None
        is_range = callee_name(iterable) == "range" and isinstance(iterable, cst.Call) and len(iterable.args) == 1
        if not is_range and q not in INDEX_ORDERS:
            return None
        for node in walk(loop.body):
            if not isinstance(node, cst.Subscript) or len(node.slice) != 1:
                continue
            index = node.slice[0].slice
            if isinstance(index, cst.Index) and isinstance(index.value, cst.Name) and index.value.value == var:
                name = dotted_name(node.value)
                if name is not None and not _batch_named(name) and self._holds_samples(node.value):
                    return f"`{name}[{var}]` feeds one sample per optimizer step; batch it with `DataLoader(..., batch_size=64, shuffle=True)`"
        return None

    def _adds_batch_dim(self, loop: cst.For, targets: set[str]) -> bool:
        """An item of the loop gets a leading dimension of 1: `x.unsqueeze(0)`, `x[None]`, `x.view(1, -1)`."""
        for node in walk(loop.body):
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
                receiver = dotted_name(node.func.value)
                if receiver not in targets:
                    continue
                attr = node.func.attr.value
                args = positional(node)
                if attr == "unsqueeze" and args and int_value(args[0].value) == 0:
                    return True
                if attr in ("view", "reshape") and len(args) >= 2 and int_value(args[0].value) == 1:
                    return True
            if isinstance(node, cst.Subscript) and dotted_name(node.value) in targets and node.slice:
                first = node.slice[0].slice
                if isinstance(first, cst.Index) and isinstance(first.value, cst.Name) and first.value.value == "None":
                    return True
        return False


def numpy_per_sample(ctx: FileContext, loop: cst.For) -> str | None:
    """A NumPy (or pure Python) network trained one sample at a time: the loop walks paired samples
    (`zip(images, labels)`, `for x, y in mini_batch`) and each iteration runs backprop, either through a
    function named for it or by updating, in place, a weight matrix it multiplies by."""
    if not any(v == "numpy" or v.startswith("numpy.") for v in ctx.imports.values()) or ctx.in_test_function(loop):
        return None
    targets = target_names(loop.target)
    if len(targets) < 2 or any(_batch_named(t) for t in targets):
        return None
    iterable = _unwrap(loop.iter, "enumerate")
    if callee_name(iterable) == "zip":
        sources = [dotted_name(a.value) for a in positional(iterable)]
        if len(sources) < 2 or any(s is None or _batch_named(s) for s in sources):
            return None
    elif not (isinstance(iterable, cst.Name) and "batch" in iterable.value.lower()):
        return None  # `for x, y in mini_batch`: a mini-batch walked sample by sample
    shown = cst.Module([]).code_for_node(loop.iter)
    if _runs_backprop(ctx, loop):
        return f"each item of `{shown}` gets its own forward and backward pass; stack them into one matrix and run both once per mini-batch"
    return None


def _runs_backprop(ctx: FileContext, scope: cst.CSTNode) -> bool:
    """`scope` calls something named backprop / backward (not a tensor's `.backward()`), or updates a matrix
    it multiplies by (`w -= lr * np.outer(x, delta)`), itself or through functions of this file it calls
    (the product may sit in the helper, the update in the loop: names are compared by their last part)."""
    from advisor.callgraph import call_graph  # the call graph is only needed for NumPy training loops

    graph = call_graph(ctx)
    multiplied: set[str] = set()
    updated: set[str] = set()
    todo: list[tuple[cst.CSTNode, int]] = [(scope, 0)]
    seen: set[int] = set()
    while todo:
        node_scope, depth = todo.pop()
        if id(node_scope) in seen:
            continue
        seen.add(id(node_scope))
        for node in walk(node_scope):
            if isinstance(node, cst.Call):
                name = callee_name(node) or ""
                if ("backprop" in name.lower() or name in ("backward", "backward_pass")) and not ctx.uses_framework():
                    return True
                if name in ("dot", "matmul", "outer"):
                    operands = [a.value for a in positional(node)]
                    if isinstance(node.func, cst.Attribute):
                        operands.append(node.func.value)
                    multiplied.update(_last(d) for d in map(dotted_name, operands) if d)
                if depth < 2:
                    todo.extend((f, depth + 1) for f in graph.targets(node))
            elif isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.MatrixMultiply):
                multiplied.update(_last(d) for d in (dotted_name(node.left), dotted_name(node.right)) if d)
            elif isinstance(node, cst.AugAssign) and isinstance(node.operator, (cst.SubtractAssign, cst.AddAssign)):
                d = dotted_name(node.target)
                if d:
                    updated.add(_last(d))
            elif isinstance(node, cst.Assign):
                for t in node.targets:
                    d = dotted_name(t.target)
                    if d and d in names_in(node.value):
                        updated.add(_last(d))
    return bool(multiplied & updated)


def _last(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1]


def _unwrap(expr: cst.BaseExpression, *wrappers: str) -> cst.BaseExpression:
    """`enumerate(zip(X, y))` → `zip(X, y)`."""
    while isinstance(expr, cst.Call) and callee_name(expr) in wrappers and positional(expr):
        expr = positional(expr)[0].value
    return expr


def _batch_named(name: str) -> bool:
    low = name.lower()
    return any(w in low for w in ("batch", "chunk", "bucket"))


class _LoaderRule(Rule):
    """Shared: visit each DataLoader(...) once the whole file is indexed, skip loaders we cannot read."""

    triggers = TRIGGERS

    def finish(self) -> None:
        for call, all_uses in all_loader_uses(self.ctx):
            if has_star_args(call):
                continue  # arguments we cannot see may set exactly what we would ask for
            uses = [u for u in all_uses if u.training]
            if uses:
                self.check(call, uses)

    def check(self, call: cst.Call, uses: list[LoaderUse]) -> None:
        raise NotImplementedError


class DataLoaderBatchSize(_LoaderRule):
    code = "ADV202"
    name = "dataloader-batch-size-one"
    summary = "Training DataLoader with `batch_size` left at its default of 1 (or set to 1)"
    message = "Set `batch_size=` on this training DataLoader (e.g. `batch_size=64`): the default trains one sample per step"
    why = (
        "With batch size 1 every optimizer step runs the model, the backward pass and the update for a "
        "single sample: per-call overheads dominate and the vectorised kernels have almost nothing to work on."
    )
    suggestion = "pass `batch_size=32` to `batch_size=256` (tune the learning rate with it); keep `batch_size=1` only for inputs that cannot be stacked"
    pair = "adv202"
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
    name = "dataloader-no-workers"
    summary = "Training DataLoader loads and transforms items in the main process (`num_workers=0`)"
    message = "Set `num_workers=` (e.g. 4) on this training DataLoader: its dataset does per-item CPU work in the training process"
    why = (
        "With `num_workers=0` each item is read, decoded and transformed by the training process itself, "
        "between steps; the model waits for the data. Worker processes prepare the next batches in parallel."
    )
    suggestion = "pass `num_workers=4` (up to the CPU cores you can spare) and `persistent_workers=True`; measure, since worker start-up costs too"
    pair = "adv203"
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
        for assign in self.ctx.nodes_by_type.get("Assign", ()):
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


class DataLoaderNoPinMemory(_LoaderRule):
    code = "ADV204"
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
    pair = "adv204"
    fix_safe = True  # the batches hold the same values; only the memory they sit in changes
    fix_title = "add `pin_memory=True` to the DataLoader"
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

    def finish(self) -> None:
        if shows_cuda(self.ctx):
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
        fix = self._pin(call, arg)
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
    def _pin(self, call: cst.Call, arg: cst.Arg | None) -> FixPlan | None:
        """`pin_memory=False` → `True`, or the keyword added; never beside `**kwargs`, which may hold it."""
        if arg is not None:
            return self.plan(Replace(arg.value, "True"))
        if has_star_args(call):
            return None
        return self.plan(Replace(call, with_keyword(call, "pin_memory", cst.Name("True"))))

    def _non_blocking(self, use: LoaderUse) -> bool:
        for node in walk(use.loop.body):
            if isinstance(node, cst.Arg) and node.keyword is not None and node.keyword.value == "non_blocking":
                return True
        return False


def shows_cuda(ctx: FileContext) -> bool:
    """The file runs on a CUDA device: a `.cuda()` call or a "cuda" device string (`device="cuda"`,
    `torch.device("cuda" if ... else "cpu")`)."""
    if "cuda" not in ctx.text:
        return False
    if ctx.calls_by_attr.get("cuda"):
        return True
    for node in ctx.nodes_by_type.get("SimpleString", ()):
        if str(node.evaluated_value).split(":")[0] == "cuda":
            return True
    return False
