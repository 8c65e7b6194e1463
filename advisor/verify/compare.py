"""Equivalence of before/after outputs, inside the child: allclose at the pair's declared tolerance.

Outputs may be tensors, arrays, numbers, or lists/tuples/dicts of them (nested lists are compared
row by row). Everything is brought to float64 NumPy on the host before comparing.
"""

from __future__ import annotations

from typing import Any


def _to_array(x: Any) -> Any:
    import numpy as np

    if hasattr(x, "detach"):  # a torch tensor, on any device
        return x.detach().to("cpu").double().numpy()
    return np.asarray(x, dtype=np.float64)


def _is_numeric(x: Any) -> bool:
    """A number, a tensor/array, or a flat list of numbers: compared as one array."""
    if isinstance(x, (int, float, bool)) or hasattr(x, "shape"):
        return True
    return isinstance(x, (list, tuple)) and all(isinstance(v, (int, float, bool)) for v in x)


def compare(a: Any, b: Any, rtol: float, atol: float, where: str = "output") -> tuple[bool, str]:
    """(equal, detail); the detail names the first place that differs and by how much."""
    import numpy as np

    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return False, f"{where}: different keys {sorted(set(a) ^ set(b))}"
        for key in a:
            ok, why = compare(a[key], b[key], rtol, atol, f"{where}[{key!r}]")
            if not ok:
                return ok, why
        return True, ""
    if hasattr(a, "shape") or hasattr(b, "shape"):
        try:  # a nested list against an array: compare as arrays
            a, b = (x if hasattr(x, "shape") else _to_array(x) for x in (a, b))
        except (TypeError, ValueError):
            return False, f"{where}: {type(a).__name__} and {type(b).__name__} cannot be compared"
    if _is_numeric(a) and _is_numeric(b):
        x, y = _to_array(a), _to_array(b)
        if x.shape != y.shape:
            return False, f"{where}: shapes differ, {tuple(x.shape)} vs {tuple(y.shape)}"
        if not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True):
            diff = float(np.max(np.abs(x - y))) if x.size else 0.0
            return False, f"{where}: max abs difference {diff:.3g} exceeds rtol={rtol:g}, atol={atol:g}"
        return True, ""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return False, f"{where}: lengths differ, {len(a)} vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            ok, why = compare(x, y, rtol, atol, f"{where}[{i}]")
            if not ok:
                return ok, why
        return True, ""
    try:
        if bool(a == b):
            return True, ""
    except (TypeError, ValueError):
        pass
    return False, f"{where}: {type(a).__name__} and {type(b).__name__} values differ"
