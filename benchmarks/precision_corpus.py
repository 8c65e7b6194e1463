"""Rebuild the precision corpus from local clones: one file per row of precision_corpus.tsv.

Run: python benchmarks/precision_corpus.py CLONES OUT [--manifest benchmarks/precision_corpus.tsv]
(the second, held-out sample: --manifest benchmarks/precision_heldout.tsv)

CLONES holds one git clone (work tree or bare) per project, named `owner+name` or `name`. Each file is
read at the commit the manifest records (`git show COMMIT:PATH`), so the corpus is byte-identical to the
one the labels were written against. The copies are third-party code: keep OUT outside this repository.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def git_dir(clones: Path, project: str) -> Path | None:
    for name in (project, project.split("+", 1)[-1]):
        root = clones / name
        for candidate in (root / ".git", root / "repo" / ".git", root / "repo", root):
            if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
                return candidate
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clones", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--manifest", type=Path, default=HERE / "precision_corpus.tsv")
    args = ap.parse_args(argv)

    with args.manifest.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    missing = 0
    for row in rows:
        gd = git_dir(args.clones, row["project"])
        if gd is None:
            print(f"{row['project']}: no clone under {args.clones} — clone it and check out {row['commit']}", file=sys.stderr)
            missing += 1
            continue
        blob = subprocess.run(
            ["git", "--git-dir", str(gd), "show", f"{row['commit']}:{row['path']}"], capture_output=True
        )
        if blob.returncode != 0:
            print(f"{row['project']}/{row['path']}: not at {row['commit']} — fetch that commit", file=sys.stderr)
            missing += 1
            continue
        dest = args.out / row["project"] / row["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(blob.stdout)
    shutil.copy(args.manifest, args.out / "MANIFEST.tsv")
    print(f"{len(rows) - missing} of {len(rows)} files written to {args.out}")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
