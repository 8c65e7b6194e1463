"""Test-only pair: the after side computes something else; the verifier must refuse to claim a gain."""

DEFAULT_SIZES = {"n": 10}
TOLERANCE = {"rtol": 1e-9, "atol": 0.0}
DEVICES = ("cpu",)


def setup(sizes, device):
    return list(range(sizes["n"]))


def before(xs):
    return [float(x) for x in xs]


def after(xs):
    return [float(x) + (0.5 if x == 3 else 0.0) for x in xs]
