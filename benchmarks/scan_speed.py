"""Scan speed: cold start on one small file, and throughput (lines/s) on a generated corpus.

Run: python benchmarks/scan_speed.py [--files 1500]
Prints figures; asserts nothing (speed targets are read by people, not enforced in unit tests).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


# The floor a scan cannot go under: the interpreter started and the scanner's own dependencies imported.
FLOOR = [sys.executable, "-c", "import libcst, click"]


def cold_start(sample: Path, runs: int) -> tuple[list[float], list[float]]:
    """Interleaved runs of a one-file scan and of the floor, so both see the same machine load."""
    times, floor = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "advisor", "scan", str(sample), "-q", "--no-cache"], capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run(FLOOR, capture_output=True, cwd=REPO)
        floor.append(time.perf_counter() - t0)
    return times, floor


def build_corpus(root: Path, n_files: int) -> int:
    """Copies of every shipped fixture plus plain non-ML modules (which the prefilter should skip)."""
    sources = sorted((REPO / "advisor" / "rules").rglob("adv[0-9][0-9][0-9]/*.py"))
    plain = [p for p in (Path(os.__file__).parent).glob("*.py")][:40]
    pool = [p.read_text(encoding="utf-8", errors="replace") for p in sources + plain]
    lines = 0
    for i in range(n_files):
        text = pool[i % len(pool)]
        (root / f"m{i:05d}.py").write_text(text, encoding="utf-8")
        lines += text.count("\n") + 1
    return lines


def throughput(root: Path, jobs: int, *cache: str) -> float:
    """One scan of the corpus; `--no-cache` unless a cache folder is given (then it is used, warm or not)."""
    env = {**os.environ, "ADVISOR_CACHE_DIR": cache[0]} if cache else None
    flags = [] if cache else ["--no-cache"]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "advisor", "scan", str(root), "-q", "--exit-zero", "--jobs", str(jobs), *flags], capture_output=True, env=env)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1500)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    sample = REPO / "advisor" / "rules" / "device" / "adv103" / "pos_item_accumulate.py"
    times, floor = cold_start(sample, args.runs)
    print(f"cold start, one small file ({sample.name}): median {statistics.median(times):.3f} s, "
          f"min {min(times):.3f} s, max {max(times):.3f} s over {args.runs} runs")
    print(f"floor (python -c 'import libcst, click'): median {statistics.median(floor):.3f} s; "
          f"one-file scan / floor: {statistics.median(times) / statistics.median(floor):.2f}x "
          f"on {os.cpu_count()} CPUs ({platform.processor() or platform.machine()})")
    tmp = Path(tempfile.mkdtemp(prefix="advisor-bench-"))
    try:
        lines = build_corpus(tmp, args.files)
        for jobs in (1, os.cpu_count() or 1):
            wall = min(throughput(tmp, jobs) for _ in range(2))
            print(f"corpus {args.files} files / {lines:,} lines, --jobs {jobs}: {wall:.2f} s wall, "
                  f"{lines / wall:,.0f} lines/s, {args.files / wall:,.0f} files/s (best of 2)")
        cache = str(tmp) + "-cache"
        throughput(tmp, 1, cache)  # fills the content-hash cache
        warm = min(throughput(tmp, 1, cache) for _ in range(2))
        print(f"corpus {args.files} files, --jobs 1, warm scan cache (nothing changed): {warm:.2f} s wall (best of 2)")
        shutil.rmtree(cache, ignore_errors=True)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
