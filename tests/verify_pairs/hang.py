"""Test-only pair: set-up never finishes; the parent's timeout must stop it."""

import time

DEFAULT_SIZES = {"n": 1}
TOLERANCE = {"rtol": 0.0, "atol": 0.0}
DEVICES = ("cpu",)


def setup(sizes, device):
    time.sleep(600)


def before(x):
    return 0


def after(x):
    return 0
