"""The bundled demo script shows every rule: scanning it reports exactly the lines its `# expect:`
comments name — one per rule at least — and nothing else, through the engine and through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from advisor.engine import analyse_unit, load_unit
from advisor.fixtures_index import expectations, rule_fixtures
from advisor.rule import all_rules

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "fixtures" / "demo" / "train.py"


def test_demo_reports_exactly_its_expectations():
    found = analyse_unit(load_unit(DEMO, "train.py"), list(all_rules()))
    got = sorted((f.line, f.code) for f in found)
    assert got == list(expectations(DEMO.read_text(encoding="utf-8")))


def test_demo_shows_every_rule_family():
    """A new rule needs no demo line (its own fixtures show it); a new family does."""
    shown = {code for _, code in expectations(DEMO.read_text(encoding="utf-8"))}
    families = {r.family() for r in all_rules()}
    missing = sorted(fam for fam in families if not any(r.code in shown for r in all_rules() if r.family() == fam))
    assert not missing, f"the demo shows no rule of {missing}: add a line that triggers one, marked `# expect:`"


def test_demo_is_not_a_rule_fixture():
    assert all(f.path.parent.name != "demo" for f in rule_fixtures())


def test_scan_cli_on_demo_matches_expectations():
    proc = subprocess.run(
        [sys.executable, "-m", "advisor", "scan", str(DEMO), "--format", "json"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["errors"] == []
    got = sorted((f["line"], f["code"]) for f in report["findings"])
    assert got == list(expectations(DEMO.read_text(encoding="utf-8")))
