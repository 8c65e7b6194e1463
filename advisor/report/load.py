"""Read a saved `advisor scan --format json` run back into the findings model, for `advisor report`.

Every format then renders from the same ScanResult a live scan produces. The input is treated as
written by an attacker (a CI artifact from someone else's pull request): it must be a regular file of
bounded size, every field is type-checked (`shape`), and excerpts come from the JSON only. A run saved
without excerpts falls back to reading the files only when the user names a source root
(`--source-root`), and then only regular files that really lie under it (after `..` and symlinks).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from advisor.excerpt import excerpt, split_lines
from advisor.report import shape
from advisor.report.json_report import SCHEMA_VERSION
from advisor.source import SourceError, decode
from advisor.types import FileError, Finding, ProfileRun, ScanResult


class ReportInputError(Exception):
    """A file `advisor report` cannot read; str(error) is the one-line `what — what to do`."""


HINT = "pass a file written by `advisor scan --format json`"
# A saved run larger than this is not one advisor wrote for a real tree.
MAX_RUN_BYTES = 512 * 2**20
# Source files read back for excerpts are bounded too.
MAX_SOURCE_BYTES = 8 * 2**20


def load_result(path: Path, source_root: Path | None = None) -> ScanResult:
    try:
        data = shape.read_regular(path, MAX_RUN_BYTES)
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot read ({exc.strerror or exc}) — check the path") from None
    except ValueError as exc:
        raise ReportInputError(f"{path}: {exc} — {HINT}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ReportInputError(f"{path}: not UTF-8 text — {HINT}") from None
    try:
        parsed = shape.parse(text)
    except shape.ShapeError as exc:
        raise ReportInputError(f"{path}: not valid JSON ({exc}) — {HINT}") from None
    except ValueError as exc:
        line, col, msg = getattr(exc, "lineno", "?"), getattr(exc, "colno", "?"), getattr(exc, "msg", str(exc))
        raise ReportInputError(f"{path}: not valid JSON (line {line}, column {col}: {msg}) — {HINT}") from None
    return result_from_dict(parsed, str(path), source_root)


def result_from_dict(data: Any, origin: str = "<json>", source_root: Path | None = None) -> ScanResult:
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise ReportInputError(f"{origin}: not an advisor JSON run (no `findings` list) — {HINT}")
    schema = data.get("schema_version", 1)
    if not isinstance(schema, int) or schema > SCHEMA_VERSION:
        raise ReportInputError(f"{origin}: written by a newer advisor (schema_version {schema}) — upgrade advisor to render it")
    try:
        shape.run(data)
        findings = [Finding.from_dict(f) for f in data["findings"]]
        errors = [FileError.from_dict(e) for e in data.get("errors", [])]
        profile = ProfileRun.from_dict(data["profile"]) if data.get("profile") else None
    except (KeyError, TypeError, ValueError) as exc:
        why = str(exc) if isinstance(exc, shape.ShapeError) else f"{type(exc).__name__}: {exc}"
        raise ReportInputError(f"{origin}: a finding or error is malformed ({why}) — {HINT}") from None
    result = ScanResult(
        findings=[f if f.excerpt is not None or source_root is None else _with_excerpt_from_disk(f, source_root) for f in findings],
        errors=errors,
        files_scanned=int(data.get("files_scanned", 0)),
        lines_scanned=int(data.get("lines_scanned", 0)),
        environment={str(k): str(v) for k, v in (data.get("environment") or {}).items()},
        profile=profile,
    )
    return result


def inside_root(path: str, root: Path) -> Path | None:
    """The real location of `path` (relative paths taken from `root`) when it lies under `root` after
    resolving `..` and symlinks; None otherwise."""
    try:
        real_root = Path(os.path.realpath(root))
        target = Path(os.path.realpath(real_root / path))
    except (OSError, ValueError):  # a NUL byte, a loop
        return None
    return target if target == real_root or real_root in target.parents else None


def _with_excerpt_from_disk(finding: Finding, root: Path) -> Finding:
    """Older or hand-made JSON without excerpts, rendered with `--source-root`: read the file if it is
    still there under the root (not notebooks, whose cell lines need the notebook reader)."""
    if finding.cell is not None:
        return finding
    target = inside_root(finding.path, root)
    if target is None:
        return finding
    try:
        lines = split_lines(decode(shape.read_regular(target, MAX_SOURCE_BYTES, follow=False)))
    except (SourceError, OSError, ValueError):
        return finding
    if finding.span.line > len(lines):
        return finding  # the file changed since the scan; showing other code would mislead
    return replace(finding, excerpt=excerpt(lines, finding.span.line, finding.span.end_line))
