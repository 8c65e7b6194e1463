"""Where and how `--fix` may write: never through a symlink out of the scanned tree, never over a
read-only file, never a file that changed since it was read; keeping owner, group, mode and hard links.

A file with one link is replaced atomically (temporary file beside it, then `os.replace`). A file with
several hard links, or whose owner we could not give to a new file, is rewritten in place instead,
so every name keeps seeing the same inode: the space is reserved first (`posix_fallocate`), so a full
disk fails before a byte changes, and any error while writing puts the original bytes back.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path


class UnsafeTarget(Exception):
    """The file must not be written; str(error) is the one-line `what — what to do`."""


def roots_for(paths: list[str]) -> tuple[Path, ...]:
    """The scanned trees: each folder given, or the folder of each file given, symlinks resolved."""
    out = []
    for raw in paths:
        p = Path(raw)
        out.append(Path(os.path.realpath(p if p.is_dir() else p.parent)))
    return tuple(out)


def writable_target(path: Path, roots: tuple[Path, ...] | None = None) -> Path:
    """The real file to write for `path`, or UnsafeTarget saying why not."""
    real = Path(os.path.realpath(path))
    allowed = roots if roots is not None else (Path(os.path.realpath(path.parent)),)
    if not any(real == r or r in real.parents for r in allowed):
        raise UnsafeTarget(f"is a symlink to {real}, outside the scanned tree — nothing was written; fix that file where it lives")
    info = os.stat(real)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeTarget("is not a regular file — nothing was written")
    if not info.st_mode & stat.S_IWUSR or not os.access(real, os.W_OK):
        raise UnsafeTarget("is read-only — nothing was written; make it writable to fix it")
    return real


def write_fixed(path: Path, original: bytes, data: bytes, roots: tuple[Path, ...] | None = None) -> None:
    """Write `data` over `path`, which held `original` when it was read. UnsafeTarget or OSError when
    it cannot be done safely; the file is then as it was."""
    target = writable_target(path, roots)
    with open(target, "rb") as fh:
        if fh.read(len(original) + 1) != original:
            raise UnsafeTarget("changed on disk while it was being fixed — nothing was written; run again")
    info = os.stat(target)
    if info.st_nlink > 1 or not _atomic_replace(target, data, info):
        _rewrite_in_place(target, original, data)


def _atomic_replace(target: Path, data: bytes, info: os.stat_result) -> bool:
    """Replace through a temporary file with the same mode, owner and group. False (nothing done) when
    the owner or group cannot be kept, so the caller writes in place instead."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".advisor-tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            own = os.fstat(out.fileno())
            if (own.st_uid, own.st_gid) != (info.st_uid, info.st_gid):
                try:
                    os.fchown(out.fileno(), info.st_uid, info.st_gid)
                except PermissionError:
                    os.unlink(tmp)
                    return False
            out.write(data)
            out.flush()
            os.fchmod(out.fileno(), stat.S_IMODE(info.st_mode))
            os.fsync(out.fileno())
        os.replace(tmp, target)
        return True
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _rewrite_in_place(target: Path, original: bytes, data: bytes) -> None:
    fd = os.open(target, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "r+b") as fh:
        if len(data) > len(original) and hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(fh.fileno(), 0, len(data))
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # the file system cannot reserve; go on
                    raise
        try:
            fh.seek(0)
            fh.write(data)
            fh.truncate(len(data))
            fh.flush()
            os.fsync(fh.fileno())
        except BaseException:
            fh.seek(0)
            fh.write(original)
            fh.truncate(len(original))
            fh.flush()
            raise
