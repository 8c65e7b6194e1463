"""The one cache-folder helper and the one atomic writer that the scan cache, the verify cache and the
fixer share."""

from __future__ import annotations

import os
import stat
import threading


import pytest

from advisor import storage


def test_cache_folders_share_one_root(monkeypatch, tmp_path):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path))
    from advisor.scan_cache import default_dir
    from advisor.verify.cache import cache_dir

    assert default_dir() == tmp_path / "scan" and cache_dir() == tmp_path / "verify"
    monkeypatch.delenv("ADVISOR_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert storage.cache_folder("verify") == tmp_path / "xdg" / "advisor" / "verify"


def test_atomic_write_keeps_mode_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "f.py"
    target.write_text("old")
    os.chmod(target, 0o640)
    storage.atomic_write(target, b"new", durable=True)
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.py"]


def test_atomic_write_through_a_link_replaces_the_real_file(tmp_path):
    real = tmp_path / "real.py"
    real.write_text("old")
    link = tmp_path / "link.py"
    link.symlink_to(real)
    storage.atomic_write(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_a_failed_write_leaves_the_target_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    target.write_text("old")

    def boom(*_a: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        storage.atomic_write(target, b"new")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


def test_concurrent_writers_never_share_a_temporary(tmp_path):
    """Two verify runs storing the same key used to race on one fixed `.tmp` name."""
    target = tmp_path / "entry.json"
    errors: list[BaseException] = []

    def write(payload: bytes) -> None:
        try:
            for _ in range(200):
                storage.atomic_write(target, payload)
        except BaseException as exc:  # pragma: no cover - the failure this test looks for
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(bytes([65 + i]) * 4096,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    data = target.read_bytes()
    assert len(data) == 4096 and len(set(data)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["entry.json"]
