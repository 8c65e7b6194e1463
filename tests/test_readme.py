"""The README's generated blocks are what the tool prints today (issue 17, item 13): the demo output, the
saved verified run and the rules table, compared with real runs of the command line."""

from __future__ import annotations

import re
from pathlib import Path

from advisor import docs_gen

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def _block(name: str) -> str:
    m = re.search(rf"<!-- generated: {name} -->\n(.*?)<!-- /generated: {name} -->", README, re.S)
    assert m, f"README has no generated block {name!r}"
    return m.group(1)


def _output(block: str) -> tuple[list[str], str]:
    """The command after `$ advisor` and what it printed, from a fenced block."""
    lines = block.split("\n")
    assert lines[0] == "```" and lines[1].startswith("$ advisor ") and block.endswith("```\n")
    return lines[1][len("$ advisor "):].split(), "\n".join(lines[2:-2]) + "\n"


def test_demo_block_is_the_real_output(run_cli):
    command, shown = _output(_block("demo"))
    proc = run_cli(*command, cwd=REPO)
    assert proc.returncode == 1
    assert shown == proc.stdout  # fix hints included: nothing stripped by hand
    assert "  fix: " in shown and shown.rstrip().splitlines()[-1].startswith("Found ")


def test_verified_block_is_the_saved_run_as_advisor_report_prints_it(run_cli):
    command, shown = _output(_block("demo-verified"))
    assert command[:2] == ["report", "docs/demo-verified-h100.json"]
    assert shown == run_cli(*command, cwd=REPO).stdout
    assert "measured on cuda (NVIDIA H100 80GB HBM3)" in shown


def test_rules_table_is_generated_from_the_rules():
    assert _block("rules-table") == docs_gen.rules_table()


def test_generator_check_mode_agrees():
    assert docs_gen.render(README, REPO) == README


def test_readme_claims_that_contradicted_the_tool_are_gone():
    assert "CPU 1.4–1.6x" not in README  # ADV203: figures come from the recorded run, with their machine
    assert "`args.…` or config objects are not\nreported" not in README  # ADV301 does report range(args.epochs)
    assert "1.46x the time of" in README  # start-up as a ratio, with the machine named
    assert "2-core AMD EPYC" in README.split("## Speed", 1)[1]
