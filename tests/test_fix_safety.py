"""`--fix` writes only where it may: not through a symlink out of the scanned tree, not over a read-only
file; and what it writes keeps the owner, group, mode and hard links of the file it fixes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from advisor.config import Config
from advisor.fixer import fix_file
from tests.test_fix import ADV102, ADV102_FIXED


def test_a_symlink_out_of_the_scanned_tree_is_not_written_through(run_cli, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    tree = tmp_path / "tree"
    outside.mkdir()
    tree.mkdir()
    (outside / "victim.py").write_text(ADV102)
    (tree / "link.py").symlink_to(outside / "victim.py")
    (tree / "sub").symlink_to(outside, target_is_directory=True)
    (tree / "own.py").write_text(ADV102)
    proc = run_cli("scan", "tree", "--fix", cwd=tmp_path)
    assert (outside / "victim.py").read_text() == ADV102
    assert (tree / "own.py").read_text() == ADV102_FIXED  # the rest is still fixed
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert errors and all("outside the scanned tree" in line for line in errors), proc.stderr
    assert (tree / "link.py").is_symlink()


def test_a_symlink_inside_the_tree_is_still_fixed_through(tmp_path: Path) -> None:
    (tmp_path / "real.py").write_text(ADV102)
    (tmp_path / "link.py").symlink_to(tmp_path / "real.py")
    result = fix_file(tmp_path / "link.py", Config(), roots=(tmp_path,))
    assert result.error is None and (tmp_path / "real.py").read_text() == ADV102_FIXED


def test_a_read_only_file_is_skipped_with_a_per_file_error(run_cli, tmp_path: Path) -> None:
    (tmp_path / "ro.py").write_text(ADV102)
    (tmp_path / "rw.py").write_text(ADV102)
    (tmp_path / "ro.py").chmod(0o444)
    proc = run_cli("scan", ".", "--fix")
    assert (tmp_path / "ro.py").read_text() == ADV102
    assert stat.S_IMODE((tmp_path / "ro.py").stat().st_mode) == 0o444
    assert (tmp_path / "rw.py").read_text() == ADV102_FIXED
    assert proc.returncode == 2
    assert [line for line in proc.stderr.splitlines() if "error:" in line] == [
        "ro.py: error: is read-only — nothing was written; make it writable to fix it"
    ]


def test_hard_links_are_kept_and_every_name_sees_the_fix(tmp_path: Path) -> None:
    first = tmp_path / "a.py"
    first.write_text(ADV102)
    second = tmp_path / "b.py"
    os.link(first, second)
    inode = first.stat().st_ino
    result = fix_file(first, Config())
    assert result.error is None and result.changed
    assert first.stat().st_ino == inode and first.stat().st_nlink == 2
    assert second.read_text() == ADV102_FIXED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "b.py"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing a file's owner needs root")
def test_owner_and_group_are_kept_when_fixing_as_root(tmp_path: Path) -> None:
    target = tmp_path / "theirs.py"
    target.write_text(ADV102)
    os.chown(target, 4321, 4322)
    target.chmod(0o640)
    assert fix_file(target, Config()).error is None
    info = target.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (4321, 4322, 0o640)
    assert target.read_text() == ADV102_FIXED


def test_a_file_changed_since_it_was_read_is_not_overwritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import advisor.fixer as fixer

    target = tmp_path / "code.py"
    target.write_text(ADV102)
    real_apply = fixer.apply_edits

    def edit_meanwhile(text, fixes):  # another process saves the file while we compute the fix
        target.write_text(ADV102 + "# edited\n")
        return real_apply(text, fixes)

    monkeypatch.setattr(fixer, "apply_edits", edit_meanwhile)
    result = fix_file(target, Config())
    assert result.error is not None and "changed on disk" in result.error.message
    assert target.read_text() == ADV102 + "# edited\n"


def test_a_failed_in_place_write_puts_the_original_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = tmp_path / "a.py"
    first.write_text(ADV102)
    os.link(first, tmp_path / "b.py")

    def no_space(*_a):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    result = fix_file(first, Config())
    assert result.error is not None and "No space left" in result.error.message
    assert first.read_text() == ADV102 and (tmp_path / "b.py").read_text() == ADV102
