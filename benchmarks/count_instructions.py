"""Count every CPU timed pair's instructions twice under callgrind and print the counts, the time each
count took and how far the second count moved (the figures in docs/verify.md, Instruction counts).

    python benchmarks/count_instructions.py [CODES...]

Counting only: the pairs are not timed here, so the seconds shown are what `--count-instructions`
adds to a verify run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.verify.instructions import count_instructions  # noqa: E402
from advisor.verify.pairs import all_pairs  # noqa: E402
from advisor.verify.runner import DEFAULT_TIMEOUT_S  # noqa: E402


def main(codes: list[str]) -> None:
    for spec in all_pairs().values():
        if "cpu" not in spec.devices or spec.metric != "time" or (codes and spec.code not in codes):
            continue
        if spec.not_counted:
            print(f"{spec.code}: not counted: {spec.not_counted}")
            continue
        sizes = {**spec.default_sizes, **spec.count_sizes}
        request = {"pair_path": str(spec.path), "code": spec.code, "device": "cpu", "tolerance": spec.tolerance, "metric": "time", "threads": 1}
        counts = []
        for _ in (1, 2):
            start = time.perf_counter()
            ins = count_instructions(request, sizes, DEFAULT_TIMEOUT_S)
            counts.append((time.perf_counter() - start, ins))
        (t1, a), (t2, b) = counts
        if a["before"] is None or b["before"] is None:
            print(f"{spec.code}: {a['detail'] or b['detail']}")
            continue
        spread = max(abs(b[s] - a[s]) / a[s] for s in ("before", "after"))
        shown = ", ".join(f"{k}={v}" for k, v in sizes.items())
        print(
            f"{spec.code} ({shown}): before {a['before']:,} / {b['before']:,}, after {a['after']:,} / {b['after']:,}, "
            f"ratio {a['ratio']:g} / {b['ratio']:g}, largest run-to-run difference {spread:.3%}, {t1:.1f} s and {t2:.1f} s",
            flush=True,
        )


if __name__ == "__main__":
    main([c.upper() for c in sys.argv[1:]])
