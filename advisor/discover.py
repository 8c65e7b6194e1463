"""Find the files to scan: recurse into directories, skip the usual build/venv folders, honour
`.gitignore` (through git itself, so nested ignore files and global excludes behave exactly as git's;
each repository by its own rules, with git's command-running settings switched off), and always scan
files named explicitly."""

from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path

from advisor.source import display_path
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
        errors.append(FileError(display_path(exc.filename or root), "cannot list the directory (permission denied?) — check its permissions"))

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


def _git_env() -> dict[str, str]:
    """The environment for git: nothing of ours that redirects it (GIT_DIR, GIT_INDEX_FILE, … leak
    in from hooks), no system config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
    return env


# A scanned repository is untrusted, and its .git/config can name programs for git to run: the
# fsmonitor hook runs on every index read, even for `check-ignore`. Command-line settings win over it.
SAFE_GIT = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "core.untrackedCache=false")


def _repository(folder: str, cache: dict[str, str | None]) -> str | None:
    """The work tree `folder` belongs to: the nearest folder at or above it holding `.git`."""
    trail = []
    current = folder
    while current not in cache:
        trail.append(current)
        if os.path.lexists(os.path.join(current, ".git")):
            cache[current] = current
            break
        parent = os.path.dirname(current)
        if parent == current:
            cache[current] = None
            break
        current = parent
    found = cache[current]
    for f in trail:
        cache[f] = found
    return found


def _check_ignore(top: str, names: list[str]) -> set[str]:
    """The names (absolute) that git ignores in the work tree `top`; empty when git cannot tell."""
    try:
        proc = subprocess.run(
            ["git", *SAFE_GIT, "check-ignore", "--stdin", "-z"],
            input=b"\0".join(os.fsencode(n) for n in names),
            capture_output=True,
            cwd=top,
            env=_git_env(),
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return set()
    if proc.returncode not in (0, 1):  # 128: not a work tree git accepts, or git missing
        return set()
    return {os.fsdecode(p) for p in proc.stdout.split(b"\0") if p}


def _git_ignored(files: list[Path]) -> set[Path]:
    """The subset of `files` that git ignores (tracked files are never ignored), each judged by its own
    repository's ignore files: one git call per work tree. Files outside any repository are kept."""
    repos: dict[str, str | None] = {}
    by_repo: dict[str, list[tuple[str, Path]]] = {}
    for f in files:
        # the real folder (the scan root may be reached through a link) but the file's own name: git
        # judges a linked file by where it sits, not by its target
        name = os.path.join(os.path.realpath(f.parent), f.name)
        top = _repository(os.path.dirname(name), repos)
        if top is not None:
            by_repo.setdefault(top, []).append((name, f))
    ignored: set[Path] = set()
    for top, members in by_repo.items():
        names = _check_ignore(top, [n for n, _ in members])
        ignored.update(f for n, f in members if n in names)
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
            errors.append(FileError(display_path(raw), "no such file or directory — check the path"))
    if respect_gitignore and walked:
        ignored = _git_ignored(walked)
        walked = [f for f in walked if f not in ignored]
    seen: set[str] = set()
    ordered: list[Path] = []
    for f in explicit + walked:
        key = os.path.realpath(f)  # never raises, even on a symlink loop (reported when read)
        if key not in seen:
            seen.add(key)
            ordered.append(f)
    return ordered, errors


def excluded_by(path: Path, patterns: tuple[str, ...]) -> bool:
    """Whether a file named explicitly (an editor buffer, a staged file) falls under these excludes or a
    default-excluded folder, the way `--force-exclude` decides."""
    return _force_excluded(path, patterns)
