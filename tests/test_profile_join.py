"""The parent side of `advisor profile` without running anything: the child's JSON read as untrusted
input, the join of runtime events with scan findings, and the saved run's round trip."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from advisor.engine import analyse_text
from advisor.profile.join import join
from advisor.profile.result import ProfileError, parse
from advisor.report import render
from advisor.report.load import ReportInputError, result_from_dict
from advisor.types import ScanResult

SCRIPT = """import torch
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model = torch.nn.Linear(4, 2).to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
weights = torch.ones(2)
running = 0.0
for step in range(100):
    x = torch.randn(8, 4).to(device)
    w = weights.to(device)
    loss = (model(x) * w).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    running += loss.item()
"""


def child_result(path: str) -> dict:
    """What the child writes for SCRIPT at `path`: 4 steps, one .item() per step at line 14, the same
    `weights` moved each step at line 9, and a sync in a helper file the scan never flags."""
    step = {"total_s": 0.01, "data_s": 0.0, "optimizer_s": 0.001, "readback_s": 0.0001, "move_s": 0.0001, "samples": 8}
    helper = str(Path(path).with_name("helper.py"))
    return {
        "schema": 1,
        "error": None,
        "device": "cpu",
        "device_name": "Test CPU",
        "torch": "2.x",
        "ended": "profiled every loop seen",
        "elapsed_s": 3.0,
        "total_steps": 20,
        "loaders": [],
        "optimizers": [{"class": "SGD", "foreach": None, "fused": None, "default_foreach": False}],
        "windows": [
            {
                "kind": "steps",
                "site": [path, 13, "<module>"],
                "seconds": 0.04,
                "steps": [step] * 4,
                "events": [
                    {"kind": "readback", "op": ".item()", "path": path, "line": 14, "function": "<module>", "via": "", "callers": [],
                     "tensor_device": "cpu", "direction": "none", "count": 4, "seconds": 0.0001, "bytes": 0, "steps_seen": 4, "same_tensor_steps": 0},
                    {"kind": "move", "op": ".to()", "path": path, "line": 9, "function": "<module>", "via": "", "callers": [],
                     "tensor_device": "cpu", "direction": "none", "count": 4, "seconds": 0.0001, "bytes": 32, "steps_seen": 4, "same_tensor_steps": 3},
                    {"kind": "readback", "op": "float()", "path": helper, "line": 2, "function": "log", "via": "", "callers": [[path, 12, "<module>"]],
                     "tensor_device": "cpu", "direction": "none", "count": 4, "seconds": 0.0001, "bytes": 0, "steps_seen": 4, "same_tensor_steps": 0},
                ],
                "forwards": [],
                "loaders": [],
                "autocast": [],
                "optimizer_ops": {"foreach": 0, "fused": 0},
                "patterns": [{"path": "train.py", "line": 13, "name": "Optimizer Single Tensor Pattern", "message": "use foreach", "url": ""}],
                "pattern_note": "",
                "cuda": None,
                "unprofiled_step_s": 0.008,
            }
        ],
    }


@pytest.fixture
def joined(tmp_path: Path) -> ScanResult:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    (tmp_path / "helper.py").write_text("def log(loss):\n    return float(loss)\n")
    scan = ScanResult(findings=analyse_text(SCRIPT, str(script)), files_scanned=1)
    return join(scan, parse(child_result(str(script))), "train.py", (), str(tmp_path))


def test_static_findings_get_runtime_evidence(joined):
    runtime = {(f.code, f.line): f.runtime for f in joined.findings}
    assert runtime[("ADV103", 14)].status == "confirmed" and runtime[("ADV103", 14)].per_step == 1.0
    assert runtime[("ADV101", 9)].status == "confirmed" and "the same tensor in 4 of 4 steps" in runtime[("ADV101", 9)].detail
    assert "costs nothing on this machine" in runtime[("ADV103", 14)].detail  # a CPU run does not claim a GPU's wait


def test_a_sync_in_an_unscanned_helper_is_runtime_only(joined):
    helper = [f for f in joined.findings if f.path == "helper.py"]
    assert [(f.code, f.line, f.runtime.status) for f in helper] == [("ADV103", 2, "runtime-only")]
    assert "called from train.py:12" in helper[0].message and helper[0].span.column == 5


def test_the_summary_names_the_loop_optimizer_and_matcher(joined):
    run = joined.profile
    assert run is not None and [loop.site for loop in run.loops] == ["train.py:13 (<module>)"]
    facts = dict(run.loops[0].facts)
    assert facts["optimizer"] == "SGD: single-tensor (a loop over parameters), torch's default here"
    assert facts["samples per step"] == "8" and "8 ms unprofiled" in facts["step time"]
    assert run.patterns == ("train.py:13: Optimizer Single Tensor Pattern: use foreach",)


def test_the_saved_run_round_trips_and_renders(joined):
    data = json.loads(render("json", joined))
    again = result_from_dict(data)
    assert again.profile == joined.profile
    assert [f.runtime for f in again.findings] == [f.runtime for f in joined.findings]
    text = render("text", again)
    assert "found at runtime only" in text and "runtime: 2 confirmed" in text and "median step 10 ms" in text


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(windows="nope"),
        lambda d: d["windows"][0]["steps"][0].update(total_s=-1.0),
        lambda d: d["windows"][0]["steps"][0].update(total_s=float("nan")),
        lambda d: d["windows"][0]["events"][0].update(kind="rm -rf"),
        lambda d: d["windows"][0]["events"][0].update(count="4"),
        lambda d: d["windows"][0].update(kind=None),
        lambda d: d.update(device="tpu"),
        lambda d: d.update(schema=99),
        lambda d: d["optimizers"][0].update(foreach="yes"),
        lambda d: d.__setitem__("windows", [[]]),
    ],
)
def test_malformed_child_output_is_one_error_not_a_traceback(mutate, tmp_path):
    data = copy.deepcopy(child_result(str(tmp_path / "train.py")))
    mutate(data)
    with pytest.raises(ProfileError, match="malformed result"):
        parse(data)


def test_a_child_internal_error_says_it_is_advisors():
    with pytest.raises(ProfileError, match="advisor's profiling child failed: KeyError"):
        parse({"schema": 1, "internal_error": "KeyError: 'x'"})


def test_a_saved_run_with_a_bad_profile_is_refused(joined):
    data = json.loads(render("json", joined))
    data["profile"]["loops"][0]["steps"][0]["total_s"] = "fast"
    with pytest.raises(ReportInputError, match="malformed"):
        result_from_dict(data)
    data = json.loads(render("json", joined))
    data["findings"][0]["runtime"]["status"] = "great"
    with pytest.raises(ReportInputError):
        result_from_dict(data)


def test_each_rule_declares_its_runtime_signal_and_join_names_no_rule_code():
    """A rule says which profile signal confirms it (or why none can); the join knows signals, not codes."""
    import re

    from advisor.profile import join
    from advisor.rule import rules_by_code

    rules = rules_by_code()
    declared = {code: rule.runtime_signal for code, rule in rules.items() if rule.runtime_signal}
    assert set(declared.values()) == set(join.SIGNALS), "a signal without a rule, or a rule naming an unknown signal"
    assert not [code for code, rule in rules.items() if rule.runtime_signal and rule.runtime_unobservable]
    for signal in ("sync", "same-tensor-move", "loader-wait", "batch-of-one", "per-sample-step"):
        assert join.code_for(signal) in declared and declared[join.code_for(signal)] == signal
    source = Path(join.__file__).read_text(encoding="utf-8")
    assert not re.search(r"ADV\d{3}", source)
