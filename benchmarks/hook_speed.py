"""Pre-commit hook speed: `advisor scan` on a few staged files, and a whole `pre-commit run` of the hook.

Run: python benchmarks/hook_speed.py [--runs 7]
Builds a throwaway git repository with a handful of staged files (shipped fixtures and a notebook),
points its `.pre-commit-config.yaml` at this repository's HEAD, builds the hook environment once
(not timed), then times the scan without and with its warm cache and a whole `pre-commit run` (the
hook's own first run warms the cache and is not timed), and checks that the scan never imported torch or numpy.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAGED = [
    "advisor/rules/device/adv101/pos_model_and_constant.py",
    "advisor/rules/device/adv102/pos_forward.py",
    "advisor/rules/device/adv103/neg_logging_gate.py",
    "advisor/rules/compute/adv401/pos_seed_comprehension.py",
    "advisor/rules/compute/adv401/neg_vectorised.py",
]
PROBE = (
    "import sys\n"
    "from advisor.cli import main\n"
    "try:\n    main(['scan', '-q', *sys.argv[1:]])\nexcept SystemExit:\n    pass\n"
    "heavy = sorted(m for m in ('torch', 'numpy') if m in sys.modules)\n"
    "sys.stderr.write('HEAVY=' + ','.join(heavy) + '\\n')\n"
)


def _notebook() -> str:
    cell = "import torch\nfor x, y in loader:\n    h = torch.zeros(4).to(device)\n    model(x, h).sum().backward()\n    opt.step()\n"
    cells = [{"cell_type": "code", "id": "a", "execution_count": None, "metadata": {}, "outputs": [], "source": cell.splitlines(True)}]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)


def _staged_repo(root: Path) -> list[str]:
    names = []
    for rel in STAGED:
        src = REPO / rel
        if src.exists():
            shutil.copy(src, root / src.name)
            names.append(src.name)
    (root / "train.ipynb").write_text(_notebook())
    names.append("train.ipynb")
    return names


def _time(cmd: list[str], cwd: Path, env: dict[str, str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
        out.append(time.perf_counter() - t0)
    return out


def _fmt(times: list[float]) -> str:
    q = statistics.quantiles(times, n=4) if len(times) >= 2 else [times[0]] * 3
    return f"median {statistics.median(times) * 1000:.0f} ms (IQR {(q[2] - q[0]) * 1000:.0f} ms, {len(times)} runs)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        home = Path(tmp) / "pre-commit-home"
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        env.update(PRE_COMMIT_HOME=str(home), PRE_COMMIT_COLOR="never", ADVISOR_CACHE_DIR=str(Path(tmp) / "cache"))
        scan_env = {**env, "PYTHONPATH": str(REPO)}
        files = _staged_repo(root)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        (root / ".pre-commit-config.yaml").write_text(f"repos:\n  - repo: {REPO}\n    rev: {head}\n    hooks:\n      - id: advisor\n")
        subprocess.run(["git", "add", "."], cwd=root, check=True)

        probe = subprocess.run([sys.executable, "-c", PROBE, *files], cwd=root, env=scan_env, capture_output=True, text=True)
        heavy = next((line[6:] for line in probe.stderr.splitlines() if line.startswith("HEAVY=")), "?")
        scan = _time([sys.executable, "-m", "advisor", "scan", "-q", "--no-cache", *files], root, scan_env, args.runs)
        warm = _time([sys.executable, "-m", "advisor", "scan", "-q", *files], root, scan_env, args.runs + 1)[1:]

        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pre_commit", "install-hooks"], cwd=root, env=env, capture_output=True, check=True)
        setup = time.perf_counter() - t0
        hook = _time([sys.executable, "-m", "pre_commit", "run", "advisor"], root, env, args.runs + 1)[1:]
        python = subprocess.run([sys.executable, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True).stdout.strip()

    print(f"machine: {os.cpu_count()} CPUs, Python {python}; {len(files)} staged files ({', '.join(files)})")
    print(f"advisor scan --no-cache:          {_fmt(scan)}")
    print(f"advisor scan (warm cache):        {_fmt(warm)}")
    print(f"pre-commit run advisor (warm):    {_fmt(hook)}")
    print(f"hook environment build (once):    {setup:.1f} s")
    print(f"modules imported by the scan among torch/numpy: {heavy or 'none'}")


if __name__ == "__main__":
    main()
