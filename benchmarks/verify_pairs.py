"""Run every before/after pair twice, uncached, and print each figure and how far the second run moved.

    python benchmarks/verify_pairs.py [--device cpu|cuda|auto]

Targets this prints against (checked by eye, not asserted): the first full run under 60 s on a 2-core
CPU, ADV401 at n=200 >= 100x with equal results, per-sample vs batch 64 (ADV201) >= 10x per epoch, and
every speed-up reproduced within ±25 % by the second run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.verify.command import devices_for, text_line  # noqa: E402
from advisor.verify.pairs import all_pairs  # noqa: E402
from advisor.verify.runner import RunOptions, verify_pair  # noqa: E402


def run_all(device: str) -> tuple[float, dict[tuple[str, str], object]]:
    start = time.perf_counter()
    results = {}
    for spec in all_pairs().values():
        for d in devices_for(spec, device):
            v = verify_pair(spec, d, options=RunOptions(use_cache=False))
            results[(spec.code, d)] = v
            print("  " + text_line(v), flush=True)
    return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "all"])
    args = parser.parse_args()
    os.environ["ADVISOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="advisor-bench-")
    runs = []
    for i in (1, 2):
        print(f"run {i}:")
        elapsed, results = run_all(args.device)
        print(f"run {i} took {elapsed:.1f} s")
        runs.append(results)
    print("\nrun-to-run difference of each speed-up (second / first - 1):")
    worst = 0.0
    for key, first in runs[0].items():
        second = runs[1][key]
        a, b = getattr(first, "speedup"), getattr(second, "speedup")
        if a and b:
            diff = b / a - 1
            worst = max(worst, abs(diff))
            print(f"  {key[0]} {key[1]}: {a:g}x then {b:g}x ({diff:+.0%})")
        else:
            print(f"  {key[0]} {key[1]}: {first.status} then {second.status}")  # type: ignore[attr-defined]
    print(f"largest run-to-run difference: {worst:.0%}")


if __name__ == "__main__":
    main()
