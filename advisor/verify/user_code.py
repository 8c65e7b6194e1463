"""Inside the child: rebuild an extracted user function from its source and pair it with `@`.

Only under `--verify-user-code`. The function's own source (proven pure by `purity` before it got here)
runs in a namespace holding only the allowed builtins and the numpy/torch aliases it was seen to use;
the rest of the user's module is never imported or run.
"""

from __future__ import annotations

import builtins
import importlib
from typing import Any, Callable

from advisor.verify.purity import CALL_BUILTINS


def build_user_pair(function: dict[str, Any], sizes: dict[str, Any]) -> tuple[Callable[[Any], Any], Callable[[Any], Any], dict[str, Any]]:
    import numpy as np

    namespace: dict[str, Any] = {"__builtins__": {n: getattr(builtins, n) for n in CALL_BUILTINS}}
    for alias, module in function["aliases"].items():
        namespace[alias] = importlib.import_module(module)
    exec(compile(function["source"], f"<{function['name']}>", "exec"), namespace)  # noqa: S102 - checked source
    fn = namespace[function["name"]]
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
