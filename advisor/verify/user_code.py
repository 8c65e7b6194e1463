"""Inside the child: rebuild an extracted user function from its source and pair it with its fast form.

Only under `--verify-user-code`. The function's own source (proven pure by `purity` before it got here)
runs in a namespace holding only the allowed builtins and the numpy/torch/math aliases it was seen to
use; the rest of the user's module is never imported or run. Two kinds (see `extract`):

- "matmul": the function against `np.asarray(A) @ np.asarray(B)` on n×n inputs (lists or arrays, as
  the function reads them);
- "elementwise": the function against the same function with its loop replaced by the vectorised
  statement, on arrays of n elements (an array the function writes into is copied afresh for every
  call of either side, so neither sees the other's writes).
"""

from __future__ import annotations

import builtins
import importlib
from typing import Any, Callable

from advisor.verify.purity import CALL_BUILTINS

Side = Callable[[Any], Any]


def _define(source: str, name: str, aliases: dict[str, str]) -> Callable[..., Any]:
    namespace: dict[str, Any] = {"__builtins__": {n: getattr(builtins, n) for n in CALL_BUILTINS}}
    for alias, module in aliases.items():
        namespace[alias] = importlib.import_module(module)
    exec(compile(source, f"<{name}>", "exec"), namespace)  # noqa: S102 - checked source
    return namespace[name]  # type: ignore[no-any-return]


def build_user_pair(function: dict[str, Any], sizes: dict[str, Any]) -> tuple[Side, Side, dict[str, Any]]:
    if function.get("kind") == "elementwise":
        return _elementwise_pair(function, sizes)
    return _matmul_pair(function, sizes)


def _matmul_pair(function: dict[str, Any], sizes: dict[str, Any]) -> tuple[Side, Side, dict[str, Any]]:
    import numpy as np

    fn = _define(function["source"], function["name"], function["aliases"])
    n = int(sizes["n"])
    rng = np.random.default_rng(0)
    A, B = rng.uniform(-1, 1, (n, n)), rng.uniform(-1, 1, (n, n))
    args: list[Any] = [A, B] if function["input"] == "arrays" else [A.tolist(), B.tolist()]
    args += [n] * len(function.get("size_params", []))
    inputs = {"args": args}

    def before(x: dict[str, Any]) -> Any:
        return fn(*x["args"])

    def after(x: dict[str, Any]) -> Any:
        return np.asarray(x["args"][0]) @ np.asarray(x["args"][1])

    return before, after, inputs


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
