"""Run a command and report its wall and CPU time and peak memory, the whole process tree counted (a
`-j 2` scan's workers are children of the scan): the sum of every process's resident set, sampled every
20 ms, and the largest single process's high-water mark (VmHWM). CPU time (user + system of the tree)
is the figure to compare on a shared machine, where wall time mostly measures the neighbours.
Linux only (/proc)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Usage:
    wall_s: float
    cpu_s: float  # user + system, the command and every descendant it waited for
    peak_tree: int  # bytes: the largest sum of RSS over the process tree seen at one moment
    peak_one: int  # bytes: the largest single process's high-water mark
    returncode: int
    stdout: str
    stderr: str


def measure(cmd: list[str], **kwargs: object) -> Usage:
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, **kwargs)  # type: ignore[call-overload]
        peak_sum = peak_one = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            pids = _tree(proc.pid)
            peak_sum = max(peak_sum, sum(_status_kb(p, "VmRSS") for p in pids))
            peak_one = max([peak_one] + [_status_kb(p, "VmHWM") for p in pids])
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        peak_one = max(peak_one, usage.ru_maxrss)
        out.seek(0)
        err.seek(0)
        return Usage(wall, usage.ru_utime + usage.ru_stime, peak_sum * 1024, peak_one * 1024, proc.returncode,
                     out.read().decode(errors="replace"), err.read().decode(errors="replace"))
