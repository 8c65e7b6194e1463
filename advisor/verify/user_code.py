"""Inside the child: rebuild an extracted user function from its source and pair it with its fast form.

Only under `--verify-user-code`. The function's own source (proven pure by `purity` before it got here)
runs in a namespace holding only the allowed builtins and the numpy/torch/math aliases it was seen to
use; the rest of the user's module is never imported or run. Two kinds (see `extract`):

- "matmul": the function against `np.asarray(A) @ np.asarray(B)` on n×n inputs (lists or arrays, as
  the function reads them), or, for a matrix-vector product, against `W @ x` (or `x @ W`); on lists,
  also against the same product on arrays made once, the second figure the advice implies;
- "elementwise": the function against the same function with its loop replaced by the vectorised
  statement, on arrays of n elements (an array the function writes into is copied afresh for every
  call of either side, so neither sees the other's writes).
"""

from __future__ import annotations

import builtins
import importlib
from typing import Any, Callable, cast

from advisor.verify.purity import CALL_BUILTINS

Side = Callable[[Any], Any]


def _define(source: str, name: str, aliases: dict[str, str]) -> Callable[..., Any]:
    namespace: dict[str, Any] = {"__builtins__": {n: getattr(builtins, n) for n in CALL_BUILTINS}}
    for alias, module in aliases.items():
        namespace[alias] = importlib.import_module(module)
    exec(compile(source, f"<{name}>", "exec"), namespace)  # noqa: S102 - checked source
    return cast(Callable[..., Any], namespace[name])


def build_user_pair(function: dict[str, Any], sizes: dict[str, Any]) -> tuple[Side, Side, dict[str, Any], dict[str, Side]]:
    """(before, after, inputs, more after sides): the last are timed in the same rounds (see `measure`)."""
    if function.get("kind") == "elementwise":
        return (*_elementwise_pair(function, sizes), {})
    if function.get("shape") == "matvec":
        return _matvec_pair(function, sizes)
    return _matmul_pair(function, sizes)


def _matmul_pair(function: dict[str, Any], sizes: dict[str, Any]) -> tuple[Side, Side, dict[str, Any], dict[str, Side]]:
    """`np.asarray(A) @ np.asarray(B)` on the function's own inputs (the conversion is timed: that is the
    function replaced as is), and, when those are lists, `A @ B` on arrays made once (the data kept
    as arrays, as the advice says)."""
    import numpy as np

    fn = _define(function["source"], function["name"], function["aliases"])
    n = int(sizes["n"])
    rng = np.random.default_rng(0)
    A, B = rng.uniform(-1, 1, (n, n)), rng.uniform(-1, 1, (n, n))
    lists = function["input"] != "arrays"
    args: list[Any] = [A.tolist(), B.tolist()] if lists else [A, B]
    args += [n] * len(function.get("size_params", []))
    inputs = {"args": args, "arrays": (A, B)}

    def before(x: dict[str, Any]) -> Any:
        return fn(*x["args"])

    def after(x: dict[str, Any]) -> Any:
        return np.asarray(x["args"][0]) @ np.asarray(x["args"][1])

    def kept(x: dict[str, Any]) -> Any:
        return x["arrays"][0] @ x["arrays"][1]

    return before, after, inputs, ({ARRAYS_KEPT: kept} if lists else {})


# The name of the second figure: the product on arrays that exist already (no conversion per call).
ARRAYS_KEPT = "arrays_kept"


def _matvec_pair(function: dict[str, Any], sizes: dict[str, Any]) -> tuple[Side, Side, dict[str, Any], dict[str, Side]]:
    """A matrix (n×n rows, or one flat row-major list) and a vector of n. Whether the function computes
    `W @ x` or `x @ W` (a weighted sum of rows) is read off one call on these inputs; the form it
    matches is named in the result, and the equivalence check still runs on it."""
    import numpy as np

    fn = _define(function["source"], function["name"], function["aliases"])
    roles: dict[str, str] = function["roles"]
    n = int(sizes["n"])
    rng = np.random.default_rng(0)
    M, v = rng.uniform(-1, 1, (n, n)), rng.uniform(-1, 1, n)
    lists = function["input"] != "arrays"
    made = {"matrix": M, "flat": M.ravel(), "vector": v}
    args: list[Any] = [n if role == "size" else made[role].tolist() if lists else made[role] for role in roles.values()]
    mi = next(i for i, role in enumerate(roles.values()) if role in ("matrix", "flat"))
    vi = next(i for i, role in enumerate(roles.values()) if role == "vector")
    mat, vec = list(roles)[mi], list(roles)[vi]
    if roles[mat] == "flat":
        mat = f"{mat}.reshape(n, n)"
    got = np.asarray(fn(*args), dtype=np.float64)
    rows = bool(got.shape == (n,) and np.allclose(got, M @ v, rtol=1e-9, atol=1e-12)) or not (
        got.shape == (n,) and np.allclose(got, v @ M, rtol=1e-9, atol=1e-12))
    inputs = {"args": args, "arrays": (M, v), "replacement": f"{mat} @ {vec}" if rows else f"{vec} @ {mat}"}

    def before(x: dict[str, Any]) -> Any:
        return fn(*x["args"])

    def after(x: dict[str, Any]) -> Any:
        m, u = np.asarray(x["args"][mi]).reshape(n, n), np.asarray(x["args"][vi])
        return m @ u if rows else u @ m

    def kept(x: dict[str, Any]) -> Any:
        m, u = x["arrays"]
        return m @ u if rows else u @ m

    return before, after, inputs, ({ARRAYS_KEPT: kept} if lists else {})


def _elementwise_pair(function: dict[str, Any], sizes: dict[str, Any]) -> tuple[Side, Side, dict[str, Any]]:
    import numpy as np

    slow = _define(function["source"], function["name"], function["aliases"])
    fast = _define(function["after_source"], function["name"], function["aliases"])
    n = int(sizes["n"])
    rng = np.random.default_rng(0)
    torch = importlib.import_module("torch") if function.get("library") == "torch" else None
    args: list[Any] = []
    outputs: list[int] = []
    for i, (param, role) in enumerate(function["params"].items()):
        if role in ("array", "output"):
            # Positive values keep `log`/`sqrt`-style functions defined; float64 keeps both sides exact.
            values = rng.uniform(0.5, 1.5, n)
            args.append(torch.from_numpy(values) if torch is not None else values)
            if role == "output":
                outputs.append(i)
        elif role == "size":
            args.append(n)
        else:
            args.append(0.75)
    inputs = {"args": args}

    def fresh(x: dict[str, Any]) -> list[Any]:
        return [a.clone() if i in outputs and torch is not None else a.copy() if i in outputs else a for i, a in enumerate(x["args"])]

    def before(x: dict[str, Any]) -> Any:
        return slow(*fresh(x))

    def after(x: dict[str, Any]) -> Any:
        return fast(*fresh(x))

    return before, after, inputs
