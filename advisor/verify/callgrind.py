"""Child side of `--count-instructions`: count one call of `before` and of `after` under callgrind.

The child runs under `valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no`, so the
interpreter start, the torch import and the pair's setup run uninstrumented (about 5x faster than under
full instrumentation). Once the inputs exist and both sides are warm, the child asks callgrind to
instrument (through `callgrind_control`, the only switch valgrind offers a process without its C
headers) and toggles collection around each call with torch's client-request bindings, dumping after
each: part 1 is `before`, part 2 is `after`. The parent reads the parts.
"""

from __future__ import annotations

import gc
import os
import subprocess
from typing import Any, Callable

INSTRUMENT_TIMEOUT_S = 60.0


def _instrument_on() -> None:
    """Ask callgrind to instrument this process. Callgrind reads the command only while the guest runs
    code, not while it sleeps in a system call, so the child spins instead of waiting."""
    import time

    proc = subprocess.Popen(["callgrind_control", "-i", "on", str(os.getpid())], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + INSTRUMENT_TIMEOUT_S
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("callgrind_control did not answer — is the child running under callgrind?")
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        raise RuntimeError(f"callgrind_control -i on failed: {err[:120]}")


def _counted(fn: Callable[[Any], Any], inputs: Any) -> None:
    """One call with collection on; the collector is run first and held off so a GC pass that happens
    to fall inside the call does not make two runs differ."""
    import torch

    gc.collect()
    gc.disable()
    try:
        torch._C._valgrind_toggle()
        fn(inputs)
        torch._C._valgrind_toggle_and_dump_stats()
    finally:
        gc.enable()


def count(before: Callable[[Any], Any], after: Callable[[Any], Any], inputs: Any) -> dict[str, Any]:
    """Warm both sides (lazy imports, caches, allocator pools), then count one call of each."""
    import torch

    if not torch._C._valgrind_supported_platform():
        return {"status": "failed", "detail": "this torch build cannot send callgrind requests"}
    before(inputs)
    after(inputs)
    _instrument_on()
    _counted(before, inputs)
    _counted(after, inputs)
    return {"status": "counted"}
