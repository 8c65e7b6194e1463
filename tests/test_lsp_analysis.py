"""The language server's protocol-free parts: buffer analysis, located errors, the ignore edit, config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from advisor.config import Config, ConfigError
from advisor.fixes import apply_edits
from advisor.lsp_analysis import ConfigCache, analyse_cells, analyse_python, ignore_edit, offset_to_position
from advisor.suppress import is_suppressed, suppressions
from advisor.types import Fix

DEMO = (Path(__file__).resolve().parent.parent / "fixtures" / "demo" / "train.py").read_text()

REPO = Path(__file__).resolve().parent.parent
DP = "import torch\nfrom torch import nn\nmodel = nn.DataParallel(nn.Linear(2, 2))\n"


def _apply(text: str, line: int, code: str) -> str:
    edit = ignore_edit(text, line, code)
    assert edit is not None
    return apply_edits(text, [Fix("ignore", True, (edit,))])[0]


def test_ignore_edit_appends_a_comment_that_the_scanner_honours():
    fixed = _apply(DP, 3, "ADV501")
    assert fixed.splitlines()[2] == "model = nn.DataParallel(nn.Linear(2, 2))  # advisor: ignore[ADV501]"
    assert is_suppressed("ADV501", (3,), suppressions(fixed))
    assert analyse_python(fixed, None, Config()).findings == ()


def test_ignore_edit_extends_an_existing_ignore_list_instead_of_adding_a_second_comment():
    text = DP.replace("2))\n", "2))  # advisor: ignore[ADV101]\n")
    fixed = _apply(text, 3, "ADV501")
    assert fixed.splitlines()[2].endswith("# advisor: ignore[ADV101, ADV501]")
    assert is_suppressed("ADV501", (3,), suppressions(fixed)) and is_suppressed("ADV101", (3,), suppressions(fixed))


def test_ignore_edit_keeps_crlf_line_endings():
    fixed = _apply(DP.replace("\n", "\r\n"), 3, "ADV501")
    assert fixed.split("\r\n")[2].endswith("# advisor: ignore[ADV501]") and "\r\n" in fixed


@pytest.mark.parametrize(
    "text,line",
    [
        ('x = """first\nsecond"""\n', 1),  # a comment here would land inside the string
        ("x = 1 + \\\n    2\n", 1),  # after a backslash continuation
        ("x = 1\n", 5),  # no such line
    ],
)
def test_ignore_edit_refuses_where_a_comment_would_change_the_code(text, line):
    assert ignore_edit(text, line, "ADV501") is None


def test_syntax_error_is_a_located_problem_not_an_exception():
    analysis = analyse_python("import torch\n\ndef f(:\n    pass\n", None, Config())
    assert analysis.findings == () and analysis.problem is not None
    assert (analysis.problem.line, analysis.problem.cell) == (2, None)


def test_notebook_cells_are_analysed_with_cell_indexes_and_cell_problems_located():
    cells = [(False, "# title"), (True, "import torch\nfrom torch import nn\n"), (True, "%time x = 1\nm = nn.DataParallel(m)\n")]
    found = analyse_cells(cells, None, Config()).findings
    assert [(f.code, f.cell, f.line) for f in found] == [("ADV501", 2, 2)]
    broken = analyse_cells([(True, "import torch\n"), (True, "x = (\n")], None, Config())
    assert broken.problem is not None and broken.problem.cell == 1


def test_the_same_finding_in_two_cells_at_the_same_cell_line_is_reported_in_both():
    cells = [(True, "from torch import nn\n"), (True, "m = nn.DataParallel(m)\n"), (True, "m = nn.DataParallel(m)\n")]
    found = analyse_cells(cells, None, Config()).findings
    assert [(f.code, f.cell, f.line) for f in found] == [("ADV501", 1, 1), ("ADV501", 2, 1)]


def test_offsets_map_to_lines_for_every_line_break_style():
    text = "a\r\nbc\rd\ne"
    assert [offset_to_position(text, i) for i in (0, 3, 4, 6, 8)] == [(0, 0), (1, 0), (1, 1), (2, 0), (3, 0)]


def test_config_comes_from_the_nearest_pyproject_and_is_reread_when_it_changes(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.advisor]\nignore = ["ADV501"]\n')
    (tmp_path / "pkg").mkdir()
    target = tmp_path / "pkg" / "m.py"
    cache = ConfigCache()
    assert analyse_python(DP, target, cache.config_for(target, None)).findings == ()
    import os

    (tmp_path / "pyproject.toml").write_text('[tool.advisor]\nignore = ["ADV1"]\n')
    os.utime(tmp_path / "pyproject.toml", (1, 1))  # a different modification time, whatever the clock's resolution
    assert [f.code for f in analyse_python(DP, target, cache.config_for(target, None)).findings] == ["ADV501"]
    (tmp_path / "pyproject.toml").write_text('[tool.advisor]\nbogus = 1\n')
    os.utime(tmp_path / "pyproject.toml", (2, 2))
    with pytest.raises(ConfigError):
        cache.config_for(target, None)


def test_excluded_files_get_no_findings(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.advisor]\nexclude = ["gen/**"]\n')
    target = tmp_path / "gen" / "m.py"
    analysis = analyse_python(DP, target, ConfigCache().config_for(target, None))
    assert analysis.findings == () and "excluded" in analysis.skipped


def test_server_command_without_pygls_says_how_to_install_it(tmp_path):
    probe = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('pygls', 'lsprotocol'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from advisor.cli import main\n"
        "main(['server'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert "pip install 'advisor[lsp]'" in proc.stderr and "Traceback" not in proc.stderr


def test_collector_is_paused_during_an_analysis_and_its_cycles_are_collected_after() -> None:
    """The server pauses Python's cycle collector while it analyses (its passes over the open trees
    were the slow keystrokes) and collects what the analysis left only after publishing: turning it
    back on earlier would run the pass before the diagnostics are out."""
    import gc
    import weakref

    from advisor.lsp_analysis import pause_collector, settle_after_analysis

    class Node:
        itself: object = None

    assert gc.isenabled()
    try:
        pause_collector()
        node = Node()
        node.itself = node  # a cycle only the collector frees
        alive = weakref.ref(node)
        del node
        found = analyse_python(DEMO, None, Config())  # allocates plenty: nothing is collected meanwhile
        assert found.findings and not gc.isenabled()
        assert alive() is not None
        settle_after_analysis()
        assert gc.isenabled()
        assert alive() is None
        assert gc.get_freeze_count() > 0
    finally:
        gc.enable()
        gc.unfreeze()
