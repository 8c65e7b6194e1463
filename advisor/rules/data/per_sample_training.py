"""ADV201: forward, backward and an optimizer step per single sample, where a batch would do."""

from __future__ import annotations

from typing import Any

import libcst as cst

from advisor.context import FileContext
from advisor.syntax import callee_name, dotted_name, int_value, names_in, node_code, positional, target_names, walk
from advisor.rule import Rule, RuleDocs
from advisor.rules._training import loader_loops, step_every_iteration, steps_optimizer
from advisor.types import Confidence
from advisor.verify.sizes import Literals, matrices, nearest

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
    runtime_signal = "per-sample-step"
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

    @classmethod
    def pair_sizes(cls, lits: Literals, line: int, end_line: int) -> dict[str, Any]:
        """The nearest literal matrix shape is the data set: (samples, features)."""
        shape = nearest(matrices(lits), line)
        return dict(zip(("samples", "features"), shape)) if shape else {}

    def __init__(self, ctx: FileContext, options: dict[str, Any] | None = None) -> None:
        super().__init__(ctx, options)
        self._loader_loops: set[int] | None = None

    def visit_For(self, node: cst.For) -> None:
        # a loop that is no step loop is never "always" stepping (checked first: most loops are not)
        if not self.ctx.loop_facts(node).is_step_loop or step_every_iteration(self.ctx, node) != "always" or not steps_optimizer(self.ctx, node):
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
        sources = positional(iterable) if isinstance(iterable, cst.Call) and callee_name(iterable) == "zip" else []
        collections = [a.value for a in sources] if sources else [iterable]
        if any(_batch_named(dotted_name(c) or "") for c in collections):
            return None
        if any(self._holds_samples(c) for c in collections):
            shown = node_code(loop.iter)
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
    if not any(v == "numpy" or v.startswith("numpy.") for v in ctx.imports.values()):
        return None
    targets = target_names(loop.target)
    if len(targets) < 2 or any(_batch_named(t) for t in targets) or ctx.in_test_function(loop):
        return None
    iterable = _unwrap(loop.iter, "enumerate")
    if isinstance(iterable, cst.Call) and callee_name(iterable) == "zip":
        sources = [dotted_name(a.value) for a in positional(iterable)]
        if len(sources) < 2 or any(s is None or _batch_named(s) for s in sources):
            return None
    elif not (isinstance(iterable, cst.Name) and "batch" in iterable.value.lower()):
        return None  # `for x, y in mini_batch`: a mini-batch walked sample by sample
    shown = node_code(loop.iter)
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
