"""Parent side: start the profiling child, bound it in time, and end it with its whole process group
(DataLoader workers included) on every exit path: success, crash, timeout, or Ctrl-C here.

The script's own output goes to a temporary log, whose tail is shown when the script fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.profile.result import ChildResult, ProfileError, parse

MAX_RESULT_BYTES = 32 * 2**20
LOG_TAIL_LINES = 30


@dataclass(frozen=True)
class Request:
    script: Path
    args: tuple[str, ...]
    steps: int = 10
    skip: int = 2
    startup_s: float = 30.0
    window_s: float = 5.0
    linger_s: float = 10.0
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    timeout_s: float = 300.0


class ScriptFailed(ProfileError):
    """The user's script failed; `output` is its traceback or the tail of what it printed."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


def child_env(device: str) -> dict[str, str]:
    """The child imports this same advisor; `--device cpu` hides CUDA before torch loads."""
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH", "")]))}
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _tail(log: Path) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line for line in text.splitlines() if not line.startswith("USDT:")]  # kineto's own chatter
    return "\n".join(lines[-LOG_TAIL_LINES:])


def run(req: Request) -> ChildResult:
    """Profile the script; raises ScriptFailed (the script's fault) or ProfileError (anything else)."""
    with tempfile.TemporaryDirectory(prefix="advisor-profile-") as folder:
        result_path = Path(folder) / "result.json"
        request_path = Path(folder) / "request.json"
        request_path.write_text(
            json.dumps(
                {
                    "script": str(req.script.resolve()),
                    "args": list(req.args),
                    "result": str(result_path),
                    "steps": req.steps,
                    "skip": req.skip,
                    "startup_s": req.startup_s,
                    "window_s": req.window_s,
                    "linger_s": req.linger_s,
                }
            ),
            encoding="utf-8",
        )
        log = Path(folder) / "output.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "advisor.profile.child", str(request_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=child_env(req.device),
                start_new_session=True,  # its own process group, so one kill ends its workers too
            )
            started = time.monotonic()
            try:
                code = proc.wait(timeout=req.timeout_s)
            except subprocess.TimeoutExpired:
                raise ScriptFailed(
                    f"{req.script}: did not finish within {req.timeout_s:g} s (it hung, or never reached {req.steps} optimizer steps) — raise --timeout or lower --steps",
                    _tail(log),
                ) from None
            finally:
                _kill_group(proc)
        elapsed = time.monotonic() - started
        if not result_path.exists():
            why = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
            raise ScriptFailed(f"{req.script}: the script {why} after {elapsed:.1f} s before a profile was written", _tail(log))
        if result_path.stat().st_size > MAX_RESULT_BYTES:
            raise ProfileError("the profiling child wrote an oversized result — rerun with fewer --steps")
        try:
            data = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            raise ProfileError("the profiling child wrote a result that is not JSON — rerun; if it repeats, report it") from None
        result = parse(data)
        if result.error is not None:
            shown = result.error["traceback"] or _tail(log)
            raise ScriptFailed(f"{req.script}: the script failed: {result.error['type']}: {result.error['message']}".rstrip(": "), shown)
        return result
