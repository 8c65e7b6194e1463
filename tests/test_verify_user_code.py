"""Sizes read from the user's code, ADV401 user-function extraction (and its refusals), and the
`scan --verify` / `verify` command lines."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from advisor.rule import rules_by_code
from advisor.types import Confidence, Finding, Severity, Span
from advisor.verify.extract import extract_function
from advisor.verify.runner import RunOptions, verify_user_function
from advisor.verify.sizes import sizes_for as sizes_with_rule

TRAINING = textwrap.dedent(
    """\
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    X = torch.randn(1000, 20)
    loader = DataLoader(TensorDataset(X), batch_size=32)
    for epoch in range(30):
        buf = torch.zeros(4096).to("cuda")
    """
)

MATMUL = textwrap.dedent(
    """\
    import numpy as np
    import json

    WEIGHT = 2.0

    def matmul(A, B):
        return [[sum(a * b for a, b in zip(row, col)) for col in zip(*B)] for row in A]

    def scaled(A, B):
        return [[WEIGHT * sum(a * b for a, b in zip(row, col)) for col in zip(*B)] for row in A]

    def logged(A, B):
        out = [[sum(a * b for a, b in zip(row, col)) for col in zip(*B)] for row in A]
        print(out)
        return out

    def saved(A, B):
        out = np.array([[sum(a * b for a, b in zip(row, col)) for col in zip(*B)] for row in A])
        np.save("out.npy", out)
        return out

    def dumped(A, B):
        out = [[sum(a * b for a, b in zip(row, col)) for col in zip(*B)] for row in A]
        json.dumps(out)
        return out

    def transposed(A, B):
        return [[sum(a * b for a, b in zip(row, col)) for col in B] for row in A]

    def indexed(a, b, n):
        out = np.zeros((n, n))
        for i in range(n):
            for j in range(n):
                for k in range(n):
                    out[i, j] += a[i, k] * b[k, j]
        return out
    """
)


def sizes_for(f, text, defaults):
    """The sizes `scan --verify` would use for this finding (its rule reads them)."""
    return sizes_with_rule(f, text, defaults, rules_by_code()[f.code])


def finding(code: str, line: int, cell: int | None = None) -> Finding:
    return Finding(code, "x", "f.py", Span(line, 1, line, 10), "m", "w", "s", Severity.WARNING, Confidence.HIGH, cell=cell)


def line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


@pytest.mark.parametrize(
    "code, line, want",
    [
        ("ADV203", 4, {"batch_size": 32, "samples": 1000, "features": 20}),
        ("ADV204", 4, {"batch_size": 32}),
        ("ADV201", 3, {"samples": 1000, "features": 20}),
        ("ADV102", 6, {"n": 4096}),
        ("ADV301", 5, {"epochs": 30}),
    ],
)
def test_sizes_come_from_literals_in_user_code(code, line, want):
    defaults = {"samples": 1, "features": 1, "batch_size": 1, "n": 1, "epochs": 1, "lr": 0.1}
    got = sizes_for(finding(code, line), TRAINING, defaults)
    assert got.source == "user code"
    assert {k: got.values[k] for k in want} == want
    assert got.values["lr"] == 0.1  # what the code does not show keeps its default


def test_sizes_fall_back_to_defaults_and_cap_huge_literals():
    assert sizes_for(finding("ADV401", 1), "x = 1\n", {"n": 200}).source == "defaults"
    assert sizes_for(finding("ADV203", 4, cell=0), TRAINING, {"batch_size": 64}).source == "defaults"
    big = sizes_for(finding("ADV401", 1), "for i in range(5000):\n    pass\n", {"n": 200})
    assert big.values["n"] == 300 and "capped" in big.note


def test_self_contained_function_is_extracted_with_its_aliases():
    ex = extract_function(MATMUL, line_of(MATMUL, "def matmul"))
    assert ex.function is not None and ex.refusal == ""
    assert ex.function["name"] == "matmul" and ex.function["input"] == "lists"
    assert ex.function["source"].startswith("def matmul(A, B):")
    arrays = extract_function(MATMUL, line_of(MATMUL, "out[i, j] +="))
    assert arrays.function is not None
    assert arrays.function["input"] == "arrays" and arrays.function["aliases"] == {"np": "numpy"}
    assert arrays.function["size_params"] == ["n"]


@pytest.mark.parametrize(
    "name, why",
    [("scaled", "global name `WEIGHT`"), ("logged", "`print`"), ("saved", "`.save`"), ("dumped", "global name `json`")],
)
def test_functions_touching_globals_or_io_are_refused(name, why):
    ex = extract_function(MATMUL, line_of(MATMUL, f"def {name}") + 1)
    assert ex.function is None
    assert why in ex.refusal


def test_code_outside_a_function_is_refused():
    ex = extract_function("A = [[1]]\nB = [[1]]\nC = [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n", 3)
    assert ex.function is None and "not inside a function" in ex.refusal


@pytest.mark.needs_torch
def test_extracted_user_function_is_run_and_compared(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path))
    opts = RunOptions(timeout_s=60, budget_s=0.3, use_cache=False, user_code=True)
    tol = {"rtol": 1e-9, "atol": 1e-12}
    good = extract_function(MATMUL, line_of(MATMUL, "def matmul")).function
    v = verify_user_function("ADV401", good, {"n": 40}, "user code", tol, opts)
    assert v.equivalent is True and v.status in ("measured", "no-significant-gain"), v.detail
    assert v.extra["user_function"] == "matmul"
    wrong = extract_function(MATMUL, line_of(MATMUL, "def transposed")).function
    bad = verify_user_function("ADV401", wrong, {"n": 12}, "user code", tol, opts)
    assert bad.status == "not-equivalent" and bad.speedup is None


@pytest.mark.needs_torch
def test_scan_verify_attaches_the_user_function_result(run_cli, tmp_path):
    src = tmp_path / "mm.py"
    src.write_text(
        "def matmul(A, B):\n"
        "    C = [[0.0] * 30 for _ in range(30)]\n"
        "    for i in range(30):\n"
        "        for j in range(30):\n"
        "            for k in range(30):\n"
        "                C[i][j] += A[i][k] * B[k][j]\n"
        "    return C\n"
    )
    proc = run_cli("scan", str(src), "--verify-user-code", "--format", "json", "--select", "ADV401", env={"ADVISOR_CACHE_DIR": str(tmp_path / "c")})
    assert proc.returncode == 1, proc.stderr
    found = json.loads(proc.stdout)["findings"]
    assert len(found) == 1
    (v,) = found[0]["verifications"]
    assert v["extra"]["user_function"] == "matmul"
    assert v["sizes"] == {"n": 30} and v["sizes_source"] == "user code"
    assert v["equivalent"] is True


@pytest.mark.needs_torch
def test_a_transposed_product_is_not_compared_with_a_plain_matmul(run_cli, tmp_path):
    src = tmp_path / "gram.py"
    src.write_text("def gram(A, B):\n    n = 20\n    return [[sum(A[i][k] * B[j][k] for k in range(n)) for j in range(n)] for i in range(n)]\n")
    proc = run_cli("scan", str(src), "--verify", "--format", "json", "--select", "ADV401", env={"ADVISOR_CACHE_DIR": str(tmp_path / "c")})
    assert proc.returncode == 1, proc.stderr
    (finding,) = json.loads(proc.stdout)["findings"]
    own = [v for v in finding["verifications"] if "your function" in (v["detail"] or "")]
    assert own and own[0]["status"] == "skipped" and "transposed" in own[0]["detail"]
    assert all(v["status"] != "not-equivalent" for v in finding["verifications"])


def test_verify_without_torch_says_how_to_install(tmp_path):
    import subprocess

    from tests.conftest import REPO

    src = tmp_path / "mm.py"
    src.write_text("def f(A, B):\n    return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n")
    probe = (
        "import sys; sys.modules['torch'] = None; sys.modules['numpy'] = None\n"
        "from advisor.cli import main\n"
        f"main(['scan', {str(src)!r}, '--verify'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "advisor: error: torch and numpy not installed — install advisor[verify] (torch and numpy) to measure"


@pytest.mark.needs_torch
def test_verify_cuda_on_cpu_only_machine_json_shape(run_cli, tmp_path):
    proc = run_cli("verify", "--device", "cuda", "--format", "json", env={"ADVISOR_NO_CUDA": "1", "ADVISOR_CACHE_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["version"] == 1
    codes = [r["code"] for r in data["results"]]
    assert codes == sorted(codes) and "ADV401" in codes and "ADV101" in codes
    for r in data["results"]:
        assert r["status"] == "skipped" and r["device"] == "cuda" and r["speedup"] is None
        assert "CUDA" in r["detail"]
        for key in ("speedup_low", "speedup_high", "equivalent", "before", "after", "sizes", "sizes_source", "device_name"):
            assert key in r


def test_verify_unknown_code_is_a_usage_error(run_cli):
    proc = run_cli("verify", "ADV999")
    assert proc.returncode == 2 and "no before/after pair for ADV999" in proc.stderr
