"""Suppression comments: `# advisor: ignore[ADV101, ADV103]`, `# noqa: ADV101`, and the bare forms
`# advisor: ignore` / `# noqa`, which silence every rule on that line."""

from __future__ import annotations

import re

_PATTERN = re.compile(
    r"#\s*(?:advisor\s*:\s*ignore(?:\[(?P<codes>[^\]]*)\])?|noqa(?::\s*(?P<noqa>[A-Z]+[0-9]*(?:[\s,]+[A-Z]+[0-9]*)*))?)",
    re.IGNORECASE,
)
ALL = "*"


def suppressions(text: str) -> dict[int, set[str]]:
    """Map 1-based line numbers to the codes silenced there (`*` for all)."""
    out: dict[int, set[str]] = {}
    if "#" not in text:
        return out
    for lineno, line in enumerate(text.splitlines(), start=1):
        if "#" not in line:
            continue
        for m in _PATTERN.finditer(line):
            raw = m.group("codes") if m.group("codes") is not None else m.group("noqa")
            codes = {c.strip().upper() for c in re.split(r"[\s,]+", raw or "") if c.strip()}
            out.setdefault(lineno, set()).update(codes or {ALL})
    return out


def is_suppressed(code: str, lines: tuple[int, ...], table: dict[int, set[str]]) -> bool:
    for line in lines:
        codes = table.get(line)
        if codes and (ALL in codes or any(code.startswith(c) for c in codes)):
            return True
    return False
