"""Time and peak memory of scanning big files, up to the `max-file-size` bound (default 1 MB).

Generates training-style modules of the given sizes (the shipped positive fixtures, so rules fire and
fixes are planned, repeated under fresh names: denser in findings than real code), scans each alone,
then a `-j 2` scan of a tree of files near the bound plus files just under a quarter of it (which two
workers analyse at once). Prints time and peak RSS per run; the target is a whole `-j 2` scan under
1 GB. Takes minutes of CPU: a file near the bound is a tree of ~500 MB.

Run: python benchmarks/large_files.py [--sizes 0.25,0.5,0.95] [--near 3] [--quarter 16]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memtree import measure  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def generate(path: Path, size: int) -> int:
    """A module of about `size` bytes (whole snippets, then short assignments); returns its line count."""
    snippets = [p.read_text(encoding="utf-8") for p in sorted((REPO / "advisor" / "rules").glob("*/adv*/pos_*.py"))]
    parts, total, i = [], 0, 0
    while True:
        text = snippets[i % len(snippets)].replace("def ", f"def v{i}_").replace("class ", f"class V{i}") + "\n"
        if total + len(text.encode()) > size:
            break
        parts.append(text)
        total += len(text.encode())
        i += 1
    while total < size - 20:
        line = f"pad_{total} = {i}\n"
        parts.append(line)
        total += len(line)
    data = "".join(parts).encode()
    path.write_bytes(data)
    return data.count(b"\n")


def scan(paths: list[Path], jobs: int) -> str:
    cmd = [sys.executable, "-m", "advisor", "scan", *map(str, paths), "-q", "--no-cache", "--exit-zero", "-j", str(jobs)]
    run = measure(cmd, cwd=REPO)
    status = "ok" if run.returncode == 0 else f"exit {run.returncode}: {run.stderr.strip()[:100]}"
    return (f"{run.wall_s:6.1f} s wall {run.cpu_s:6.1f} s CPU   peak RSS {run.peak_tree / MB:5.0f} MB (whole tree) "
            f"{run.peak_one / MB:5.0f} MB (largest process)   {status}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="0.25,0.5,0.95", help="file sizes in MB, each scanned alone")
    parser.add_argument("--near", type=int, default=3, help="files of 0.95 MB in the -j 2 run")
    parser.add_argument("--quarter", type=int, default=16, help="files of 0.24 MB in the -j 2 run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for mb in (float(s) for s in args.sizes.split(",")):
            path = root / f"one_{mb}.py"
            lines = generate(path, int(mb * MB))
            print(f"one file, {mb:4.2f} MB, {lines:6d} lines: {scan([path], 1)}", flush=True)
        if args.near + args.quarter:
            tree = root / "tree"
            tree.mkdir()
            for k in range(args.near):
                generate(tree / f"near_bound_{k}.py", int(0.95 * MB))
            for k in range(args.quarter):
                generate(tree / f"quarter_{k}.py", int(0.24 * MB))
            print(f"-j 2, {args.near} x 0.95 MB + {args.quarter} x 0.24 MB: {scan([tree], 2)}", flush=True)
        over = root / "over.py"
        generate(over, int(1.5 * MB))
        print(f"one file, 1.50 MB (over the bound): {scan([over], 1)}")


if __name__ == "__main__":
    main()
