"""A new rule is one module plus one folder beside it, and nothing else: shown on a copy of the package.

The test writes a small real rule (ADV499, `time.sleep()` in a training step) with its fixtures, a fix case
and a pair into a copy of `advisor/`, touches no other file, and checks that every part of advisor picks it
up: `advisor rules`, `advisor explain`, `scan` (positives found at their `# expect:` lines, negatives
silent), `--unsafe-fixes`, the generated README table, and (with torch) `advisor verify`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

RULE = '''"""ADV499 sleep-in-step: `time.sleep()` inside a training step idles the device every step."""

from __future__ import annotations

import libcst as cst

from advisor.fixes import DeleteLine
from advisor.rule import Rule, RuleDocs


class SleepInStep(Rule):
    code = "ADV499"
    name = "sleep-in-step"
    summary = "time.sleep() inside a training step"
    message = "Remove `time.sleep()` from the training step: it idles the device every step"
    why = "the device waits for the host while it sleeps, every step"
    suggestion = "delete the call, or sleep outside the training loop"
    docs = RuleDocs(
        what="Flags `time.sleep()` called once per training step.",
        why="Nothing runs on the device while the host sleeps.",
        example="for x in loader:\\n    loss = model(x).sum()\\n    loss.backward()\\n    time.sleep(0.01)",
        use_instead="for x in loader:\\n    loss = model(x).sum()\\n    loss.backward()",
    )
    triggers = ("sleep",)
    fix_safe = False
    fix_title = "Delete the sleep"

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.call_qualname(node) != "time.sleep" or self.ctx.training_step_loop(node) is None:
            return
        stmt = self.ctx.statement_of(node)
        alone = isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr)
        self.report(node, fix=self.plan(DeleteLine(stmt)) if alone else None)
'''

STEP = """import time

import torch

model = torch.nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for x in torch.randn(8, 2, 4):
    loss = model(x).sum()
    loss.backward()
    opt.step()
"""

FILES = {
    "pos_in_step.py": STEP + "    time.sleep(0.001)  # expect: ADV499\n",
    "pos_from_import.py": STEP.replace("import time", "from time import sleep") + "    sleep(0.001)  # expect: ADV499\n",
    "neg_outside_loop.py": STEP + "time.sleep(0.001)\n",
    "neg_other_sleep.py": STEP + "    asyncio_sleep = lambda s: None\n    asyncio_sleep(0.001)\n",
    "fix_delete.in.py": "# fix: unsafe\n" + STEP + "    time.sleep(0.001)\n",
    "fix_delete.out.py": "# fix: unsafe\n" + STEP,
    "pair.py": '''"""ADV499: a tiny step with and without a sleep."""

from __future__ import annotations

import time
from typing import Any

DEFAULT_SIZES = {"n": 64}
TOLERANCE = {"rtol": 0.0, "atol": 0.0}
DEVICES = ("cpu",)


def setup(sizes: dict[str, Any], device: str) -> dict[str, Any]:
    return {"n": int(sizes["n"])}


def before(inputs: dict[str, Any]) -> Any:
    time.sleep(0.002)
    return sum(i * i for i in range(inputs["n"]))


def after(inputs: dict[str, Any]) -> Any:
    return sum(i * i for i in range(inputs["n"]))
''',
}


@pytest.fixture(scope="module")
def copy_with_new_rule(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "advisor", root / "advisor", ignore=ignore)
    shutil.copy(REPO / "README.md", root / "README.md")
    before = {p.relative_to(root) for p in root.rglob("*") if p.is_file()}
    family = root / "advisor" / "rules" / "device"
    (family / "sleep_in_step.py").write_text(RULE, encoding="utf-8")
    folder = family / "adv499"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    after = {p.relative_to(root) for p in root.rglob("*") if p.is_file()}
    created = sorted(str(p) for p in after - before)
    assert all(p.startswith("advisor/rules/device/") for p in created)
    return root


def advisor(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root), "ADVISOR_CACHE_DIR": str(root / ".cache")}
    return subprocess.run([sys.executable, "-m", "advisor", *args], cwd=cwd or root, capture_output=True, text=True, env=env, timeout=300)


def test_the_new_rule_is_listed_and_explained(copy_with_new_rule: Path) -> None:
    listed = advisor(copy_with_new_rule, "rules")
    assert listed.returncode == 0 and "ADV499" in listed.stdout and "sleep-in-step" in listed.stdout
    explained = advisor(copy_with_new_rule, "explain", "ADV499")
    assert explained.returncode == 0 and "Nothing runs on the device while the host sleeps." in explained.stdout


def test_its_fixtures_are_found_and_silent_where_they_should_be(copy_with_new_rule: Path) -> None:
    folder = copy_with_new_rule / "advisor" / "rules" / "device" / "adv499"
    for fixture in sorted(folder.glob("*.py")):
        if not fixture.name.startswith(("pos_", "neg_")):
            continue
        ran = advisor(copy_with_new_rule, "scan", str(fixture), "--select", "ADV499", "--format", "json", "--no-cache")
        found = [f["line"] for f in json.loads(ran.stdout)["findings"]]
        expected = [n for n, line in enumerate(fixture.read_text().splitlines(), 1) if "# expect: ADV499" in line]
        assert found == expected, fixture.name


def test_its_fix_case_holds(copy_with_new_rule: Path, tmp_path: Path) -> None:
    folder = copy_with_new_rule / "advisor" / "rules" / "device" / "adv499"
    target = tmp_path / "train.py"
    shutil.copy(folder / "fix_delete.in.py", target)
    advisor(copy_with_new_rule, "scan", str(target), "--select", "ADV499", "--unsafe-fixes", "--no-cache")
    assert target.read_text() == (folder / "fix_delete.out.py").read_text()


def test_the_generated_readme_gains_its_row(copy_with_new_rule: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(copy_with_new_rule)}
    check = [sys.executable, "-m", "advisor.docs_gen", "README.md", "--check"]
    stale = subprocess.run(check, cwd=copy_with_new_rule, capture_output=True, text=True, env=env, timeout=120)
    assert stale.returncode != 0  # the README is generated from the rule classes: it now lags
    subprocess.run(check[:-1], cwd=copy_with_new_rule, check=True, env=env, timeout=120)
    assert "ADV499" in (copy_with_new_rule / "README.md").read_text(encoding="utf-8")


@pytest.mark.needs_torch
def test_its_pair_is_measured(copy_with_new_rule: Path) -> None:
    ran = advisor(copy_with_new_rule, "verify", "ADV499", "--device", "cpu", "--format", "json", "--no-cache")
    (result,) = json.loads(ran.stdout)["results"]
    assert result["code"] == "ADV499" and result["equivalent"] is True and result["status"] in ("measured", "no-significant-gain")
