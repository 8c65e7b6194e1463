"""The verifier's child is isolated from the scanned tree and dies with advisor: planted modules in the
current folder never run, the environment and network are not the user's, and SIGTERM or Ctrl-C to
advisor ends the measuring child's whole process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from advisor.verify import runner
from advisor.verify.pairs import load_spec
from tests.conftest import REPO

PAIRS = Path(__file__).parent / "verify_pairs"


def plant(folder: Path, marker: Path) -> None:
    """Modules the child imports by name, each leaving a marker if it is ever run."""
    for name in ("json.py", "numpy.py", "torch.py", "advisor_pair_tiny.py", "sitecustomize.py"):
        (folder / name).write_text(f"open({str(marker)!r}, 'a').write({name!r})\n")


@pytest.mark.needs_torch
def test_modules_planted_in_the_current_folder_do_not_run_in_the_child(tmp_path, monkeypatch):
    evil = tmp_path / "repo"
    evil.mkdir()
    marker = tmp_path / "MARKER"
    plant(evil, marker)
    monkeypatch.chdir(evil)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(evil), str(REPO)]))
    spec = load_spec(PAIRS / "tiny.py", code="TTINY")
    request = {"pair_path": str(spec.path), "code": "TTINY", "device": "cpu", "sizes": {"n": 50}, "tolerance": spec.tolerance,
               "metric": "time", "memory_bytes": 2 * 2**30, "budget_s": 0.1, "threads": 1}
    answer = runner.run_child(request, 60)
    assert answer["status"] in ("measured", "no-significant-gain"), answer
    assert not marker.exists(), marker.read_text()


@pytest.mark.needs_torch
def test_advisor_verify_run_from_a_folder_with_planted_modules_runs_none_of_them(tmp_path):
    evil = tmp_path / "repo"
    evil.mkdir()
    marker = tmp_path / "MARKER"
    plant(evil, marker)
    driver = textwrap.dedent(
        f"""\
        import sys
        sys.path.insert(0, {str(REPO)!r})
        import advisor.verify.command as command
        from advisor.verify.pairs import load_spec
        command.all_pairs = lambda: {{"TTINY": load_spec(__import__("pathlib").Path({str(PAIRS / 'tiny.py')!r}), code="TTINY")}}
        sys.exit(command.run_verify(["TTINY"], "cpu", command.run_options(60, True), "text"))
        """
    )
    # -P: the parent itself must not see the planted modules either (the `advisor` console script does not)
    proc = subprocess.run([sys.executable, "-P", "-c", driver], cwd=evil, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ADVISOR_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not marker.exists(), marker.read_text()


def test_the_child_sys_path_and_environment_hold_nothing_of_the_caller(tmp_path, monkeypatch):
    from advisor.verify import sandbox

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2")
    paths = sandbox.child_sys_path()
    assert paths[0] == sandbox.ADVISOR_ROOT
    assert "" not in paths and str(tmp_path) not in paths
    env = sandbox.child_env(1, str(tmp_path / "home"))
    assert "AWS_SECRET_ACCESS_KEY" not in env and "PYTHONPATH" not in env
    assert env["HOME"] == str(tmp_path / "home") and env["OMP_NUM_THREADS"] == "1"
    cmd = sandbox.child_command("advisor.verify.child")
    assert cmd[1] == "-I"


def _in_child(code: str, isolate: bool) -> str:
    from advisor.verify import sandbox

    with sandbox.private_folder() as home:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", f"import sys; sys.path[:] = {sandbox.child_sys_path()!r}; {code}"],
            cwd=home, env=sandbox.child_env(1, home), capture_output=True, text=True, timeout=60,
            preexec_fn=sandbox.preexec(30, isolate_network=isolate),
        )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_the_child_runs_with_limits_and_without_network_where_the_kernel_allows():
    from advisor.verify import sandbox

    limits = _in_child("import resource as r; print(r.getrlimit(r.RLIMIT_CPU)[0], r.getrlimit(r.RLIMIT_FSIZE)[0], r.getrlimit(r.RLIMIT_NOFILE)[0])", True)
    cpu, fsize, nofile = map(int, limits.split())
    assert cpu == 30 and fsize == sandbox.FILE_SIZE_LIMIT and nofile <= sandbox.OPEN_FILES_LIMIT
    state = _in_child("from advisor.verify.sandbox import network_state; print(network_state())", True)
    if state != "isolated":
        pytest.skip(f"this kernel refuses new network namespaces ({state})")
    probe = "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    print('connected')\nexcept OSError as e:\n    print('refused', e.errno)"
    assert _in_child(probe, True).startswith("refused")


def _group_alive(pgid: int) -> bool:
    """Any process of the group that is not a zombie (a container's init may not reap promptly)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


@pytest.mark.needs_torch
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 128 + signal.SIGINT)])
def test_a_signal_to_advisor_during_verify_kills_the_measuring_child(tmp_path, sig, code):
    driver = textwrap.dedent(
        f"""\
        import sys
        sys.path.insert(0, {str(REPO)!r})
        import advisor.verify.command as command
        from advisor.verify.pairs import load_spec
        command.all_pairs = lambda: {{"THANG": load_spec(__import__("pathlib").Path({str(PAIRS / 'hang.py')!r}), code="THANG")}}
        sys.exit(command.run_verify(["THANG"], "cpu", command.run_options(300, True), "text"))
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", driver], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "ADVISOR_CACHE_DIR": str(tmp_path / "cache")})
    try:
        deadline = time.monotonic() + 60
        children: list[int] = []
        while not children and time.monotonic() < deadline and parent.poll() is None:
            time.sleep(0.2)
            children = _children_of(parent.pid)
        assert children, "the verifier never started its child"
        pgid = os.getpgid(children[0])
        assert pgid != os.getpgid(parent.pid)  # the child has its own group, so the test is meaningful
        time.sleep(1.0)
        parent.send_signal(sig)
        _, err = parent.communicate(timeout=20)
        deadline = time.monotonic() + 5
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        alive = _group_alive(pgid)
        if alive:
            os.killpg(pgid, signal.SIGKILL)
        assert not alive, "the measuring child outlived advisor"
        assert parent.returncode == code, err
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
