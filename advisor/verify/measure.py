"""Timing inside the child: interleaved before/after blocks with torch.utils.benchmark.

Imported only by `advisor.verify.child`, so torch is loaded only in the sandboxed child process.
Rounds alternate order (before-after, after-before, ...) so that slow drift of a shared machine falls
on both sides equally; each block is one `Timer.blocked_autorange`, which picks how many calls make a
measurable block and synchronises the accelerator around every timed region.
"""

from __future__ import annotations

import time
from typing import Any, Callable

MIN_ROUNDS, MAX_ROUNDS = 4, 8
MIN_BLOCK_S = 0.02


def _sync(device: str) -> Callable[[], None]:
    if device == "cuda":
        import torch

        return torch.cuda.synchronize
    return lambda: None


def time_once(fn: Callable[[Any], Any], inputs: Any, device: str) -> float:
    """One synchronised call: the warm-up, and a first guess of how long a call takes."""
    sync = _sync(device)
    sync()
    start = time.perf_counter()
    fn(inputs)
    sync()
    return time.perf_counter() - start


def interleaved(
    before: Callable[[Any], Any],
    after: Callable[[Any], Any],
    inputs: Any,
    *,
    device: str,
    budget_s: float,
    threads: int = 1,
) -> dict[str, Any]:
    """Per-round lists of per-call seconds for each side, plus how many calls were timed."""
    import torch
    from torch.utils.benchmark import Timer

    t_before = time_once(before, inputs, device)
    t_after = time_once(after, inputs, device)
    per_round = max(t_before, MIN_BLOCK_S) + max(t_after, MIN_BLOCK_S)
    rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, int(budget_s / per_round)))
    block_s = max(MIN_BLOCK_S, budget_s / (2 * rounds) / 2)
    torch.set_num_threads(threads)
    timers = {
        side: Timer(stmt="fn(inputs)", globals={"fn": fn, "inputs": inputs}, num_threads=threads)
        for side, fn in (("before", before), ("after", after))
    }
    samples: dict[str, list[list[float]]] = {"before": [], "after": []}
    calls = {"before": 0, "after": 0}
    for r in range(rounds):
        order = ("before", "after") if r % 2 == 0 else ("after", "before")
        for side in order:
            m = timers[side].blocked_autorange(min_run_time=block_s)
            samples[side].append(list(m.times))
            calls[side] += m.number_per_run * len(m.times)
    return {"before_rounds": samples["before"], "after_rounds": samples["after"], "calls": calls, "rounds": rounds, "threads": threads}
