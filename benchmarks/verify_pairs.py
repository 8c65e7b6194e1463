"""Run every before/after pair uncached (twice by default), print each figure, where each pair's time
went, the whole run's wall time with the load average, and how far the second run moved.

    python benchmarks/verify_pairs.py [--device cpu|cuda|auto|all] [--runs N] [CODE ...]

Per pair: wall time in the parent, then the child's own phases (set-up, equivalence check, timed
warm-up calls where the check could not serve as one, timed rounds; `start` is the rest: starting the sandboxed child and importing what it needs). Targets this
prints against (checked by eye, not asserted): the whole CPU run under 90 s on a 2-core CPU, ADV401 at
n=200 >= 100x with equal results, per-sample vs batch 64 (ADV201) >= 10x per epoch, and every speed-up
reproduced within ±25 % by the second run. Figures taken while other jobs share the cores are noisy:
the load average is printed before and after each run for that reason.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.types import Verification  # noqa: E402
from advisor.verify.command import devices_for, text_line  # noqa: E402
from advisor.verify.pairs import all_pairs  # noqa: E402
from advisor.verify.runner import RunOptions, verify_pair  # noqa: E402
from advisor.verify.spawn import warm_children  # noqa: E402


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def phases(v: Verification, wall: float) -> str:
    """`start` (child start-up and imports) is what the child's own phases do not account for."""
    got = v.extra.get("phases", {}) if isinstance(v.extra, dict) else {}
    parts = {k: float(got[k]) for k in ("setup_s", "check_s", "warm_s", "timing_s") if k in got}
    if not parts:
        return f"{wall:6.1f}"
    start = wall - sum(parts.values())
    rounds = v.extra.get("rounds", "-")
    shown = " ".join(f"{parts.get(k, 0):6.2f}" for k in ("setup_s", "check_s", "warm_s", "timing_s"))
    return f"{wall:6.1f} {start:6.1f} {shown} {rounds!s:>6}"


def run_all(device: str, codes: list[str]) -> tuple[float, dict[tuple[str, str], Verification], list[str]]:
    start = time.perf_counter()
    results: dict[tuple[str, str], Verification] = {}
    rows = []
    for spec in all_pairs().values():
        if codes and spec.code not in codes:
            continue
        for d in devices_for(spec, device):
            t0 = time.perf_counter()
            v = verify_pair(spec, d, options=RunOptions(use_cache=False))
            wall = time.perf_counter() - t0
            results[(spec.code, d)] = v
            print("  " + text_line(v), flush=True)
            if v.status != "skipped":
                rows.append(f"  {spec.code} {d:4} {phases(v, wall)}")
    return time.perf_counter() - start, results, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "all"])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("codes", nargs="*", help="only these rule codes")
    args = parser.parse_args()
    os.environ["ADVISOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="advisor-bench-")
    codes = [c.upper() for c in args.codes]
    runs = []
    for i in range(1, args.runs + 1):
        print(f"run {i} (load average before: {load()}):")
        with warm_children():
            elapsed, results, rows = run_all(args.device, codes)
        print("  pair         wall  start  setup  check   warm timing rounds   (seconds)")
        print("\n".join(rows))
        print(f"run {i} took {elapsed:.1f} s for {len(results)} pairs, {len(rows)} run (load average after: {load()}, {os.cpu_count()} CPUs)")
        runs.append(results)
    if len(runs) < 2:
        return
    print("\nrun-to-run difference of each speed-up (second / first - 1):")
    worst = 0.0
    for key, first in runs[0].items():
        second = runs[1][key]
        a, b = first.speedup, second.speedup
        if a and b:
            diff = b / a - 1
            worst = max(worst, abs(diff))
            print(f"  {key[0]} {key[1]}: {a:g}x then {b:g}x ({diff:+.0%})")
        else:
            print(f"  {key[0]} {key[1]}: {first.status} then {second.status}")
    print(f"largest run-to-run difference: {worst:.0%}")


if __name__ == "__main__":
    main()
