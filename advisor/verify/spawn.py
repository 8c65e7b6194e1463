"""Start the verifier's child process and read its answer: the one place that spawns it, shared by
timing (`runner`) and instruction counting (`instructions`) without either importing the other.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any


def _child_env(threads: int) -> dict[str, str]:
    """The child must import this same advisor (a checkout may shadow an installed one), and its BLAS
    pools must be sized before numpy or torch load."""
    root = str(Path(__file__).resolve().parents[2])
    pythonpath = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH", "")]))
    pools = {name: str(threads) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    return {**os.environ, **pools, "PYTHONPATH": pythonpath}


def run_child(request: dict[str, Any], timeout_s: float, prefix: list[str] | None = None) -> dict[str, Any]:
    """The child's JSON answer, or a "failed" answer saying how it died. Never raises for child trouble.

    `prefix` runs the child under another program (valgrind for instruction counts)."""
    proc = subprocess.Popen(
        [*(prefix or []), sys.executable, "-m", "advisor.verify.child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_child_env(int(request.get("threads", 1))),
        start_new_session=True,  # its own process group: a timeout also ends DataLoader workers
    )
    try:
        out, err = proc.communicate(json.dumps(request), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        return {"status": "failed", "detail": f"timed out after {timeout_s:g} s — raise --timeout or use smaller sizes"}
    if proc.returncode != 0 or not out.strip():
        if proc.returncode and proc.returncode < 0:
            sig = signal.Signals(-proc.returncode).name
            why = f"child killed by {sig}" + (" (likely out of memory)" if sig == "SIGKILL" else "")
        else:
            why = f"child exited with status {proc.returncode}"
        last = (err.strip().splitlines() or [""])[-1][:200]
        return {"status": "failed", "detail": f"{why}{': ' + last if last else ''}"}
    try:
        answer: dict[str, Any] = json.loads(out)
        return answer
    except ValueError:
        return {"status": "failed", "detail": f"child wrote something that is not JSON: {out[:80]!r}"}
