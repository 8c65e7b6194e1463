from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The scanner needs neither; the verifier's children import both (the `verify` extra).
HAS_FRAMEWORKS = all(importlib.util.find_spec(name) is not None for name in ("torch", "numpy"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`needs_torch` tests skip, saying why, where torch or numpy is not installed."""
    if HAS_FRAMEWORKS:
        return
    skip = pytest.mark.skip(reason="needs torch and numpy: install advisor[verify]")
    for item in items:
        if "needs_torch" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def run_cli(tmp_path: Path):
    """Run `python -m advisor ...` in a subprocess, the way a user (or the pre-commit hook) does."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
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
            timeout=timeout,
        )

    return run
