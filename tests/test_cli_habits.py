"""What a Ruff user expects of the command line and the text output (issue 17, items 7, 8, 10, 11)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from advisor.report.text import render
from report_samples import LOSS, MATMUL, MEASURED, SYNC, sample_result

# One info-level finding only: a fixed learning rate over 30 epochs.
INFO_ONLY = """\
import torch

optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(30):
    for x, y in loader:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
"""
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(SYNC)
    (tmp_path / "mm.py").write_text(MATMUL)
    (tmp_path / "lr.py").write_text(INFO_ONLY)
    return tmp_path


def test_quiet_keeps_the_measurements_and_drops_only_hints_and_summary():
    result = sample_result()
    text = render(result, quiet=True)
    assert "measured on cpu (Test CPU): 5,210x faster" in text
    assert "  fix: " not in text and "Found " not in text


def test_text_line_shows_severity_confidence_and_the_fixable_mark(project, run_cli):
    proc = run_cli("scan", "train.py", "lr.py", cwd=project)
    lines = proc.stdout.splitlines()
    sync = next(line for line in lines if "ADV103" in line)
    assert sync.endswith("(warning, high confidence)")
    lr = next(line for line in lines if "ADV301" in line)
    assert lr.endswith("(info, high confidence)")
    fixable = project / "fixable.py"
    fixable.write_text("import torch\n\n\ndef f(x):\n    for _ in range(3):\n        h = torch.zeros(4).to(x.device)\n    return h\n")
    marked = run_cli("scan", "fixable.py", cwd=project).stdout.splitlines()[0]
    assert marked.startswith("fixable.py:6:13: ADV102 [*] "), marked
    assert "[*]" not in sync and "[*]" not in lr  # no fix, or only an unsafe one


def test_colour_only_on_request_or_a_terminal(project, run_cli):
    plain = run_cli("scan", "train.py", cwd=project)  # a pipe: auto means no colour
    assert not ANSI.search(plain.stdout)
    coloured = run_cli("scan", "train.py", "--color", "always", cwd=project)
    assert ANSI.search(coloured.stdout)
    assert ANSI.sub("", coloured.stdout) == plain.stdout
    assert not ANSI.search(run_cli("scan", "train.py", "--color", "never", cwd=project).stdout)
    as_json = run_cli("scan", "train.py", "--color", "always", "--format", "json", cwd=project)
    assert json.loads(as_json.stdout)["findings"]  # never colour inside a machine format


def test_statistics_prints_only_the_table(project, run_cli):
    proc = run_cli("scan", ".", "--statistics", cwd=project)
    rows = proc.stdout.splitlines()
    assert proc.returncode == 1
    assert sorted(r.split()[1] for r in rows) == ["ADV103", "ADV301", "ADV401"], rows
    assert not any("Found" in r or ": ADV" in r or "fix:" in r for r in rows)


def test_fail_on_sets_the_threshold_for_exit_1(project, run_cli):
    assert run_cli("scan", "lr.py", cwd=project).returncode == 1
    info_only = run_cli("scan", "lr.py", "--fail-on", "warning", cwd=project)
    assert info_only.returncode == 0 and "ADV301" in info_only.stdout  # still shown
    assert run_cli("scan", "lr.py", "train.py", "--fail-on", "warning", cwd=project).returncode == 1
    assert run_cli("scan", "lr.py", "--fail-on", "warning", "--fail-on", "info", cwd=project).returncode == 1  # last wins


def test_precommit_hooks_fail_only_on_warnings():
    hooks = (Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml").read_text()
    entries = [line.split(":", 1)[1].strip() for line in hooks.splitlines() if line.strip().startswith("entry:")]
    assert entries and all(e.endswith("--fail-on warning") for e in entries), entries


def test_check_is_scan_and_output_format_is_format(project, run_cli):
    scan = run_cli("scan", "train.py", "--format", "concise", cwd=project)
    check = run_cli("check", "train.py", "--output-format", "concise", cwd=project)
    assert check.returncode == scan.returncode == 1 and check.stdout == scan.stdout
    assert "--output-format" in run_cli("check", "--help", cwd=project).stdout


def test_extend_select_on_the_command_line_adds_to_select(project, run_cli):
    proc = run_cli("scan", ".", "--select", "ADV4", "--extend-select", "ADV103", "--format", "json", cwd=project)
    assert {f["code"] for f in json.loads(proc.stdout)["findings"]} == {"ADV103", "ADV401"}
    alone = run_cli("scan", ".", "--extend-select", "ADV103", "--format", "json", cwd=project)
    assert {f["code"] for f in json.loads(alone.stdout)["findings"]} == {"ADV103", "ADV301", "ADV401"}


def test_extend_ignore_and_extend_select_in_config(project, run_cli):
    (project / "pyproject.toml").write_text('[tool.advisor]\nignore = ["ADV401"]\nextend-ignore = ["ADV301"]\n')
    proc = run_cli("scan", ".", "--format", "json", cwd=project)
    assert {f["code"] for f in json.loads(proc.stdout)["findings"]} == {"ADV103"}
    (project / "pyproject.toml").write_text('[tool.advisor]\nextend-select = ["ADV4"]\n')
    everything = run_cli("scan", ".", "--format", "json", cwd=project)  # no select: extending keeps all rules
    assert {f["code"] for f in json.loads(everything.stdout)["findings"]} == {"ADV103", "ADV301", "ADV401"}


def test_explain_by_name(run_cli):
    by_name = run_cli("explain", "fixed-learning-rate")
    assert by_name.returncode == 0 and by_name.stdout.startswith("# ADV301 fixed-learning-rate")
    assert run_cli("explain", "no-such-rule").returncode == 2


def test_loss_results_survive_quiet():
    result = sample_result()
    result.findings[0] = result.findings[0].with_verifications((MEASURED, LOSS))
    assert "held-out loss" in render(result, quiet=True)


def test_verify_lines_say_whose_code_was_measured():
    from advisor.present import describe_verification

    loss = describe_verification(LOSS)
    assert "our synthetic task (not your model)" in loss and "held-out loss after 30 epochs" in loss
    mine = describe_verification(MEASURED)  # MEASURED timed the user's function `mm`
    assert "your function `mm`, default sizes" in mine
    from dataclasses import replace

    pair = describe_verification(replace(MEASURED, extra={}))
    assert pair.endswith("default sizes)") and "your function" not in pair


def test_verify_off_a_terminal_prints_one_line_per_finished_pair(run_cli, tmp_path):
    pytest.importorskip("torch")
    proc = run_cli("verify", "--device", "cuda", "--format", "json", env={"ADVISOR_NO_CUDA": "1", "ADVISOR_CACHE_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)["results"]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("advisor: verifying ")]
    assert len(lines) == len(results) > 1
    assert lines[0].startswith(f"advisor: verifying 1/{len(results)}: {results[0]['code']} cuda done in ")
    assert lines[-1].startswith(f"advisor: verifying {len(results)}/{len(results)}: ")


def test_explain_without_a_measurement_here_shows_the_recorded_figure_with_its_device(run_cli, tmp_path):
    page = run_cli("explain", "ADV101", env={"ADVISOR_CACHE_DIR": str(tmp_path / "empty")}).stdout
    gain = page.split("## Measured gain", 1)[1]
    assert "run `advisor verify ADV101`." not in gain  # it could only answer "needs a CUDA device"
    assert "needs a CUDA device" in gain
    assert "Recorded on another machine (NVIDIA H100 80GB HBM3" in gain
    assert "measured on cuda (NVIDIA H100 80GB HBM3):" in gain


def test_recorded_figures_are_regenerated_from_the_saved_run():
    import importlib.util

    repo = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("record_figures", repo / "benchmarks" / "record_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    saved = json.loads((repo / "docs" / "demo-verified-h100.json").read_text(encoding="utf-8"))
    shipped = json.loads((repo / "advisor" / "recorded.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in shipped.items() if k != "source"} == module.recorded(saved)
    assert all(v["status"] in ("measured", "no-significant-gain") for vs in shipped["results"].values() for v in vs)
