"""Equivalence of before/after outputs, inside the child: allclose at the pair's declared tolerance.

Outputs may be tensors, arrays, numbers, or lists/tuples/dicts of them (nested lists of numbers are
compared as arrays). Everything is brought to float64 NumPy on the host before comparing.
"""

from __future__ import annotations

from typing import Any


def _to_array(x: Any) -> Any:
    import numpy as np

    if hasattr(x, "detach"):  # a torch tensor, on any device
        return x.detach().to("cpu").double().numpy()
    return np.asarray(x, dtype=np.float64)


def _is_numeric_nest(x: Any) -> bool:
    if isinstance(x, (int, float, bool)):
        return True
    if isinstance(x, (list, tuple)):
        return all(_is_numeric_nest(v) for v in x)
    return hasattr(x, "shape")


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
    if _is_numeric_nest(a) and _is_numeric_nest(b):
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
    if a == b:
        return True, ""
    return False, f"{where}: {type(a).__name__} and {type(b).__name__} values differ"
