"""A rule's pair is found from its code alone (`advNNN/pair.py` beside the rule), declares that code, and
a rule without one says why."""

from __future__ import annotations

import pytest

from advisor.rule import Rule, all_rules
from advisor.verify.pairs import all_pairs

PAIRS = all_pairs()


@pytest.mark.parametrize("rule", [r for r in all_rules() if r.pair_path() is not None], ids=lambda r: r.code)
def test_rule_pair_measures_that_rule(rule):
    spec = PAIRS[rule.code]
    assert spec.code == rule.code and spec.path == rule.pair_path()
    assert spec.path.parent.name == rule.code.lower() and spec.path.parent.parent.name == rule.family()


def test_a_rule_without_a_pair_says_why():
    for rule in all_rules():
        if rule.pair_path() is None:
            assert rule.no_pair_reason != Rule.no_pair_reason, f"{rule.code} has no pair.py and no no_pair_reason"
            assert rule.code not in PAIRS
