"""Measure one before/after pair at several sizes, to choose (and justify) its declared defaults.

    python benchmarks/pair_sizes.py ADV103 --device cuda '{"hidden": 512}' '{"hidden": 1024, "layers": 16}'

Each JSON argument overrides some of the pair's default sizes; with none, the defaults are measured.
Runs through the verifier itself (child process, equivalence check, interleaved timing), without cache.
"""

from __future__ import annotations

import argparse
import json
import sys

from advisor.verify.command import text_line
from advisor.verify.pairs import pair_for
from advisor.verify.runner import RunOptions, verify_pair


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("code")
    parser.add_argument("sizes", nargs="*", help="JSON objects of size overrides")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_intermixed_args()
    spec = pair_for(args.code.upper())
    if spec is None:
        print(f"no pair for {args.code}", file=sys.stderr)
        return 2
    for overrides in args.sizes or ["{}"]:
        v = verify_pair(spec, args.device, sizes=json.loads(overrides), sizes_source="benchmark", options=RunOptions(timeout_s=args.timeout, use_cache=False))
        print(text_line(v), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
