"""SARIF 2.1.0: valid against the official schema (tests/schemas/, see its README), exact regions, rule
docs, verified gains in properties, notebook cells, fixes and unanalysable files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from advisor.report import render
from advisor.rule import rules_by_code
from advisor.types import FileError, ScanResult
from report_samples import MATMUL, sample_result

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json").read_text())


def validate(log: dict) -> None:
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(log)


@pytest.fixture
def log() -> dict:
    result = sample_result()
    result.errors.append(FileError("src/broken.py", "syntax error at line 1, column 5: invalid syntax — fix the syntax"))
    data = json.loads(render("sarif", result))
    validate(data)
    return data


def results_by_path(log: dict) -> dict[str, dict]:
    return {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in log["runs"][0]["results"]}


def test_schema_rejects_what_it_should():
    """The vendored schema really constrains: a result without a message is invalid."""
    bad = json.loads(render("sarif", sample_result()))
    del bad["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)


def test_every_rule_is_described_from_its_docs(log):
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "advisor"
    described = {r["id"]: r for r in driver["rules"]}
    assert set(described) == set(rules_by_code())
    for code, rule in rules_by_code().items():
        entry = described[code]
        assert entry["shortDescription"]["text"] == rule.summary
        assert entry["fullDescription"]["text"] and entry["fullDescription"]["text"] != rule.summary
        assert "## Use instead" in entry["help"]["markdown"] and "## Why is this bad?" in entry["help"]["text"]
    for result in log["runs"][0]["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_regions_are_exact_one_based_code_point_columns(log):
    assert log["runs"][0]["columnKind"] == "unicodeCodePoints"
    region = results_by_path(log)["src/mm.py"]["locations"][0]["physicalLocation"]["region"]
    line = MATMUL.splitlines()[4]
    assert (region["startLine"], region["endLine"]) == (5, 5)
    flagged = line[region["startColumn"] - 1 : region["endColumn"] - 1]
    assert flagged.startswith("[[sum(") and flagged.endswith("for r in A]")
    assert region["snippet"]["text"] == line + "\n"


def test_non_ascii_source_keeps_character_columns(tmp_path, run_cli):
    (tmp_path / "mm.py").write_text("# ünïcödé\ndef mm(A, B):\n    ä = 1; return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n")
    data = json.loads(run_cli("scan", "mm.py", "--format", "sarif", cwd=tmp_path).stdout)
    validate(data)
    region = data["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert region["startColumn"] == len("    ä = 1; return ") + 1


def test_verified_gains_and_cells_in_properties(log):
    by_path = results_by_path(log)
    props = by_path["src/mm.py"]["properties"]
    assert props["speedup"] == 5210.0 and props["speedupInterval"] == [5110.0, 5310.0] and props["speedupDevice"] == "cpu"
    assert props["verifications"][0]["before"] == {"median_s": 1.37, "iqr_s": 0.03, "runs": 4}
    assert "5,210x faster" in by_path["src/mm.py"]["message"]["text"]
    skipped = by_path["src/train.py"]
    assert "speedup" not in skipped["properties"] and "needs a CUDA device" in skipped["message"]["text"]
    notebook = by_path["nb/explore.ipynb"]
    assert notebook["properties"]["cell"] == 2 and notebook["message"]["text"].startswith("Notebook cell 3:")
    assert "cell" not in props


def test_fix_becomes_a_sarif_fix(log):
    (fix,) = results_by_path(log)["src/mm.py"]["fixes"]
    (replacement,) = fix["artifactChanges"][0]["replacements"]
    start = replacement["deletedRegion"]["charOffset"]
    assert MATMUL[start : start + replacement["deletedRegion"]["charLength"]].startswith("[[sum(")
    assert replacement["insertedContent"]["text"] == "np.asarray(A) @ np.asarray(B)"
    assert "unsafe" in fix["description"]["text"]


def test_unanalysable_files_are_tool_notifications(log):
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/broken.py"


def test_paths_become_uris(tmp_path):
    result = sample_result()
    from dataclasses import replace

    result.findings = [replace(result.findings[1], path="my dir/a#b.py"), replace(result.findings[1], path="/abs/x y.py")]
    data = json.loads(render("sarif", result))
    validate(data)
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in data["runs"][0]["results"]]
    assert uris == [{"uri": "my%20dir/a%23b.py", "uriBaseId": "%SRCROOT%"}, {"uri": "file:///abs/x%20y.py"}]


def test_empty_run_is_valid():
    data = json.loads(render("sarif", ScanResult()))
    validate(data)
    assert data["runs"][0]["results"] == [] and data["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_fingerprint_survives_lines_moving(tmp_path, run_cli):
    (tmp_path / "mm.py").write_text(MATMUL)
    first = json.loads(run_cli("scan", "mm.py", "--format", "sarif", cwd=tmp_path).stdout)
    (tmp_path / "mm.py").write_text("\n\n# moved down\n" + MATMUL)
    second = json.loads(run_cli("scan", "mm.py", "--format", "sarif", cwd=tmp_path).stdout)
    a, b = (d["runs"][0]["results"][0] for d in (first, second))
    assert a["locations"] != b["locations"] and a["partialFingerprints"] == b["partialFingerprints"]
