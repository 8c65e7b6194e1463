"""Autofix: each rule's `advNNN/fix_*.in.py` case is fixed to exactly its `.out.py`, fixing twice changes
nothing, a re-scan no longer reports what was fixed, and no path can lose or mangle a file."""

from __future__ import annotations

import os
import stat
from collections import Counter
from pathlib import Path

import pytest

from advisor.config import Config
from advisor.engine import analyse_text
from advisor.fixer import fix_file
from advisor.fixtures_index import fix_case, fix_cases

CASES = fix_cases()
PAIRS = [path for _, path in CASES]


def _mode(path: Path) -> bool:
    """The first line says which flag the pair is for: `# fix: safe` or `# fix: unsafe`."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first in ("# fix: safe", "# fix: unsafe"), path.name
    return first.endswith("unsafe")


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p.parent.name}_{p.name[len('fix_') : -len('.in.py')]}")
def test_fix_pair(pair: Path, tmp_path: Path) -> None:
    unsafe = _mode(pair)
    expected = pair.with_name(pair.name.replace(".in.py", ".out.py")).read_text(encoding="utf-8")
    target = tmp_path / "code.py"
    target.write_text(pair.read_text(encoding="utf-8"), encoding="utf-8")
    before_codes = {f.code for f in analyse_text(target.read_text(), "code.py") if f.fix and (f.fix.safe or unsafe)}

    first = fix_file(target, Config(), unsafe=unsafe)
    assert first.error is None
    assert target.read_text(encoding="utf-8") == expected
    assert first.changed == (expected != pair.read_text(encoding="utf-8"))

    second = fix_file(target, Config(), unsafe=unsafe)
    assert not second.changed and second.diff == "" and target.read_text(encoding="utf-8") == expected

    left = [f for f in analyse_text(expected, "code.py") if f.fix and (f.fix.safe or unsafe)]
    assert left == [], f"still fixable after the fix: {[(f.code, f.line) for f in left]}"
    if first.changed:
        assert before_codes and {f.code for f in first.fixed} == before_codes
    # a re-scan no longer reports what was fixed, and still reports everything else
    before_all = Counter(f.code for f in analyse_text(pair.read_text(encoding="utf-8"), "code.py"))
    after_all = Counter(f.code for f in analyse_text(expected, "code.py"))
    assert after_all == before_all - Counter(f.code for f in first.fixed)


def test_every_fixing_rule_has_a_pair() -> None:
    from advisor.rule import all_rules

    covered = {code for code, _ in CASES}
    for rule in all_rules():
        if rule.fix_safe is not None:
            assert rule.code in covered, f"{rule.code} declares a fix but has no {rule.code.lower()}/fix_*.in.py case"
            assert rule.fix_title


def test_fix_declarations() -> None:
    from advisor.rule import rules_by_code

    rules = rules_by_code()
    assert rules["ADV101"].fix_safe is True and rules["ADV102"].fix_safe is True
    assert rules["ADV401"].fix_safe is False
    assert rules["ADV204"].fix_safe is True and rules["ADV301"].fix_safe is False


def test_unsafe_fix_is_flagged_unsafe_in_findings() -> None:
    text, _ = fix_case("ADV401", "comprehensions")
    findings = [f for f in analyse_text(text, "m.py") if f.code == "ADV401"]
    assert findings and all(f.fix is not None and not f.fix.safe for f in findings)


def test_adv401_fix_gives_the_same_numbers(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    src, fixed = fix_case("ADV401", "comprehensions")
    before: dict = {}
    after: dict = {}
    exec(compile(src, "before", "exec"), before)
    exec(compile(fixed, "after", "exec"), after)
    rng = np.random.default_rng(0)
    a, b = rng.random((5, 7)).tolist(), rng.random((7, 3)).tolist()
    bt = np.transpose(b).tolist()
    assert np.allclose(before["matmul"](a, b), after["matmul"](a, b))
    assert np.allclose(before["matmul_t"](a, bt), after["matmul_t"](a, bt))
    assert np.allclose(before["matmul_index"](a, b), after["matmul_index"](a, b))


def test_adv401_loop_nest_fix_gives_the_same_numbers() -> None:
    np = pytest.importorskip("numpy")
    before: dict = {}
    after: dict = {}
    src, fixed = fix_case("ADV401", "loop_nest")
    exec(compile(src, "before", "exec"), before)
    exec(compile(fixed, "after", "exec"), after)
    rng = np.random.default_rng(1)
    a, b = rng.random((4, 6)), rng.random((6, 5))
    assert np.allclose(before["matmul_lists"](a.tolist(), b.tolist()), after["matmul_lists"](a.tolist(), b.tolist()))
    assert np.allclose(before["matmul_array"](a, b), after["matmul_array"](a, b))


# ----------------------------------------------------------------------------- never lose data
ADV102 = "import torch\n\n\ndef forward(x):\n    for _ in range(3):\n        h = torch.zeros(4).to(x.device)\n    return h\n"
ADV102_FIXED = "import torch\n\n\ndef forward(x):\n    for _ in range(3):\n        h = torch.zeros(4, device=x.device)\n    return h\n"


def test_crlf_line_endings_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "crlf.py"
    target.write_bytes(ADV102.replace("\n", "\r\n").encode())
    assert fix_file(target, Config()).changed
    assert target.read_bytes() == ADV102_FIXED.replace("\n", "\r\n").encode()


def test_crlf_hoist_inserts_crlf(tmp_path: Path) -> None:
    src, out = fix_case("ADV101", "hoist_model")
    target = tmp_path / "crlf.py"
    target.write_bytes(src.replace("\n", "\r\n").encode())
    fix_file(target, Config())
    assert target.read_bytes() == out.replace("\n", "\r\n").encode()


def test_bom_and_declared_encoding_are_kept(tmp_path: Path) -> None:
    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbf# caf\xc3\xa9\n" + ADV102.encode())
    fix_file(bom, Config())
    assert bom.read_bytes() == b"\xef\xbb\xbf# caf\xc3\xa9\n" + ADV102_FIXED.encode()
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + ADV102.encode())
    fix_file(latin, Config())
    assert latin.read_bytes() == b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + ADV102_FIXED.encode()


def test_file_mode_is_kept_and_no_temp_file_is_left(tmp_path: Path) -> None:
    target = tmp_path / "script.py"
    target.write_text(ADV102)
    target.chmod(0o750)
    fix_file(target, Config())
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    assert target.read_text() == ADV102_FIXED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["script.py"]


def test_symlink_is_followed_not_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real.py"
    real.write_text(ADV102)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    fix_file(link, Config())
    assert link.is_symlink() and real.read_text() == ADV102_FIXED


def test_fix_that_does_not_parse_is_discarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import advisor.fixer as fixer

    monkeypatch.setattr(fixer, "apply_edits", lambda text, fixes: (text + "def broken(:\n", list(fixes)))
    target = tmp_path / "code.py"
    target.write_text(ADV102)
    result = fix_file(target, Config())
    assert result.error is not None and "does not parse" in result.error.message and "nothing was written" in result.error.message
    assert target.read_text() == ADV102


def test_failed_write_leaves_the_original(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    target = tmp_path / "code.py"
    target.write_text(ADV102)
    result = fix_file(target, Config())
    assert result.error is not None and "No space left" in result.error.message
    assert target.read_text() == ADV102
    assert sorted(p.name for p in tmp_path.iterdir()) == ["code.py"]


def test_diff_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "code.py"
    target.write_text(ADV102)
    result = fix_file(target, Config(), write=False)
    assert target.read_text() == ADV102
    assert "-        h = torch.zeros(4).to(x.device)\n+        h = torch.zeros(4, device=x.device)\n" in result.diff


def test_suppressed_finding_is_not_fixed(tmp_path: Path) -> None:
    target = tmp_path / "code.py"
    text = ADV102.replace("to(x.device)\n", "to(x.device)  # advisor: ignore[ADV102]\n")
    target.write_text(text)
    assert not fix_file(target, Config()).changed
    assert target.read_text() == text


def test_only_the_changed_node_moves(tmp_path: Path) -> None:
    """Odd formatting, comments and quoting elsewhere in the file survive byte for byte."""
    text = (
        "import torch   # torch\n\n\nX = {'a' :1}\n\n\n"
        "def forward(x):\n    for _ in range(3):\n"
        "        h = torch.zeros( 4 ,  2 ).to(x.device)   # keep this comment\n"
        "        y   =   ( h +1 )\n    return y\n"
    )
    target = tmp_path / "code.py"
    target.write_text(text)
    fix_file(target, Config())
    assert target.read_text() == text.replace("torch.zeros( 4 ,  2 ).to(x.device)", "torch.zeros( 4 ,  2, device=x.device )")


# ----------------------------------------------------------------------------- the command line
def test_cli_fix_diff_and_unsafe(run_cli, tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(ADV102)
    mm = "def mm(A, B):\n    return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n"
    (tmp_path / "b.py").write_text(mm)

    diff = run_cli("scan", ".", "--diff")
    assert diff.returncode == 1 and "+        h = torch.zeros(4, device=x.device)" in diff.stdout
    assert "numpy" not in diff.stdout  # unsafe fixes only with --unsafe-fixes
    assert (tmp_path / "a.py").read_text() == ADV102

    fixed = run_cli("scan", ".", "--fix")
    assert fixed.returncode == 1, fixed.stderr  # ADV401 is left: its fix is unsafe
    assert "Fixed 1 finding in 1 file." in fixed.stderr
    assert "ADV102" not in fixed.stdout and "b.py:2:12: ADV401" in fixed.stdout
    assert (tmp_path / "a.py").read_text() == ADV102_FIXED

    unsafe_diff = run_cli("scan", "b.py", "--diff", "--unsafe-fixes")
    assert unsafe_diff.returncode == 1 and "+import numpy as np" in unsafe_diff.stdout
    assert (tmp_path / "b.py").read_text() == mm

    unsafe = run_cli("scan", ".", "--unsafe-fixes")
    assert unsafe.returncode == 0, unsafe.stdout + unsafe.stderr
    assert (tmp_path / "b.py").read_text() == "import numpy as np\ndef mm(A, B):\n    return np.matmul(A, B)\n"
    assert run_cli("scan", ".", "--diff", "--unsafe-fixes").returncode == 0


def test_cli_fix_reports_a_broken_file_once(run_cli, tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    proc = run_cli("scan", "broken.py", "--fix")
    assert proc.returncode == 2
    assert [line for line in proc.stderr.splitlines() if "error:" in line] == [
        "broken.py: error: syntax error at line 1, column 7: invalid syntax — fix the syntax; advisor analyses only code that parses"
    ]


def test_force_exclude_applies_to_files_named_explicitly(run_cli, tmp_path: Path) -> None:
    """pre-commit names every staged file; excludes and the default build folders must still hold."""
    for rel in ("generated/mm.py", "build/mm.py", "src/mm.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("def mm(A, B):\n    return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n")
    files = ("generated/mm.py", "build/mm.py", "src/mm.py")
    plain = run_cli("scan", "-q", "--exclude", "generated", *files)
    assert sorted(line.split(":")[0] for line in plain.stdout.splitlines()) == sorted(files)
    forced = run_cli("scan", "-q", "--exclude", "generated", "--force-exclude", *files)
    assert [line.split(":")[0] for line in forced.stdout.splitlines()] == ["src/mm.py"]


def test_a_broken_fix_costs_the_fix_not_the_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    import advisor.engine as engine
    from advisor.fixes import guarded

    from advisor.fixes import DEBUG

    def explode(*_: object) -> None:
        raise RuntimeError("bug in a fix")

    monkeypatch.setattr(engine, "plan_edits", explode)
    [finding] = [f for f in analyse_text(ADV102, "a.py") if f.code == "ADV102"]
    assert finding.fix is None and finding.line == 6
    assert guarded(explode)() is None
    with pytest.raises(RuntimeError):
        analyse_text(ADV102, "a.py", config=Config(debug=True))
    token = DEBUG.set(True)
    try:
        with pytest.raises(RuntimeError):
            guarded(explode)()
    finally:
        DEBUG.reset(token)


def test_a_rule_bug_during_fix_is_one_file_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--fix` runs the same guard as the scan: the broken file is left alone and reported, the others are fixed."""
    import advisor.engine as engine

    broken, fine = tmp_path / "broken.py", tmp_path / "fine.py"
    broken.write_text(ADV102 + "# break here\n")
    fine.write_text(ADV102)
    real = engine.build_context

    def sometimes(module, text, path):  # type: ignore[no-untyped-def]
        if "break here" in text:
            raise ValueError("rule bug")
        return real(module, text, path)

    monkeypatch.setattr(engine, "build_context", sometimes)
    bad = fix_file(broken, Config())
    assert bad.error is not None and "internal error while fixing" in bad.error.message and "rule bug" in bad.error.message
    assert not bad.changed and broken.read_text() == ADV102 + "# break here\n"
    good = fix_file(fine, Config())
    assert good.error is None and fine.read_text() == ADV102_FIXED
    with pytest.raises(ValueError):
        fix_file(broken, Config(debug=True))


def test_finding_carries_the_diff_of_its_own_fix(tmp_path: Path) -> None:
    from advisor.engine import SourceUnit, analyse_unit
    from advisor.excerpt import fix_diff
    from advisor.rule import all_rules

    target = tmp_path / "code.py"
    target.write_text(ADV102)
    [finding] = analyse_unit(SourceUnit(str(target), ADV102), list(all_rules()))
    assert finding.fix is not None
    assert "-        h = torch.zeros(4).to(x.device)\n+        h = torch.zeros(4, device=x.device)\n" in finding.fix.diff
    assert target.read_text() == ADV102  # nothing written
    assert fix_diff("x = 1\n", finding.fix, "code.py") == ""  # text changed since the scan: no wrong diff
