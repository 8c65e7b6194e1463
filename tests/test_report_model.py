"""One findings model: JSON written by a scan reads back into the same Findings every format renders from,
with verifier results (de)serialised by the same code the verifier cache uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.report import render
from advisor.report.json_report import SCHEMA_VERSION, as_dict
from advisor.report.load import ReportInputError, load_result, result_from_dict
from advisor.types import Verification
from advisor.verify import cache
from report_samples import LOSS, MATMUL, MEASURED, NOT_EQUIVALENT, sample_result

REPO = Path(__file__).resolve().parent.parent


def test_json_round_trip_gives_back_the_same_findings():
    result = sample_result()
    back = result_from_dict(json.loads(render("json", result)))
    assert back.findings == result.findings
    assert back.environment == result.environment
    assert (back.files_scanned, back.lines_scanned) == (3, 40)


@pytest.mark.parametrize("v", [MEASURED, NOT_EQUIVALENT, LOSS], ids=["measured", "not-equivalent", "loss"])
def test_verification_serialisation_is_shared_with_the_cache(v: Verification):
    saved = json.loads(json.dumps(v.to_dict()))
    assert Verification.from_dict(saved) == v
    assert cache.from_dict(saved) == v and cache.to_dict(v) == v.to_dict()


def test_excerpt_is_taken_at_scan_time_with_context(run_cli, tmp_path):
    (tmp_path / "mm.py").write_text(MATMUL)
    data = json.loads(run_cli("scan", "mm.py", "--format", "json", cwd=tmp_path).stdout)
    (finding,) = data["findings"]
    assert finding["excerpt"] == {"first_line": 3, "lines": MATMUL.splitlines()[2:5]}
    assert set(data["environment"]) >= {"python", "advisor", "torch", "numpy", "cpu", "gpu", "date"}


def test_crlf_file_excerpt_has_no_carriage_returns(run_cli, tmp_path):
    (tmp_path / "mm.py").write_bytes(MATMUL.replace("\n", "\r\n").encode())
    (finding,) = json.loads(run_cli("scan", "mm.py", "--format", "json", cwd=tmp_path).stdout)["findings"]
    assert all("\r" not in line for line in finding["excerpt"]["lines"])
    assert finding["excerpt"]["lines"][-1] == MATMUL.splitlines()[4]


def test_saved_run_without_excerpts_reads_the_files_if_present(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("src").mkdir()
    Path("src/mm.py").write_text(MATMUL)
    data = as_dict(sample_result())
    for f in data["findings"]:
        f.pop("excerpt")
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(data))
    assert all(f.excerpt is None for f in load_result(saved).findings)  # files are read only when asked
    by_path = {f.path: f for f in load_result(saved, source_root=tmp_path).findings}
    assert by_path["src/mm.py"].excerpt is not None and by_path["src/mm.py"].excerpt.first_line == 3
    assert by_path["src/train.py"].excerpt is None  # gone from disk: no code shown rather than wrong code


@pytest.mark.parametrize(
    "content, expected",
    [
        ("{not json", "not valid JSON (line 1"),
        ('{"errors": []}', "no `findings` list"),
        (json.dumps({"schema_version": SCHEMA_VERSION + 1, "findings": []}), "newer advisor"),
        ('{"findings": [{"code": "ADV401"}]}', "is malformed (findings"),
    ],
)
def test_bad_saved_runs_are_one_line_errors(tmp_path, run_cli, content, expected):
    (tmp_path / "run.json").write_text(content)
    with pytest.raises(ReportInputError, match=expected.replace("(", r"\(")):
        load_result(tmp_path / "run.json")
    proc = run_cli("report", "run.json", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and expected in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github", "html"])
def test_report_renders_a_saved_run_exactly_as_scan_would(tmp_path, run_cli, fmt):
    src = tmp_path / "src"
    src.mkdir()
    (src / "mm.py").write_text(MATMUL)
    saved = run_cli("scan", "src", "--format", "json", "-o", "run.json", cwd=tmp_path)
    assert saved.returncode == 1
    direct = run_cli("scan", "src", "--format", fmt, cwd=tmp_path).stdout
    proc = run_cli("report", "run.json", "--format", fmt, "-o", f"out.{fmt}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rendered = (tmp_path / f"out.{fmt}").read_text()
    if fmt in ("json", "sarif", "html"):
        # the environment records when and where: the saved run's, not the report command's
        saved_env = json.loads((tmp_path / "run.json").read_text())["environment"]
        assert saved_env["date"] in rendered
        rendered, direct = (text.replace(saved_env["date"], "") for text in (rendered, direct))
        direct = direct.replace(json.loads(run_cli("scan", "src", "--format", "json", cwd=tmp_path).stdout)["environment"]["date"], "")
    if fmt == "text":
        assert rendered.splitlines()[:2] == direct.splitlines()[:2]
    else:
        assert rendered.count("ADV401") == direct.count("ADV401") > 0


def test_json_format_is_documented():
    """Every key the JSON run holds is described in docs/json-format.md."""
    doc = (REPO / "docs" / "json-format.md").read_text()
    data = as_dict(sample_result())
    keys = set(data) | set(data["environment"])
    for f in data["findings"]:
        keys |= set(f) | set(f["excerpt"] or {}) | set(f["fix"] or {})
        for v in f["verifications"]:
            keys |= set(v) | set(v["before"] or {})
    missing = sorted(k for k in keys if f"`{k}`" not in doc)
    assert not missing, f"undocumented JSON keys: {missing}"


def test_excerpt_never_crosses_a_notebook_cell():
    from advisor.excerpt import excerpt

    # analysed text lines 1-3 are cell 0, lines 4-6 cell 1: (cell, line in cell)
    cells = {1: (0, 1), 2: (0, 2), 3: (0, 3), 4: (1, 1), 5: (1, 2), 6: (1, 3)}
    lines = ["a = 1", "b = 2", "c = 3", "for x in loader:", "    loss.item()", "d = 4"]
    shown = excerpt(lines, 5, 5, lambda n: cells[n])
    assert shown.first_line == 1 and shown.lines == tuple(lines[3:6])
    assert excerpt(lines, 2, 2).lines == tuple(lines[:4])  # a plain file keeps two lines either side
