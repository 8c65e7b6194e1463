"""Parent side: read the child's JSON result back, as untrusted input.

The child runs the user's code, so its output file may hold anything: every field is type-checked,
numbers must be finite and non-negative, lists and strings are capped, and anything malformed becomes
one `ProfileError` line instead of a traceback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeGuard

MAX_ITEMS = 2000
MAX_TEXT = 20000


class ProfileError(Exception):
    """`advisor profile` could not produce a result; str(error) is what the user reads."""


class _Bad(ValueError):
    pass


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(f"{what} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(f"{what} is not a list")
    return value[:MAX_ITEMS]


def _num(data: dict[str, Any], key: str, default: float | None = 0.0) -> float:
    value = data.get(key, default)
    if value is None and default is None:
        return None  # type: ignore[return-value]  # only with default=None, where callers declare the field optional
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise _Bad(f"{key} is not a non-negative number")
    return float(value)


def _int(data: dict[str, Any], key: str, default: int | None = 0) -> int:
    value = data.get(key, default)
    if value is None and default is None:
        return None  # type: ignore[return-value]  # only with default=None, where callers declare the field optional
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Bad(f"{key} is not a non-negative integer")
    return value


def _str(data: dict[str, Any], key: str, default: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _Bad(f"{key} is not a string")
    return value[:MAX_TEXT]


def _opt_bool(data: dict[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise _Bad(f"{key} is not true, false or null")
    return value


@dataclass(frozen=True)
class Where:
    path: str
    line: int
    function: str

    def short(self, base: str = "") -> str:
        return f"{_display(self.path, base)}:{self.line}"


def _where(data: dict[str, Any]) -> Where:
    return Where(_str(data, "path"), _int(data, "line"), _str(data, "function"))


@dataclass(frozen=True)
class Event:
    kind: str  # "readback" | "move"
    op: str
    where: Where
    via: str
    callers: tuple[Where, ...]
    tensor_device: str
    direction: str
    count: int
    seconds: float
    bytes: int
    steps_seen: int
    same_tensor_steps: int


@dataclass(frozen=True)
class Step:
    total_s: float
    data_s: float
    optimizer_s: float
    readback_s: float
    move_s: float
    samples: int | None


@dataclass(frozen=True)
class Forward:
    where: Where
    module: str
    calls: int
    grad_calls: int
    eval_grad_calls: int
    samples: tuple[int, ...]


@dataclass(frozen=True)
class LoaderUse:
    loader: int
    batches: int
    wait_s: float
    samples: tuple[int, ...]


@dataclass(frozen=True)
class Pattern:
    path: str
    line: int | None
    name: str
    message: str


@dataclass(frozen=True)
class Window:
    kind: str  # "steps" | "time"
    site: Where | None
    seconds: float
    steps: tuple[Step, ...]
    events: tuple[Event, ...]
    forwards: tuple[Forward, ...]
    loaders: tuple[LoaderUse, ...]
    autocast: tuple[str, ...]
    foreach_ops: int
    fused_ops: int
    patterns: tuple[Pattern, ...]
    pattern_note: str
    cuda: dict[str, float] | None
    unprofiled_step_s: float | None


@dataclass(frozen=True)
class Loader:
    where: Where | None
    batch_size: int | None
    num_workers: int
    pin_memory: bool
    dataset: str


@dataclass(frozen=True)
class Optimizer:
    name: str
    foreach: bool | None
    fused: bool | None
    default_foreach: bool | None


@dataclass(frozen=True)
class ChildResult:
    device: str
    device_name: str
    torch: str
    ended: str
    elapsed_s: float
    total_steps: int
    windows: tuple[Window, ...]
    loaders: tuple[Loader, ...]
    optimizers: tuple[Optimizer, ...]
    error: dict[str, str] | None


def _event(d: dict[str, Any]) -> Event:
    kind = _str(d, "kind")
    if kind not in ("readback", "move"):
        raise _Bad("event kind is unknown")
    direction = _str(d, "direction", "none")
    if direction not in ("none", "h2d", "d2h", "d2d"):
        raise _Bad("event direction is unknown")
    callers = tuple(Where(*c) for c in _list(d.get("callers"), "callers") if _caller_ok(c))
    return Event(
        kind, _str(d, "op"), _where(d), _str(d, "via"), callers, _str(d, "tensor_device", "cpu"), direction,
        _int(d, "count"), _num(d, "seconds"), _int(d, "bytes"), _int(d, "steps_seen"), _int(d, "same_tensor_steps"),
    )


def _caller_ok(c: object) -> TypeGuard[list[Any]]:
    return isinstance(c, list) and len(c) == 3 and isinstance(c[0], str) and isinstance(c[1], int) and not isinstance(c[1], bool) and isinstance(c[2], str)


def _ints(value: Any, what: str) -> tuple[int, ...]:
    items = _list(value, what)
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in items):
        raise _Bad(f"{what} holds something other than counts")
    return tuple(items)


def _window(d: dict[str, Any]) -> Window:
    kind = _str(d, "kind")
    if kind not in ("steps", "time"):
        raise _Bad("window kind is unknown")
    site = d.get("site")
    where = Where(*site) if _caller_ok(site) else None
    steps = tuple(
        Step(_num(s, "total_s"), _num(s, "data_s"), _num(s, "optimizer_s"), _num(s, "readback_s"), _num(s, "move_s"), _int(s, "samples", None))
        for s in (_obj(x, "step") for x in _list(d.get("steps"), "steps"))
    )
    forwards = tuple(
        Forward(_where(f), _str(f, "module"), _int(f, "calls"), _int(f, "grad_calls"), _int(f, "eval_grad_calls"), _ints(f.get("samples"), "samples"))
        for f in (_obj(x, "forward") for x in _list(d.get("forwards"), "forwards"))
    )
    loaders = tuple(
        LoaderUse(_int(u, "id"), _int(u, "batches"), _num(u, "wait_s"), _ints(u.get("samples"), "samples"))
        for u in (_obj(x, "loader use") for x in _list(d.get("loaders"), "loaders"))
    )
    patterns = tuple(
        Pattern(_str(p, "path"), _int(p, "line", None), _str(p, "name"), _str(p, "message"))
        for p in (_obj(x, "pattern") for x in _list(d.get("patterns"), "patterns"))
    )
    ops = _obj(d.get("optimizer_ops") or {}, "optimizer_ops")
    cuda = d.get("cuda")
    cuda_totals = {str(k): _num(cuda, k) for k in cuda} if isinstance(cuda, dict) else None
    autocast = tuple(a[:100] for a in _list(d.get("autocast"), "autocast") if isinstance(a, str))
    return Window(
        kind, where, _num(d, "seconds"), steps, tuple(_event(_obj(e, "event")) for e in _list(d.get("events"), "events")),
        forwards, loaders, autocast, _int(ops, "foreach"), _int(ops, "fused"), patterns, _str(d, "pattern_note"), cuda_totals,
        _num(d, "unprofiled_step_s", None),
    )


def _loader(d: dict[str, Any]) -> Loader:
    where = Where(_str(d, "path"), _int(d, "line"), "") if isinstance(d.get("path"), str) else None
    pin = d.get("pin_memory")
    return Loader(where, _int(d, "batch_size", None), _int(d, "num_workers"), pin is True, _str(d, "dataset"))


def _optimizer(d: dict[str, Any]) -> Optimizer:
    return Optimizer(_str(d, "class"), _opt_bool(d, "foreach"), _opt_bool(d, "fused"), _opt_bool(d, "default_foreach"))


def parse(data: Any) -> ChildResult:
    """The child's result, checked field by field; raises ProfileError on anything malformed."""
    try:
        d = _obj(data, "the result")
        if d.get("internal_error"):
            raise ProfileError(f"advisor's profiling child failed: {str(d['internal_error'])[:500]} — rerun with --debug and report it")
        if d.get("schema") != 1:
            raise _Bad("unknown schema")
        error = d.get("error")
        err: dict[str, str] | None = None
        if error is not None:
            e = _obj(error, "error")
            err = {"type": _str(e, "type"), "message": _str(e, "message"), "traceback": _str(e, "traceback")}
        device = _str(d, "device", "cpu")
        if device not in ("cpu", "cuda"):
            raise _Bad("device is unknown")
        return ChildResult(
            device=device,
            device_name=_str(d, "device_name")[:200],
            torch=_str(d, "torch")[:100],
            ended=_str(d, "ended")[:300],
            elapsed_s=_num(d, "elapsed_s"),
            total_steps=_int(d, "total_steps"),
            windows=tuple(_window(_obj(w, "window")) for w in _list(d.get("windows"), "windows")),
            loaders=tuple(_loader(_obj(x, "loader")) for x in _list(d.get("loaders"), "loaders")),
            optimizers=tuple(_optimizer(_obj(x, "optimizer")) for x in _list(d.get("optimizers"), "optimizers")),
            error=err,
        )
    except _Bad as exc:
        raise ProfileError(f"the profiling child wrote a malformed result ({exc}) — rerun; if it repeats, report it") from None
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"the profiling child wrote a malformed result ({type(exc).__name__}) — rerun; if it repeats, report it") from None


def _display(path: str, base: str) -> str:
    """A path as the scan shows it: relative to the working folder when inside it."""
    import os

    if base and path.startswith(base.rstrip(os.sep) + os.sep):
        return path[len(base.rstrip(os.sep)) + 1:]
    return path
