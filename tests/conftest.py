from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def run_cli(tmp_path: Path):
    """Run `python -m advisor ...` in a subprocess, the way a user (or the pre-commit hook) does."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        # the tree under test, not whatever `advisor` happens to be installed
        pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))
        # caches go to the test's own folder, so no test sees another's (or the user's) results
        full_env = {**os.environ, "PYTHONPATH": pythonpath, "ADVISOR_CACHE_DIR": str(tmp_path.with_name(tmp_path.name + "-advisor-cache")), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "advisor", *args],
            cwd=cwd or tmp_path,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=120,
        )

    return run
