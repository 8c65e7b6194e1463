"""The shipped fixtures as data: which files exist per rule and what each one expects.

Each rule's fixtures live beside it, in `advisor/rules/<family>/advNNN/`: `pos_*`/`neg_*` samples and
`fix_*.in.py`/`fix_*.out.py` autofix cases. Expectations live in the sample itself (`# expect: ADVnnn` on
the reported line), so a fixture and its test cannot drift apart. Tests and `advisor rules --check`
both read them through here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>ADV\d+(?:\s*,\s*ADV\d+)*)")


@dataclass(frozen=True)
class RuleFixture:
    code: str
    path: Path
    positive: bool
    expected: tuple[tuple[int, str], ...]  # (line, code), sorted


def expectations(text: str) -> tuple[tuple[int, str], ...]:
    found: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        m = EXPECT.search(line)
        if m:
            found.extend((lineno, c.strip()) for c in m.group("codes").split(","))
    return tuple(sorted(found))


def _folders() -> list[tuple[str, Path]]:
    from advisor.rule import all_rules

    return [(rule.code, rule.folder()) for rule in all_rules() if rule.folder().is_dir()]


def rule_fixtures() -> list[RuleFixture]:
    """Every rule's `advNNN/{pos,neg}_*.py` (and `.ipynb`), in a stable order."""
    out: list[RuleFixture] = []
    for code, folder in _folders():
        for path in sorted(folder.iterdir()):
            if not path.name.startswith(("pos_", "neg_")) or path.suffix not in (".py", ".ipynb"):
                continue
            out.append(RuleFixture(code, path, path.name.startswith("pos_"), expectations(path.read_text(encoding="utf-8"))))
    return out


@dataclass(frozen=True)
class ProjectFixture:
    """A folder `advNNN/pos_*/` or `neg_*/` scanned as one project: what its rule reports needs the
    other files (a helper called every step from another module, a loader trained on elsewhere)."""

    code: str
    folder: Path
    positive: bool
    expected: tuple[tuple[str, int, str], ...]  # (path inside the folder, line, code), sorted

    def files(self) -> list[Path]:
        return sorted(self.folder.rglob("*.py"))


def project_fixtures() -> list[ProjectFixture]:
    """Every rule's multi-file fixtures: sub-folders named `pos_*` / `neg_*` of its `advNNN/` folder."""
    out: list[ProjectFixture] = []
    for code, folder in _folders():
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith(("pos_", "neg_"))):
            expected = [
                (f.relative_to(sub).as_posix(), line, c)
                for f in sorted(sub.rglob("*.py"))
                for line, c in expectations(f.read_text(encoding="utf-8"))
            ]
            out.append(ProjectFixture(code, sub, sub.name.startswith("pos_"), tuple(sorted(expected))))
    return out


def fix_cases() -> list[tuple[str, Path]]:
    """Every rule's autofix cases, `advNNN/fix_*.in.py` (the expected result is the `.out.py` beside it)."""
    return [(code, path) for code, folder in _folders() for path in sorted(folder.glob("fix_*.in.py"))]


def fix_case(code: str, name: str) -> tuple[str, str]:
    """(input, expected output) of one rule's autofix case `advNNN/fix_<name>.in.py`."""
    from advisor.rule import rules_by_code

    folder = rules_by_code()[code].folder()
    return (folder / f"fix_{name}.in.py").read_text(encoding="utf-8"), (folder / f"fix_{name}.out.py").read_text(encoding="utf-8")
