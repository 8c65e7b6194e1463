"""A warm parent for the shipped pairs' measuring children: started once per verify run in the same
sandbox as a plain child (`python -I`, explicit `sys.path`, private folder, minimal environment, no
network where possible), it imports numpy and torch once, then forks one fresh worker per pair.

Each worker is a new process, as a plain child is: its own memory limit, CPU-time limit and temporary
folder, its output on a pipe of its own, and it ends after one pair, so no pair sees another's state.
What the workers share is only what the import left in memory, which is the point: a pair no longer
pays one to several seconds for importing torch. Only the verifier's own pairs come here, on the CPU;
code lifted from the user's files (`--verify-user-code`), CUDA pairs and instruction counts keep a
plain child each (see `spawn`).

Protocol: one JSON request per line on stdin, one JSON answer per line on stdout, in order. The parent
enforces timeouts by killing this process's whole group (this process and its worker).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import shutil
import sys
import tempfile
import traceback
from typing import Any

from advisor.verify.spawn import answer_from


# What most pairs import. torch._dynamo is what a first `optimizer.step()` imports (a few seconds, with
# sympy): paid once here rather than in every training pair's untimed first call.
PRELOAD = ("numpy", "torch", "torch._dynamo")


def _preload() -> None:
    """Import what the pairs share; a missing framework is the worker's to report, not ours."""
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - an import that fails here fails again, reported, in the worker
            pass


def _worker(req: dict[str, Any], folder: str, result_fd: int, log_path: str) -> None:
    """In the forked worker: limits, private folder, output away from the protocol pipe, one pair."""
    from advisor.verify import child, sandbox

    try:
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        sys.stdout = sys.stderr = open(2, "w", closefd=False)
        sandbox.die_with_parent()
        cpu = int(req.get("cpu_seconds", 0))
        if cpu:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        os.chdir(folder)
        os.environ.update({"HOME": folder, "TMPDIR": folder, "XDG_CACHE_HOME": folder})
        tempfile.tempdir = None
        child.apply_limits(req.get("memory_bytes"), req["device"])
        answer = child.handle(req)
        data = json.dumps(answer).encode()
        with os.fdopen(result_fd, "wb") as out:
            out.write(data)
        os._exit(0)
    except BaseException:  # noqa: B036 - whatever happens, the worker must not return into the loop
        try:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(1)


def _log_tail(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()[-4000:]
    except OSError:
        return ""


def serve_one(req: dict[str, Any]) -> dict[str, Any]:
    """Fork a worker for one request and turn what it left (an answer, or how it died) into an answer."""
    folder = tempfile.mkdtemp(prefix="advisor-pair-")
    log_path = os.path.join(folder, ".stderr")
    try:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _worker(req, folder, write_fd, log_path)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as fh:
            data = fh.read()
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        return answer_from(code, data.decode("utf-8", "replace"), _log_tail(log_path))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    _preload()
    # What the imports made lives on in every worker: keep the collector off it, so that a collection in
    # a worker neither walks it nor writes to (and so copies) its pages.
    gc.collect()
    gc.freeze()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = serve_one(json.loads(line))
        except Exception as exc:  # a broken request or a failed fork: say so, keep serving
            answer = {"status": "failed", "detail": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
