"""`advisor report` treats its JSON input as hostile: any wrong type, NaN, deep nesting or a non-regular
file is one clear line and exit 2 (never a traceback, never exit 1); it reads source files only when
asked (`--source-root`) and only under that root; a verifier cache entry of the wrong shape is a miss."""

from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.report.json_report import as_dict
from tests.report_samples import MATMUL, sample_result

SECRET = "AWS_SECRET_ACCESS_KEY=hunter2-do-not-leak"


def valid() -> dict[str, Any]:
    data = as_dict(sample_result())
    assert any(f["verifications"] for f in data["findings"]) and any(f["fix"] for f in data["findings"])
    return data


def first_verified(d: dict[str, Any]) -> dict[str, Any]:
    return next(v for f in d["findings"] for v in f["verifications"] if v["before"] is not None)


def first_fixed(d: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in d["findings"] if f["fix"])


def setter(fn: Callable[[dict[str, Any]], None]) -> Callable[[], str]:
    def make() -> str:
        d = valid()
        fn(d)
        return json.dumps(d)

    return make


def field(key: str, value: Any) -> Callable[[], str]:
    return setter(lambda d: d["findings"][0].__setitem__(key, value))


def vfield(key: str, value: Any) -> Callable[[], str]:
    return setter(lambda d: first_verified(d).__setitem__(key, value))


def raw(text: str) -> Callable[[], str]:
    return lambda: text


def nested(levels: int) -> Callable[[], str]:
    def make() -> str:
        d = valid()
        deep: Any = 1
        for _ in range(levels):
            deep = {"x": deep}
        first_verified(d)["extra"] = deep
        return json.dumps(d)

    return make


MALFORMED: dict[str, tuple[Callable[[], str], str]] = {
    "top level is a list": (raw("[]"), "no `findings` list"),
    "findings is an object": (setter(lambda d: d.__setitem__("findings", {})), "no `findings` list"),
    "a finding is a number": (setter(lambda d: d.__setitem__("findings", [1])), "findings[0]: expected an object"),
    "line is a string": (field("line", "5"), "findings[0].line: expected an integer"),
    "line is a float": (field("line", 1.5), "findings[0].line: expected an integer"),
    "line is a bool": (field("line", True), "findings[0].line: expected an integer"),
    "line is negative": (field("line", -3), "findings[0].line: expected an integer"),
    "line is huge": (field("line", 10**30), "findings[0].line: expected an integer"),
    "column is null": (field("column", None), "findings[0].column: expected an integer"),
    "code is a number": (field("code", 5), "findings[0].code: expected a string"),
    "path is a list": (field("path", ["a"]), "findings[0].path: expected a string"),
    "message is missing": (setter(lambda d: d["findings"][0].pop("message")), "findings[0]: missing `message`"),
    "unknown severity": (field("severity", "critical"), "findings[0].severity: expected one of warning, info"),
    "confidence is null": (field("confidence", None), "findings[0].confidence"),
    "cell is a string": (field("cell", "0"), "findings[0].cell: expected an integer"),
    "fix is a string": (setter(lambda d: first_fixed(d).__setitem__("fix", "yes")), ".fix: expected an object"),
    "fix edits is a string": (setter(lambda d: first_fixed(d)["fix"].__setitem__("edits", "x")), ".fix.edits: expected a list"),
    "fix edit start is a string": (setter(lambda d: first_fixed(d)["fix"]["edits"][0].__setitem__("start", "a")), ".start: expected an integer"),
    "fix safe is a string": (setter(lambda d: first_fixed(d)["fix"].__setitem__("safe", "no")), ".fix.safe: expected true or false"),
    "excerpt lines is a string": (setter(lambda d: d["findings"][0]["excerpt"].__setitem__("lines", "abc")), ".excerpt.lines: expected a list"),
    "excerpt line is a number": (setter(lambda d: d["findings"][0]["excerpt"].__setitem__("lines", [1, 2])), ".excerpt.lines[0]: expected a string"),
    "excerpt first line is zero": (setter(lambda d: d["findings"][0]["excerpt"].__setitem__("first_line", 0)), ".excerpt.first_line"),
    "verifications is an object": (field("verifications", {}), "findings[0].verifications: expected a list"),
    "a verification is a number": (field("verifications", [5]), "findings[0].verifications[0]: expected an object"),
    "speedup is a string": (vfield("speedup", "fast"), ".speedup: expected a finite number"),
    "median is a string": (setter(lambda d: first_verified(d)["before"].__setitem__("median_s", "x")), ".before.median_s: expected a finite number"),
    "runs is a float": (setter(lambda d: first_verified(d)["before"].__setitem__("runs", 1.5)), ".before.runs: expected an integer"),
    "sizes is a list": (vfield("sizes", []), ".sizes: expected an object"),
    "extra is a string": (vfield("extra", "x"), ".extra: expected an object"),
    "instructions sizes is a number": (vfield("instructions", {"tool": "callgrind", "sizes": 5}), ".instructions.sizes: expected an object"),
    "equivalent is a string": (vfield("equivalent", "yes"), ".equivalent: expected true, false or null"),
    "verification has an unknown key": (vfield("bogus", 1), "malformed (TypeError"),
    "verification status is missing": (setter(lambda d: first_verified(d).pop("status")), "missing `status`"),
    "error path is a number": (setter(lambda d: d.__setitem__("errors", [{"path": 1, "message": "m"}])), "errors[0].path: expected a string"),
    "errors is a string": (setter(lambda d: d.__setitem__("errors", "none")), "errors: expected a list"),
    "files_scanned is a string": (setter(lambda d: d.__setitem__("files_scanned", "many")), "files_scanned: expected an integer"),
    "environment is a list": (setter(lambda d: d.__setitem__("environment", ["x"])), "environment: expected an object"),
    "environment value is an object": (setter(lambda d: d["environment"].__setitem__("cpu", {"a": 1})), "environment.cpu: expected a string"),
    "NaN speedup": (lambda: json.dumps(valid()).replace('"speedup": 5210.0', '"speedup": NaN', 1), "NaN is not a number JSON allows"),
    "Infinity line": (lambda: json.dumps(valid()).replace('"line": ', '"line": Infinity, "x": ', 1), "Infinity is not a number JSON allows"),
    "very deep arrays": (raw('{"findings": ' + "[" * 200_000 + "]" * 200_000 + "}"), "nested too deeply"),
    "deep object in extra": (nested(60), "nested deeper than"),
    "schema version is a string": (setter(lambda d: d.__setitem__("schema_version", "1")), "schema_version"),
}


def report(*args: str) -> Any:
    return CliRunner().invoke(main, ["report", *args])


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_saved_run_is_one_line_and_exit_2(tmp_path, name):
    make, expected = MALFORMED[name]
    run = tmp_path / "run.json"
    run.write_text(make())
    for fmt in ("html", "text"):
        got = report(str(run), "--format", fmt)
        assert got.exit_code == 2, (name, got.output, got.exception)
        lines = got.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("advisor: error: ") and expected in lines[0], (name, got.output)


def test_the_valid_sample_still_renders(tmp_path):
    run = tmp_path / "run.json"
    run.write_text(json.dumps(valid()))
    for fmt in ("html", "text", "json", "sarif", "github"):
        got = report(str(run), "--format", fmt)
        assert got.exit_code == 0, (fmt, got.output)


def test_a_fifo_or_a_device_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "run.json"
    os.mkfifo(fifo)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.setdefault("r", report(str(fifo))), daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive():
        with open(fifo, "w"):  # unblock the reader so the test process can end
            pass
        pytest.fail("advisor report hung on a FIFO")
    assert result["r"].exit_code == 2 and "not a regular file" in result["r"].output
    got = report("/dev/zero")
    assert got.exit_code == 2 and "not a regular file" in got.output


def _run_without_excerpts(tmp_path: Path, paths: list[str]) -> Path:
    d = valid()
    template = copy.deepcopy(d["findings"][0])
    findings = []
    for p in paths:
        f = copy.deepcopy(template)
        f.update(path=p, line=4, end_line=4, excerpt=None, cell=None)
        findings.append(f)
    d["findings"] = findings
    run = tmp_path / "run.json"
    run.write_text(json.dumps(d))
    return run


def test_report_reads_no_local_file_named_in_its_input_unless_asked(tmp_path, monkeypatch):
    secret = tmp_path / "secret.env"
    secret.write_text((SECRET + "\n") * 6)
    root = tmp_path / "root"
    root.mkdir()
    (root / "mm.py").write_text(MATMUL)
    monkeypatch.chdir(root)
    run = _run_without_excerpts(tmp_path, [str(secret), "../secret.env", "mm.py"])
    for fmt in ("html", "text", "json"):
        got = report(str(run), "--format", fmt)
        assert got.exit_code == 0, got.output
        assert "hunter2" not in got.output and "def mm" not in got.output


def test_source_root_reads_only_regular_files_really_under_it(tmp_path):
    secret = tmp_path / "secret.env"
    secret.write_text((SECRET + "\n") * 6)
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "mm.py").write_text(MATMUL)
    (root / "link.py").symlink_to(secret)
    (root / "sub" / "dirlink").symlink_to(tmp_path)
    os.mkfifo(root / "fifo.py")
    paths = [str(secret), "../secret.env", "sub/../../secret.env", "link.py", "sub/dirlink/secret.env", "fifo.py", "mm.py"]
    run = _run_without_excerpts(tmp_path, paths)
    got = report(str(run), "--format", "html", "--source-root", str(root))
    assert got.exit_code == 0, got.output
    assert "hunter2" not in got.output
    assert "def mm(A, B):" in got.output  # the one file really under the root is shown


def test_a_cache_entry_with_wrong_field_types_is_a_miss(tmp_path, monkeypatch):
    from advisor.types import Verification
    from advisor.verify import cache

    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path))
    good = Verification(code="ADV401", device="cpu", status="measured", equivalent=True, sizes={"n": 8}, sizes_source="defaults", speedup=2.0)
    cache.store("ADV401", "k" * 64, good)
    assert cache.load("ADV401", "k" * 64) is not None
    path = next(cache.cache_dir().iterdir())  # $ADVISOR_CACHE_DIR/verify
    entry = json.loads(path.read_text())
    for key, bad in [("speedup", "fast"), ("equivalent", "yes"), ("sizes", []), ("before", {"median_s": "x", "iqr_s": 0, "runs": 1}),
                     ("extra", 5), ("status", 3), ("instructions", "none")]:
        broken = copy.deepcopy(entry)
        broken["result"][key] = bad
        path.write_text(json.dumps(broken))
        assert cache.load("ADV401", "k" * 64) is None, key
    path.write_text(json.dumps(entry).replace('"speedup": 2.0', '"speedup": NaN'))
    assert cache.load("ADV401", "k" * 64) is None
    path.write_text(json.dumps({**entry, "stored": "yesterday"}))
    assert cache.load("ADV401", "k" * 64) is None


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e308", "0", "abc"])
@pytest.mark.parametrize("command", [["verify", "ADV401"], ["scan", "."]])
def test_a_timeout_that_is_not_a_usable_number_is_a_usage_error(value, command):
    got = CliRunner().invoke(main, [*command, "--verify", "--timeout", value] if command[0] == "scan" else [*command, "--timeout", value])
    assert got.exit_code == 2 and "--timeout" in got.output, got.output


@pytest.mark.parametrize("command", ["report", "verify"])
def test_an_internal_error_in_report_or_verify_exits_2_with_one_line(tmp_path, monkeypatch, command):
    def boom(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("simulated bug\nsecond line")

    if command == "report":
        import advisor.cli

        monkeypatch.setattr(advisor.cli, "render", boom)
        run = tmp_path / "run.json"
        run.write_text(json.dumps(valid()))
        got = report(str(run))
    else:
        import advisor.verify.command

        monkeypatch.setattr(advisor.verify.command, "run_verify", boom)
        got = CliRunner().invoke(main, ["verify", "ADV401"])
    assert got.exit_code == 2, (got.output, got.exception)
    assert got.output.strip().splitlines() == [f"advisor: internal error in `advisor {command}` (RuntimeError: simulated bug) — please report it"]
