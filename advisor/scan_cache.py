"""Content-hash cache of per-file scan results, so an unchanged file is not parsed again.

A key covers everything that can change a file's findings: its bytes, the path it is shown under, the
advisor version and a fingerprint of the analyser's own source files, the rules that run, their options
and the per-file ignores that apply to it. Entries are small JSON files written atomically; a missing,
unreadable or corrupt entry is a miss, never an error. `advisor scan --no-cache` bypasses it.

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


def cache_key(data: bytes, display: str, codes: list[str], options: dict[str, Any], ignored: list[str]) -> str:
    h = hashlib.sha256(data)
    settings = json.dumps([display, sorted(codes), options, sorted(ignored), code_fingerprint()], sort_keys=True, default=str)
    h.update(b"\0" + settings.encode())
    return h.hexdigest()


Entry = tuple[list[Finding], "FileError | None", int]


class ScanCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_dir()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Entry | None:
        try:
            raw = json.loads(self._path(key).read_text(encoding="utf-8"))
            error = FileError.from_dict(raw["error"]) if raw["error"] else None
            return [Finding.from_dict(f) for f in raw["findings"]], error, int(raw["lines"])
        except (OSError, ValueError, KeyError, TypeError):
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
