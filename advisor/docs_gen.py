"""The README's generated parts: the demo output, the saved verified run and the rules table, produced by
the tool itself so that the README cannot drift from what users see (`tests/test_readme.py` compares).

    python3 -m advisor.docs_gen README.md           # rewrite the generated blocks in place
    python3 -m advisor.docs_gen README.md --check   # exit 1 if they are out of date

A block sits between `<!-- generated: NAME -->` and `<!-- /generated: NAME -->`; NAME says what fills it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from advisor.rule import Rule, all_rules
from advisor.types import Verification

BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /generated: (?P=name) -->)", re.S)


def _advisor(root: Path, *args: str) -> str:
    """What `advisor ARGS` prints in `root`, uncoloured, with a fresh cache, as a user would see it."""
    with tempfile.TemporaryDirectory() as cache:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")])),
            "NO_COLOR": "1",
            "ADVISOR_CACHE_DIR": cache,
        }
        proc = subprocess.run([sys.executable, "-m", "advisor", *args], cwd=root, capture_output=True, text=True, env=env, timeout=300)
    return proc.stdout


def demo_command() -> list[str]:
    return ["scan", "fixtures/demo"]


def verified_command() -> list[str]:
    return ["report", "docs/demo-verified-h100.json", "--format", "text", "-q"]


def _fenced(command: list[str], output: str) -> str:
    return f"```\n$ advisor {' '.join(command)}\n{output}```\n"


def recorded_cell(rule: type[Rule]) -> str:
    """The rules table's figure: what the shipped recorded run measured, per device, or why there is none."""
    from advisor.recorded import recorded_results
    from advisor.present import format_ratio

    if rule.pair_path() is None:
        return f"not measured: {rule.no_pair_reason}"
    parts = []
    for v in recorded_results(rule.code):
        where = v.device_name or v.device
        parts.append(f"{where}: {_figure(v, format_ratio)}")
    return "; ".join(parts) if parts else f"none recorded; `advisor verify {rule.code}`"


def _figure(v: Verification, ratio: Callable[[float | None], str]) -> str:
    if v.metric == "loss":
        before, after = (v.extra.get(k, {}).get("loss_mean") for k in ("before", "after"))
        if isinstance(before, float) and isinstance(after, float):
            return f"held-out loss {before:.3f} → {after:.3f} on our synthetic task"
    if v.status == "measured" and v.speedup is not None:
        return f"{ratio(v.speedup)} [{ratio(v.speedup_low)}–{ratio(v.speedup_high)}]"
    return "no significant gain"


def rules_table() -> str:
    fix = {None: "—", True: "safe", False: "unsafe"}
    rows = ["| code | name | finds | severity | fix | recorded (median speed-up [interval]) |", "|---|---|---|---|---|---|"]
    for rule in all_rules():
        rows.append(f"| {rule.code} | {rule.name} | {rule.summary} | {rule.severity.value} | {fix[rule.fix_safe]} | {recorded_cell(rule)} |")
    return "\n".join(rows) + "\n"


def generators(root: Path) -> dict[str, Callable[[], str]]:
    return {
        "demo": lambda: _fenced(demo_command(), _advisor(root, *demo_command())),
        "demo-verified": lambda: _fenced(verified_command(), _advisor(root, *verified_command())),
        "rules-table": rules_table,
    }


def render(readme: str, root: Path) -> str:
    """`readme` with every generated block filled again."""
    made = generators(root)

    def fill(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in made:
            raise KeyError(f"unknown generated block {name!r}: expected one of {', '.join(made)}")
        return m.group(1) + made[name]() + m.group(4)

    return BLOCK.sub(fill, readme)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    path = Path(paths[0] if paths else "README.md")
    old = path.read_text(encoding="utf-8")
    new = render(old, path.resolve().parent)
    if check:
        if new != old:
            print(f"{path}: generated blocks are out of date — run `python3 -m advisor.docs_gen {path}`", file=sys.stderr)
            return 1
        return 0
    if new != old:
        path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
