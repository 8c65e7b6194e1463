"""Start the verifier's child process in its sandbox and read its answer: the one place that spawns it,
shared by timing (`runner`) and instruction counting (`instructions`) without either importing the other.
"""

from __future__ import annotations

import json
import signal
import subprocess
from typing import Any

from advisor.verify import sandbox


def run_child(request: dict[str, Any], timeout_s: float, prefix: list[str] | None = None) -> dict[str, Any]:
    """The child's JSON answer, or a "failed" answer saying how it died. Never raises for child trouble;
    whatever ends this call (a timeout, Ctrl-C, SIGTERM turned into an exception) kills the child's group.

    `prefix` runs the child under another program (valgrind for instruction counts)."""
    threads = int(request.get("threads", 1))
    cpu_seconds = int(timeout_s * (threads + 1)) + 10
    with sandbox.private_folder() as home:
        proc = subprocess.Popen(
            sandbox.child_command("advisor.verify.child", prefix),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=home,
            env=sandbox.child_env(threads, home),
            start_new_session=True,  # its own process group: a timeout also ends DataLoader workers
            preexec_fn=sandbox.preexec(cpu_seconds, isolate_network=request.get("device") != "cuda"),
        )
        try:
            out, err = proc.communicate(json.dumps(request), timeout=timeout_s)
        except subprocess.TimeoutExpired:
            sandbox.kill_group(proc)
            return {"status": "failed", "detail": f"timed out after {timeout_s:g} s — raise --timeout or use smaller sizes"}
        finally:
            sandbox.kill_group(proc)  # also any worker the child left behind in its group
    return _answer(proc.returncode, out, err)


def _answer(returncode: int, out: str, err: str) -> dict[str, Any]:
    if returncode != 0 or not out.strip():
        if returncode and returncode < 0:
            sig = signal.Signals(-returncode).name
            why = f"child killed by {sig}" + (" (likely out of memory)" if sig == "SIGKILL" else "") + (" (CPU time limit)" if sig == "SIGXCPU" else "")
        else:
            why = f"child exited with status {returncode}"
        last = (err.strip().splitlines() or [""])[-1][:200]
        return {"status": "failed", "detail": f"{why}{': ' + last if last else ''}"}
    try:
        answer = json.loads(out)
    except ValueError:
        return {"status": "failed", "detail": f"child wrote something that is not JSON: {out[:80]!r}"}
    return answer if isinstance(answer, dict) else {"status": "failed", "detail": "child answered something other than a JSON object"}
