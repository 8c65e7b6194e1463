"""The child-process sandbox: every way a pair can go wrong becomes a result, and the run goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.verify import runner
from advisor.verify.pairs import PairError, load_spec
from advisor.verify.runner import RunOptions, verify_pair

PAIRS = Path(__file__).parent / "verify_pairs"
FAST = RunOptions(timeout_s=30, budget_s=0.2, use_cache=False)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))


def spec(name: str):
    return load_spec(PAIRS / f"{name}.py", code=f"T{name.upper()}")


@pytest.mark.needs_torch
def test_not_equivalent_pair_claims_no_gain():
    v = verify_pair(spec("not_equal"), "cpu", options=FAST)
    assert v.status == "not-equivalent"
    assert v.equivalent is False
    assert v.speedup is None and v.before is None
    assert "0.5" in v.detail  # the size of the difference is reported


def test_hanging_pair_times_out():
    v = verify_pair(spec("hang"), "cpu", options=RunOptions(timeout_s=2, use_cache=False))
    assert v.status == "failed"
    assert "timed out after 2 s" in v.detail


def test_crashing_pair_fails_with_the_signal():
    v = verify_pair(spec("crash"), "cpu", options=FAST)
    assert v.status == "failed"
    assert "SIGABRT" in v.detail


def test_memory_cap_turns_a_huge_allocation_into_a_failure():
    v = verify_pair(spec("hog"), "cpu", options=RunOptions(timeout_s=30, memory_bytes=2 * 2**30, use_cache=False))
    assert v.status == "failed"
    assert "out of memory" in v.detail


@pytest.mark.needs_torch
def test_second_run_is_a_cache_hit_without_a_child(monkeypatch):
    first = verify_pair(spec("tiny"), "cpu", options=RunOptions(timeout_s=60, budget_s=0.2))
    assert first.status in ("measured", "no-significant-gain")
    assert first.equivalent is True

    def no_child(*_a, **_k):
        raise AssertionError("a cached result must not start a child")

    monkeypatch.setattr(runner, "run_child", no_child)
    second = verify_pair(spec("tiny"), "cpu", options=RunOptions(timeout_s=60, budget_s=0.2))
    assert second.extra.get("cached") is True
    assert (second.status, second.speedup, second.before) == (first.status, first.speedup, first.before)
    # other sizes are another key
    with pytest.raises(AssertionError):
        verify_pair(spec("tiny"), "cpu", sizes={"n": 10}, options=RunOptions(timeout_s=60, budget_s=0.2))


def test_no_cache_bypasses_the_cache(monkeypatch):
    verify_pair(spec("not_equal"), "cpu", options=RunOptions(timeout_s=30))
    calls = []
    real = runner.run_child
    monkeypatch.setattr(runner, "run_child", lambda *a, **k: calls.append(1) or real(*a, **k))
    verify_pair(spec("not_equal"), "cpu", options=RunOptions(timeout_s=30, use_cache=False))
    assert calls == [1]


def test_cuda_on_a_machine_without_one_is_skipped_cleanly(monkeypatch):
    monkeypatch.setenv("ADVISOR_NO_CUDA", "1")
    from advisor.environment import environment

    environment.cache_clear()
    try:
        v = verify_pair(load_spec(PAIRS / "tiny.py"), "cuda", options=FAST)
    finally:
        environment.cache_clear()
    assert v.status == "skipped" and v.speedup is None
    assert "needs a" in v.detail and "CUDA" in v.detail


def test_a_pair_without_its_declarations_is_rejected(tmp_path):
    bad = tmp_path / "adv999.py"
    bad.write_text("DEFAULT_SIZES = {}\n\ndef setup(s, d):\n    return None\n")
    with pytest.raises(PairError, match="TOLERANCE, DEVICES"):
        load_spec(bad)
