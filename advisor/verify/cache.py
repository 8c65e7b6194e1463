"""On-disk cache of verification results, so `advisor explain` and repeated runs reuse what was measured.

Kept under $ADVISOR_CACHE_DIR, else $XDG_CACHE_HOME/advisor/verify, else ~/.cache/advisor/verify. A key
covers everything that can change the figure: the pair's (or extracted function's) source, the verifier's
own code, sizes, device, torch/numpy versions and the CPU/GPU model.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from advisor.storage import atomic_write, cache_folder
from advisor.types import Verification
from advisor.environment import environment

# The verifier files whose change must invalidate cached figures.
MAX_ENTRY_BYTES = 2**20
_METHOD_FILES = ("child.py", "callgrind.py", "instructions.py", "measure.py", "stats.py", "compare.py", "quality.py", "user_code.py")


def cache_dir() -> Path:
    return cache_folder("verify")


def method_hash() -> str:
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in _METHOD_FILES:
        path = here / name
        if path.exists():
            h.update(path.read_bytes())
    return h.hexdigest()


def cache_key(code: str, source_hash: str, sizes: dict[str, Any], device: str, count_instructions: bool = False) -> str:
    env = environment()
    hardware = env.cpu if device == "cpu" else ",".join(env.gpus)
    parts = {
        "code": code,
        "source": source_hash,
        "method": method_hash(),
        "sizes": sizes,
        "device": device,
        "torch": env.torch,
        "numpy": env.numpy,
        "hardware": hardware,
        "count_instructions": count_instructions,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _path(code: str, key: str) -> Path:
    return cache_dir() / f"{code.lower()}-{key[:24]}.json"


def to_dict(v: Verification) -> dict[str, Any]:
    return v.to_dict()


def from_dict(data: dict[str, Any]) -> Verification:
    """Saved results are read by `Verification.from_dict`, shared with `advisor report`."""
    return Verification.from_dict(data)


def _read_entry(path: Path) -> tuple[float, Verification]:
    """(when stored, result) of one entry; ValueError/KeyError/TypeError/OSError for anything that is
    not exactly what `store` writes, which callers treat as a miss (the folder may hold anything)."""
    from advisor.report import shape

    data = shape.parse(shape.read_regular(path, MAX_ENTRY_BYTES).decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not an object")
    shape.number(data.get("stored"), "stored")
    shape.verification(data.get("result"), "result")
    return float(data["stored"]), from_dict(data["result"])


def load(code: str, key: str) -> Verification | None:
    try:
        result = _read_entry(_path(code, key))[1]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return replace(result, extra={**result.extra, "cached": True})


def store(code: str, key: str, result: Verification) -> None:
    """Only results worth reusing: a failure or skip may be transient (a hang, a busy GPU)."""
    if result.status in ("failed", "skipped"):
        return
    path = _path(code, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps({"stored": time.time(), "result": to_dict(result)}, indent=1).encode("utf-8"))
    except OSError:
        pass  # a read-only home must not fail the run


def cached_results_for(code: str) -> list[Verification]:
    """The newest cached result per device for a rule's shipped pair on this machine (for `advisor explain`).

    Only results whose pair source, verifier code, versions and hardware still match are returned.
    """
    from advisor.verify.pairs import pair_for

    spec = pair_for(code)
    if spec is None:
        return []
    newest: dict[str, tuple[float, Verification]] = {}
    for device in spec.devices:
        key = cache_key(spec.code, spec.source_hash, spec.default_sizes, device)
        path = _path(spec.code, key)
        try:
            newest[device] = _read_entry(path)
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return [v for _, v in sorted(newest.values(), key=lambda tv: tv[1].device)]
