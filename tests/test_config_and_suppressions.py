"""[tool.advisor] configuration and suppression comments."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from advisor.engine import analyse_text

SYNC = textwrap.dedent(
    """\
    import torch

    device = torch.device("cuda")  # float32 on purpose (precision is not what this sample shows)
    for x, y in loader:
        loss = criterion(model(x.to(device)), y.to(device))
        loss.backward()
        optimizer.step()
        total += loss.item(){comment}
    """
)
MATMUL = "def mm(A, B):\n    return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]\n"


def codes(text: str) -> list[str]:
    return [f.code for f in analyse_text(text)]


@pytest.mark.parametrize(
    "comment, silenced",
    [
        ("  # advisor: ignore[ADV103]", True),
        ("  # advisor: ignore", True),
        ("  # noqa: ADV103", True),
        ("  # noqa", True),
        ("  # NOQA: adv1", True),
        ("  # advisor: ignore[ADV101, ADV103]", True),
        ("  # advisor: ignore[ADV401]", False),
        ("  # noqa: E501", False),
        ("  # a comment", False),
        ("", False),
    ],
)
def test_suppression_on_the_reported_line(comment, silenced):
    assert codes(SYNC.format(comment=comment)) == ([] if silenced else ["ADV103"])


def test_suppression_on_first_line_of_a_multiline_statement():
    text = "def mm(A, B):\n    return [  # advisor: ignore[ADV401]\n        [sum(a * b for a, b in zip(r, c)) for c in zip(*B)]\n        for r in A\n    ]\n"
    assert codes(text) == []
    assert codes(text.replace("  # advisor: ignore[ADV401]", "")) == ["ADV401"]


def test_suppression_on_a_compound_statement_header():
    text = "def mm(a, b, c):\n    for i in range(3):  # noqa: ADV401\n        for j in range(3):\n            for k in range(3):\n                c[i][j] += a[i][k] * b[k][j]\n"
    assert codes(text) == []


def test_suppression_text_inside_a_string_does_not_leak_to_other_lines():
    text = MATMUL + 's = "# noqa"\n'
    assert codes(text) == ["ADV401"]


def write_project(tmp_path: Path, config: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(config)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mm.py").write_text(MATMUL)
    (tmp_path / "pkg" / "train.py").write_text(SYNC.format(comment=""))
    return tmp_path


def found(run_cli, root: Path, *args: str) -> set[tuple[str, str]]:
    proc = run_cli("scan", "pkg", "--format", "json", *args, cwd=root)
    assert proc.returncode in (0, 1), proc.stderr
    return {(Path(f["path"]).name, f["code"]) for f in json.loads(proc.stdout)["findings"]}


def test_config_select_ignore_and_cli_override(tmp_path, run_cli):
    root = write_project(tmp_path, '[tool.advisor]\nignore = ["ADV4"]\n')
    assert found(run_cli, root) == {("train.py", "ADV103")}
    # an explicit --select on the command line wins over the configured ignore
    assert found(run_cli, root, "--select", "ADV401") == {("mm.py", "ADV401")}
    (tmp_path / "b").mkdir()
    root2 = write_project(tmp_path / "b", '[tool.advisor]\nselect = ["ADV401"]\n')
    assert found(run_cli, root2) == {("mm.py", "ADV401")}
    assert found(run_cli, root2, "--select", "ADV103") == {("train.py", "ADV103")}


def test_per_file_ignores_and_exclude(tmp_path, run_cli):
    root = write_project(tmp_path, '[tool.advisor]\nexclude = ["mm.py"]\n[tool.advisor.per-file-ignores]\n"pkg/train.py" = ["ADV103"]\n')
    assert found(run_cli, root) == set()


def test_config_found_from_a_subdirectory(tmp_path, run_cli):
    root = write_project(tmp_path, '[tool.advisor]\nignore = ["ADV103"]\n')
    proc = run_cli("scan", ".", "--format", "json", cwd=root / "pkg")
    assert {f["code"] for f in json.loads(proc.stdout)["findings"]} == {"ADV401"}


@pytest.mark.parametrize(
    "config, message",
    [
        ('[tool.advisor]\nselct = ["ADV1"]\n', "unknown key 'selct'"),
        ('[tool.advisor]\nignore = ["ADV999"]\n', "unknown rule code ADV999"),
        ('[tool.advisor]\nignore = "ADV101"\n', "must be a list of rule codes"),
        ('[tool.advisor.options.ADV999]\nx = 1\n', "unknown rule code ADV999"),
        ('[tool.advisor.options.ADV401]\nbogus = 1\n', "unknown option 'bogus'"),
        ('[tool.advisor\n', "invalid TOML"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, run_cli, config, message):
    root = write_project(tmp_path, config)
    proc = run_cli("scan", "pkg", cwd=root)
    if "invalid TOML" in message:
        # a pyproject that is not TOML has no readable [tool.advisor]: only --config names it explicitly
        proc = run_cli("scan", "pkg", "--config", "pyproject.toml", cwd=root)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_cli_code_is_a_usage_error(tmp_path, run_cli):
    root = write_project(tmp_path, "[tool.advisor]\n")
    proc = run_cli("scan", "pkg", "--ignore", "ADV77x", cwd=root)
    assert proc.returncode == 2 and "unknown rule code ADV77X" in proc.stderr


def test_rule_option_changes_behaviour(tmp_path, run_cli):
    cpu_only = (Path(__file__).resolve().parent.parent / "advisor" / "rules" / "device" / "adv103" / "neg_cpu_only.py").read_text()
    root = write_project(tmp_path, "[tool.advisor]\n")
    (root / "pkg" / "cpu.py").write_text(cpu_only)
    assert ("cpu.py", "ADV103") not in found(run_cli, root)
    (root / "pyproject.toml").write_text('[tool.advisor.options.ADV103]\nassume-accelerator = true\n')
    assert ("cpu.py", "ADV103") in found(run_cli, root)
    (root / "pyproject.toml").write_text('[tool.advisor.options.ADV103]\nassume-accelerator = "yes"\n')
    proc = run_cli("scan", "pkg", cwd=root)
    assert proc.returncode == 2 and "assume-accelerator must be bool" in proc.stderr


def test_command_line_precedence_lives_in_the_frozen_config():
    import dataclasses

    from advisor.config import Config

    loaded = Config(select=("ADV1",), ignore=("ADV103", "ADV4"))
    merged = loaded.with_command_line(["ADV103"], ["ADV501"], debug=True)
    assert merged.select == ("ADV103",) and merged.ignore == ("ADV4", "ADV501") and merged.debug
    assert loaded.select == ("ADV1",) and loaded.ignore == ("ADV103", "ADV4") and not loaded.debug  # untouched
    assert loaded.with_command_line(["ALL"], []).select is None
    assert loaded.with_command_line(None, []).select == ("ADV1",)
    # --extend-select adds to a selection and beats a configured ignore of the same rule; --ignore beats both
    extended = loaded.with_command_line(None, ["ADV2"], extend_select=["ADV4"])
    assert extended.select == ("ADV1", "ADV4") and extended.ignore == ("ADV103", "ADV2")
    assert Config().with_command_line(None, [], extend_select=["ADV4"]).select is None  # all rules run already
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.select = None  # type: ignore[misc]
