"""Progress on stderr: drawn on a terminal only (tested through a real pseudo-terminal), never on stdout,
one line per finished pair off a terminal for --verify."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.progress import Progress, track

REPO = Path(__file__).resolve().parent.parent


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_terminal_line_shows_current_item_counts_and_an_estimate_then_is_erased():
    out, clock = FakeTerminal(), Clock()
    with Progress("verifying", 4, stream=out, clock=clock) as p:
        p.start("ADV401 cpu")
        assert out.getvalue() == ""  # nothing before the delay: quick runs never flicker
        clock.now += 10
        p.finish()
        p.start("ADV201 cpu")
        assert p.line() == "advisor: verifying 1/4: ADV201 cpu — 10 s, about 30 s left"
        assert out.getvalue().endswith("\radvisor: verifying 1/4: ADV201 cpu — 10 s, about 30 s left")
    assert out.getvalue().endswith("\r")  # erased: what follows on stderr starts on a clean line
    assert "\n" not in out.getvalue()


def test_nothing_is_written_off_a_terminal_unless_finished_lines_are_asked_for():
    quiet, lines, clock = io.StringIO(), io.StringIO(), Clock()
    for stream, finished in ((quiet, False), (lines, True)):
        with Progress("verifying", 2, stream=stream, clock=clock, finished_lines=finished) as p:
            for name in ("ADV401 cpu", "ADV201 cpu"):
                p.start(name)
                clock.now += 2.5
                p.finish()
    assert quiet.getvalue() == ""
    assert lines.getvalue().splitlines() == [
        "advisor: verifying 1/2: ADV401 cpu done in 2.5 s",
        "advisor: verifying 2/2: ADV201 cpu done in 2.5 s",
    ]


def test_finished_lines_are_not_printed_on_a_terminal_where_the_line_is_redrawn():
    out = FakeTerminal()
    list(track(["a", "b"], 2, "verifying", finished_lines=True, stream=out))
    assert "done in" not in out.getvalue()


def test_verify_jobs_are_named_by_rule_and_device(monkeypatch):
    from advisor.verify import command

    off_terminal = io.StringIO()
    monkeypatch.setattr(sys, "stderr", off_terminal)
    jobs = [("ADV401", object(), "cpu"), ("ADV102", object(), "cuda")]
    assert list(command._progress(jobs, "verifying")) == jobs
    assert [line.split(" done in")[0] for line in off_terminal.getvalue().splitlines()] == [
        "advisor: verifying 1/2: ADV401 cpu", "advisor: verifying 2/2: ADV102 cuda",
    ]


def _big_file() -> str:
    spec = importlib.util.spec_from_file_location("lsp_latency", REPO / "benchmarks" / "lsp_latency.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.five_thousand_lines()


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file that takes over a second to analyse, first, then small ones: the scan outlasts the delay."""
    root = tmp_path_factory.mktemp("progress")
    (root / "a_big.py").write_text(_big_file())
    for i in range(3):
        (root / f"b{i}.py").write_text("from torch import nn\nm = nn.DataParallel(m)\n")
    return root


def _env(tmp: Path) -> dict[str, str]:
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))
    return {**os.environ, "PYTHONPATH": pythonpath, "ADVISOR_CACHE_DIR": str(tmp / "cache"), "COLUMNS": "200"}


def test_scan_on_a_terminal_draws_progress_on_stderr_and_keeps_stdout_machine_readable(tree, tmp_path):
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "advisor", "scan", ".", "--format", "json", "-j", "1", "--no-cache"],
        cwd=tree, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
    )
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 600)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = proc.communicate(timeout=600)
    os.close(master)
    terminal = seen.decode("utf-8", "replace")
    assert proc.returncode == 1
    report = json.loads(stdout)  # nothing but the report on stdout
    assert len(report["findings"]) >= 3
    assert "advisor: scanning 1/4: a_big.py" in terminal and "left" in terminal
    assert "\n" not in terminal.rstrip("\r\n ").split("advisor: scanning")[-1]  # one redrawn line, then erased


def test_scan_off_a_terminal_writes_no_progress(tree, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "advisor", "scan", ".", "--format", "json", "-j", "1", "--no-cache"],
        cwd=tree, env=_env(tmp_path), capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 1 and json.loads(proc.stdout)["findings"]
    assert "scanning" not in proc.stderr and "\r" not in proc.stderr
