"""The statistics behind every figure: ratio of medians, bootstrap interval, verdict, honest rounding."""

from __future__ import annotations

import pytest

from advisor.verify import stats


def test_median_and_iqr_match_the_textbook():
    assert stats.median([3, 1, 2]) == 2
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert stats.iqr([1, 2, 3, 4, 5]) == pytest.approx(2.0)


def test_clear_gain_is_measured_with_an_interval_around_it():
    before = [[1.0, 1.1, 0.9]] * 3 + [[1.2, 1.0, 1.1]] * 3
    after = [[0.1, 0.11, 0.09]] * 6
    est = stats.speedup_interval(before, after)
    assert est.low <= est.ratio <= est.high
    assert 9 < est.ratio < 12
    assert stats.verdict(est) == "measured"


def test_equal_sides_are_no_significant_gain():
    rounds = [[1.0, 1.02, 0.98], [1.01, 0.99, 1.0], [1.0, 1.03, 0.97], [0.99, 1.0, 1.01]]
    est = stats.speedup_interval(rounds, list(reversed(rounds)))
    assert stats.verdict(est) == "no-significant-gain"


def test_a_slower_after_side_is_never_a_gain_and_says_so():
    est = stats.speedup_interval([[1.0]] * 4, [[2.0]] * 4)
    assert stats.verdict(est) == "no-significant-gain"
    assert "slower" in stats.no_gain_detail(stats.rounded_estimate(est))


def test_rounding_follows_the_spread():
    wide = stats.rounded_estimate(stats.RatioEstimate(123.456, 80.0, 170.0))
    narrow = stats.rounded_estimate(stats.RatioEstimate(123.456, 123.0, 124.0))
    assert wide.ratio == 100
    assert narrow.ratio == 123


def test_mismatched_rounds_are_rejected():
    with pytest.raises(ValueError):
        stats.speedup_interval([[1.0]], [])


def test_verify_and_scan_verify_round_a_measurement_the_same_way():
    """`advisor verify` (text_line) and `scan --verify` (the reporters) show one measurement with one rounding."""
    from advisor.present import describe_verification
    from advisor.types import Measurement, Verification
    from advisor.verify.command import text_line

    v = Verification("ADV401", "cpu", "measured", True, {"n": 200}, "defaults",
                     Measurement(0.01234567, 0.0001, 10), Measurement(0.0000612345, 0.000001, 10), 201.6, 160.2, 240.7)
    for shown in (text_line(v), describe_verification(v)):
        assert "202x faster" in shown and "160x–241x" in shown and "12.3 ms" in shown and "61.2 µs" in shown
