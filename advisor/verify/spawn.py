"""Start the verifier's child process in its sandbox and read its answer: the one place that spawns it,
shared by timing (`runner`) and instruction counting (`instructions`) without either importing the other.

Inside `warm_children()` (one verify run), the shipped pairs measured on the CPU go to one warm
parent (`zygote`) that imported torch and numpy once and forks a fresh worker per pair; everything
else (code lifted from the user's files, CUDA, instruction counts) starts a plain child of its own.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
from contextlib import contextmanager
from typing import IO, Any, Iterator

from advisor.verify import sandbox

# The zygote's own CPU time: imports and forks only; each worker sets its own limit from the request.
ZYGOTE_CPU_SECONDS = 600


def cpu_seconds(timeout_s: float, threads: int) -> int:
    return int(timeout_s * (threads + 1)) + 10


def timed_out(timeout_s: float) -> dict[str, Any]:
    return {"status": "failed", "detail": f"timed out after {timeout_s:g} s — raise --timeout or use smaller sizes"}


def run_child(request: dict[str, Any], timeout_s: float, prefix: list[str] | None = None) -> dict[str, Any]:
    """The child's JSON answer, or a "failed" answer saying how it died. Never raises for child trouble;
    whatever ends this call (a timeout, Ctrl-C, SIGTERM turned into an exception) kills the child's group.

    `prefix` runs the child under another program (valgrind for instruction counts)."""
    threads = int(request.get("threads", 1))
    if _WARM is not None and _WARM.serves(request, prefix):
        return _WARM.run(request, timeout_s)
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
            preexec_fn=sandbox.preexec(cpu_seconds(timeout_s, threads), isolate_network=request.get("device") != "cuda"),
        )
        try:
            out, err = proc.communicate(json.dumps(request), timeout=timeout_s)
        except subprocess.TimeoutExpired:
            sandbox.kill_group(proc)
            return timed_out(timeout_s)
        finally:
            sandbox.kill_group(proc)  # also any worker the child left behind in its group
    return answer_from(proc.returncode, out, err)


def answer_from(returncode: int, out: str, err: str) -> dict[str, Any]:
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


class WarmChild:
    """The parent's handle on one zygote: started on first use, restarted after a timeout or a crash."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self.proc: subprocess.Popen[str] | None = None
        self._home: Any = None
        self._log: IO[str] | None = None

    def serves(self, request: dict[str, Any], prefix: list[str] | None) -> bool:
        """Only the shipped pairs, timed on the CPU with the zygote's thread count."""
        return (prefix is None and request.get("device") == "cpu" and not request.get("user_function")
                and request.get("mode") != "count" and int(request.get("threads", 1)) == self.threads)

    def _start(self) -> subprocess.Popen[str]:
        import tempfile

        self._home = tempfile.TemporaryDirectory(prefix="advisor-verify-")
        home = self._home.name
        self._log = open(os.path.join(home, ".zygote-stderr"), "w+", encoding="utf-8")
        self.proc = subprocess.Popen(
            sandbox.child_command("advisor.verify.zygote"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,  # a file: a long-lived child must never block on a full pipe
            text=True,
            cwd=home,
            env=sandbox.child_env(self.threads, home),
            start_new_session=True,
            preexec_fn=sandbox.preexec(ZYGOTE_CPU_SECONDS, isolate_network=True),
        )
        return self.proc

    def run(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """One pair in a fresh worker of the warm zygote; the timeout covers the zygote's start too."""
        deadline = time.monotonic() + timeout_s
        proc = self.proc if self.proc is not None and self.proc.poll() is None else self._start()
        assert proc.stdin is not None and proc.stdout is not None
        request = {**request, "cpu_seconds": cpu_seconds(timeout_s, self.threads)}
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            line = _read_line(proc.stdout, deadline)
        except _Late:
            self.close()
            return timed_out(timeout_s)
        except OSError:  # the zygote is gone (a broken pipe): said below, with its last words
            line = ""
        if not line:
            returncode = proc.poll()
            err = self._log_text()
            self.close()
            return answer_from(returncode if returncode is not None else 1, "", err)
        return answer_from(0, line, "")

    def _log_text(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read()[-4000:]

    def close(self) -> None:
        if self.proc is not None:
            sandbox.kill_group(self.proc)
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._home is not None:
            self._home.cleanup()
            self._home = None


class _Late(Exception):
    """The zygote's answer did not come before the deadline (not an OSError, unlike TimeoutError)."""


def _read_line(stream: IO[str], deadline: float) -> str:
    """One line from the zygote, or _Late at the deadline ("" when it closed its end)."""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(timeout=left):
                raise _Late
            return stream.readline()


_WARM: WarmChild | None = None


@contextmanager
def warm_children(threads: int = 1) -> Iterator[None]:
    """Within this block the shipped CPU pairs share one warm zygote; it is killed on every exit path."""
    global _WARM
    if _WARM is not None:  # nested: the outer block owns it
        yield
        return
    _WARM = WarmChild(threads)
    try:
        yield
    finally:
        warm, _WARM = _WARM, None
        warm.close()
