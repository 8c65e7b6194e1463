"""Parent side of `--count-instructions`: run the child under callgrind and read the two counts.

Instruction counts repeat almost exactly from run to run on a busy machine, where times do not, so
they make a before/after comparison usable in CI. They count work, not time: a call that waits on
memory or on another thread costs more time than its instructions show.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from advisor.verify.spawn import run_child

NEED_VALGRIND = "instruction counts need valgrind — install it (e.g. the distribution's valgrind package) or drop --count-instructions"
CPU_ONLY = "instruction counts are for CPU pairs"
TIMED_ONLY = "instruction counts are for timed pairs, not for quality (loss) pairs"
# Callgrind runs the counted calls some 50x slower than native and the start-up uninstrumented some 5x
# slower; the counting child gets this many times the pair's own timeout.
TIMEOUT_FACTOR = 4.0


def tools_missing() -> bool:
    return shutil.which("valgrind") is None or shutil.which("callgrind_control") is None


def not_counted(detail: str, sizes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The same keys as a count, so readers of the JSON need no second shape."""
    return {"tool": "callgrind", "before": None, "after": None, "ratio": None, "sizes": sizes or {}, "detail": detail}


def read_total(path: Path) -> int | None:
    """The `totals:` line of one callgrind dump (event Ir, the only one collected)."""
    try:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("totals:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def ratio(before: int, after: int) -> float | None:
    if after <= 0:
        return None
    return float(f"{before / after:.3g}")


def count_instructions(request: dict[str, Any], sizes: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Counts of one call of each side at `sizes`, or why there are none. Never raises for child trouble."""
    if tools_missing():
        return not_counted(NEED_VALGRIND, sizes)
    with tempfile.TemporaryDirectory(prefix="advisor-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        prefix = [
            "valgrind", "--tool=callgrind", "-q", "--instr-atstart=no", "--collect-atstart=no",
            f"--callgrind-out-file={out}",
        ]
        answer = run_child({**request, "mode": "count", "sizes": sizes, "memory_bytes": None}, timeout_s * TIMEOUT_FACTOR, prefix=prefix)
        if answer.get("status") != "counted":
            return not_counted(f"counting failed: {answer.get('detail', 'no answer')}", sizes)
        before, after = read_total(Path(f"{out}.1")), read_total(Path(f"{out}.2"))
    if before is None or after is None:
        return not_counted("counting failed: callgrind wrote no counts", sizes)
    return {"tool": "callgrind", "before": before, "after": after, "ratio": ratio(before, after), "sizes": sizes, "detail": ""}

