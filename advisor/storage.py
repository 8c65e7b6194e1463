"""Where advisor keeps its caches, and the one way it writes a file: never half of one.

Caches live under $ADVISOR_CACHE_DIR/<kind>, else $XDG_CACHE_HOME/advisor/<kind>, else
~/.cache/advisor/<kind> (kinds: "scan", "verify"). Every write goes to a fresh temporary file beside
the target (a unique name, so two runs never share one) and is renamed over it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def cache_folder(kind: str) -> Path:
    """The folder of one cache kind; not created here (a read-only home must only cost speed)."""
    if os.environ.get("ADVISOR_CACHE_DIR"):
        return Path(os.environ["ADVISOR_CACHE_DIR"]) / kind
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "advisor" / kind


def atomic_write(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Replace `path` (through a link, its real file) with `data` in one rename; an existing file keeps its
    permission bits. `durable` also syncs the data to disk before the rename (user files, not caches).
    Raises OSError; the temporary file never stays behind."""
    target = Path(os.path.realpath(path))
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".advisor-tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
