"""Jupyter notebooks: code cells scanned as one module with exact cell/line/column positions, IPython
syntax skipped without shifting lines, malformed files reported once, and fixes that touch nothing but
the fixed cells' source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.config import Config
from advisor.engine import analyse_unit, load_unit
from advisor.fixer import fix_file
from advisor.notebook import python_lines
from advisor.rule import all_rules

_IDS = iter(range(10**6))
MATMUL = "def mm(A, B):\n    return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n"


def code(source: str, outputs: list | None = None, count: int | None = 1) -> dict:
    return {"cell_type": "code", "id": f"c{next(_IDS)}", "execution_count": count, "metadata": {"tags": ["x"]}, "outputs": outputs or [],
            "source": source.splitlines(keepends=True)}


def markdown(source: str) -> dict:
    return {"cell_type": "markdown", "id": f"m{next(_IDS)}", "metadata": {}, "source": source.splitlines(keepends=True)}


def notebook(*cells: dict) -> dict:
    return {"cells": list(cells), "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def dump(nb: dict) -> str:
    """The layout Jupyter writes: indent 1, non-ASCII kept, trailing newline."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


OUTPUT = [{"name": "stdout", "output_type": "stream", "text": ["café 1.0\n"]},
          {"data": {"image/png": "iVBORw0KGgo=\n", "text/plain": ["<Figure>"]}, "metadata": {}, "output_type": "display_data"}]

TRAIN = (
    "%load_ext autoreload\n"
    "!nvidia-smi\n"
    "for x, y in loader:\n"
    "    h = torch.zeros(4).to(device)\n"
    "    loss = model(x, h).sum()\n"
    "    loss.backward()\n"
    "    opt.step()\n"
)


@pytest.fixture
def nb_path(tmp_path: Path) -> Path:
    nb = notebook(
        markdown("# Training\n"),
        code("%matplotlib inline\nimport torch\ndevice = 'cuda'\n", OUTPUT),
        code(TRAIN, OUTPUT),
        code("files = !ls\nmodel?\n"),
    )
    path = tmp_path / "nb.ipynb"
    path.write_text(dump(nb), encoding="utf-8")
    return path


def test_text_and_json_positions(run_cli, nb_path: Path) -> None:
    proc = run_cli("scan", "nb.ipynb", cwd=nb_path.parent)
    assert proc.returncode == 1, proc.stderr
    assert "nb.ipynb:cell 3:4:9: ADV102 " in proc.stdout  # third cell (1-based), its own line 4, column 9
    data = json.loads(run_cli("scan", "nb.ipynb", "--format", "json", cwd=nb_path.parent).stdout)
    [finding] = data["findings"]
    assert (finding["cell"], finding["line"], finding["column"], finding["end_line"]) == (2, 4, 9, 4)


def test_ipython_lines_become_pass_at_the_same_indentation() -> None:
    lines, blanked = python_lines(
        "%time x = 1\nfor i in r:\n    !echo hi\n    y = 2\nobj??\n?obj\nout = %timeit f()\na, b = !ls\n# what?\n"
        "z = a if b else c  # why?\ns = (1,\n     2)\n"
    )
    assert lines == ["pass", "for i in r:", "    pass", "    y = 2", "pass", "pass", "pass", "pass", "# what?",
                     "z = a if b else c  # why?", "s = (1,", "     2)"]
    assert blanked == {0, 2, 4, 5, 6, 7}


def test_cell_magics(tmp_path: Path) -> None:
    body = "import torch\nfor _ in range(3):\n    h = torch.zeros(4).to('cuda')\n    h.backward()\n"
    nb = notebook(code("%%bash\n" + body), code("%%time\n" + body))
    path = tmp_path / "m.ipynb"
    path.write_text(dump(nb))
    found = analyse_unit(load_unit(path, "m.ipynb"), list(all_rules()))
    # the bash cell is not Python and is skipped; the %%time cell's body is Python and is scanned
    assert [(f.code, f.cell, f.line) for f in found] == [("ADV102", 1, 4)]


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        ("{not json", "malformed notebook: not valid JSON"),
        ('{"nbformat": 4}', "no `cells` list"),
        ('{"cells": [{"cell_type": "code", "source": 3}]}', "neither text nor a list of lines"),
        ('{"cells": [{"source": "x"}]}', "cell 1 has no `cell_type`"),
        (dump(notebook(code("x = 1\n"), code("def f(:\n    pass\n"))), "syntax error in cell 2 at line 1"),
        ("", "empty notebook"),
    ],
)
def test_malformed_notebook_is_one_error(run_cli, tmp_path: Path, content: str, expect: str) -> None:
    (tmp_path / "bad.ipynb").write_text(content)
    (tmp_path / "good.py").write_text(MATMUL)
    proc = run_cli("scan", ".", cwd=tmp_path)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("bad.ipynb: error: ") and expect in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr and "good.py:2:12: ADV401" in proc.stdout


def test_discovery_finds_notebooks_and_skips_checkpoints(run_cli, tmp_path: Path) -> None:
    nb = dump(notebook(code(MATMUL)))
    (tmp_path / "a.ipynb").write_text(nb)
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text(nb)
    proc = run_cli("scan", ".", "-q", cwd=tmp_path)
    assert proc.stdout.splitlines() == ["a.ipynb:cell 1:2:12: ADV401 Replace this Python-loop matrix multiplication with `numpy.matmul` / `@` / `torch.matmul` (warning, high confidence)"]


def test_suppression_comment_in_a_cell(tmp_path: Path) -> None:
    path = tmp_path / "s.ipynb"
    path.write_text(dump(notebook(code(TRAIN.replace(".to(device)\n", ".to(device)  # noqa: ADV102\n")))))
    assert analyse_unit(load_unit(path, "s.ipynb"), list(all_rules())) == []


# ----------------------------------------------------------------------------- fixing notebooks
def test_fix_changes_only_the_fixed_cells_source(nb_path: Path) -> None:
    original = json.loads(nb_path.read_text())
    result = fix_file(nb_path, Config())
    assert result.error is None and result.changed and [f.code for f in result.fixed] == ["ADV102"]
    expected = json.loads(json.dumps(original))
    expected["cells"][2]["source"] = TRAIN.replace("torch.zeros(4).to(device)", "torch.zeros(4, device=device)").splitlines(keepends=True)
    assert nb_path.read_text(encoding="utf-8") == dump(expected)  # byte for byte: outputs, metadata, other cells
    assert "!nvidia-smi" in nb_path.read_text()
    assert not fix_file(nb_path, Config()).changed  # idempotent
    assert analyse_unit(load_unit(nb_path, "nb.ipynb"), list(all_rules())) == []


def test_fix_keeps_an_unusual_layout(tmp_path: Path) -> None:
    """A notebook written by another tool (one line, sources as strings, ASCII escapes) keeps its layout."""
    nb = notebook(code("import torch\ndevice = 'cuda'\n", OUTPUT), code(TRAIN))
    for cell in nb["cells"]:
        cell["source"] = "".join(cell["source"])
    path = tmp_path / "flat.ipynb"
    path.write_text(json.dumps(nb))
    fix_file(path, Config())
    nb["cells"][1]["source"] = TRAIN.replace("torch.zeros(4).to(device)", "torch.zeros(4, device=device)")
    assert path.read_text() == json.dumps(nb)


def test_fixed_notebook_is_still_valid_nbformat(nb_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    fix_file(nb_path, Config())
    nbformat.validate(nbformat.read(str(nb_path), as_version=4))


def test_unsafe_fix_adds_the_import_to_the_same_cell(tmp_path: Path) -> None:
    path = tmp_path / "mm.ipynb"
    path.write_text(dump(notebook(code("import math\n"), code(MATMUL))))
    assert not fix_file(path, Config()).changed  # ADV401's fix is unsafe
    fix_file(path, Config(), unsafe=True)
    cells = json.loads(path.read_text())["cells"]
    assert "".join(cells[0]["source"]) == "import math\n"
    assert "".join(cells[1]["source"]) == "import numpy as np\ndef mm(A, B):\n    return np.matmul(A, B)\n"


def test_cli_diff_names_the_cell(run_cli, nb_path: Path) -> None:
    before = nb_path.read_bytes()
    proc = run_cli("scan", "nb.ipynb", "--diff", cwd=nb_path.parent)
    assert proc.returncode == 1
    assert "--- a/nb.ipynb:cell 3" in proc.stdout and "+    h = torch.zeros(4, device=device)" in proc.stdout
    assert nb_path.read_bytes() == before
    fixed = run_cli("scan", "nb.ipynb", "--fix", cwd=nb_path.parent)
    assert fixed.returncode == 0 and "Fixed 1 finding in 1 file." in fixed.stderr


def test_hoist_across_ipython_lines_and_a_last_line_without_newline(tmp_path: Path) -> None:
    body = "%matplotlib inline\nfor x, y in loader:\n    !echo step\n    loss = model(x).sum()\n    loss.backward()\n    opt.step()\n    model.to(device)"
    path = tmp_path / "h.ipynb"
    path.write_text(dump(notebook(code("import torch\nmodel = torch.nn.Linear(2, 2)\ndevice = 'cuda'\n"), code(body))))
    result = fix_file(path, Config())
    assert result.error is None and [f.code for f in result.fixed] == ["ADV101"]
    cells = json.loads(path.read_text())["cells"]
    assert "".join(cells[1]["source"]) == (
        "%matplotlib inline\nmodel.to(device)\nfor x, y in loader:\n    !echo step\n    loss = model(x).sum()\n"
        "    loss.backward()\n    opt.step()\n"
    )
