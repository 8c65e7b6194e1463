"""The shipped fixtures as data: which files exist per rule and what each one expects.

Expectations live in the fixture itself (`# expect: ADVnnn` on the reported line), so a fixture and
its test cannot drift apart. Tests and `advisor rules --check` both read them through here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>ADV\d+(?:\s*,\s*ADV\d+)*)")


@dataclass(frozen=True)
class RuleFixture:
    code: str
    path: Path
    positive: bool
    expected: tuple[tuple[int, str], ...]  # (line, code), sorted


def fixtures_root() -> Path:
    return Path(str(resources.files("advisor.fixtures")))


def expectations(text: str) -> tuple[tuple[int, str], ...]:
    found: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        m = EXPECT.search(line)
        if m:
            found.extend((lineno, c.strip()) for c in m.group("codes").split(","))
    return tuple(sorted(found))


def rule_fixtures() -> list[RuleFixture]:
    """Every `fixtures/advNNN/{pos,neg}_*.py` (and `.ipynb`), in a stable order."""
    out: list[RuleFixture] = []
    for folder in sorted(fixtures_root().glob("adv[0-9][0-9][0-9]")):
        code = folder.name.upper()
        for path in sorted(folder.iterdir()):
            if not path.name.startswith(("pos_", "neg_")) or path.suffix not in (".py", ".ipynb"):
                continue
            out.append(RuleFixture(code, path, path.name.startswith("pos_"), expectations(path.read_text(encoding="utf-8"))))
    return out
