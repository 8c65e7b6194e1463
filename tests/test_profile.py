"""`advisor profile` end to end on tiny scripts of our own (tests/profile_scripts/): each static finding
confirmed or not at runtime, runtime-only problems the scan cannot see, and a crash, a hang and a script
that never steps reported cleanly. One profile run is shared by the tests that read its result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "tests" / "profile_scripts"
FAST = ("--steps", "3", "--wait", "1")


def advisor(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "advisor", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("profile") / "small.json"
    proc = advisor("profile", "tests/profile_scripts/small_train.py", *FAST, "--format", "json", "-o", str(out), cwd=REPO)
    assert proc.returncode == 1, proc.stderr
    return {"data": json.loads(out.read_text()), "path": out}


def by_code_line(data: dict) -> dict[tuple[str, int], dict]:
    return {(f["code"], f["line"]): f for f in data["findings"]}


def test_static_findings_are_confirmed_with_runtime_figures(small):
    found = by_code_line(small["data"])
    sync = found[("ADV103", 51)]["runtime"]
    assert sync["status"] == "confirmed" and sync["per_step"] == 1.0
    assert ".item() per step from tests/profile_scripts/small_train.py:51" in sync["detail"]
    copy = found[("ADV101", 46)]["runtime"]
    assert copy["status"] == "confirmed" and "the same tensor in 3 of 3 steps" in copy["detail"]
    per_sample = found[("ADV201", 29)]["runtime"]
    assert per_sample["status"] == "confirmed" and per_sample["per_step"] == 1.0
    assert "1 sample per optimizer step" in per_sample["detail"]


def test_what_the_cpu_cannot_show_is_marked_as_such(small):
    found = by_code_line(small["data"])
    assert found[("ADV204", 40)]["runtime"]["status"] == "cannot-observe"
    assert "needs a CUDA device" in found[("ADV204", 40)]["runtime"]["detail"]
    assert found[("ADV301", 38)]["runtime"]["status"] == "cannot-observe"


def test_a_sync_inside_a_helper_from_another_file_is_found_at_runtime_only(small):
    found = by_code_line(small["data"])
    helper = found[("ADV103", 7)]
    assert helper["path"] == "tests/profile_scripts/helpers.py"
    assert helper["runtime"]["status"] == "runtime-only"
    assert "float()" in helper["message"] and "called from tests/profile_scripts/small_train.py:52" in helper["message"]
    assert helper["excerpt"]["lines"][-1].strip() == "history.append(float(loss))"


def test_a_slow_dataset_the_scan_cannot_read_is_found_at_runtime_only(small):
    found = by_code_line(small["data"])
    loader = found[("ADV203", 40)]
    assert loader["runtime"]["status"] == "runtime-only" and loader["runtime"]["share"] >= 0.2
    assert not any(f["code"] == "ADV203" and f.get("runtime", {}).get("status") != "runtime-only" for f in small["data"]["findings"])


def test_the_run_summary_has_each_loop_its_steps_and_the_pattern_matcher(small):
    profile = small["data"]["profile"]
    sites = [loop["site"] for loop in profile["loops"]]
    assert sites == ["tests/profile_scripts/small_train.py:33 (warm_up)", "tests/profile_scripts/small_train.py:50 (main)"]
    warm, main = profile["loops"]
    assert len(warm["steps"]) == 3 and all(s["samples"] == 1 for s in warm["steps"])
    assert all(s["samples"] == 8 for s in main["steps"]) and all(s["data_s"] > 0.02 for s in main["steps"])
    facts = dict(main["facts"])
    assert facts["optimizer"].startswith("SGD: single-tensor") and facts["autocast"] == "off"
    assert any("Optimizer Single Tensor Pattern" in p for p in profile["patterns"])
    assert profile["device"] == "cpu" and profile["total_steps"] >= 12


def test_a_saved_profile_renders_in_every_format(small, tmp_path):
    for fmt in ("text", "html", "sarif", "github"):
        proc = advisor("report", str(small["path"]), "--format", fmt, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout
        assert "found at runtime only" in out or "runtime-only" in out, fmt
    html = advisor("report", str(small["path"]), "--format", "html", cwd=tmp_path).stdout
    assert 'class="chart steps"' in html and "part-data" in html and "estimated share of step time" in html
    assert "<script src" not in html and "Total measured gain" not in html


def test_a_crash_is_the_scripts_own_traceback_and_exit_2(tmp_path):
    proc = advisor("profile", str(SCRIPTS / "crash.py"), *FAST, cwd=tmp_path)
    assert proc.returncode == 2
    assert "the script failed: RuntimeError: planted failure at step 3" in proc.stderr
    assert 'crash.py", line 10, in <module>' in proc.stderr
    assert "advisor/profile" not in proc.stderr and "runpy" not in proc.stderr


def test_a_hang_is_stopped_at_the_timeout_with_its_process_group(tmp_path):
    pids = tmp_path / "pids"
    proc = advisor("profile", str(SCRIPTS / "hang.py"), "--timeout", "20", "--", str(pids), cwd=tmp_path)
    assert proc.returncode == 2 and "did not finish within 20 s" in proc.stderr
    worker = Path(f"/proc/{int(pids.read_text())}/stat")
    time.sleep(0.5)
    # the script's own child process went with its group (gone, or a zombie waiting to be reaped)
    assert not worker.exists() or worker.read_text().split(")")[-1].split()[0] == "Z"


def test_a_script_that_never_steps_is_profiled_for_a_bounded_time(tmp_path):
    proc = advisor("profile", str(SCRIPTS / "no_step.py"), "--seconds", "1", "--format", "json", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    profile = json.loads(proc.stdout)["profile"]
    assert profile["total_steps"] == 0 and "no optimizer step in 1 s" in profile["ended"]
    assert [loop["kind"] for loop in profile["loops"]] == ["time"]


def test_script_arguments_after_the_double_dash_reach_the_script(tmp_path):
    proc = advisor("profile", str(SCRIPTS / "no_step.py"), "--seconds", "30", "--format", "json", "--", "5", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    profile = json.loads(proc.stdout)["profile"]
    assert profile["args"] == ["5"] and "before any optimizer step" in profile["ended"]


def test_a_missing_script_is_one_error_line(tmp_path):
    proc = advisor("profile", "nope.py", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == "advisor: error: nope.py: no such file — pass the training script to run"


@pytest.mark.slow
def test_the_demo_confirms_its_main_findings_on_cpu(tmp_path):
    proc = advisor("profile", str(REPO / "fixtures" / "demo" / "train.py"), "--format", "json", cwd=tmp_path, timeout=400)
    assert proc.returncode == 1, proc.stderr
    status = {(f["code"], f["line"]): f["runtime"]["status"] for f in json.loads(proc.stdout)["findings"]}
    for key in (("ADV103", 102), ("ADV201", 75), ("ADV203", 88), ("ADV101", 97)):
        assert status[key] == "confirmed", key
    assert status[("ADV204", 88)] == "cannot-observe"


def test_the_parent_side_of_profile_never_imports_torch():
    """Only the child runs torch; the parent reads, joins and reports."""
    probe = (
        "import sys\n"
        "import advisor.cli, advisor.profile.command, advisor.profile.join, advisor.profile.runner, advisor.profile.result\n"
        "import advisor.report.html, advisor.report.load\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stderr


def _has_cuda() -> bool:
    from advisor.environment import environment

    return environment().has_cuda


@pytest.mark.cuda
@pytest.mark.skipif(not _has_cuda(), reason="needs a CUDA device")
def test_on_cuda_syncs_and_copies_carry_device_times(tmp_path):
    out = tmp_path / "cuda.json"
    proc = advisor("profile", str(SCRIPTS / "small_train.py"), *FAST, "--device", "cuda", "--format", "json", "-o", str(out), cwd=REPO)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(out.read_text())
    assert data["profile"]["device"] == "cuda"
    found = by_code_line(data)
    sync = found[("ADV103", 51)]["runtime"]
    assert sync["status"] == "confirmed" and "costs nothing" not in sync["detail"] and sync["share"] is not None
    assert "host to device" in found[("ADV101", 46)]["runtime"]["detail"]
    assert found[("ADV204", 40)]["runtime"]["status"] == "confirmed"
    assert any(k == "CUDA" for k, _ in data["profile"]["loops"][1]["facts"])


def test_device_cuda_without_a_gpu_is_an_error(tmp_path):
    if _has_cuda():
        pytest.skip("this machine has a GPU")
    proc = advisor("profile", str(SCRIPTS / "no_step.py"), "--device", "cuda", "--", "2", cwd=tmp_path)
    assert proc.returncode == 2 and "sees no CUDA device" in proc.stderr
