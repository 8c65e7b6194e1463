"""Test-only pair: leaves a mark in an imported module and fails if it finds one already there, so it
is measured twice only if each run gets a process of its own."""

import json
import os

DEFAULT_SIZES = {"n": 200}
TOLERANCE = {"rtol": 0.0, "atol": 0.0}
DEVICES = ("cpu",)


def setup(sizes, device):
    if getattr(json, "_advisor_test_mark", None) is not None:
        raise RuntimeError(f"state left by process {json._advisor_test_mark}")
    json._advisor_test_mark = os.getpid()
    return list(range(sizes["n"]))


def before(xs):
    return [x * 2 for x in xs]


def after(xs):
    return list(map((2).__mul__, xs))
