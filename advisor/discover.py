"""Find the files to scan: recurse into directories, skip the usual build/venv folders, honour
`.gitignore` (through git itself, so nested ignore files and global excludes behave exactly as git's),
and always scan files named explicitly."""

from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path

from advisor.types import FileError

DEFAULT_EXCLUDES = (
    ".git", ".hg", ".svn", ".venv", "venv", "__pycache__", "build", "dist", "site-packages",
    "node_modules", ".tox", ".nox", ".eggs", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints",
)
SUFFIXES = (".py", ".ipynb")


def _excluded(rel: str, name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel, p.rstrip("/") + "/*")
               for p in patterns)


def _force_excluded(path: Path, patterns: tuple[str, ...]) -> bool:
    parts = path.parts
    if any(part in DEFAULT_EXCLUDES for part in parts[:-1]):
        return True
    rel = path.as_posix()
    return any(_excluded("/".join(parts[i:]), path.name, patterns) for i in range(len(parts))) or _excluded(rel, path.name, patterns)


def _walk(root: Path, patterns: tuple[str, ...], errors: list[FileError]) -> list[Path]:
    found: list[Path] = []

    def on_error(exc: OSError) -> None:
        errors.append(FileError(str(exc.filename or root), "cannot list the directory (permission denied?) — check its permissions"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        base = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            rel = (base / d).relative_to(root).as_posix()
            if d in DEFAULT_EXCLUDES or _excluded(rel, d, patterns):
                continue
            keep.append(d)  # `llama2.py/` is a folder like any other (as Ruff does): recurse into it
        dirnames[:] = keep
        for f in sorted(filenames):
            if f.endswith(SUFFIXES):
                rel = (base / f).relative_to(root).as_posix()
                if not _excluded(rel, f, patterns):
                    found.append(base / f)
    return found


def _git_ignored(files: list[Path]) -> set[Path]:
    """The subset of `files` that git ignores (tracked files are never ignored). Empty outside git."""
    if not files:
        return set()
    by_dir: dict[Path, list[Path]] = {}
    for f in files:
        by_dir.setdefault(f.parent, []).append(f)
    # One git call per work tree: group by the top-level directory git reports for the first file's folder.
    ignored: set[Path] = set()
    cwd = files[0].parent
    try:
        proc = subprocess.run(
            ["git", "check-ignore", "--stdin", "-z"],
            input=b"\0".join(os.fsencode(str(f.resolve())) for f in files),
            capture_output=True,
            cwd=cwd,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return set()
    if proc.returncode not in (0, 1):  # 128: not a git repository, or git missing
        return set()
    names = {os.fsdecode(p) for p in proc.stdout.split(b"\0") if p}
    for f in files:
        if str(f.resolve()) in names:
            ignored.add(f)
    return ignored


def discover(
    paths: list[str], exclude: tuple[str, ...] = (), respect_gitignore: bool = True, force_exclude: bool = False
) -> tuple[list[Path], list[FileError]]:
    """Files to scan, in a stable order, and errors for paths that do not exist.

    `force_exclude` filters files named explicitly too: pre-commit names every staged file, and a
    project's excludes (and the default build/venv folders) should still hold there."""
    errors: list[FileError] = []
    explicit: list[Path] = []
    walked: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            walked.extend(_walk(p, exclude, errors))
        elif p.exists() or p.is_symlink():
            if not (force_exclude and _force_excluded(p, exclude)):
                explicit.append(p)
        else:
            errors.append(FileError(raw, "no such file or directory — check the path"))
    if respect_gitignore and walked:
        ignored = _git_ignored(walked)
        walked = [f for f in walked if f not in ignored]
    seen: set[Path] = set()
    ordered: list[Path] = []
    for f in explicit + walked:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            ordered.append(f)
    return ordered, errors
