"""Test-only pair: asks for more memory than the child's cap allows."""

DEFAULT_SIZES = {"gib": 64}
TOLERANCE = {"rtol": 0.0, "atol": 0.0}
DEVICES = ("cpu",)


def setup(sizes, device):
    return bytearray(sizes["gib"] * 2**30)


def before(x):
    return 0


def after(x):
    return 0
