"""Timing inside the child: interleaved before/after rounds that stop as soon as the interval is tight.

Imported only by `advisor.verify.child`. Rounds alternate order (before-after, after-before, ...) so that
slow drift of a shared machine falls on both sides equally. Each side's samples are blocks of a fixed
number of calls, chosen once from the warm-up call so that a block lasts about `BLOCK_S` (one call when
a call is slower): no per-block calibration, so a slow side costs one call per sample, not two. The
accelerator is synchronised around every block, and garbage collection is off inside it, as
`timeit` and `torch.utils.benchmark` do. This module imports neither torch nor numpy: a pair that only
needs NumPy (or plain Python) never pays for loading torch.

After `MIN_ROUNDS` rounds the bootstrap interval of the speed-up is computed after every round; once
its half-width is within `TIGHT` of the ratio (a 200x pair gets there in a few rounds) or the budget
is spent, timing stops. The interval that is reported is the one timing stopped on.
"""

from __future__ import annotations

import gc
import math
import sys
import time
from typing import Any, Callable

from advisor.verify import stats

MIN_ROUNDS, MAX_ROUNDS = 4, 12
# One sample: at least this long, else one call. Long enough that the timer's own cost (~50 ns) and a
# scheduler tick are noise, short enough that a round of a fast pair takes a fraction of a second.
BLOCK_S = 0.02
# Timed per side per round: at least one block, at most this many blocks of the side.
SAMPLES_PER_ROUND = 3
# Stop once the interval's half-width is at most this fraction of the ratio (two significant digits).
TIGHT = 0.1


def _sync(device: str) -> Callable[[], None]:
    if device == "cuda":
        import torch

        return torch.cuda.synchronize
    return lambda: None


def timed_call(fn: Callable[[Any], Any], inputs: Any, device: str) -> tuple[Any, float]:
    """One synchronised call and its seconds: the warm-up, and a first guess of how long a call takes."""
    sync = _sync(device)
    sync()
    start = time.perf_counter()
    out = fn(inputs)
    sync()
    return out, time.perf_counter() - start


def time_once(fn: Callable[[Any], Any], inputs: Any, device: str) -> float:
    return timed_call(fn, inputs, device)[1]


def _block(fn: Callable[[Any], Any], inputs: Any, number: int, sync: Callable[[], None]) -> float:
    """Seconds per call over one block of `number` calls, garbage collection off as in `timeit`."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        sync()
        start = time.perf_counter()
        for _ in range(number):
            fn(inputs)
        sync()
        return (time.perf_counter() - start) / number
    finally:
        if enabled:
            gc.enable()


def set_threads(threads: int) -> None:
    """Intra-op threads for torch when the pair loaded it; BLAS pools were sized by the environment."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def tight(before_rounds: list[list[float]], after_rounds: list[list[float]]) -> bool:
    """The speed-up's interval is narrow enough that more rounds would not change what is printed."""
    est = stats.speedup_interval(before_rounds, after_rounds)
    return est.high - est.low <= 2 * TIGHT * est.ratio


def interleaved(
    before: Callable[[Any], Any],
    after: Callable[[Any], Any],
    inputs: Any,
    *,
    device: str,
    budget_s: float,
    threads: int = 1,
    warm: tuple[float, float] | None = None,
    also: dict[str, Callable[[Any], Any]] | None = None,
) -> dict[str, Any]:
    """Per-round lists of per-call seconds for each side, plus how many calls were timed.

    `warm`: per-call seconds of a call of each side that already ran on these inputs (the equivalence
    check); the warm-up calls are then skipped. `also`: more "after" sides, timed in the same rounds
    (their rounds come back under `also_rounds`), each compared with `before`."""
    set_threads(threads)
    sync = _sync(device)
    fns = {"before": before, "after": after, **(also or {})}
    warm_start = time.perf_counter()
    guess = dict(zip(("before", "after"), warm)) if warm else {}
    guess.update({side: time_once(fn, inputs, device) for side, fn in fns.items() if side not in guess})
    warm_s = time.perf_counter() - warm_start
    number = {side: max(1, math.ceil(BLOCK_S / max(t, 1e-9))) for side, t in guess.items()}
    blocks = {side: max(1, min(SAMPLES_PER_ROUND, int(SAMPLES_PER_ROUND * BLOCK_S / max(number[side] * guess[side], 1e-9)))) for side in fns}
    samples: dict[str, list[list[float]]] = {side: [] for side in fns}
    calls = {side: 0 for side in fns}
    sides = list(fns)
    start = time.perf_counter()
    rounds = 0
    stopped = "budget"
    while rounds < MAX_ROUNDS:
        for side in sides if rounds % 2 == 0 else sides[::-1]:
            samples[side].append([_block(fns[side], inputs, number[side], sync) for _ in range(blocks[side])])
            calls[side] += number[side] * blocks[side]
        rounds += 1
        if rounds == 1:
            # The warm-up call may have carried one-time costs: size the blocks from a timed round.
            for side in fns:
                per_call = stats.median(samples[side][0])
                number[side] = max(number[side], math.ceil(BLOCK_S / max(per_call, 1e-9)))
        if rounds < MIN_ROUNDS:
            continue
        if all(tight(samples["before"], samples[side]) for side in sides[1:]):
            stopped = "tight"
            break
        if time.perf_counter() - start >= budget_s:
            break
    else:
        stopped = "rounds"
    return {
        "before_rounds": samples["before"],
        "after_rounds": samples["after"],
        "also_rounds": {side: samples[side] for side in (also or {})},
        "calls": calls,
        "rounds": rounds,
        "threads": threads,
        "stopped": stopped,
        "timing_s": round(time.perf_counter() - start, 3),
        "warm_s": round(warm_s, 3),
    }
