"""The scan's content-hash cache: an unchanged file is served from it with identical findings, and any
change that could alter the findings (bytes, rules, options, the analyser itself) misses."""

from __future__ import annotations

from pathlib import Path

import pytest

import advisor.engine as engine
from advisor.config import Config
from advisor.scan_cache import ScanCache

MATMUL = "def mm(A, B):\n    return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n"
ADV102 = "import torch\n\n\ndef forward(x):\n    for _ in range(3):\n        h = torch.zeros(4).to(x.device)\n    return h\n"


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    (tmp_path / "a.py").write_text(MATMUL)
    (tmp_path / "b.py").write_text(ADV102)
    (tmp_path / "broken.py").write_text("def f(:\n")
    return [tmp_path / "a.py", tmp_path / "b.py", tmp_path / "broken.py"]


def _dicts(result):  # type: ignore[no-untyped-def]
    return [f.to_dict() for f in result.findings], [e.to_dict() for e in result.errors], result.lines_scanned


def _count_analyses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    real = engine._analyse_file

    def counting(path, *args):  # type: ignore[no-untyped-def]
        calls.append(path)
        return real(path, *args)

    monkeypatch.setattr(engine, "_analyse_file", counting)
    return calls


def test_hit_returns_the_same_result_without_analysing(files, tmp_path, monkeypatch) -> None:
    cache = ScanCache(tmp_path / "cache")
    cold = engine.scan(files, Config(), jobs=1, cache=cache)
    calls = _count_analyses(monkeypatch)
    warm = engine.scan(files, Config(), jobs=1, cache=cache)
    assert calls == []
    assert _dicts(warm) == _dicts(cold) == _dicts(engine.scan(files, Config(), jobs=1))
    assert any(f.fix is not None for f in warm.findings) and warm.errors  # fixes and errors survive the round trip


def test_changes_that_matter_miss(files, tmp_path, monkeypatch) -> None:
    cache = ScanCache(tmp_path / "cache")
    engine.scan(files, Config(), jobs=1, cache=cache)
    calls = _count_analyses(monkeypatch)
    files[0].write_text(MATMUL + "\n# edited\n")
    engine.scan(files, Config(), jobs=1, cache=cache)
    assert calls == [files[0]]
    calls.clear()
    engine.scan(files, Config(select=["ADV401"]), jobs=1, cache=cache)
    assert len(calls) == 3  # another rule selection
    calls.clear()
    engine.scan(files, Config(options={"ADV103": {"assume-accelerator": True}}), jobs=1, cache=cache)
    assert len(calls) == 3  # other rule options


def test_corrupt_entry_is_a_miss(files, tmp_path) -> None:
    cache = ScanCache(tmp_path / "cache")
    cold = engine.scan(files, Config(), jobs=1, cache=cache)
    for entry in (tmp_path / "cache").rglob("*.json"):
        entry.write_text("{not json")
    assert _dicts(engine.scan(files, Config(), jobs=1, cache=cache)) == _dicts(cold)


def test_cli_uses_the_cache_and_no_cache_bypasses_it(run_cli, tmp_path) -> None:
    (tmp_path / "a.py").write_text(MATMUL)
    cache = tmp_path / "c"
    first = run_cli("scan", "a.py", env={"ADVISOR_CACHE_DIR": str(cache)})
    entries = list((cache / "scan").rglob("*.json"))
    assert len(entries) == 1
    entries[0].write_text(entries[0].read_text().replace("Replace this Python-loop", "CACHED"))
    assert "CACHED" in run_cli("scan", "a.py", env={"ADVISOR_CACHE_DIR": str(cache)}).stdout
    fresh = run_cli("scan", "a.py", "--no-cache", env={"ADVISOR_CACHE_DIR": str(cache)})
    assert fresh.stdout == first.stdout and "CACHED" not in fresh.stdout
