"""Write `advisor/recorded.json`: the figures a saved `advisor scan --verify --format json` run measured,
one entry per rule and device, with the machine they came from. `advisor explain` and the README show
them, labelled with their device, where this machine cannot measure (no CUDA here) or has not yet.

    python3 benchmarks/record_figures.py docs/demo-verified-h100.json

Results that timed the scanned file's own function (ADV401's `user_function`) are left out: they
measured the demo's code, not the rule's pair.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "advisor" / "recorded.json"


def recorded(run: dict) -> dict:
    results: dict[str, dict[str, dict]] = {}
    for finding in run.get("findings", []):
        for v in finding.get("verifications", []):
            if (v.get("extra") or {}).get("user_function") or v.get("status") not in ("measured", "no-significant-gain"):
                continue  # the demo's own function, or nothing measured
            results.setdefault(v["code"], {}).setdefault(v["device"], v)
    env = run.get("environment", {})
    keep = ("cpu", "gpu", "torch", "date")
    return {
        "environment": {k: env[k] for k in keep if k in env},
        "results": {code: [by_device[d] for d in sorted(by_device)] for code, by_device in sorted(results.items())},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python3 benchmarks/record_figures.py SAVED_RUN.json", file=sys.stderr)
        return 2
    run = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    OUT.write_text(json.dumps({"source": Path(argv[0]).name, **recorded(run)}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT.name}: {sum(len(v) for v in recorded(run)['results'].values())} results")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
