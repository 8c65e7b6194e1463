"""A rule's `pair` names the before/after module that measures it, and that module is for the same code."""

from __future__ import annotations

import pytest

from advisor.rule import all_rules
from advisor.verify.pairs import all_pairs

PAIRS = all_pairs()


@pytest.mark.parametrize("rule", [r for r in all_rules() if r.pair is not None], ids=lambda r: r.code)
def test_rule_pair_exists_and_measures_that_rule(rule):
    spec = PAIRS.get(rule.code)
    assert spec is not None, f"{rule.code} declares pair {rule.pair!r} but fixtures/pairs has none for it"
    assert spec.name == rule.pair



def test_every_pair_belongs_to_a_rule_that_names_it():
    named = {r.code: r.pair for r in all_rules()}
    for code, spec in PAIRS.items():
        assert named.get(code) == spec.name, f"pair {spec.name} is not declared by rule {code}"
