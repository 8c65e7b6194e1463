"""A process pool over files that survives a worker's death and never outlives its parent.

`concurrent.futures` fails every pending task with `BrokenProcessPool` when one worker dies (the
kernel's OOM killer, a crash in a C extension), so one bad file used to lose the whole run. Here each
worker marks in shared memory which item it is working on: after a break, the items that were in
flight are reported as lost and every other unfinished item runs again in a fresh pool.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

IDLE, RUNNING, DONE = 0, 1, 2
# A pool that breaks again and again with no item in flight gives up after this many fresh starts.
MAX_RESTARTS = 3

_state: Any = None  # this worker's view of the shared per-item state array


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_count(jobs: int | None, items: int) -> int:
    """`-j N` capped by the items and the usable CPUs: more workers than either only cost start-up."""
    wanted = jobs or usable_cpus()
    return max(1, min(wanted, items, usable_cpus()))


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel kills this worker when its parent dies, so no orphan keeps analysing."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _init_worker(parent: int, state: Any) -> None:
    global _state
    _state = state
    _die_with_parent(parent)


def _run_chunk(fn: Callable[[Any], Any], chunk: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    out = []
    for index, item in chunk:
        _state[index] = RUNNING
        out.append((index, fn(item)))
        _state[index] = DONE
    return out


def map_surviving(
    fn: Callable[[T], R], items: Sequence[T], workers: int, lost: Callable[[T, str], R],
    done: Callable[[T], None] | None = None,
) -> list[R]:
    """[fn(item) for item in items] in `workers` processes, in order. An item whose worker died while
    running it gets `lost(item, why)` instead; `fn` must be a picklable module-level function.

    When a pool breaks, the executor also stops the healthy workers, so every item in flight is only a
    suspect: each runs again alone, and the one that breaks its own pool is the one reported."""
    results: dict[int, R] = {}
    pending = list(range(len(items)))
    for _ in range(MAX_RESTARTS + 1):
        if not pending:
            break
        suspects = _round(fn, items, pending, workers, results, done)
        for i in suspects:
            if not _round(fn, items, [i], 1, results):
                continue
            results[i] = lost(items[i], "the worker process analysing it died (killed by the system — out of memory?)")
        pending = [i for i in pending if i not in results]
    for i in pending:
        results[i] = lost(items[i], "worker processes kept dying before reaching it")
    return [results[i] for i in range(len(items))]


def _round(
    fn: Callable[[Any], Any], items: Sequence[Any], indices: list[int], workers: int, results: dict[int, Any],
    done: Callable[[Any], None] | None = None,
) -> list[int]:
    """Run `indices` in one fresh pool, adding to `results`; the indices in flight if the pool broke."""
    state = multiprocessing.RawArray(ctypes.c_byte, len(items))
    size = max(1, min(64, len(indices) // (workers * 4)))
    chunks = [[(i, items[i]) for i in indices[k : k + size]] for k in range(0, len(indices), size)]
    broken = False
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), initializer=_init_worker, initargs=(os.getpid(), state)) as pool:
        futures = [pool.submit(_run_chunk, fn, chunk) for chunk in chunks]
        for future in as_completed(futures):
            try:
                chunk_results = dict(future.result())
                results.update(chunk_results)
                if done is not None:
                    for i in chunk_results:
                        done(items[i])
            except BrokenProcessPool:
                broken = True
    return [i for i in indices if broken and i not in results and state[i] == RUNNING]
