"""The scan command as users drive it: output shape, options, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from report_samples import SYNC as SLOW_SYNC

MATMUL = "def mm(A, B):\n    return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n"
CLEAN = "import torch\n\nx = torch.zeros(3)\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(SLOW_SYNC)
    (tmp_path / "src" / "mm.py").write_text(MATMUL)
    (tmp_path / "src" / "clean.py").write_text(CLEAN)
    return tmp_path


def test_text_output_has_exact_positions_and_fix_hint(project, run_cli):
    proc = run_cli("scan", "src/train.py", cwd=project)
    assert proc.returncode == 1
    first, hint = proc.stdout.splitlines()[:2]
    # `total += loss.item()`: line 13, the call starts at column 18 (1-based)
    assert first.startswith("src/train.py:13:18: ADV103 ")
    assert hint.startswith("  fix: ")
    assert "Found 1 finding in 1 file." in proc.stdout


def test_exit_codes(project, run_cli):
    assert run_cli("scan", "src/clean.py", cwd=project).returncode == 0
    assert run_cli("scan", "src", cwd=project).returncode == 1
    assert run_cli("scan", "src", "--exit-zero", cwd=project).returncode == 0
    assert run_cli("scan", "src/missing.py", cwd=project).returncode == 2
    assert run_cli("scan", "src", "--select", "ADV999", cwd=project).returncode == 2


def test_default_path_is_current_directory(project, run_cli):
    proc = run_cli("scan", cwd=project)
    assert proc.returncode == 1
    assert "src/mm.py:2:12: ADV401" in proc.stdout


def test_json_output_shape(project, run_cli):
    proc = run_cli("scan", "src", "--format", "json", cwd=project)
    data = json.loads(proc.stdout)
    assert set(data) >= {"version", "findings", "errors"}
    assert [f["code"] for f in data["findings"]] == ["ADV401", "ADV103"]
    finding = data["findings"][1]
    for key in ("code", "name", "path", "line", "column", "end_line", "end_column", "message", "why",
                "suggestion", "severity", "confidence"):
        assert key in finding
    assert (finding["line"], finding["column"], finding["end_line"], finding["end_column"]) == (13, 18, 13, 29)
    assert finding["confidence"] == "high"


def test_select_and_ignore_by_prefix(project, run_cli):
    only_4 = run_cli("scan", "src", "--select", "ADV4", "--format", "json", cwd=project)
    assert {f["code"] for f in json.loads(only_4.stdout)["findings"]} == {"ADV401"}
    no_1 = run_cli("scan", "src", "--ignore", "ADV1", "--format", "json", cwd=project)
    assert {f["code"] for f in json.loads(no_1.stdout)["findings"]} == {"ADV401"}
    both = run_cli("scan", "src", "--select", "ADV103,ADV401", "--ignore", "ADV401", "-q", cwd=project)
    assert both.stdout.strip().splitlines() == [line for line in both.stdout.strip().splitlines() if "ADV103" in line]


def test_output_file_statistics_and_quiet(project, run_cli):
    out = project / "report.json"
    proc = run_cli("scan", "src", "--format", "json", "--output", str(out), cwd=project)
    assert proc.returncode == 1 and proc.stdout == ""
    assert len(json.loads(out.read_text())["findings"]) == 2
    stats = run_cli("scan", "src", "--statistics", cwd=project)
    assert any(line.split() == ["1", "ADV103", "host-sync-every-step"] for line in stats.stdout.splitlines())
    quiet = run_cli("scan", "src", "-q", cwd=project)
    assert all(": ADV" in line for line in quiet.stdout.splitlines())


def test_exclude_and_jobs(project, run_cli):
    proc = run_cli("scan", "src", "--exclude", "mm.py", "--format", "json", cwd=project)
    assert {f["code"] for f in json.loads(proc.stdout)["findings"]} == {"ADV103"}
    for i in range(20):  # enough files to use the process pool
        (project / "src" / f"copy_{i}.py").write_text(MATMUL)
    serial = run_cli("scan", "src", "--jobs", "1", "--format", "json", cwd=project)
    parallel = run_cli("scan", "src", "--jobs", "2", "--format", "json", cwd=project)
    assert json.loads(serial.stdout)["findings"] == json.loads(parallel.stdout)["findings"]
    assert len(json.loads(parallel.stdout)["findings"]) == 22


def test_default_excludes_and_gitignore(project, run_cli):
    import subprocess

    (project / ".venv" / "lib").mkdir(parents=True)
    (project / ".venv" / "lib" / "mm.py").write_text(MATMUL)
    (project / "generated").mkdir()
    (project / "generated" / "mm.py").write_text(MATMUL)
    (project / ".gitignore").write_text("generated/\n")
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    proc = run_cli("scan", ".", "--format", "json", cwd=project)
    paths = {f["path"] for f in json.loads(proc.stdout)["findings"]}
    assert paths == {"src/mm.py", "src/train.py"}
    # a file named explicitly is always scanned, ignored or not
    explicit = run_cli("scan", "generated/mm.py", cwd=project)
    assert explicit.returncode == 1


def test_a_folder_with_nothing_left_to_scan_says_why(project, run_cli):
    import subprocess

    (project / ".gitignore").write_text("src/\n")
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    proc = run_cli("scan", "src", cwd=project)
    assert proc.returncode == 0 and "no Python files or notebooks to scan under src" in proc.stderr
    assert "--no-gitignore" in proc.stderr
    assert run_cli("scan", "src", "--no-gitignore", cwd=project).returncode == 1


def test_rules_and_explain(run_cli):
    listing = run_cli("rules")
    assert listing.returncode == 0
    codes = [line.split()[0] for line in listing.stdout.splitlines() if line.startswith("ADV")]
    assert "ADV401" in codes and codes == sorted(codes)
    # grouped by family: a heading line names each family before its rules
    headings = [line.split(":")[0] for line in listing.stdout.splitlines() if line and not line.startswith("ADV")]
    assert headings == ["device", "data", "training", "compute", "distributed"]
    page = run_cli("explain", "adv401")
    assert page.returncode == 0
    for heading in ("What it does", "Why is this bad?", "Example", "Use instead", "References"):
        assert f"## {heading}" in page.stdout
    assert run_cli("explain", "ADV999").returncode == 2


def test_python_dash_m_and_version(run_cli):
    proc = run_cli("--version")
    assert proc.returncode == 0 and "advisor" in proc.stdout
