"""The project pre-pass: which scanned file an import names, which files it parses, and what it hands on."""

from __future__ import annotations

from pathlib import Path

from advisor.config import Config
from advisor.engine import scan
from advisor.project import Modules, project_facts

LOOP = """
import torch
{imports}

for x, y in loader:
    x = {call}
    loss = model(x).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"""
HELPER = """
import torch


def helper(x):
    return x + torch.randn(x.shape).cuda()
"""


def _write(root: Path, files: dict[str, str]) -> list[Path]:
    out = []
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        out.append(path)
    return sorted(out)


def test_an_import_resolves_only_to_a_file_python_could_find_from_the_importer(tmp_path: Path) -> None:
    files = _write(tmp_path, {"a/train.py": "", "a/utils.py": "", "b/utils.py": "", "b/lib/data.py": "", "a/pkg/__init__.py": "", "a/pkg/io.py": ""})
    modules = Modules(files)
    train = tmp_path / "a/train.py"
    assert modules.resolve("utils.helper", train) == (tmp_path / "a/utils.py", ("helper",))
    assert modules.resolve("lib.data.load", train) is None  # b/lib is not above a/train.py
    assert modules.resolve("pkg.io.read", train) == (tmp_path / "a/pkg/io.py", ("read",))
    assert modules.resolve("torch.nn.Linear", train) is None
    assert modules.resolve_relative(1, "io", tmp_path / "a/pkg/__init__.py") == tmp_path / "a/pkg/io.py"
    imported = modules.imported_by_text("from pkg import io\nimport utils as u\n", train)
    assert imported == {tmp_path / "a/pkg/__init__.py", tmp_path / "a/pkg/io.py", tmp_path / "a/utils.py"}  # a package runs its __init__


def test_a_helper_called_every_step_from_another_module_is_reported_there_naming_the_loop(tmp_path: Path) -> None:
    files = _write(tmp_path, {"train.py": LOOP.format(imports="from helpers import helper", call="helper(x)"), "helpers.py": HELPER})
    result = scan(files, Config(), jobs=1)
    [finding] = [f for f in result.findings if f.code == "ADV102"]
    assert finding.path.endswith("helpers.py") and finding.line == 6
    assert finding.message.endswith(f"(called every step from {tmp_path / 'train.py'}:5)")
    alone = scan([tmp_path / "helpers.py"], Config(), jobs=1)
    assert not [f for f in alone.findings if f.code == "ADV102"]


def test_a_shadowed_or_once_called_helper_says_nothing(tmp_path: Path) -> None:
    shadowed = LOOP.format(imports="from helpers import helper\n\n\ndef helper(x):\n    return x", call="helper(x)")
    files = _write(tmp_path, {"train.py": shadowed, "helpers.py": HELPER})
    assert project_facts(files, Config()) == {}
    once = "from helpers import helper\nx = helper(data)\n"
    files = _write(tmp_path, {"train.py": once, "helpers.py": HELPER})
    assert project_facts(files, Config()) == {}


def test_a_one_file_scan_and_files_without_imports_of_the_scan_are_not_parsed(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import advisor.project as project

    parsed: list[Path] = []
    real = project.summarise
    monkeypatch.setattr(project, "summarise", lambda path, *a: parsed.append(path) or real(path, *a))
    files = _write(tmp_path, {"train.py": LOOP.format(imports="from helpers import helper", call="helper(x)"), "helpers.py": HELPER, "other.py": LOOP.format(imports="", call="x")})
    project_facts([tmp_path / "train.py"], Config())
    assert parsed == []
    facts = project_facts(files, Config())
    assert parsed == [tmp_path / "train.py"]  # helpers.py imports nothing of the scan, other.py imports nothing at all
    assert list(facts) == [tmp_path / "helpers.py"]


def test_a_broken_file_in_the_pre_pass_is_left_to_its_own_scan(tmp_path: Path) -> None:
    files = _write(tmp_path, {"train.py": "from helpers import helper\nfor x in loader:\n    loss.backward(\n", "helpers.py": HELPER})
    result = scan(files, Config(), jobs=1)
    assert [e.path for e in result.errors] == [str(tmp_path / "train.py")]
