"""Hostile or unlucky input (issue 11): links, pipes, devices, odd names, deep code, big files, broken
config, dying workers. Each must give one clear line for that file (or the run) and never a traceback,
a hang, or code run from the scanned tree."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import advisor.engine as engine
from advisor.config import Config
from advisor.discover import discover
from advisor.scan_cache import ScanCache

MATMUL = "def mm(A, B):\n    return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n"
GOOD = "good.py:2:12: ADV401"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
needs_fork = pytest.mark.skipif(
    sys.platform != "linux" or __import__("multiprocessing").get_start_method() != "fork",
    reason="patches the analyser in the parent, which only forked workers inherit",
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "good.py").write_text(MATMUL)
    return tmp_path


def _errors(stderr: str) -> dict[str, str]:
    out = {}
    for line in stderr.splitlines():
        path, sep, message = line.partition(": error: ")
        if sep:
            out[path] = message
    return out


def _one_line_errors(proc: subprocess.CompletedProcess[str], expected: dict[str, str]) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = _errors(proc.stderr)
    assert set(errors) == set(expected), proc.stderr
    for path, words in expected.items():
        assert words in errors[path] and " — " in errors[path], errors[path]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


# item 4
@needs_git
def test_gitignore_lookup_does_not_run_the_scanned_repositorys_fsmonitor_hook(tree):
    _git(tree, "init", "-q", ".")
    _git(tree, "add", "good.py")
    _git(tree, "-c", "user.email=a@b", "-c", "user.name=n", "commit", "-qm", "x")
    marker = tree.parent / f"{tree.name}-fsmonitor-ran"
    hook = tree / "hook.sh"
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\n")
    hook.chmod(0o755)
    _git(tree, "config", "core.fsmonitor", str(hook))
    (tree / ".gitignore").write_text("skipped.py\n")
    (tree / "skipped.py").write_text(MATMUL)
    files, errors = discover([str(tree)])
    assert not marker.exists(), "git ran the repository's fsmonitor hook"
    assert [f.name for f in files] == ["good.py"] and errors == []


@needs_git
def test_gitignore_lookup_ignores_git_variables_leaking_from_a_hook(tree, monkeypatch):
    _git(tree, "init", "-q", ".")
    (tree / ".gitignore").write_text("skipped.py\n")
    (tree / "skipped.py").write_text(MATMUL)
    monkeypatch.setenv("GIT_DIR", str(tree.parent / "not-a-repository"))
    files, _ = discover([str(tree)])
    assert [f.name for f in files] == ["good.py"]


# item 6
def test_symlink_loops_are_per_file_errors_and_the_rest_is_scanned(run_cli, tree):
    (tree / "a.py").symlink_to("b.py")
    (tree / "b.py").symlink_to("a.py")
    (tree / "x.py").symlink_to("x.py")
    proc = run_cli("scan", ".", "-q", cwd=tree)
    _one_line_errors(proc, {"a.py": "symbolic link loop", "b.py": "symbolic link loop", "x.py": "symbolic link loop"})
    assert GOOD in proc.stdout


# item 7
def test_pipes_and_devices_named_like_python_are_refused_without_reading(run_cli, tree):
    os.mkfifo(tree / "fifo.py")
    (tree / "stdin.py").symlink_to("/dev/stdin")
    (tree / "zero.py").symlink_to("/dev/zero")
    (tree / "nb.ipynb").symlink_to("/dev/urandom")
    started = time.monotonic()
    proc = run_cli("scan", ".", "-q", "--no-cache", cwd=tree)
    assert time.monotonic() - started < 60
    _one_line_errors(proc, {"fifo.py": "named pipe", "stdin.py": "not a regular file", "zero.py": "device", "nb.ipynb": "device"})
    assert GOOD in proc.stdout


def _big(tree: Path, size: int) -> Path:
    path = tree / "big.py"
    path.write_text("x = 1\n" * (size // 6 + 1))
    return path


# item 8
@pytest.mark.skipif(sys.platform != "linux", reason="file names are bytes on Linux")
@pytest.mark.parametrize("fmt", ["json", "sarif", "html", "text"])
def test_a_file_name_that_is_not_utf8_is_shown_escaped_in_every_format(run_cli, tree, fmt):
    (tree / os.fsdecode(b"bad\xff.py")).write_text(MATMUL)
    for attempt in range(2):  # the second run is served from the scan cache
        proc = run_cli("scan", ".", "--format", fmt, "-o", f"out.{fmt}", cwd=tree)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        text = (tree / f"out.{fmt}").read_text(encoding="utf-8")
        if fmt == "json":
            paths = sorted(f["path"] for f in json.loads(text)["findings"])
            assert paths == ["bad\\xff.py", "good.py"]
        else:
            assert "bad" in text and "xff.py" in text


@pytest.mark.parametrize("escape", ["\\udcff", "\\u0000"])
def test_a_notebook_cell_with_a_lone_surrogate_or_nul_says_so(tree, escape):
    cell = {"cell_type": "code", "source": "x = 'A'\n", "metadata": {}, "outputs": [], "execution_count": None}
    raw = json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).replace("'A'", f"'{escape}'")
    (tree / "nb.ipynb").write_text(raw)
    _, error, _ = engine.scan_file(tree / "nb.ipynb", ["ADV401"], Config())
    assert error is not None and error.message.startswith("cell 1 has a character Python source cannot hold")


# item 9
@pytest.mark.parametrize("terms", [350, 1000])
def test_long_operator_chains_cpython_compiles_are_analysed(terms):
    chain = "x = " + " + ".join(f"a{i}" for i in range(terms)) + "\n"
    compile(chain, "<chain>", "exec")  # the premise: CPython accepts it
    findings = engine.analyse_text(MATMUL + chain, codes=["ADV401"])
    assert [f.code for f in findings] == ["ADV401"]


def test_deep_brackets_cpython_compiles_are_analysed():
    nested = "y = " + "(" * 190 + "1" + ")" * 190 + "\n" + "z = " + "[" * 150 + "]" * 150 + "\n"
    compile(nested, "<nested>", "exec")
    assert [f.code for f in engine.analyse_text(MATMUL + nested, codes=["ADV401"])] == ["ADV401"]


def test_the_deep_retry_restores_the_recursion_limit():
    before = sys.getrecursionlimit()
    engine.analyse_text(MATMUL + "x = " + " + ".join("a" for _ in range(400)) + "\n", codes=["ADV401"])
    assert sys.getrecursionlimit() == before


# item 10
def test_a_file_over_max_file_size_is_skipped_with_a_clear_message(tree):
    big = _big(tree, 50_000)
    findings, error, _ = engine.scan_file(big, ["ADV401"], Config(max_file_size=10_000))
    assert findings == [] and error is not None
    assert "over the 10 kB max-file-size" in error.message and " — " in error.message
    findings, error, _ = engine.scan_file(big, ["ADV401"], Config(max_file_size=100_000))
    assert error is None


def test_max_file_size_from_config_and_command_line(run_cli, tree):
    big = _big(tree, 40_000)
    (tree / "pyproject.toml").write_text('[tool.advisor]\nmax-file-size = "20kB"\n')
    proc = run_cli("scan", "good.py", big.name, "-q", cwd=tree)
    _one_line_errors(proc, {"big.py": "over the 20 kB max-file-size"})
    assert GOOD in proc.stdout
    proc = run_cli("scan", "good.py", big.name, "-q", "--max-file-size", "1MB", cwd=tree)
    assert proc.returncode == 1 and proc.stderr == ""
    proc = run_cli("scan", "good.py", "--max-file-size", "lots", cwd=tree)
    assert proc.returncode == 2 and "--max-file-size" in proc.stderr and "Traceback" not in proc.stderr


def test_the_default_bound_is_about_a_megabyte():
    assert 1_000_000 <= Config().max_file_size <= 4_000_000


def test_in_a_pool_big_files_run_one_at_a_time_after_the_others(tree, monkeypatch):
    import advisor.pool as pool

    calls: list[tuple[list[str], int]] = []

    def recording(fn, items, workers, lost):  # type: ignore[no-untyped-def]
        calls.append(([w[0].name for w in items], workers))
        return [fn(w) for w in items]

    monkeypatch.setattr(pool, "map_surviving", recording)
    monkeypatch.setattr(pool, "usable_cpus", lambda: 2)
    files = [_big(tree, 3000)]
    for i in range(20):
        (tree / f"m{i:02d}.py").write_text(MATMUL)
        files.append(tree / f"m{i:02d}.py")
    result = engine.scan(files, Config(select=["ADV401"], max_file_size=8000), jobs=2)
    assert calls == [([f.name for f in files[1:]], 2), (["big.py"], 1)]
    assert len(result.findings) == 20 and result.errors == []


# item 11
@pytest.mark.parametrize(
    "content, words",
    [
        ('[tool.advisor]\nignore = ["ADV401"\n', "invalid TOML"),
        ("tool = 5\n", "`tool` must be a table"),
        ("[tool]\nadvisor = 5\n", "[tool.advisor] must be a table"),
        ('[tool.advisor]\nselect = "ADV401"\n', "select must be a list"),
        ('[tool.advisor]\nrespect-gitignore = "no"\n', "respect-gitignore must be true or false"),
        ('[tool.advisor]\nmax-file-size = true\n', "max-file-size must be a positive size"),
        ('[tool.advisor]\nper-file-ignores = ["ADV401"]\n', "per-file-ignores must be a table"),
        ('[tool.advisor]\noptions = {ADV401 = 3}\n', "must be a table of option = value"),
    ],
)
def test_a_pyproject_that_cannot_be_used_is_a_one_line_error(run_cli, tree, content, words):
    (tree / "pyproject.toml").write_text(content)
    proc = run_cli("scan", "good.py", cwd=tree)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and words in proc.stderr and proc.stderr.startswith("advisor: error: ")


def test_a_pyproject_with_a_bom_is_read(run_cli, tree):
    (tree / "pyproject.toml").write_bytes(b'\xef\xbb\xbf[tool.advisor]\nignore = ["ADV401"]\n')
    proc = run_cli("scan", "good.py", cwd=tree)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_boolean_is_not_accepted_for_a_number_option(monkeypatch):
    from advisor.config import ConfigError, validate_options
    from advisor.rule import rules_by_code

    rule = rules_by_code()["ADV401"]
    monkeypatch.setattr(rule, "options", {"min-size": 3})  # bool is a subclass of int in Python
    with pytest.raises(ConfigError, match="must be int, got bool"):
        validate_options({"ADV401": {"min-size": True}}, "options")
    assert validate_options({"ADV401": {"min-size": 5}}, "options") == {"ADV401": {"min-size": 5}}


# item 12
@needs_fork
def test_a_killed_worker_loses_only_the_file_it_was_analysing(tree, monkeypatch):
    files = [tree / f"m{i:02d}.py" for i in range(24)]
    for f in files:
        f.write_text(MATMUL)
    (tree / "m07.py").write_text(MATMUL + "# die\n")
    real = engine._analyse_file

    def fragile(path, *args):  # type: ignore[no-untyped-def]
        if path.name == "m07.py":
            os.kill(os.getpid(), signal.SIGKILL)  # what the OOM killer does
        return real(path, *args)

    monkeypatch.setattr(engine, "_analyse_file", fragile)
    result = engine.scan(files, Config(select=["ADV401"]), jobs=2)
    assert [e.path for e in result.errors] == [str(tree / "m07.py")]
    assert "worker process analysing it died" in result.errors[0].message
    assert sorted(Path(f.path).name for f in result.findings) == sorted(f.name for f in files if f.name != "m07.py")


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
def test_workers_exit_when_the_scan_process_is_killed(tree):
    for i in range(20):
        (tree / f"m{i:02d}.py").write_text(MATMUL)
    script = (
        "import sys, time, advisor.engine as e\n"
        "from pathlib import Path\nfrom advisor.config import Config\n"
        "e._analyse_file = lambda *a: time.sleep(120)\n"
        "e.scan(sorted(Path(sys.argv[1]).glob('*.py')), Config(), jobs=2)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    parent = subprocess.Popen([sys.executable, "-c", script, str(tree)], env=env)
    try:
        workers: list[int] = []
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            workers = _children(parent.pid)
        assert len(workers) >= 2, "the pool never started"
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "workers outlived the killed scan"


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# item 14 (scan cache, -o)
@pytest.mark.parametrize(
    "field, value",
    [("line", "3"), ("line", True), ("path", 5), ("fix", "yes"), ("excerpt", {"first_line": 1, "lines": [1]}),
     ("severity", "fatal"), ("verifications", [{"code": 1}]), ("cell", 1.5), ("tags", "hot"), ("tags", [3])],
)
def test_a_cache_entry_with_wrong_field_types_is_a_miss(tree, field, value):
    cache = ScanCache(tree / "cache")
    findings, _, lines = engine.scan_file(tree / "good.py", ["ADV401"], Config(), cache)
    (entry,) = (tree / "cache").rglob("*.json")
    raw = json.loads(entry.read_text())
    raw["findings"][0][field] = value
    entry.write_text(json.dumps(raw))
    key = entry.stem
    assert cache.get(key) is None
    assert engine.scan_file(tree / "good.py", ["ADV401"], Config(), cache) == (findings, None, lines)


@pytest.mark.parametrize("raw", [[], {"findings": {}, "error": None, "lines": 1}, {"findings": [], "error": 5, "lines": 1},
                                 {"findings": [], "error": None, "lines": "2"}, {"findings": [], "error": None}])
def test_a_cache_entry_of_the_wrong_shape_is_a_miss(tree, raw):
    cache = ScanCache(tree / "cache")
    key = "ab" + "0" * 62
    (tree / "cache" / "ab").mkdir(parents=True)
    (tree / "cache" / "ab" / f"{key}.json").write_text(json.dumps(raw))
    assert cache.get(key) is None


@pytest.mark.parametrize("target", ["missing/out.json", "/dev/full"])
def test_writing_the_report_where_it_cannot_go_is_a_clear_error(run_cli, tree, target):
    if target == "/dev/full" and not Path(target).exists():
        pytest.skip("no /dev/full here")
    proc = run_cli("scan", "good.py", "--format", "json", "-o", target, cwd=tree)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"advisor: error: cannot write {target}") and proc.stderr.count("\n") == 1
    (tree / "run.json").write_text(run_cli("scan", "good.py", "--format", "json", cwd=tree).stdout)
    proc = run_cli("report", "run.json", "-o", target, cwd=tree)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"advisor: error: cannot write {target}")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_report_to_a_full_standard_output_is_a_clear_error_not_a_bug(tree, fmt):
    """`advisor scan > file` on a full disk: the report is lost, and the user is told so in one line."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "advisor", "scan", "good.py", "--format", fmt, "--no-cache"],
                              cwd=tree, stdout=full, stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("advisor: error: cannot write the report to standard output") and "internal error" not in proc.stderr


# item 15
@needs_git
def test_each_repository_in_one_run_keeps_its_own_gitignore(tree):
    for name, ignored in (("r1", "one.py"), ("r2", "two.py")):
        repo = tree / name
        repo.mkdir()
        _git(repo, "init", "-q", ".")
        (repo / ".gitignore").write_text(f"{ignored}\n")
        for f in ("one.py", "two.py"):
            (repo / f).write_text(MATMUL)
    files, _ = discover([str(tree / "r1"), str(tree / "r2")])
    assert sorted(f.relative_to(tree).as_posix() for f in files) == ["r1/two.py", "r2/one.py"]


@needs_git
def test_a_repository_nested_in_a_scanned_folder_keeps_its_own_gitignore(tree):
    _git(tree, "init", "-q", ".")
    (tree / ".gitignore").write_text("outer_ignored.py\n")
    inner = tree / "vendor"
    inner.mkdir()
    _git(inner, "init", "-q", ".")
    (inner / ".gitignore").write_text("inner_ignored.py\n")
    for f in (tree / "outer_ignored.py", inner / "inner_ignored.py", inner / "kept.py"):
        f.write_text(MATMUL)
    files, _ = discover([str(tree)])
    assert sorted(f.relative_to(tree).as_posix() for f in files) == ["good.py", "vendor/kept.py"]


# item 16
def test_jobs_are_capped_by_files_and_cpus(tree, monkeypatch):
    import advisor.pool as pool

    monkeypatch.setattr(pool, "usable_cpus", lambda: 2)
    assert pool.worker_count(64, 1000) == 2
    assert pool.worker_count(64, 1) == 1
    assert pool.worker_count(None, 1000) == 2
    started: list[int] = []
    real = pool.ProcessPoolExecutor

    def recording(max_workers, **kwargs):  # type: ignore[no-untyped-def]
        started.append(max_workers)
        return real(max_workers=max_workers, **kwargs)

    monkeypatch.setattr(pool, "ProcessPoolExecutor", recording)
    files = []
    for i in range(20):
        (tree / f"m{i:02d}.py").write_text(MATMUL)
        files.append(tree / f"m{i:02d}.py")
    result = engine.scan(files, Config(select=["ADV401"]), jobs=64)
    assert started == [2] and len(result.findings) == 20


# item 17
def test_a_tab_error_points_at_its_line(tree):
    (tree / "tabs.py").write_text(MATMUL + "if x:\n        y = 1\n\tz = 2\n")
    _, error, _ = engine.scan_file(tree / "tabs.py", ["ADV401"], Config())
    assert error is not None and error.message.startswith("syntax error at line 5, column 1: inconsistent use of tabs")


@pytest.mark.parametrize("codec", ["utf-16", "utf-32"])
def test_a_utf16_coding_cookie_says_what_to_do(tree, codec):
    (tree / "u16.py").write_text(f"# coding: {codec}\n" + MATMUL)
    _, error, _ = engine.scan_file(tree / "u16.py", ["ADV401"], Config())
    assert error is not None and error.message.startswith(f"declares `coding: {codec}`") and "save the file as UTF-8" in error.message


@pytest.mark.parametrize(
    "source",
    ['import torch\nprint "hello"\n', "import torch\ntry:\n    pass\nexcept ValueError, e:\n    pass\n", "x = `1`\n" + MATMUL],
)
def test_a_python2_file_says_it_looks_like_python2(tree, source):
    (tree / "old.py").write_text(source)
    _, error, _ = engine.scan_file(tree / "old.py", ["ADV401", "ADV102"], Config())
    assert error is not None and "looks like Python 2" in error.message


def test_an_ordinary_syntax_error_is_not_called_python2(tree):
    (tree / "bad.py").write_text('import torch\n"""Uses `x` and a <> b."""\nx = (1,\nprint(x)\n')
    _, error, _ = engine.scan_file(tree / "bad.py", ["ADV102"], Config())
    assert error is not None and "Python 2" not in error.message


# any internal error exits 2
def test_an_internal_error_anywhere_in_scan_exits_2_with_one_line(tree, monkeypatch):
    from advisor import cli

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyError("lost")

    monkeypatch.setattr("advisor.discover.discover", boom)
    monkeypatch.delenv("ADVISOR_DEBUG", raising=False)
    monkeypatch.chdir(tree)
    outcome = CliRunner().invoke(cli.main, ["scan", "good.py"])
    assert outcome.exit_code == 2
    assert outcome.output.strip().splitlines() == [
        "advisor: internal error in `advisor scan` (KeyError: 'lost') — please report it"
    ]
    outcome = CliRunner().invoke(cli.main, ["scan", "good.py", "--debug"])
    assert outcome.exit_code == 2 and "Traceback" in outcome.output
    assert "ADVISOR_DEBUG" not in os.environ  # --debug travels in the frozen Config, not the environment
