"""ADV402 on the user's own code: the flagged function is timed against itself with the loop replaced by
the rule's vectorised statement, under `--verify-user-code` only, after the same purity proof as ADV401."""

from __future__ import annotations

import json
import textwrap

import pytest

from advisor.verify.extract import apply_edits, extract_elementwise

LOOPS = textwrap.dedent(
    """\
    import math

    import numpy as np


    def normalise(values, mean, std):
        out = np.zeros(len(values))
        for i in range(len(values)):
            out[i] = (values[i] - mean) / std
        return out


    def shifted(y, x):
        y = np.asarray(y)
        for i in range(len(x)):
            y[i] += math.exp(-x[i])
        return y


    def logged(x):
        y = np.empty_like(x)
        for i in range(len(x)):
            y[i] = math.exp(-x[i]) * x[i] + 1.0
        print(y)
        return y


    def picked(x, where):
        y = np.empty_like(x)
        for i in range(len(x)):
            y[i] = x[i] * 2.0
        return y[where[0]]
    """
)


def line_of(needle: str, after: str = "") -> int:
    lines = LOOPS.splitlines()
    start = next(i for i, ln in enumerate(lines) if after in ln) if after else 0
    return next(i for i, ln in enumerate(lines[start:], start + 1) if needle in ln)


def fixed(loop_line: int, statement: str) -> str:
    """The file with the loop at `loop_line` (and its one-line body) replaced, as the rule's fix does."""
    lines = LOOPS.splitlines(keepends=True)
    start = sum(len(ln) for ln in lines[: loop_line - 1])
    end = start + len(lines[loop_line - 1]) + len(lines[loop_line])
    indent = lines[loop_line - 1][: len(lines[loop_line - 1]) - len(lines[loop_line - 1].lstrip())]
    return apply_edits(LOOPS, [(start, end, f"{indent}{statement}\n")])


def test_the_function_and_its_vectorised_form_are_lifted_with_input_roles():
    loop = line_of("for i", after="def normalise")
    ex = extract_elementwise(LOOPS, loop, fixed(loop, "out[:len(values)] = (np.asarray(values) - mean) / std"))
    assert ex.function is not None, ex.refusal
    f = ex.function
    assert f["kind"] == "elementwise" and f["name"] == "normalise" and f["library"] == "numpy"
    assert f["params"] == {"values": "array", "mean": "scalar", "std": "scalar"}
    assert "for i in range" in f["source"] and "for i in range" not in f["after_source"]
    assert f["after_source"].startswith("def normalise(values, mean, std):")


def test_an_array_the_loop_writes_into_is_an_output_and_math_is_an_allowed_alias():
    loop = line_of("for i", after="def shifted")
    ex = extract_elementwise(LOOPS, loop, fixed(loop, "y[:len(x)] += np.exp(-np.asarray(x))"))
    assert ex.function is not None, ex.refusal
    assert ex.function["params"] == {"y": "output", "x": "array"}
    assert ex.function["aliases"] == {"math": "math", "np": "numpy"}


@pytest.mark.parametrize(
    "name, statement, why",
    [
        ("logged", "y[:len(x)] = np.exp(-x) * x + 1.0", "`print`"),
        ("picked", "y[:len(x)] = x * 2.0", "parameter `where`"),
        ("normalise", None, "no single vectorised statement"),
    ],
)
def test_functions_that_cannot_be_run_are_refused_with_the_reason(name, statement, why):
    loop = line_of("for i", after=f"def {name}")
    ex = extract_elementwise(LOOPS, loop, fixed(loop, statement) if statement else None)
    assert ex.function is None and why in ex.refusal


def test_a_vectorised_form_that_would_call_something_else_is_refused():
    loop = line_of("for i", after="def normalise")
    ex = extract_elementwise(LOOPS, loop, fixed(loop, "out[:] = np.load(values)"))
    assert ex.function is None and "vectorised form cannot be run" in ex.refusal


def scan(run_cli, tmp_path, *flags):
    src = tmp_path / "loops.py"
    src.write_text(LOOPS)
    proc = run_cli("scan", str(src), *flags, "--format", "json", "--select", "ADV402", "--no-cache",
                   env={"ADVISOR_CACHE_DIR": str(tmp_path / "c")})
    assert proc.returncode == 1, proc.stderr
    return {f["line"]: f for f in json.loads(proc.stdout)["findings"]}


@pytest.mark.needs_torch
def test_scan_verify_user_code_times_each_function_against_its_vectorised_self(run_cli, tmp_path):
    found = scan(run_cli, tmp_path, "--verify-user-code")
    own = {line: next(v for v in f["verifications"] if "user_function" in v["extra"]) for line, f in found.items()}
    norm = own[line_of("for i", after="def normalise")]
    assert norm["extra"]["user_function"] == "normalise" and norm["equivalent"] is True
    assert norm["status"] in ("measured", "no-significant-gain") and norm["device"] == "cpu"
    # the output array is copied afresh for every call: both sides start from the same values
    shift = own[line_of("for i", after="def shifted")]
    assert shift["equivalent"] is True, shift["detail"]
    logged = own[line_of("for i", after="def logged")]
    assert logged["status"] == "skipped" and "`print`" in logged["detail"]


@pytest.mark.needs_torch
def test_without_the_flag_the_function_is_not_run(run_cli, tmp_path):
    found = scan(run_cli, tmp_path, "--verify")
    norm = found[line_of("for i", after="def normalise")]
    own = [v for v in norm["verifications"] if "your function was not run" in (v["detail"] or "")]
    assert own and own[0]["status"] == "skipped" and "--verify-user-code" in own[0]["detail"]
    assert any(v["status"] in ("measured", "no-significant-gain") and not v["extra"].get("user_function") for v in norm["verifications"])
