"""GitLab code quality report: the fields GitLab requires, with the types and values it accepts."""

from __future__ import annotations

import json
from dataclasses import replace

import jsonschema

from advisor.report import render
from advisor.types import ScanResult, Severity
from report_samples import MATMUL, sample_result, scanned

# What GitLab's code quality report must carry per issue (its documented required fields).
SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "description": {"type": "string", "minLength": 1},
            "check_name": {"type": "string", "pattern": "^ADV[0-9]{3}$"},
            "fingerprint": {"type": "string", "minLength": 1},
            "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
            "location": {
                "type": "object",
                "required": ["path", "lines"],
                "properties": {
                    "path": {"type": "string", "pattern": "^[^/]"},
                    "lines": {"type": "object", "required": ["begin"], "properties": {"begin": {"type": "integer", "minimum": 1}}},
                },
            },
        },
    },
}


def test_every_finding_is_one_valid_issue_with_its_position_and_severity():
    result = sample_result()
    issues = json.loads(render("gitlab", result))
    jsonschema.validate(issues, SCHEMA)
    assert len(issues) == len(result.findings)
    matmul = next(i for i in issues if i["check_name"] == "ADV401")
    assert matmul["location"] == {"path": "src/mm.py", "lines": {"begin": 5, "end": 5}}
    assert matmul["severity"] == "minor" and matmul["description"].startswith("ADV401 ")
    info = replace(result.findings[0], severity=Severity.INFO)
    assert json.loads(render("gitlab", ScanResult(findings=[info])))[0]["severity"] == "info"


def test_notebook_findings_name_the_cell_and_point_at_the_file():
    issues = json.loads(render("gitlab", sample_result()))
    notebook = next(i for i in issues if i["location"]["path"] == "nb/explore.ipynb")
    assert notebook["description"].startswith("cell 3, line 4: ")
    assert notebook["location"]["lines"] == {"begin": 1}


def test_fingerprints_survive_moved_lines_and_stay_unique_for_identical_findings():
    (first,) = scanned(MATMUL, "src/mm.py")
    (moved,) = scanned("\n\n# a comment above\n" + MATMUL, "src/mm.py")
    assert moved.span.line != first.span.line
    fp = json.loads(render("gitlab", ScanResult(findings=[first])))[0]["fingerprint"]
    assert json.loads(render("gitlab", ScanResult(findings=[moved])))[0]["fingerprint"] == fp
    twice = json.loads(render("gitlab", ScanResult(findings=[first, replace(first, span=replace(first.span, line=50, end_line=50))])))
    assert len({i["fingerprint"] for i in twice}) == 2


def test_cli_writes_the_report_for_ci(tmp_path, run_cli):
    (tmp_path / "mm.py").write_text(MATMUL)
    proc = run_cli("scan", "mm.py", "--format", "gitlab", "-o", "gl-code-quality.json", "--exit-zero", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    issues = json.loads((tmp_path / "gl-code-quality.json").read_text())
    jsonschema.validate(issues, SCHEMA)
    assert [(i["check_name"], i["location"]["path"]) for i in issues] == [("ADV401", "mm.py")]
