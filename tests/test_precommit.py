"""The pre-commit hooks, end to end with the real `pre-commit` tool: a throwaway git repository whose
`.pre-commit-config.yaml` points at this repository's current commit, a commit blocked by a finding,
a clean commit let through, and the fix hook repairing a staged file. pre-commit builds the hook's own
virtualenv from this repository, which also proves the hook installs without torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# 7 to 15 s here (the hook environment is built once for both tests): slow, but in the default run.
pytestmark = pytest.mark.slow

BAD = "def mm(A, B):\n    return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n"
CLEAN = "def add(a, b):\n    return a + b\n"
INFO_ONLY = (
    "import torch\n\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1)\nfor epoch in range(30):\n"
    "    for x, y in loader:\n        optimizer.zero_grad()\n        loss_fn(model(x), y).backward()\n        optimizer.step()\n"
)
FIXABLE = "import torch\n\n\ndef forward(x):\n    for _ in range(3):\n        h = torch.zeros(4).to(x.device)\n    return h\n"


def _notebook(source: str) -> str:
    cell = {"cell_type": "code", "id": "c1", "execution_count": None, "metadata": {}, "outputs": [], "source": source.splitlines(True)}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


def _head() -> str:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip("this checkout is not a git repository")
    shown = subprocess.run(["git", "show", "HEAD:.pre-commit-hooks.yaml"], cwd=REPO, capture_output=True)
    if shown.returncode != 0:
        pytest.fail(".pre-commit-hooks.yaml is not committed: pre-commit installs the hooks from HEAD")
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def precommit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pre-commit cache for this module: the hook environment is built once, then reused."""
    pytest.importorskip("pre_commit")
    return tmp_path_factory.mktemp("pre-commit-home")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        PRE_COMMIT_HOME=str(home),
        ADVISOR_CACHE_DIR=str(home / "advisor-cache"),
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
        PRE_COMMIT_COLOR="never",
    )
    return env


def _repo(tmp_path: Path, hook: str, home: Path) -> tuple[Path, dict[str, str]]:
    repo = tmp_path / "project"
    repo.mkdir()
    env = _env(home)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
    config = f"repos:\n  - repo: {REPO}\n    rev: {_head()}\n    hooks:\n      - id: {hook}\n"
    (repo / ".pre-commit-config.yaml").write_text(config)
    subprocess.run(["git", "add", ".pre-commit-config.yaml"], cwd=repo, check=True, env=env)
    subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=repo, check=True, env=env, capture_output=True)
    return repo, env


def _commit(repo: Path, env: dict[str, str], message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "commit", "-m", message], cwd=repo, env=env, capture_output=True, text=True, timeout=600)


def test_scan_hook_blocks_a_finding_and_passes_clean_code(tmp_path: Path, precommit_home: Path) -> None:
    repo, env = _repo(tmp_path, "advisor", precommit_home)
    (repo / "slow.py").write_text(BAD)
    (repo / "slow.ipynb").write_text(_notebook("%matplotlib inline\n" + BAD))
    subprocess.run(["git", "add", "slow.py", "slow.ipynb"], cwd=repo, check=True, env=env)
    blocked = _commit(repo, env, "add slow matmul")
    out = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, out
    assert "slow.py:2:12: ADV401" in out and "slow.ipynb:cell 1:3:12: ADV401" in out and "Failed" in out
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True).returncode != 0  # nothing committed

    subprocess.run(["git", "rm", "-q", "--cached", "slow.py", "slow.ipynb"], cwd=repo, check=True, env=env)
    (repo / "clean.py").write_text(CLEAN)
    (repo / "clean.ipynb").write_text(_notebook("!pip list\n" + CLEAN))
    (repo / "notes.txt").write_text("not python\n")
    (repo / "advice.py").write_text(INFO_ONLY)  # an info-level finding is shown but does not block
    subprocess.run(["git", "add", "clean.py", "clean.ipynb", "notes.txt", "advice.py"], cwd=repo, check=True, env=env)
    passed = _commit(repo, env, "add clean code")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout + passed.stderr

    _assert_hook_env_has_no_torch(precommit_home)


def test_fix_hook_repairs_the_staged_file(tmp_path: Path, precommit_home: Path) -> None:
    repo, env = _repo(tmp_path, "advisor-fix", precommit_home)
    (repo / "model.py").write_text(FIXABLE)
    subprocess.run(["git", "add", "model.py"], cwd=repo, check=True, env=env)
    first = _commit(repo, env, "add model")
    assert first.returncode != 0  # pre-commit fails a hook that modified files, so the user can review
    assert "files were modified by this hook" in first.stdout + first.stderr
    assert (repo / "model.py").read_text() == FIXABLE.replace("torch.zeros(4).to(x.device)", "torch.zeros(4, device=x.device)")
    subprocess.run(["git", "add", "model.py"], cwd=repo, check=True, env=env)
    second = _commit(repo, env, "add model")
    assert second.returncode == 0, second.stdout + second.stderr


def _assert_hook_env_has_no_torch(home: Path) -> None:
    site_dirs = list(home.glob("repo*/py_env-*/lib/python*/site-packages"))
    assert site_dirs, f"no hook virtualenv under {home}"
    for site in site_dirs:
        names = {p.name.lower() for p in site.iterdir()}
        assert "libcst" in names and "click" in names
        assert "torch" not in names and "numpy" not in names, f"the hook environment pulled torch or numpy: {site}"
