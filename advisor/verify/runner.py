"""The parent side: run one pair on one device in a child process, with a timeout and a memory cap, and
turn whatever happens (a result, a crash, a hang, an out-of-memory kill) into a Verification.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from advisor.environment import environment
from advisor.types import Measurement, Verification
from advisor.verify import cache
from advisor.verify.pairs import PairSpec
from advisor.verify.spawn import run_child

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_BYTES = 4 * 2**30
# Time the child spends on the interleaved rounds of one pair (equivalence and set-up come on top).
DEFAULT_BUDGET_S = 3.0
NOT_ASKED = "your function was not run: that runs code from your file, pass --verify-user-code to allow it; the shipped pair was measured instead"


@dataclass(frozen=True)
class RunOptions:
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_bytes: int | None = DEFAULT_MEMORY_BYTES
    budget_s: float = DEFAULT_BUDGET_S
    use_cache: bool = True
    # Intra-op threads in the child. One, like torch.utils.benchmark's own default: figures then hold per
    # core and do not swing with whatever else shares the machine (BLAS threads spin-wait under load).
    threads: int = 1
    # Also count one call of each side under callgrind (CPU, timed pairs only).
    count_instructions: bool = False
    # `--verify-user-code`: run the flagged functions lifted from the scanned files (proven pure first).
    user_code: bool = False


def _skipped(code: str, device: str, sizes: dict[str, Any], source: str, detail: str, metric: str = "time") -> Verification:
    return Verification(code=code, device=device, status="skipped", equivalent=None, sizes=sizes, sizes_source=source, detail=detail, metric=metric)


def to_verification(code: str, device: str, sizes: dict[str, Any], source: str, metric: str, answer: dict[str, Any]) -> Verification:
    def meas(side: str) -> Measurement | None:
        m = answer.get(side)
        return Measurement(**m) if m else None

    return Verification(
        code=code,
        device=device,
        status=answer.get("status", "failed"),
        equivalent=answer.get("equivalent"),
        sizes=sizes,
        sizes_source=source,
        before=meas("before"),
        after=meas("after"),
        speedup=answer.get("speedup"),
        speedup_low=answer.get("speedup_low"),
        speedup_high=answer.get("speedup_high"),
        detail=answer.get("detail", ""),
        device_name=answer.get("device_name") or "",
        metric=metric,
        extra=answer.get("extra", {}),
    )


def with_instructions(v: Verification, request: dict[str, Any], count_sizes: dict[str, Any], options: RunOptions) -> Verification:
    """Add callgrind counts to a timed CPU result whose two sides were found equivalent."""
    from advisor.verify import instructions

    if not options.count_instructions:
        return v
    if v.device != "cpu":
        return replace(v, instructions=instructions.not_counted(instructions.CPU_ONLY))
    if v.metric != "time":
        return replace(v, instructions=instructions.not_counted(instructions.TIMED_ONLY))
    if v.equivalent is not True:
        return replace(v, instructions=instructions.not_counted("not counted: the two sides were not run to equivalence"))
    return replace(v, instructions=instructions.count_instructions(request, count_sizes, options.timeout_s))


def verify_pair(
    spec: PairSpec,
    device: str,
    *,
    sizes: dict[str, Any] | None = None,
    sizes_source: str = "defaults",
    options: RunOptions = RunOptions(),
) -> Verification:
    """Measure one pair on one device (or say why not), using and filling the cache."""
    merged = {**spec.default_sizes, **(sizes or {})}
    if device == "cuda" and not environment().has_cuda:
        return with_instructions(_skipped(spec.code, device, merged, sizes_source, "needs a CUDA device to measure — none found here", spec.metric), {}, {}, options)
    if device not in spec.devices:
        if spec.devices == ("cuda",):
            return _skipped(spec.code, device, merged, sizes_source, "needs a CUDA device to measure — host↔device costs do not exist on the CPU", spec.metric)
        return _skipped(spec.code, device, merged, sizes_source, f"this pair is measured on {' and '.join(spec.devices)} only", spec.metric)
    count_sizes = {**merged, **spec.count_sizes} if sizes_source == "defaults" else merged
    key = cache.cache_key(spec.code, spec.source_hash, merged, device, options.count_instructions)
    if options.use_cache:
        hit = cache.load(spec.code, key)
        if hit is not None:
            return hit
    request = {
        "pair_path": str(spec.path),
        "code": spec.code,
        "device": device,
        "sizes": merged,
        "tolerance": spec.tolerance,
        "metric": spec.metric,
        "memory_bytes": options.memory_bytes,
        "budget_s": options.budget_s,
        "threads": options.threads,
    }
    result = to_verification(spec.code, device, merged, sizes_source, spec.metric, run_child(request, options.timeout_s))
    if spec.not_counted and options.count_instructions:
        from advisor.verify.instructions import not_counted

        result = replace(result, instructions=not_counted(f"not counted: {spec.not_counted}"))
    else:
        result = with_instructions(result, request, count_sizes, options)
    cache.store(spec.code, key, result)
    return result


def verify_user_function(
    code: str,
    function: dict[str, Any],
    sizes: dict[str, Any],
    sizes_source: str,
    tolerance: dict[str, float],
    options: RunOptions = RunOptions(),
) -> Verification:
    """Measure an extracted user function against its vectorised replacement (CPU only: it is Python)."""
    import hashlib

    device = "cpu"
    if not options.user_code:
        return _skipped(code, device, sizes, sizes_source, NOT_ASKED)
    key = cache.cache_key(code, hashlib.sha256(json.dumps(function, sort_keys=True).encode()).hexdigest(), sizes, device, options.count_instructions)
    if options.use_cache:
        hit = cache.load(code, key)
        if hit is not None:
            return hit
    request = {
        "user_function": function,
        "code": code,
        "device": device,
        "sizes": sizes,
        "tolerance": tolerance,
        "metric": "time",
        "memory_bytes": options.memory_bytes,
        "budget_s": options.budget_s,
        "threads": options.threads,
    }
    answer = run_child(request, options.timeout_s)
    answer.setdefault("extra", {})["user_function"] = function["name"]
    result = to_verification(code, device, sizes, sizes_source, "time", answer)
    result = with_instructions(result, request, sizes, options)
    cache.store(code, key, result)
    return result
