"""Small statistics on timing samples, in plain Python so the parent process and the tests need no numpy.

The speed-up is a ratio of medians; its interval comes from a bootstrap over interleaved rounds, because
rounds are the unit that load on a shared machine moves together (a busy neighbour slows one round of
both sides, not one sample of one side).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Sequence

# A gain below this factor is reported as no significant gain even when its interval excludes 1:
# shared machines drift by a few percent between rounds, and we never claim a gain that small.
MIN_GAIN = 1.05
BOOTSTRAP_RESAMPLES = 2000


def median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    if n == 0:
        raise ValueError("median of no samples")
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2


def quantile(xs: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), for quartiles and percentiles."""
    s = sorted(xs)
    if not s:
        raise ValueError("quantile of no samples")
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def iqr(xs: Sequence[float]) -> float:
    return quantile(xs, 0.75) - quantile(xs, 0.25)


@dataclass(frozen=True)
class RatioEstimate:
    ratio: float
    low: float
    high: float


def speedup_interval(
    before_rounds: Sequence[Sequence[float]],
    after_rounds: Sequence[Sequence[float]],
    *,
    confidence: float = 0.95,
    seed: int = 0,
) -> RatioEstimate:
    """Ratio of medians (before / after) over all samples, with a bootstrap interval over rounds.

    Each round holds the samples of one before block and the adjacent after block. Resampling whole
    rounds keeps the pairing; the interval is widened if needed so it always contains the point estimate.
    """
    if len(before_rounds) != len(after_rounds) or not before_rounds:
        raise ValueError("need the same, non-zero number of before and after rounds")
    all_before = [t for r in before_rounds for t in r]
    all_after = [t for r in after_rounds for t in r]
    ratio = median(all_before) / median(all_after)
    per_round = [median(b) / median(a) for b, a in zip(before_rounds, after_rounds)]
    rng = random.Random(seed)
    n = len(per_round)
    boots = sorted(median([per_round[rng.randrange(n)] for _ in range(n)]) for _ in range(BOOTSTRAP_RESAMPLES))
    tail = (1 - confidence) / 2
    low, high = quantile(boots, tail), quantile(boots, 1 - tail)
    return RatioEstimate(ratio, min(low, ratio), max(high, ratio))


def verdict(estimate: RatioEstimate) -> str:
    """"measured" when the whole interval lies above MIN_GAIN, else "no-significant-gain"."""
    return "measured" if estimate.low >= MIN_GAIN else "no-significant-gain"


def significant_digits(value: float, low: float, high: float) -> int:
    """How many significant digits the spread supports: the interval's half-width relative to the value."""
    if value <= 0 or not all(math.isfinite(x) for x in (value, low, high)):
        return 1
    rel = (high - low) / (2 * value)
    if rel >= 0.3:
        return 1
    if rel >= 0.03:
        return 2
    return 3


def round_sig(x: float, digits: int) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def rounded_estimate(est: RatioEstimate) -> RatioEstimate:
    """The estimate with no more precision than its own spread allows (never print noise as digits)."""
    digits = significant_digits(est.ratio, est.low, est.high)
    return RatioEstimate(round_sig(est.ratio, digits), round_sig(est.low, digits), round_sig(est.high, digits))


def no_gain_detail(shown: RatioEstimate) -> str:
    """Why no gain is claimed, in words; the interval is shown so the reader can judge the noise."""
    if shown.high < 1:
        return f"the after side was slower here, before/after {shown.low:g}x–{shown.high:g}x"
    return f"within noise, before/after {shown.low:g}x–{shown.high:g}x, under the {MIN_GAIN:g}x needed to claim a gain"
