"""Every shipped rule fixture, run through the real engine: positives report exactly the lines their
`# expect:` comments name, negatives report nothing for their rule."""

from __future__ import annotations

import pytest

from advisor.engine import SourceUnit, analyse_unit, load_unit
from advisor.fixtures_index import rule_fixtures
from advisor.rule import all_rules

FIXTURES = rule_fixtures()
MIN_PER_KIND = 4


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f"{f.code}/{f.path.name}")
def test_fixture(fixture):
    unit = load_unit(fixture.path, fixture.path.name)
    found = analyse_unit(unit, list(all_rules()))
    got = sorted((f.line, f.code) for f in found if f.code == fixture.code)
    if fixture.positive:
        want = [e for e in fixture.expected if e[1] == fixture.code]
        assert want, f"{fixture.path.name} is a positive fixture with no `# expect: {fixture.code}`"
        assert got == want
    else:
        assert got == [], f"false alarm in negative fixture {fixture.path.name}: {got}"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_every_rule_has_enough_fixtures(rule):
    mine = [f for f in FIXTURES if f.code == rule.code]
    assert sum(f.positive for f in mine) >= MIN_PER_KIND, f"{rule.code} needs {MIN_PER_KIND} positive fixtures"
    assert sum(not f.positive for f in mine) >= MIN_PER_KIND, f"{rule.code} needs {MIN_PER_KIND} negative fixtures"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_every_rule_is_documented(rule):
    for attr in ("code", "name", "summary", "message", "why", "suggestion"):
        assert getattr(rule, attr).strip(), f"{rule.code}.{attr} is empty"
    assert rule.code.startswith("ADV") and len(rule.code) == 6
    assert "\n" not in rule.message, "messages are one line"
    docs = rule.docs
    assert docs.what.strip() and docs.why.strip() and docs.example.strip() and docs.use_instead.strip()


def test_fixture_examples_come_from_rule_docs_too():
    # the docs' bad example must itself be caught by the rule it documents
    import textwrap

    for rule in all_rules():
        found = analyse_unit(SourceUnit("doc.py", textwrap.dedent(rule.docs.example)), [rule])
        assert found, f"{rule.code}: its own `explain` example is not reported"
