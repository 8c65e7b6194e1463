"""Type checks for JSON that advisor reads back (a saved run for `advisor report`, a verifier cache entry).

Both may come from elsewhere (a CI artifact from a stranger's pull request, a cache folder anyone can
write), so every field the reporters use is checked for its type and range before the model is built:
a wrong type is one clear error naming the field, never a traceback in a renderer later on. NaN and
infinities are refused at parse time; nesting is bounded.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any, Callable

# Deepest nesting accepted inside free-form objects (`extra`, `sizes`); the schema itself is shallower.
MAX_DEPTH = 12
# Lines, columns and offsets beyond this are not from a real file.
MAX_POSITION = 10**9
SEVERITIES = ("warning", "info")
CONFIDENCES = ("high", "medium", "low")


class ShapeError(ValueError):
    """str(error) names the field and what was wrong with it, e.g. `findings[2].line: expected an integer`."""


def read_regular(path: Path, limit: int, follow: bool = True) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; OSError or ValueError otherwise. Opened
    without blocking, so a FIFO cannot hang the run, and checked on the open descriptor."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size > limit:
            raise ValueError(f"larger than {limit // 2**20} MiB")
        return fh.read(limit + 1)[:limit]


def _refuse_constant(name: str) -> Any:
    raise ShapeError(f"{name} is not a number JSON allows")


def parse(text: str) -> Any:
    """`json.loads` without NaN/Infinity, with deep nesting turned into a ShapeError."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ShapeError("nested too deeply") from None


def _fail(where: str, what: str, value: Any) -> ShapeError:
    shown = type(value).__name__ if not isinstance(value, (str, int, float, bool)) or value is None else repr(value)[:40]
    return ShapeError(f"{where}: expected {what}, got {shown}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def integer(v: Any, where: str, low: int = 0, high: int = MAX_POSITION) -> None:
    if not _is_int(v) or not low <= v <= high:
        raise _fail(where, f"an integer from {low} to {high}", v)


def number(v: Any, where: str, optional: bool = False, low: float = -math.inf) -> None:
    if v is None and optional:
        return
    if not _is_number(v) or v < low:
        raise _fail(where, "a finite number" + (" or null" if optional else ""), v)


def string(v: Any, where: str, optional: bool = False, choices: tuple[str, ...] = ()) -> None:
    if v is None and optional:
        return
    if not isinstance(v, str) or (choices and v not in choices):
        raise _fail(where, f"one of {', '.join(choices)}" if choices else "a string", v)


def boolean(v: Any, where: str, optional: bool = False) -> None:
    if not (isinstance(v, bool) or (v is None and optional)):
        raise _fail(where, "true, false or null" if optional else "true or false", v)


def obj(v: Any, where: str, optional: bool = False) -> bool:
    """True when `v` is an object to look into; False for an allowed null."""
    if v is None and optional:
        return False
    if not isinstance(v, dict):
        raise _fail(where, "an object" + (" or null" if optional else ""), v)
    return True


def array(v: Any, where: str) -> list[Any]:
    if not isinstance(v, list):
        raise _fail(where, "a list", v)
    return v


def plain(v: Any, where: str) -> None:
    """Free-form JSON (`extra`, `sizes`): any scalars, lists and objects with string keys, bounded depth."""
    stack: list[tuple[Any, int]] = [(v, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ShapeError(f"{where}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((x, depth + 1) for x in item.values())
        elif isinstance(item, list):
            stack.extend((x, depth + 1) for x in item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ShapeError(f"{where}: holds a number JSON does not allow")


def _fields(data: dict[str, Any], where: str, checks: dict[str, Callable[[Any, str], Any]], required: tuple[str, ...]) -> None:
    for key in required:
        if key not in data:
            raise ShapeError(f"{where}: missing `{key}`")
    for key, check in checks.items():
        if key in data:
            check(data[key], f"{where}.{key}")


def _plain_object(v: Any, where: str) -> None:
    if obj(v, where):
        plain(v, where)


def _strings(v: Any, where: str) -> None:
    for i, item in enumerate(array(v, where)):
        string(item, f"{where}[{i}]")


def measurement(v: Any, where: str) -> None:
    if obj(v, where, optional=True):
        _fields(v, where, {"median_s": lambda x, w: number(x, w, low=0), "iqr_s": lambda x, w: number(x, w, low=0),
                           "runs": integer}, ("median_s", "iqr_s", "runs"))


def instructions(v: Any, where: str) -> None:
    if obj(v, where, optional=True):
        counts = lambda x, w: None if x is None else integer(x, w, high=2**63)  # noqa: E731
        _fields(v, where, {"tool": string, "before": counts, "after": counts, "ratio": lambda x, w: number(x, w, optional=True),
                           "sizes": _plain_object, "detail": string}, ())


def verification(v: Any, where: str) -> None:
    obj(v, where)
    _fields(
        v, where,
        {
            "code": string, "device": string, "status": string, "sizes_source": string, "detail": string, "device_name": string,
            "metric": string,
            "equivalent": lambda x, w: boolean(x, w, optional=True),
            "sizes": _plain_object,
            "before": measurement, "after": measurement,
            "speedup": lambda x, w: number(x, w, optional=True), "speedup_low": lambda x, w: number(x, w, optional=True),
            "speedup_high": lambda x, w: number(x, w, optional=True),
            "extra": _plain_object,
            "instructions": instructions,
        },
        ("code", "device", "status", "equivalent", "sizes", "sizes_source"),
    )


def _fix(v: Any, where: str) -> None:
    if not obj(v, where, optional=True):
        return
    _fields(v, where, {"description": string, "diff": string, "safe": boolean}, ("description", "safe"))
    for i, edit in enumerate(array(v.get("edits", []), f"{where}.edits")):
        obj(edit, f"{where}.edits[{i}]")
        _fields(edit, f"{where}.edits[{i}]", {"start": integer, "end": integer, "replacement": string}, ("start", "end", "replacement"))


def _excerpt(v: Any, where: str) -> None:
    if not obj(v, where, optional=True):
        return
    _fields(v, where, {"first_line": lambda x, w: integer(x, w, low=1)}, ("first_line", "lines"))
    for i, line in enumerate(array(v["lines"], f"{where}.lines")):
        string(line, f"{where}.lines[{i}]")


def finding(v: Any, where: str) -> None:
    obj(v, where)
    position = lambda x, w: integer(x, w, low=1)  # noqa: E731
    _fields(
        v, where,
        {
            "code": string, "name": string, "path": string, "message": string, "why": string, "suggestion": string,
            "severity": lambda x, w: string(x, w, choices=SEVERITIES), "confidence": lambda x, w: string(x, w, choices=CONFIDENCES),
            "line": position, "column": position, "end_line": position, "end_column": position,
            "cell": lambda x, w: None if x is None else integer(x, w), "fix": _fix, "excerpt": _excerpt,
            "tags": _strings,
        },
        ("code", "name", "path", "line", "column", "end_line", "end_column", "message", "why", "suggestion", "severity", "confidence"),
    )
    for i, item in enumerate(array(v.get("verifications", []), f"{where}.verifications")):
        verification(item, f"{where}.verifications[{i}]")
    runtime(v.get("runtime"), f"{where}.runtime")


RUNTIME_STATUSES = ("confirmed", "minor", "not-observed", "cannot-observe", "runtime-only")


def runtime(v: Any, where: str) -> None:
    """`advisor profile`'s evidence on one finding."""
    if obj(v, where, optional=True):
        _fields(
            v, where,
            {"status": lambda x, w: string(x, w, choices=RUNTIME_STATUSES), "detail": string, "device": string,
             "per_step": lambda x, w: number(x, w, optional=True, low=0), "share": lambda x, w: number(x, w, optional=True, low=0)},
            ("status",),
        )


def profile(v: Any, where: str) -> None:
    """`advisor profile`'s run summary: its loops, their steps and facts, the matcher's lines, notes."""
    if not obj(v, where, optional=True):
        return
    _fields(
        v, where,
        {"script": string, "device": string, "device_name": string, "torch": string, "ended": string,
         "elapsed_s": lambda x, w: number(x, w, low=0), "total_steps": lambda x, w: integer(x, w, high=2**63)},
        ("script",),
    )
    for key in ("args", "patterns", "notes"):
        for i, item in enumerate(array(v.get(key, []), f"{where}.{key}")):
            string(item, f"{where}.{key}[{i}]")
    for i, loop in enumerate(array(v.get("loops", []), f"{where}.loops")):
        at = f"{where}.loops[{i}]"
        obj(loop, at)
        _fields(loop, at, {"site": string, "kind": lambda x, w: string(x, w, choices=("steps", "time"))}, ("site", "kind"))
        for j, fact in enumerate(array(loop.get("facts", []), f"{at}.facts")):
            if not (isinstance(fact, list) and len(fact) == 2 and all(isinstance(x, str) for x in fact)):
                raise _fail(f"{at}.facts[{j}]", "a [label, value] pair of strings", fact)
        for j, step in enumerate(array(loop.get("steps", []), f"{at}.steps")):
            obj(step, f"{at}.steps[{j}]")
            seconds = lambda x, w: number(x, w, low=0)  # noqa: E731
            _fields(step, f"{at}.steps[{j}]", {k: seconds for k in ("total_s", "data_s", "optimizer_s", "sync_s", "copy_s")}
                    | {"samples": lambda x, w: None if x is None else integer(x, w, high=2**63)}, ("total_s", "data_s", "optimizer_s", "sync_s", "copy_s"))


def run(data: Any) -> None:
    """A whole `advisor scan --format json` object."""
    obj(data, "the top level")
    if "findings" not in data:
        raise ShapeError("the top level: missing `findings`")
    for i, item in enumerate(array(data["findings"], "findings")):
        finding(item, f"findings[{i}]")
    for i, item in enumerate(array(data.get("errors", []), "errors")):
        obj(item, f"errors[{i}]")
        _fields(item, f"errors[{i}]", {"path": string, "message": string}, ("path", "message"))
    for key in ("files_scanned", "lines_scanned"):
        if key in data:
            integer(data[key], key, high=2**63)
    profile(data.get("profile"), "profile")
    if obj(data.get("environment"), "environment", optional=True):
        for key, value in data["environment"].items():
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise _fail(f"environment.{key}", "a string", value)
