"""The measuring loop (adaptive rounds, fixed blocks) and the warm zygote that forks one worker per pair."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from advisor.verify import measure, spawn
from advisor.verify.runner import RunOptions, verify_pair
from tests.test_verify_runner import PAIRS, private_cache, spec  # noqa: F401 - the same private cache and test pairs

FAST = RunOptions(timeout_s=60, budget_s=0.2, use_cache=False)


def fake_blocks(monkeypatch, per_call):
    """`_block` answers from `per_call(side, n)` (the n-th block of that side): no clock involved."""
    counts = {"before": 0, "after": 0}
    sides = {}

    def block(fn, inputs, number, sync):
        side = sides[fn]
        counts[side] += 1
        return per_call(side, counts[side])

    def run(budget_s=10.0):
        before, after = (lambda x: None), (lambda x: None)
        sides.update({before: "before", after: "after"})
        return measure.interleaved(before, after, None, device="cpu", budget_s=budget_s, warm=(0.5, 0.002))

    monkeypatch.setattr(measure, "_block", block)
    return run


def test_a_steady_large_gain_stops_after_the_minimum_rounds(monkeypatch):
    run = fake_blocks(monkeypatch, lambda side, n: 0.5 if side == "before" else 0.0025)
    raw = run()
    assert raw["stopped"] == "tight" and raw["rounds"] == measure.MIN_ROUNDS
    # a side slower than a block is timed one call per sample, with no calibration calls on top
    assert raw["calls"]["before"] == measure.MIN_ROUNDS
    assert all(len(r) == 1 for r in raw["before_rounds"])


def test_a_noisy_pair_keeps_timing_until_the_round_limit(monkeypatch):
    run = fake_blocks(monkeypatch, lambda side, n: 0.05 if side == "after" else 0.5 * (3 if n % 2 else 1))
    raw = run(budget_s=1e9)
    assert raw["stopped"] == "rounds" and raw["rounds"] == measure.MAX_ROUNDS


def test_the_budget_ends_a_noisy_pair_but_never_before_the_minimum_rounds(monkeypatch):
    run = fake_blocks(monkeypatch, lambda side, n: 0.05 if side == "after" else 0.5 * (3 if n % 2 else 1))
    raw = run(budget_s=0.0)
    assert raw["stopped"] == "budget" and raw["rounds"] == measure.MIN_ROUNDS


def test_tight_means_a_narrow_interval():
    steady = [[200.0 * (1 + 0.01 * (i % 2))] for i in range(4)]
    assert measure.tight(steady, [[1.0]] * 4)
    assert not measure.tight([[100.0], [300.0], [150.0], [250.0]], [[1.0]] * 4)


@pytest.mark.needs_torch
def test_a_pair_without_torch_is_measured_without_importing_torch():
    """The child's own machinery (timing, statistics, comparison) needs no torch: a NumPy or plain
    Python pair does not pay seconds for importing it."""
    import json
    import subprocess
    import sys

    request = {"pair_path": str(PAIRS / "tiny.py"), "code": "TTINY", "device": "cpu", "sizes": {"n": 2000},
               "tolerance": {"rtol": 1e-12, "atol": 0.0}, "metric": "time", "budget_s": 0.05, "threads": 1}
    probe = ("import json, sys\nfrom advisor.verify.child import handle\n"
             f"answer = handle({request!r})\nprint(json.dumps([answer['status'], 'torch' in sys.modules]))\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1])
    status, loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert status in ("measured", "no-significant-gain") and loaded is False, proc.stderr


@pytest.mark.needs_torch
def test_one_warm_zygote_serves_every_outcome_with_a_fresh_process_per_pair():
    with spawn.warm_children():
        first = verify_pair(spec("leaky"), "cpu", options=FAST)
        zygote = spawn._WARM.proc
        second = verify_pair(spec("leaky"), "cpu", options=FAST)
        assert spawn._WARM.proc is zygote  # the same warm parent ...
        for v in (first, second):  # ... a new process each time: the second set-up finds no mark
            assert v.equivalent is True and v.status in ("measured", "no-significant-gain"), v.detail
        crashed = verify_pair(spec("crash"), "cpu", options=FAST)
        assert crashed.status == "failed" and "SIGABRT" in crashed.detail
        hog = verify_pair(spec("hog"), "cpu", options=RunOptions(timeout_s=60, memory_bytes=2 * 2**30, use_cache=False))
        assert hog.status == "failed" and "out of memory" in hog.detail
        hung = verify_pair(spec("hang"), "cpu", options=RunOptions(timeout_s=15, use_cache=False))
        assert hung.status == "failed" and "timed out after 15 s" in hung.detail
        assert spawn._WARM.proc is None and zygote.poll() is not None  # killed with its worker
        again = verify_pair(spec("tiny"), "cpu", options=FAST)  # a new zygote
        assert again.status in ("measured", "no-significant-gain") and again.equivalent is True
        last = spawn._WARM.proc
    assert spawn._WARM is None and last.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(last.pid, 0)


def test_only_the_shipped_cpu_pairs_go_to_the_zygote():
    warm = spawn.WarmChild()
    base = {"device": "cpu", "threads": 1}
    assert warm.serves(base, None)
    assert not warm.serves({**base, "user_function": {"name": "f"}}, None)  # the user's code: a plain child
    assert not warm.serves({**base, "device": "cuda"}, None)
    assert not warm.serves({**base, "mode": "count"}, None)
    assert not warm.serves(base, ["valgrind"])
    assert not warm.serves({**base, "threads": 2}, None)
