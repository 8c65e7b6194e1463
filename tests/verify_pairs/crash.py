"""Test-only pair: the process dies hard (as a segfaulting extension would)."""

import os

DEFAULT_SIZES = {"n": 1}
TOLERANCE = {"rtol": 0.0, "atol": 0.0}
DEVICES = ("cpu",)


def setup(sizes, device):
    return None


def before(x):
    os.abort()


def after(x):
    return 0
