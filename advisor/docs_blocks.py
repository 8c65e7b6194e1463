"""Generated blocks of the README, so that what it says about the rules cannot drift from the rule classes.

A block sits between `<!-- generated: NAME -->` and `<!-- end: NAME -->`; `blocks()` renders each one
and `tests/test_docs_blocks.py` fails when the README's copy differs. Regenerate with
`python -m advisor.docs_blocks --write README.md`. Measured figures come from `docs/measured.json`
(one data file), never from prose typed into the README.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Callable

from advisor.rule import Rule, all_rules
from advisor.types import Severity

MEASURED = Path(__file__).resolve().parent.parent / "docs" / "measured.json"


def fix_label(rule: type[Rule]) -> str:
    """How the rule's autofix is applied: none, `--fix` (safe) or `--unsafe-fixes`."""
    if rule.fix_safe is None:
        return "—"
    return f"{'safe' if rule.fix_safe else 'unsafe'}: {rule.fix_title}"


def measured_label(rule: type[Rule], measured: dict[str, str]) -> str:
    if rule.pair_path() is None:
        return f"not measured: {rule.no_pair_reason}"
    return measured.get(rule.code, "not measured yet")


def rules_table(measured: dict[str, str] | None = None) -> str:
    """The README's rules table: one row per rule class, in code order."""
    if measured is None:
        measured = load_measured()
    rows = ["| code | name | finds | fix | measured (median speed-up [interval], default sizes) |", "|---|---|---|---|---|"]
    for rule in all_rules():
        finds = rule.summary + (" (info)" if rule.severity is Severity.INFO else "")
        rows.append(f"| {rule.code} | {rule.name} | {finds} | {fix_label(rule)} | {measured_label(rule, measured)} |")
    return "\n".join(rows)


def load_measured(path: Path = MEASURED) -> dict[str, str]:
    """Per rule code, the figures measured by `advisor verify` (docs/measured.json); empty when absent."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.get("rules", {}).items()}


def blocks() -> dict[str, Callable[[], str]]:
    """Every generated block by name. Add a block here and mark its place in the README."""
    return {"rules-table": rules_table}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated: {re.escape(name)} -->\n)(.*?)(\n<!-- end: {re.escape(name)} -->)", re.S)


def current(text: str, name: str) -> str | None:
    """The block's content as it stands in `text`, or None when the markers are missing."""
    m = _pattern(name).search(text)
    return m.group(2) if m else None


def render(text: str) -> str:
    """`text` with every generated block replaced by its fresh rendering."""
    for name, make in blocks().items():
        content = make()
        text = _pattern(name).sub(lambda m: m.group(1) + content + m.group(3), text)
    return text


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("--write", "--check"):
        print("usage: python -m advisor.docs_blocks --write|--check README.md", file=sys.stderr)
        return 2
    path = Path(argv[1])
    text = path.read_text(encoding="utf-8")
    fresh = render(text)
    if argv[0] == "--write":
        path.write_text(fresh, encoding="utf-8")
        return 0
    return 0 if fresh == text else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
