"""Read a saved `advisor scan --format json` run back into the findings model, for `advisor report`.

Every format then renders from the same ScanResult a live scan produces. Excerpts come from the JSON
(taken at scan time); only a run saved without them falls back to reading the files, if still there.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from advisor.excerpt import excerpt, split_lines
from advisor.report.json_report import SCHEMA_VERSION
from advisor.source import SourceError, read_source
from advisor.types import FileError, Finding, ProfileRun, ScanResult


class ReportInputError(Exception):
    """A file `advisor report` cannot read; str(error) is the one-line `what — what to do`."""


HINT = "pass a file written by `advisor scan --format json`"


def load_result(path: Path) -> ScanResult:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot read ({exc.strerror or exc}) — check the path") from None
    except UnicodeDecodeError:
        raise ReportInputError(f"{path}: not UTF-8 text — {HINT}") from None
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}) — {HINT}") from None
    return result_from_dict(data, str(path))


def result_from_dict(data: Any, origin: str = "<json>") -> ScanResult:
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise ReportInputError(f"{origin}: not an advisor JSON run (no `findings` list) — {HINT}")
    schema = data.get("schema_version", 1)
    if not isinstance(schema, int) or schema > SCHEMA_VERSION:
        raise ReportInputError(f"{origin}: written by a newer advisor (schema_version {schema}) — upgrade advisor to render it")
    try:
        findings = [Finding.from_dict(f) for f in data["findings"]]
        errors = [FileError.from_dict(e) for e in data.get("errors", [])]
        profile = ProfileRun.from_dict(data["profile"]) if data.get("profile") else None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReportInputError(f"{origin}: a finding or error is malformed ({type(exc).__name__}: {exc}) — {HINT}") from None
    result = ScanResult(
        findings=[f if f.excerpt is not None else _with_excerpt_from_disk(f) for f in findings],
        errors=errors,
        files_scanned=int(data.get("files_scanned", 0)),
        lines_scanned=int(data.get("lines_scanned", 0)),
        environment={str(k): str(v) for k, v in (data.get("environment") or {}).items()},
        profile=profile,
    )
    return result


def _with_excerpt_from_disk(finding: Finding) -> Finding:
    """Older or hand-made JSON without excerpts: read the file if it is still there (not notebooks,
    whose cell lines need the notebook reader)."""
    if finding.cell is not None:
        return finding
    try:
        lines = split_lines(read_source(Path(finding.path)))
    except (SourceError, OSError):
        return finding
    if finding.span.line > len(lines):
        return finding  # the file changed since the scan; showing other code would mislead
    return replace(finding, excerpt=excerpt(lines, finding.span.line, finding.span.end_line))
