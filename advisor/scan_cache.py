"""Content-hash cache of per-file scan results, so an unchanged file is not parsed again.

A key covers everything that can change a file's findings: its bytes, the path it is shown under, the
advisor version and a fingerprint of the analyser's own source files, the rules that run, their options
and the per-file ignores that apply to it. Entries are small JSON files written atomically; a missing,
unreadable or corrupt entry (wrong JSON types included) is a miss, never an error. `advisor scan --no-cache` bypasses it.

Kept under $ADVISOR_CACHE_DIR/scan, else $XDG_CACHE_HOME/advisor/scan, else ~/.cache/advisor/scan.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from advisor import __version__
from advisor.storage import atomic_write, cache_folder
from advisor.types import FileError, Finding

FORMAT = 1


def default_dir() -> Path:
    return cache_folder("scan")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Name, size and mtime of every analyser source file: editing a rule invalidates its results."""
    package = Path(__file__).resolve().parent
    h = hashlib.sha256(f"{__version__}:{FORMAT}".encode())
    rules = package / "rules"
    for path in sorted([*package.glob("*.py"), *rules.glob("*.py"), *rules.glob("*/*.py")]):
        st = path.stat()
        h.update(f"{path.relative_to(package).as_posix()}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def cache_key(data: bytes, display: str, codes: list[str], options: dict[str, Any], ignored: list[str], external: str = "") -> str:
    """`external`: the fingerprint of what other files of the scan say about this one (empty: nothing)."""
    h = hashlib.sha256(data)
    settings = json.dumps([display, sorted(codes), options, sorted(ignored), code_fingerprint(), external], sort_keys=True, default=str)
    h.update(b"\0" + settings.encode())
    return h.hexdigest()


Entry = tuple[list[Finding], "FileError | None", int]

# The JSON types of an entry's fields: one with another type (a truncated or tampered file) is a miss,
# never a crash later in a reporter. A tuple lists the types allowed; None allows null. A field added
# to the model later and missing here is still checked by the round trip in `get`.
_FIX = {"description": str, "safe": bool, "edits": [{"start": int, "end": int, "replacement": str}], "diff": str}
_FINDING = {
    "code": str, "name": str, "path": str, "cell": (int, None), "line": int, "column": int, "end_line": int,
    "end_column": int, "message": str, "why": str, "suggestion": str, "severity": str, "confidence": str,
    "fix": (_FIX, None), "verifications": [], "excerpt": ({"first_line": int, "lines": [str]}, None), "tags": [str],
}
_ENTRY = {"findings": [_FINDING], "error": ({"path": str, "message": str}, None), "lines": int}


def _typed(value: Any, shape: Any) -> bool:
    """Whether JSON `value` has `shape`: a type, a dict of field shapes (at least those keys), a list of
    one item shape ([] for an empty list), or a tuple of alternatives."""
    if isinstance(shape, tuple):
        return any(_typed(value, s) for s in shape)
    if shape is None:
        return value is None
    if isinstance(shape, dict):
        return isinstance(value, dict) and value.keys() >= shape.keys() and all(_typed(value[k], s) for k, s in shape.items())
    if isinstance(shape, list):
        return isinstance(value, list) and (all(_typed(v, shape[0]) for v in value) if shape else not value)
    return isinstance(value, shape) and (shape is bool or not isinstance(value, bool))


def _entry_ok(raw: Any) -> bool:
    return _typed(raw, _ENTRY)


class ScanCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_dir()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Entry | None:
        try:
            raw = json.loads(self._path(key).read_text(encoding="utf-8"))
            if not _entry_ok(raw):
                return None
            error = FileError.from_dict(raw["error"]) if raw["error"] else None
            findings = [Finding.from_dict(f) for f in raw["findings"]]
            if [f.to_dict() for f in findings] != raw["findings"]:  # enums, nested values: exactly as written
                return None
            return findings, error, raw["lines"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None

    def put(self, key: str, findings: list[Finding], error: FileError | None, lines: int) -> None:
        payload = {
            "findings": [f.to_dict() for f in findings],
            "error": error.to_dict() if error else None,
            "lines": lines,
        }
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
        except OSError:
            pass  # a read-only or full cache folder only costs speed
