"""Test-only pair: a Python-loop sum vs the builtin; fast, equivalent, for the cache and JSON tests."""

DEFAULT_SIZES = {"n": 2000}
TOLERANCE = {"rtol": 1e-12, "atol": 0.0}
DEVICES = ("cpu", "cuda")
# Counted at other sizes than timed, so the tests see COUNT_SIZES used.
COUNT_SIZES = {"n": 1000}


def setup(sizes, device):
    return [float(i) for i in range(sizes["n"])]


def before(xs):
    total = 0.0
    for x in xs:
        total += x
    return total


def after(xs):
    return sum(xs)
