"""The README's generated blocks (the rules table) match what the rule classes and docs/measured.json say."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from advisor import docs_blocks
from advisor.rule import all_rules

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"


def test_readme_blocks_are_up_to_date():
    text = README.read_text(encoding="utf-8")
    for name in docs_blocks.blocks():
        assert docs_blocks.current(text, name) is not None, f"README.md lacks the markers of the generated block {name!r}"
    assert docs_blocks.render(text) == text, "README.md is stale: run `python -m advisor.docs_blocks --write README.md`"


def test_table_has_one_row_per_rule_from_its_class():
    table = docs_blocks.rules_table({})
    rows = table.splitlines()[2:]
    assert [r.split(" | ")[0].lstrip("| ") for r in rows] == [r.code for r in all_rules()]
    for rule, row in zip(all_rules(), rows):
        assert rule.name in row and rule.summary in row


def test_a_renamed_rule_makes_the_readme_stale(monkeypatch):
    text = README.read_text(encoding="utf-8")
    first = all_rules()[0]
    monkeypatch.setattr(first, "summary", first.summary + " (changed)")
    assert docs_blocks.render(text) != text


def test_every_measured_figure_belongs_to_a_rule_with_a_pair():
    data = json.loads(docs_blocks.MEASURED.read_text(encoding="utf-8"))
    with_pair = {r.code for r in all_rules() if r.pair_path() is not None}
    assert set(data["rules"]) <= with_pair


def test_advisor_rules_markdown_is_the_readme_table(run_cli):
    proc = run_cli("rules", "--format", "markdown")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip("\n") == docs_blocks.current(README.read_text(encoding="utf-8"), "rules-table")


def test_check_mode_exit_status(tmp_path):
    stale = tmp_path / "R.md"
    stale.write_text("<!-- generated: rules-table -->\nold\n<!-- end: rules-table -->\n", encoding="utf-8")
    env_path = {"PYTHONPATH": str(REPO)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "advisor.docs_blocks", *a], capture_output=True, text=True, env=env_path, timeout=60)  # noqa: E731
    assert run("--check", str(stale)).returncode == 1
    assert run("--write", str(stale)).returncode == 0
    assert run("--check", str(stale)).returncode == 0
