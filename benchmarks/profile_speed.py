"""How long `advisor profile fixtures/demo/train.py` takes, next to the floor of any torch script here.

Prints, per run: the wall time of the whole command, the child's own time (script plus profiling), the
optimizer steps the demo took, the loops profiled, and the time of `python -c "import torch"` measured
in the same run (on a shared machine the ratio holds better than either figure). The load average is
printed too: on a 2-core machine shared with other work the figures swing by 2x and more.

    python benchmarks/profile_speed.py [--runs 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "fixtures" / "demo" / "train.py"


def timed(cmd: list[str], env: dict[str, str], cwd: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=900)
    return time.perf_counter() - start, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS for the script (0: torch's default)")
    opts = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))}
    if opts.threads:
        env["OMP_NUM_THREADS"] = str(opts.threads)
    print(f"cpus {os.cpu_count()}, load average before {os.getloadavg()[0]:.1f}, threads {opts.threads or 'default'}")
    walls, floors = [], []
    with tempfile.TemporaryDirectory() as cwd:  # no data/ there: the demo generates its images
        for i in range(opts.runs):
            floor, _ = timed([sys.executable, "-c", "import torch"], env, cwd)
            wall, proc = timed([sys.executable, "-m", "advisor", "profile", str(DEMO), "--format", "json"], env, cwd)
            if proc.returncode not in (0, 1):
                print(f"run {i + 1}: failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
                continue
            profile = json.loads(proc.stdout)["profile"]
            confirmed = sorted({f["code"] for f in json.loads(proc.stdout)["findings"] if f["runtime"]["status"] == "confirmed"})
            walls.append(wall)
            floors.append(floor)
            print(
                f"run {i + 1}: wall {wall:.1f} s (child {profile['elapsed_s']:.1f} s of script and profiling), "
                f"{profile['total_steps']} optimizer steps, {len(profile['loops'])} loops profiled; "
                f"`import torch` alone {floor:.1f} s; wall / import floor {wall / floor:.1f}x; confirmed {', '.join(confirmed)}"
            )
    if walls:
        print(f"median wall {statistics.median(walls):.1f} s over {len(walls)} run(s); load average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
