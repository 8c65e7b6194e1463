"""`--count-instructions`: callgrind counts that repeat across runs, a clean answer where they cannot be
had, and the same counts in every output format."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.types import Verification
from advisor.verify import cache, instructions
from advisor.verify.command import results_json, text_line
from advisor.verify.pairs import load_spec, pair_for
from advisor.verify.runner import RunOptions, verify_pair

PAIRS = Path(__file__).parent / "verify_pairs"
COUNT = RunOptions(timeout_s=60, budget_s=0.2, use_cache=False, count_instructions=True)
needs_valgrind = pytest.mark.skipif(instructions.tools_missing(), reason="needs valgrind (callgrind_control)")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def two_counts() -> tuple[Verification, Verification]:
    """The tiny pair counted twice (about 15 s each on a 2-core machine)."""
    if instructions.tools_missing():
        pytest.skip("needs valgrind (callgrind_control)")
    tiny = load_spec(PAIRS / "tiny.py", code="TTINY")
    return verify_pair(tiny, "cpu", options=COUNT), verify_pair(tiny, "cpu", options=COUNT)


@pytest.mark.needs_torch
@needs_valgrind
def test_counts_repeat_within_one_percent(two_counts):
    first, second = (v.instructions for v in two_counts)
    assert first is not None and second is not None
    for side in ("before", "after"):
        assert first[side] > 0
        assert abs(first[side] - second[side]) <= 0.01 * first[side], (side, first[side], second[side])


@pytest.mark.needs_torch
@needs_valgrind
def test_the_side_doing_more_work_counts_more(two_counts):
    v = two_counts[0]
    assert v.instructions is not None
    # before adds 1000 floats in a Python loop, after calls the builtin sum on the same list
    assert v.instructions["before"] > 2 * v.instructions["after"]
    assert v.instructions["ratio"] == pytest.approx(v.instructions["before"] / v.instructions["after"], rel=0.01)
    assert v.instructions["ratio"] > 1


@pytest.mark.needs_torch
@needs_valgrind
def test_count_sizes_replace_the_timed_sizes(two_counts):
    v = two_counts[0]
    assert v.sizes == {"n": 2000}
    assert v.instructions is not None and v.instructions["sizes"] == {"n": 1000}
    assert "n=1000" in text_line(v)


@pytest.mark.needs_torch
@needs_valgrind
def test_json_shape(two_counts):
    data = json.loads(results_json([two_counts[0]]))
    ins = data["results"][0]["instructions"]
    assert set(ins) == {"tool", "before", "after", "ratio", "sizes", "detail"}
    assert ins["tool"] == "callgrind" and ins["detail"] == ""
    assert isinstance(ins["before"], int) and isinstance(ins["after"], int) and isinstance(ins["ratio"], float)
    assert Verification.from_dict(data["results"][0]).instructions == ins


@pytest.mark.needs_torch
def test_without_valgrind_the_result_says_so_and_the_timing_stands(tmp_path, monkeypatch):
    bare = tmp_path / "bin"
    bare.mkdir()
    monkeypatch.setenv("PATH", str(bare))  # no valgrind, no callgrind_control; the child is started by full path
    v = verify_pair(load_spec(PAIRS / "tiny.py", code="TTINY"), "cpu", options=COUNT)
    assert v.status in ("measured", "no-significant-gain")
    assert v.before is not None
    assert v.instructions is not None
    assert v.instructions["before"] is None and v.instructions["ratio"] is None
    assert v.instructions["detail"].startswith("instruction counts need valgrind")
    assert "instructions on cpu: instruction counts need valgrind" in text_line(v)


def test_cuda_results_are_not_counted(monkeypatch):
    monkeypatch.setenv("ADVISOR_NO_CUDA", "1")
    from advisor.environment import environment

    environment.cache_clear()
    try:
        v = verify_pair(load_spec(PAIRS / "tiny.py", code="TTINY"), "cuda", options=COUNT)
    finally:
        environment.cache_clear()
    assert v.instructions is not None and v.instructions["detail"] == instructions.CPU_ONLY


def test_not_asked_means_no_instructions_key_filled():
    v = verify_pair(load_spec(PAIRS / "not_equal.py", code="TNE"), "cpu", options=replace(COUNT, count_instructions=False))
    assert v.instructions is None
    assert "instructions" not in text_line(v)


@pytest.mark.needs_torch
def test_a_pair_that_is_not_equivalent_is_not_counted():
    v = verify_pair(load_spec(PAIRS / "not_equal.py", code="TNE"), "cpu", options=COUNT)
    assert v.status == "not-equivalent"
    assert v.instructions is not None and v.instructions["before"] is None
    assert "not counted" in v.instructions["detail"]


def test_the_flag_is_part_of_the_cache_key():
    args = ("TTINY", "abc", {"n": 1}, "cpu")
    assert cache.cache_key(*args, True) != cache.cache_key(*args, False)
    assert cache.cache_key(*args) == cache.cache_key(*args, False)


def test_totals_line_is_read(tmp_path):
    dump = tmp_path / "callgrind.out.1"
    dump.write_text("version: 1\ncmd: python\npart: 1\n\nevents: Ir\nsummary: 617677\n\nfn=(1) f\n3 5\n\ntotals: 617677\n")
    assert instructions.read_total(dump) == 617677
    assert instructions.read_total(tmp_path / "missing") is None


def test_count_sizes_are_read_from_the_pair():
    spec = load_spec(PAIRS / "tiny.py")
    assert spec.count_sizes == {"n": 1000}
    adv401 = pair_for("ADV401")
    assert adv401 is not None and adv401.count_sizes["n"] < adv401.default_sizes["n"]


def test_cli_takes_the_flag_on_verify_and_scan():
    from advisor.cli import main

    runner = CliRunner()
    for args in (["verify", "--help"], ["scan", "--help"]):
        out = runner.invoke(main, args).output
        assert "--count-instructions" in out


@pytest.mark.needs_torch
@pytest.mark.slow
@needs_valgrind
def test_adv401_triple_loop_counts_far_more_than_matmul():
    spec = pair_for("ADV401")
    assert spec is not None
    v = verify_pair(spec, "cpu", options=replace(COUNT, timeout_s=120))
    assert v.instructions is not None and v.instructions["ratio"] is not None, v.instructions
    # 50x at n=64 on a 2-core EPYC: a 64^3 Python loop against one BLAS call plus list conversions
    assert v.instructions["ratio"] > 20
    assert v.instructions["sizes"] == {"n": 64}


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "html", "github"])
def test_every_reporter_shows_the_recorded_counts(fmt):
    from advisor.report import render
    from report_samples import sample_result

    result = sample_result()
    counted = {"tool": "callgrind", "before": 123456789, "after": 4321, "ratio": 28600.0, "sizes": {"n": 64}, "detail": ""}
    (i, f), = [(i, f) for i, f in enumerate(result.findings) if f.code == "ADV401"]
    result.findings[i] = f.with_verifications(tuple(replace(v, instructions=counted) for v in f.verifications))
    out = render(fmt, result)
    shown = "123456789" if fmt in ("json", "sarif") else "123,456,789"
    assert shown in out
    assert ("4321" if fmt in ("json", "sarif") else "4,321") in out


def test_a_pair_that_declares_not_counted_says_why_without_valgrind(tmp_path, monkeypatch):
    pair = tmp_path / "workers.py"
    pair.write_text((PAIRS / "tiny.py").read_text() + '\nNOT_COUNTED = "its gain is parallel workers"\n')
    monkeypatch.setattr(instructions, "count_instructions", lambda *a, **k: pytest.fail("must not count"))
    v = verify_pair(load_spec(pair, code="TWORKERS"), "cpu", options=COUNT)
    assert v.instructions is not None and v.instructions["detail"] == "not counted: its gain is parallel workers"
    adv203 = pair_for("ADV203")
    assert adv203 is not None and "worker" in adv203.not_counted
