"""Matrix products over lists on the user's own code: matrix-vector shapes are lifted with their roles
(helpers such as `dot` included when they are pure), timed against `W @ x` (or `x @ W`), and reported
with both figures the advice implies: replaced as is (lists converted per call) and with arrays kept."""

from __future__ import annotations

import json
import textwrap

import pytest

from advisor.report.html import verification_view
from advisor.present import verification_lines
from advisor.types import Measurement, Verification
from advisor.verify.extract import extract_function

SHAPES = textwrap.dedent(
    """\
    def dot(a, b):
        return sum(x * y for x, y in zip(a, b))


    def shout(a, b):
        print(a)
        return sum(x * y for x, y in zip(a, b))


    def forward(W, x):
        return [dot(w, x) for w in W]


    def loud(W, x):
        return [shout(w, x) for w in W]


    def matvec_flat(w, x, n):
        out = []
        for i in range(n):
            val = 0.0
            for j in range(n):
                val += w[i * n + j] * x[j]
            out.append(val)
        return out


    def attend(att, V):
        n = len(V[0])
        out = [0.0] * n
        for t in range(len(att)):
            a = att[t]
            v = V[t]
            for i in range(n):
                out[i] += a * v[i]
        return out


    def matmul(A, B):
        return [[sum(a * b for a, b in zip(row, col)) for col in zip(*B)] for row in A]
    """
)


def line_of(needle: str) -> int:
    return next(i for i, ln in enumerate(SHAPES.splitlines(), 1) if needle in ln)


@pytest.mark.parametrize(
    "name, roles",
    [
        ("forward", {"W": "matrix", "x": "vector"}),
        ("matvec_flat", {"w": "flat", "x": "vector", "n": "size"}),
        ("attend", {"att": "vector", "V": "matrix"}),
    ],
)
def test_matrix_vector_functions_are_lifted_with_their_roles(name, roles):
    ex = extract_function(SHAPES, line_of(f"def {name}") + 1, matvec=True)
    assert ex.function is not None, ex.refusal
    assert ex.function["shape"] == "matvec" and ex.function["roles"] == roles and ex.function["input"] == "lists"


def test_a_pure_helper_travels_with_the_function_and_an_impure_one_refuses_it():
    ex = extract_function(SHAPES, line_of("def forward") + 1, matvec=True)
    assert ex.function is not None
    assert ex.function["source"].startswith("def dot(a, b):") and "def forward(W, x):" in ex.function["source"]
    loud = extract_function(SHAPES, line_of("def loud") + 1, matvec=True)
    assert loud.function is None and "`shout`, which cannot be run" in loud.refusal and "`print`" in loud.refusal


def test_two_matrices_are_not_a_matrix_vector_product():
    ex = extract_function(SHAPES, line_of("def matmul") + 1, matvec=True)
    assert ex.function is None and "one matrix and one vector" in ex.refusal


def kept_result(status: str = "measured") -> Verification:
    return Verification(
        code="ADV401", device="cpu", status=status, equivalent=True, sizes={"n": 200}, sizes_source="defaults",
        before=Measurement(median_s=0.0088, iqr_s=0.0004, runs=4), after=Measurement(median_s=0.0059, iqr_s=0.0002, runs=8),
        speedup=1.5, speedup_low=1.4, speedup_high=1.6, device_name="CPU X",
        extra={"user_function": "forward", "replacement": "W @ x",
               "also": {"arrays_kept": {"status": "measured", "speedup": 1400.0, "speedup_low": 1200.0, "speedup_high": 1500.0,
                                        "after": {"median_s": 6.3e-06, "iqr_s": 4e-07, "runs": 12}}}},
    )


def test_both_figures_reach_every_reporter_through_the_shared_presenter():
    lines = verification_lines(kept_result())
    assert "1.5x faster" in lines[0] and "your function `forward` against `W @ x` as is" in lines[0]
    assert lines[1].startswith("with the data kept as arrays") and "1,400x faster (interval 1,200x–1,500x" in lines[1]
    view = verification_view(kept_result())
    assert [b.label for b in view.bars] == ["before", "after", "arrays kept"]
    assert any(name == "arrays kept" and "1,400x" in text for name, text in view.facts)
    # no second figure is invented where none was measured
    plain = Verification(**{**kept_result().__dict__, "extra": {"user_function": "forward"}})
    assert len(verification_lines(plain)) == 1 and "arrays" not in verification_lines(plain)[0]


@pytest.mark.needs_torch
def test_scan_verify_user_code_reports_both_figures_for_matrix_vector_and_matrix_products(run_cli, tmp_path):
    src = tmp_path / "shapes.py"
    src.write_text(SHAPES)
    proc = run_cli("scan", str(src), "--verify-user-code", "--format", "json", "--select", "ADV401", "--no-cache",
                   env={"ADVISOR_CACHE_DIR": str(tmp_path / "c")})
    assert proc.returncode == 1, proc.stderr
    found = {f["line"]: f for f in json.loads(proc.stdout)["findings"]}
    own = {line: next(v for v in f["verifications"] if v["extra"].get("user_function")) for line, f in found.items()
           if any(v["extra"].get("user_function") for v in f["verifications"])}
    by_name = {v["extra"]["user_function"]: v for v in own.values()}
    assert {"forward", "matvec_flat", "attend", "matmul"} <= set(by_name)
    assert by_name["forward"]["extra"]["replacement"] == "W @ x"
    assert by_name["matvec_flat"]["extra"]["replacement"] == "w.reshape(n, n) @ x"
    assert by_name["attend"]["extra"]["replacement"] == "att @ V"
    for name in ("forward", "matvec_flat", "attend", "matmul"):
        v = by_name[name]
        assert v["equivalent"] is True, (name, v["detail"])
        kept = v["extra"]["also"]["arrays_kept"]
        assert kept["status"] in ("measured", "no-significant-gain") and kept["after"]["runs"] > 0
    # the text report carries the second line under the finding
    text = run_cli("scan", str(src), "--verify-user-code", "--select", "ADV401", env={"ADVISOR_CACHE_DIR": str(tmp_path / "c")})
    assert "with the data kept as arrays" in text.stdout
