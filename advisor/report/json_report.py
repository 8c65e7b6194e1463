"""The JSON output: one object, `{"version", "findings", "errors", ...}` (see docs/json-format.md).

It is also the input of `advisor report`, which reads it back with `advisor.report.load`.
"""

from __future__ import annotations

import json
from typing import Any

from advisor import __version__
from advisor.types import ScanResult

# Bump when a field changes meaning or goes away; adding a field keeps the number.
SCHEMA_VERSION = 1


def as_dict(result: ScanResult) -> dict[str, Any]:
    return {
        "version": __version__,
        "schema_version": SCHEMA_VERSION,
        "environment": result.environment,
        "findings": [f.to_dict() for f in result.findings],
        "errors": [e.to_dict() for e in result.errors],
        "files_scanned": result.files_scanned,
        "lines_scanned": result.lines_scanned,
        **({"profile": result.profile.to_dict()} if result.profile is not None else {}),
    }


def render(result: ScanResult, **_: object) -> str:
    return json.dumps(as_dict(result), indent=2, ensure_ascii=False) + "\n"
