"""Scale: scan every `.py` file of the installed site-packages in one run.

Prints files, lines, findings, per-file errors (by kind: over max-file-size, syntax, other), internal
errors (must be 0), wall and CPU time and peak memory of the whole process tree. Real third-party code
is the widest input we can get: any internal error or crash here is a bug.

Run: python benchmarks/site_packages.py [--jobs 2] [--root PATH] [--max-file-size 1MB]
Takes minutes (3.2M lines: ~4 min with two workers on an idle 2-core machine). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import site
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memtree import measure  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def _kind(message: str) -> str:
    for key, words in (("internal", "internal error"), ("over max-file-size", "max-file-size"),
                       ("syntax", "syntax error"), ("encoding", "decode"), ("worker died", "worker process")):
        if words in message:
            return key
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--root", default=site.getsitepackages()[0])
    parser.add_argument("--max-file-size", default=None)
    args = parser.parse_args()
    root = Path(args.root)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run.json"
        # the scan skips folders named site-packages by default, so name the packages one by one
        packages = sorted(str(p) for p in root.iterdir() if p.is_dir() or p.suffix == ".py")
        cmd = [sys.executable, "-m", "advisor", "scan", *packages, "--format", "json", "-o", str(out),
               "--no-cache", "--no-gitignore", "-j", str(args.jobs)]
        if args.max_file_size:
            cmd += ["--max-file-size", args.max_file_size]
        run = measure(cmd, cwd=folder)
        if not out.exists():
            print(f"no report written (exit {run.returncode}): {run.stderr.strip()[-400:]}")
            return
        data = json.loads(out.read_text(encoding="utf-8"))
    kinds = Counter(_kind(e["message"]) for e in data["errors"])
    print(f"root: {root.name} ({len(packages)} top-level entries), jobs {args.jobs}, exit {run.returncode}")
    print(f"files scanned: {data['files_scanned']}, lines: {data['lines_scanned']}, findings: {len(data['findings'])}")
    print(f"per-file errors: {len(data['errors'])} ({', '.join(f'{k} {n}' for k, n in kinds.most_common()) or 'none'}); "
          f"internal errors: {kinds.get('internal', 0)}")
    print(f"time: {run.wall_s:.0f} s wall, {run.cpu_s:.0f} s CPU; peak RSS {run.peak_tree / MB:.0f} MB (whole tree), "
          f"{run.peak_one / MB:.0f} MB (largest process)")
    for error in data["errors"]:
        if _kind(error["message"]) in ("internal", "other", "worker died"):
            print(f"  {error['path']}: {error['message']}")


if __name__ == "__main__":
    main()
