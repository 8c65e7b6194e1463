"""`advisor profile SCRIPT`: run the script under the profiler, scan the files it ran, join the two.

The CLI stays a thin wrapper around `profile()`: options in, a ScanResult (or an error line) out.
"""

from __future__ import annotations

import os
from pathlib import Path

from advisor.config import ConfigError, find_pyproject, load_config
from advisor.profile.result import ChildResult, ProfileError
from advisor.profile.runner import Request, run
from advisor.types import ScanResult


def _display(path: Path, base: str) -> str:
    absolute = os.path.abspath(path)
    return os.path.relpath(absolute, base) if absolute.startswith(base.rstrip(os.sep) + os.sep) else absolute


def files_to_scan(script: Path, child: ChildResult, base: str) -> list[Path]:
    """The script, plus every other user file the profiled steps ran code from, when it lies under the
    working folder or the script's own folder (so the join never scans beyond the project)."""
    roots = tuple(r.rstrip(os.sep) + os.sep for r in {base, os.path.dirname(os.path.abspath(script))})
    seen = {os.path.abspath(script)}
    for w in child.windows:
        places = [e.where for e in w.events] + [c for e in w.events for c in e.callers] + [f.where for f in w.forwards]
        places += [w.site] if w.site else []
        seen.update(p.path for p in places if p.path.endswith(".py") and p.path.startswith(roots))
    seen.update(x.where.path for x in child.loaders if x.where and x.where.path.endswith(".py") and x.where.path.startswith(roots))
    return [Path(_display(Path(p), base)) for p in sorted(seen) if os.path.isfile(p)]


def profile(req: Request, jobs: int | None = None, use_cache: bool = True) -> ScanResult:
    """Profile, scan and join. Raises ProfileError (or its ScriptFailed) with a one-line message."""
    from advisor.engine import scan
    from advisor.profile.join import join
    from advisor.scan_cache import ScanCache

    if not req.script.is_file():
        raise ProfileError(f"{req.script}: no such file — pass the training script to run")
    child = run(req)
    base = os.getcwd()
    files = files_to_scan(req.script, child, base)
    try:
        config = load_config(find_pyproject(req.script.resolve().parent))
    except ConfigError as exc:  # reported like `advisor scan` reports it
        raise ProfileError(str(exc)) from None
    scanned = scan(files, config, jobs=jobs, cache=ScanCache() if use_cache else None)
    return join(scanned, child, _display(req.script, base), req.args, base)
