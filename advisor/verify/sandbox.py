"""How the verifier starts its measuring child: isolated from the scanned tree and from the network,
bounded in resources, and killed with its whole process group on every exit path of the parent.

The child may run code derived from the user's files (`--verify-user-code`), and even the shipped pairs
import numpy and torch by name, which a `numpy.py` planted in the current folder would otherwise shadow.
So the child gets: `python -I` (no PYTHONPATH, no user site, no script folder on `sys.path`) with an
explicit `sys.path` (advisor's own location plus the parent's library paths, never the current folder),
a fresh temporary working folder, a minimal environment, resource limits, a new network namespace
where the kernel lets us create one, and a parent-death signal.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

ADVISOR_ROOT = str(Path(__file__).resolve().parents[2])
# Passed through to the child: what finding the interpreter, CUDA and the BLAS libraries needs.
_KEEP_ENV = ("PATH", "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "CUDA_HOME", "NVIDIA_VISIBLE_DEVICES", "VALGRIND_LIB")
_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000
_PR_SET_PDEATHSIG = 1
# Files the child may write (callgrind dumps are the largest) and descriptors it may hold (DataLoader workers).
FILE_SIZE_LIMIT = 256 * 2**20
OPEN_FILES_LIMIT = 1024


def child_sys_path(cwd: str | None = None) -> list[str]:
    """advisor's own root first, then the parent's library paths; never '' or the current folder,
    which is where a planted `numpy.py` would be found."""
    here = os.path.realpath(cwd or os.getcwd())
    paths = [ADVISOR_ROOT]
    for p in sys.path:
        if p and os.path.realpath(p) != here and p not in paths:
            paths.append(p)
    return paths


def child_command(module: str, prefix: list[str] | None = None) -> list[str]:
    """`python -I -c` that sets `sys.path` explicitly and runs `module.main()`."""
    boot = f"import sys; sys.path[:] = {child_sys_path()!r}; from {module} import main; main()"
    return [*(prefix or []), sys.executable, "-I", "-c", boot]


def child_env(threads: int, home: str) -> dict[str, str]:
    """Only what the child needs: the BLAS pools sized before numpy or torch load, a private HOME."""
    env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
    env.update({name: str(threads) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    env.update({"HOME": home, "TMPDIR": home, "XDG_CACHE_HOME": home, "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0"})
    return env


def _libc() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def _new_network_namespace() -> None:
    """A network namespace holding only a down loopback; as non-root this needs a user namespace too,
    mapping our own ids. Any failure leaves the network as it was (the child reports which)."""
    if _LIBC is None:
        return
    if os.geteuid() == 0:
        _LIBC.unshare(_CLONE_NEWNET)
        return
    uid, gid = os.getuid(), os.getgid()
    if _LIBC.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        return
    try:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w", encoding="ascii") as fh:
                fh.write(text)
    except OSError:
        pass


def _limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
    try:
        resource.setrlimit(which, (cap, cap))
    except (ValueError, OSError):
        pass


def die_with_parent() -> None:
    """SIGKILL this process when its parent ends, so no measuring process outlives advisor."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def preexec(cpu_seconds: int, isolate_network: bool) -> Any:
    """Runs in the forked child before exec: limits, parent-death signal, network namespace."""

    def setup() -> None:
        die_with_parent()
        _limit(resource.RLIMIT_CORE, 0)
        _limit(resource.RLIMIT_CPU, cpu_seconds)
        _limit(resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT)
        _limit(resource.RLIMIT_NOFILE, OPEN_FILES_LIMIT)
        if isolate_network:
            _new_network_namespace()

    return setup


def network_state() -> str:
    """Inside the child: "isolated" when only the loopback interface exists (a fresh namespace)."""
    import socket

    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        return "unknown"
    return "isolated" if names == ["lo"] or not names else "not isolated (no network namespace could be created here)"


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """End the child and everything it started (DataLoader workers, valgrind's guest)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


@contextmanager
def private_folder() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="advisor-verify-") as tmp:
        yield tmp


class Stopped(SystemExit):
    """SIGTERM/SIGHUP during a verification: unwind (so every child is killed), then exit 128+signal."""


@contextmanager
def stop_children_on_signals() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into an exception and Ctrl-C into exit 130, so `finally` blocks run and no
    measuring child outlives advisor. Only the main thread can install handlers; elsewhere a no-op."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: Any) -> None:
        raise Stopped(128 + signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    except KeyboardInterrupt:
        raise SystemExit(128 + signal.SIGINT) from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
