"""`%load_ext advisor` in a real IPython shell (IPython's own InteractiveShell and its cell runner)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("IPython")
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

from advisor.magics import AdvisorResult, parse_options, UsageError  # noqa: E402
from advisor.types import Verification  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
IMPORTS = "from torch import nn\n"
DP_CELL = "%matplotlib --list\nmodel = nn.DataParallel(nn.Linear(2, 2))\n"


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """A fresh shell with the extension loaded, in an empty folder (no pyproject above it to pick up)."""
    monkeypatch.chdir(tmp_path)
    InteractiveShell.clear_instance()
    ip = InteractiveShell.instance()
    ip.run_cell("%load_ext advisor", store_history=True)
    yield ip
    InteractiveShell.clear_instance()


def run(ip: InteractiveShell, source: str) -> AdvisorResult | None:
    outcome = ip.run_cell(source, store_history=True)
    outcome.raise_error()
    return outcome.result


def test_line_magic_scans_the_cells_run_so_far_and_names_them_by_execution_count(shell):
    run(shell, IMPORTS)
    run(shell, "x = 1")
    run(shell, DP_CELL)
    result = run(shell, "%advisor")
    assert isinstance(result, AdvisorResult)
    assert [(f.code, result.where(f)) for f in result.findings] == [("ADV501", "In [4], line 2, column 9")]
    assert "In [4], line 2, column 9: ADV501" in repr(result)
    assert result.text().endswith("1 finding in 4 cells.")


def test_a_cell_run_twice_is_reported_once(shell):
    run(shell, IMPORTS)
    run(shell, DP_CELL)
    run(shell, DP_CELL)
    result = run(shell, "%advisor")
    assert [(f.code, result.where(f)) for f in result.findings] == [("ADV501", "In [4], line 2, column 9")]


def test_cell_magic_reports_only_its_cell_with_earlier_imports_as_context_and_does_not_run_it(shell):
    run(shell, IMPORTS)
    run(shell, DP_CELL)  # a finding elsewhere, not this cell's
    result = run(shell, "%%advisor\nmodel = nn.DataParallel(nn.Linear(3, 3))\nsentinel = 1\n")
    assert [(f.code, result.where(f)) for f in result.findings] == [("ADV501", "this cell, line 2, column 9")]
    assert "sentinel" not in shell.user_ns


def test_clean_cells_say_so_in_both_forms(shell):
    run(shell, "import torch\nx = torch.zeros(3)\n")
    result = run(shell, "%advisor")
    assert result.findings == [] and repr(result) == "0 findings in 2 cells."
    assert "0 findings in 2 cells." in result._repr_html_()


def test_select_and_ignore_filter_like_the_cli(shell):
    run(shell, IMPORTS)
    run(shell, DP_CELL)
    assert run(shell, "%advisor --ignore ADV5").findings == []
    assert run(shell, "%advisor --select ADV1").findings == []
    assert [f.code for f in run(shell, "%advisor --select ADV501").findings] == ["ADV501"]


def test_bad_arguments_and_syntax_errors_are_one_line_problems_not_tracebacks(shell):
    bad = run(shell, "%advisor --select NOPE1")
    assert bad.findings == [] and "unknown rule code NOPE1" in repr(bad)
    run(shell, IMPORTS)
    broken = run(shell, "%%advisor\nx = (\n")
    assert broken.findings == [] and repr(broken).startswith("advisor: this cell: syntax error")


def test_one_display_object_renders_html_and_plain_text_through_ipython_formatters(shell):
    run(shell, IMPORTS)
    run(shell, "model = nn.DataParallel(nn.Linear(2, 2))  # <b>")
    result = run(shell, "%advisor")
    data, _ = shell.display_formatter.format(result)
    assert "<table" in data["text/html"] and "ADV501" in data["text/html"] and "&lt;b&gt;" not in data["text/html"]
    assert data["text/plain"].startswith("In [3], line 1, column 9: ADV501")
    assert "fix: " in data["text/plain"]


def test_measured_figures_are_shown_in_both_forms(shell):
    run(shell, IMPORTS)
    run(shell, DP_CELL)
    result = run(shell, "%advisor")
    measured = Verification(code="ADV501", device="-", status="skipped", equivalent=None, sizes={}, sizes_source="defaults",
                            detail="needs two or more GPUs")
    result.findings = [result.findings[0].with_verifications((measured,))]
    assert "not measured: needs two or more GPUs" in repr(result)
    assert "not measured: needs two or more GPUs" in result._repr_html_()


def test_verify_runs_in_this_kernels_environment(shell, monkeypatch):
    """--verify goes through the verifier with this interpreter; stubbed at the verifier boundary so the
    test does not time pairs (tests/test_verify_* do)."""
    import advisor.verify.command as command

    seen = {}

    def fake_attach(result, device, options):
        seen.update(device=device, timeout=options.timeout_s, codes=[f.code for f in result.findings])
        return result

    monkeypatch.setattr(command, "attach_verifications", fake_attach)
    run(shell, IMPORTS)
    run(shell, DP_CELL)
    run(shell, "%advisor --verify --device cpu --timeout 5")
    assert seen == {"device": "cpu", "timeout": 5.0, "codes": ["ADV501"]}


def test_parse_options_rejects_unknown_flags():
    with pytest.raises(UsageError):
        parse_options("--fix")
    assert parse_options("--select ADV1,ADV401 --verify").select == ["ADV1", "ADV401"]


def test_importing_advisor_stays_cheap_and_never_imports_ipython():
    probe = "import sys, advisor\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('IPython', 'libcst', 'click', 'jinja2')))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr
