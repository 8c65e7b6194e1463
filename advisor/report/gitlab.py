"""GitLab CI code quality report: a JSON array of issues (`artifacts: reports: codequality:`), shown in
merge-request widgets and the pipeline's Code Quality tab.

Each finding is one issue with the fields GitLab requires: `description`, `check_name` (the rule code),
`fingerprint` (stable while the flagged code is unchanged, even when lines above it move; unique within
the report), `severity` and `location.path` + `location.lines.begin`. Notebook findings point at the
.ipynb file and name the cell in the description, since cell lines are not lines of the file.
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from advisor.report.sarif import _fingerprint as sarif_fingerprint
from advisor.types import Finding, ScanResult, Severity

# GitLab's scale is info < minor < major < critical < blocker; a performance finding never breaks code.
SEVERITIES = {Severity.WARNING: "minor", Severity.INFO: "info"}


def issue(f: Finding, fingerprint: str) -> dict[str, Any]:
    where = f"cell {f.cell + 1}, line {f.span.line}: " if f.cell is not None else ""
    return {
        "type": "issue",
        "check_name": f.code,
        "description": f"{where}{f.code} {f.message}",
        "content": {"body": f"{f.why}\n\nFix: {f.suggestion}"},
        "categories": ["Performance"],
        "severity": SEVERITIES[f.severity],
        "fingerprint": fingerprint,
        "location": {
            "path": PurePath(f.path).as_posix().removeprefix("./"),
            "lines": {"begin": f.span.line, "end": f.span.end_line} if f.cell is None else {"begin": 1},
        },
    }


def render(result: ScanResult, **_: object) -> str:
    issues = []
    seen: dict[str, int] = {}
    for f in result.findings:
        base = sarif_fingerprint(f)
        n = seen.get(base, 0)
        seen[base] = n + 1
        issues.append(issue(f, base if n == 0 else f"{base}-{n}"))  # identical findings stay distinct issues
    return json.dumps(issues, indent=2) + "\n"
