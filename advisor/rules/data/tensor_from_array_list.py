"""ADV206: `torch.tensor(list_of_arrays)` — a tensor built element by element from a Python list of ndarrays."""

from __future__ import annotations

import libcst as cst

from advisor.syntax import call_attr, call_receiver, dotted_name, positional
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence

BUILDERS = frozenset(
    {"torch.tensor", "torch.as_tensor", "torch.Tensor", "torch.FloatTensor", "torch.LongTensor", "torch.DoubleTensor", "torch.IntTensor", "torch.ByteTensor"}
)
# Calls that return an ndarray (never a scalar): constructors, joins and reshapes, and image readers.
ARRAY_CALLS = frozenset(
    f"numpy.{fn}"
    for fn in (
        "array asarray ascontiguousarray asfarray copy zeros ones empty full zeros_like ones_like empty_like full_like "
        "stack vstack hstack concatenate reshape transpose expand_dims squeeze pad flip rot90 frombuffer fromstring "
        "load eye identity arange linspace tile repeat"
    ).split()
) | frozenset({"cv2.imread", "cv2.resize", "cv2.cvtColor", "imageio.imread", "imageio.v2.imread", "skimage.io.imread"})
ARRAY_METHODS = frozenset({"numpy", "astype", "reshape", "transpose", "flatten", "ravel", "copy", "squeeze"})


class TensorFromArrayList(Rule):
    code = "ADV206"
    name = "tensor-from-array-list"
    summary = "`torch.tensor(list_of_arrays)`: a tensor built from a Python list of NumPy arrays"
    message = "Stack the arrays first: `torch.from_numpy(np.stack(items))` instead of `torch.tensor(items)`"
    why = (
        "Given a list, `torch.tensor` walks it element by element in Python-level code, reading every number "
        "of every array one at a time; `np.stack` copies each array's buffer in one block and "
        "`torch.from_numpy` shares the result without another copy."
    )
    suggestion = "build one array with `np.stack(items)` (or `np.array(items)`) and convert it with `torch.from_numpy(...)` / `torch.as_tensor(...)`"
    triggers = ("tensor", "Tensor")
    docs = RuleDocs(
        what="Finds `torch.tensor(x)`, `torch.as_tensor(x)` and `torch.FloatTensor(x)` (and the other typed "
        "constructors) whose argument is a list comprehension of NumPy arrays, or a name bound only to `[]` "
        "and filled with `.append(array)` — where each item is visibly an ndarray (`np.array(...)`, "
        "`np.zeros(...)`, `cv2.imread(...)`, `t.numpy()`, ...). Lists of Python numbers, of values whose type "
        "we cannot see, and already-stacked arrays are not reported.",
        why="PyTorch itself warns about this (\"Creating a tensor from a list of numpy.ndarrays is extremely "
        "slow\"): the list path of the tensor constructor treats every array as a nested sequence and "
        "converts its elements one by one. Stacking into one contiguous array first is a memory copy.",
        example="""
            import numpy as np
            import torch

            frames = []
            for path in paths:
                frames.append(np.load(path))
            batch = torch.tensor(frames)
        """,
        use_instead="""
            import numpy as np
            import torch

            frames = []
            for path in paths:
                frames.append(np.load(path))
            batch = torch.from_numpy(np.stack(frames))
        """,
        references=(
            "PyTorch docs: torch.from_numpy, torch.as_tensor (\"avoids a copy\" for ndarrays)",
            "NumPy docs: numpy.stack",
        ),
    )

    def finish(self) -> None:
        for node in self.ctx.calls_to(BUILDERS):
            self._check(node)

    def _check(self, node: cst.Call) -> None:
        q = self.ctx.call_qualname(node)
        args = positional(node)
        if not args:
            return
        items = self._array_items(args[0].value)
        if items is None:
            return
        self.report(
            node,
            f"Stack the arrays before `{q}`: use `torch.from_numpy(np.stack({items}))` — a list of ndarrays is converted element by element",
            confidence=Confidence.HIGH,
        )

    def _array_items(self, expr: cst.BaseExpression) -> str | None:
        """A short name for the list when it holds ndarrays, else None."""
        if isinstance(expr, cst.ListComp):
            return "[...]" if self._is_array(expr.elt) else None
        name = dotted_name(expr)
        if name is None:
            return None
        values = self.ctx.bindings.get(name, [])
        if not values or not all(isinstance(v, cst.List) and not v.elements for v in values):
            return None
        appended = [
            call.args[0].value
            for call in self.ctx.calls_by_attr.get("append", ())
            if dotted_name(call_receiver(call)) == name and len(call.args) == 1
        ]
        if appended and all(self._is_array(v) for v in appended):
            return name
        return None

    def _is_array(self, expr: cst.BaseExpression, seen: frozenset[str] = frozenset()) -> bool:
        if isinstance(expr, cst.Call):
            q = self.ctx.call_qualname(expr)
            if q is not None:
                return q in ARRAY_CALLS
            attr = call_attr(expr)
            if attr == "numpy" and not expr.args:
                return True
            inner = call_receiver(expr)
            return attr in ARRAY_METHODS and inner is not None and self._is_array(inner, seen)
        name = dotted_name(expr)
        if name is None or name in seen:
            return False
        values = self.ctx.bindings.get(name, [])
        return bool(values) and all(self._is_array(v, seen | {name}) for v in values)
