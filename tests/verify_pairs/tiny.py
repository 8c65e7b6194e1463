"""Test-only pair: a Python-loop sum vs the builtin; fast, equivalent, for the cache and JSON tests."""

DEFAULT_SIZES = {"n": 2000}
TOLERANCE = {"rtol": 1e-12, "atol": 0.0}
DEVICES = ("cpu", "cuda")


def setup(sizes, device):
    return [float(i) for i in range(sizes["n"])]


def before(xs):
    total = 0.0
    for x in xs:
        total += x
    return total


def after(xs):
    return sum(xs)
