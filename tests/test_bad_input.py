"""Bad input never crashes a run: one clear line per file, the rest still scanned, exit code 2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MATMUL = "def mm(A, B):\n    return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "good.py").write_text(MATMUL)
    return tmp_path


def _check(run_cli, tree: Path, target: str, expect: str) -> None:
    proc = run_cli("scan", "good.py", target, cwd=tree)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"{target}: error: ") and expect in errors[0] and " — " in errors[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "good.py:2:12: ADV401" in proc.stdout  # the good file is still scanned


def test_syntax_error(run_cli, tree):
    (tree / "broken.py").write_text("def f(:\n    pass\n")
    _check(run_cli, tree, "broken.py", "syntax error at line 1")


def test_undecodable_bytes(run_cli, tree):
    (tree / "latin.py").write_bytes(b"x = '\xff\xfe caf\xe9'\n")
    _check(run_cli, tree, "latin.py", "cannot decode as utf-8")


def test_nul_byte(run_cli, tree):
    (tree / "nul.py").write_bytes(b"x = 1\x00\n")
    _check(run_cli, tree, "nul.py", "NUL byte")


def test_missing_path(run_cli, tree):
    _check(run_cli, tree, "nope.py", "no such file or directory")


def test_directory_named_like_a_python_file_is_scanned_as_a_folder(run_cli, tree):
    # `llama2.py/` is a project folder, not a broken file: its files are scanned, as Ruff does
    (tree / "llama2.py").mkdir()
    (tree / "llama2.py" / "run.py").write_text(MATMUL)
    proc = run_cli("scan", "llama2.py", cwd=tree)
    assert proc.returncode == 1, proc.stderr
    assert "run.py:2:12: ADV401" in proc.stdout and not proc.stderr.strip()


def test_directory_named_like_a_python_file_found_while_walking(run_cli, tree):
    (tree / "sub" / "odd.py").mkdir(parents=True)
    (tree / "sub" / "odd.py" / "inner.py").write_text(MATMUL)
    (tree / "sub" / "empty.ipynb").mkdir()
    proc = run_cli("scan", ".", cwd=tree)
    assert proc.returncode == 1, proc.stderr
    assert "inner.py:2:12: ADV401" in proc.stdout and "good.py:2:12: ADV401" in proc.stdout
    assert "error" not in proc.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(run_cli, tree):
    secret = tree / "secret.py"
    secret.write_text("x = 1\n")
    secret.chmod(0)
    _check(run_cli, tree, "secret.py", "permission denied")


def test_unreadable_file_as_root(tree, monkeypatch):
    # root bypasses file modes, so simulate the failure where it happens: the read itself
    from advisor.engine import scan_file
    from advisor.config import Config

    target = tree / "secret.py"
    target.write_text("x = 1\n")
    real = os.open

    def deny(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.fspath(path).endswith("secret.py"):
            raise PermissionError(13, "Permission denied")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    findings, error, _ = scan_file(target, ["ADV401"], Config())
    assert findings == [] and error is not None
    assert "permission denied" in error.message and " — " in error.message


def test_empty_file_is_valid_python(run_cli, tree):
    # An empty module (every package's __init__.py) is valid Python: it scans clean, it is not an error.
    (tree / "__init__.py").write_text("")
    proc = run_cli("scan", "__init__.py", cwd=tree)
    assert proc.returncode == 0 and proc.stderr == ""


def test_encoding_cookie_and_bom_and_crlf(run_cli, tree):
    (tree / "latin1.py").write_bytes(b"# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n" + MATMUL.encode())
    (tree / "bom.py").write_bytes(b"\xef\xbb\xbf" + MATMUL.encode())
    (tree / "crlf.py").write_bytes(MATMUL.replace("\n", "\r\n").encode())
    proc = run_cli("scan", "latin1.py", "bom.py", "crlf.py", "-q", cwd=tree)
    assert proc.returncode == 1, proc.stderr
    assert sorted(proc.stdout.splitlines()) == [
        "bom.py:2:12: ADV401 " + proc.stdout.splitlines()[0].split(" ", 2)[2],
        "crlf.py:2:12: ADV401 " + proc.stdout.splitlines()[0].split(" ", 2)[2],
        "latin1.py:4:12: ADV401 " + proc.stdout.splitlines()[0].split(" ", 2)[2],
    ]


def test_internal_error_is_reported_not_raised(tree, monkeypatch):
    from advisor import engine
    from advisor.config import Config

    def boom(*args, **kwargs):
        raise ValueError("rule bug")

    monkeypatch.setattr(engine, "build_context", boom)
    findings, error, _ = engine.scan_file(tree / "good.py", ["ADV401"], Config())
    assert error is not None and "internal error" in error.message and "rule bug" in error.message
