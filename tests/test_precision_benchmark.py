"""benchmarks/precision.py: findings joined with labels per rule, unlabeled and lost findings flagged."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

from advisor.fixtures_index import expectations

REPO = Path(__file__).resolve().parent.parent
HEADER = "project\tpath\tline\tcode\tlabel\treason\n"


def _load():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("precision", REPO / "benchmarks" / "precision.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[int]]:
    """One project holding a copy of a positive ADV103 fixture; returns the corpus and its expected lines."""
    source = REPO / "advisor" / "rules" / "device" / "adv103" / "pos_item_accumulate.py"
    root = tmp_path / "corpus"
    (root / "proj" / "sub").mkdir(parents=True)
    shutil.copy(source, root / "proj" / "sub" / "train.py")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])))
    lines = [line for line, code in expectations(source.read_text(encoding="utf-8")) if code == "ADV103"]
    assert lines
    return root, lines


def test_labels_count_per_rule_and_unlabeled_findings_fail_strict(corpus, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    root, lines = corpus
    precision = _load()
    labels = tmp_path / "labels.tsv"
    rows = [f"proj\tsub/train.py\t{lines[0]}\tADV103\tfalse\tnot on a GPU\n"]
    labels.write_text(HEADER + "".join(rows), encoding="utf-8")
    misses = tmp_path / "misses.tsv"
    misses.write_text("project\tpath\tline\tcode\tstatus\treason\nproj\tsub/train.py\t1\tADV101\topen\tmissed\n", encoding="utf-8")

    code = precision.main([str(root), "--labels", str(labels), "--misses", str(misses), "--strict"])
    out = capsys.readouterr().out
    unlabeled = len(lines) - 1
    assert f"| ADV103 | {len(lines)} | 0 | 1 | {unlabeled} | 0.00 | 0 (0) |" in out
    assert "| ADV101 | 0 | 0 | 0 | 0 | – | 1 (0) |" in out
    assert ("UNLABELED" in out) == bool(unlabeled)
    assert code == (1 if unlabeled else 0)


def test_lost_true_findings_fail_strict_and_fixed_false_alarms_do_not(corpus, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    root, lines = corpus
    precision = _load()
    labels = tmp_path / "labels.tsv"
    found = "".join(f"proj\tsub/train.py\t{n}\tADV103\ttrue\tsync\n" for n in lines)
    fixed = "proj\tsub/train.py\t2\tADV102\tfalse\tused to fire\n"
    labels.write_text(HEADER + found + fixed, encoding="utf-8")
    assert precision.main([str(root), "--labels", str(labels), "--misses", str(tmp_path / "none.tsv"), "--strict"]) == 0
    assert "FIXED FALSE ALARM proj/sub/train.py:2 ADV102" in capsys.readouterr().out

    lost = "proj\tsub/train.py\t3\tADV101\ttrue\tused to fire\n"
    labels.write_text(HEADER + found + lost, encoding="utf-8")
    assert precision.main([str(root), "--labels", str(labels), "--misses", str(tmp_path / "none.tsv"), "--strict"]) == 1
    assert "LOST TRUE FINDING proj/sub/train.py:3 ADV101" in capsys.readouterr().out


def test_a_label_other_than_true_or_false_is_refused(tmp_path: Path) -> None:
    precision = _load()
    labels = tmp_path / "labels.tsv"
    labels.write_text(HEADER + "p\ta.py\t1\tADV101\tmaybe\t?\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="true or false"):
        precision.read_labels(labels)


def test_recall_mode_counts_found_missed_and_false_per_core_rule(corpus, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    root, lines = corpus
    assert len(lines) >= 2, "the copied fixture must report at least two ADV103 lines"
    precision = _load()
    expected = tmp_path / "expected.tsv"
    # One ADV103 finding labelled (found), the others not (false alarms); one ADV102 label no finding matches.
    rows = [f"proj\tsub/train.py\t{lines[0]}\tADV103\tsync every step\n", "proj\tsub/train.py\t3\tADV102\tnever reported\n"]
    expected.write_text("project\tpath\tline\tcode\treason\n" + "".join(rows), encoding="utf-8")
    table = tmp_path / "recall.md"

    code = precision.main([str(root), "--expected", str(expected), "--markdown", str(table)])
    out = capsys.readouterr().out
    false = len(lines) - 1
    adv103 = f"| ADV103 | 1 | 1 | 0 | {len(lines)} | {false} | 1.00 | {1 / len(lines):.2f} |"
    adv102 = "| ADV102 | 1 | 0 | 1 | 0 | 0 | 0.00 | – |"
    assert code == 0
    assert adv103 in out and adv102 in out
    assert "| ADV201 | 0 | 0 | 0 | 0 | 0 | – | – |" in out  # every core rule has a row, labelled or not
    assert "MISSED proj/sub/train.py:3 ADV102" in out
    assert [line for line in out.splitlines() if line.startswith("FALSE")] == [f"FALSE proj/sub/train.py:{n} ADV103" for n in lines[1:]]
    assert f"FALSE proj/sub/train.py:{lines[0]} ADV103" not in out
    assert adv103 in table.read_text(encoding="utf-8")  # --markdown keeps the same table


GAN_OPTION = "ADV301.gans=true"


@pytest.fixture
def gan_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A GAN recipe ADV301 leaves silent by default, and a pyproject.toml whose rule option turns it on."""
    root = tmp_path / "corpus"
    (root / "proj").mkdir(parents=True)
    shutil.copy(REPO / "advisor" / "rules" / "training" / "adv301" / "neg_gan_recipe.py", root / "proj" / "gan.py")
    config = tmp_path / "config" / "pyproject.toml"  # not above the corpus, where the scan would find it alone
    config.parent.mkdir()
    config.write_text("[tool.advisor.options.ADV301]\ngans = true\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])))
    return root, config


def _gan_lines(precision, root: Path, config: Path) -> list[int]:  # type: ignore[no-untyped-def]
    findings, errors = precision.scan(root, config)
    assert not errors
    return sorted(line for _, _, line, code in findings if code == "ADV301")


def test_config_is_passed_to_the_scan(gan_corpus, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    root, config = gan_corpus
    precision = _load()
    assert precision.scan(root)[0] == []  # the rule's default leaves GAN recipes alone
    lines = _gan_lines(precision, root, config)
    assert lines, "with gans = true the recipe's optimizers are reported"

    none = tmp_path / "none.tsv"
    args = [str(root), "--labels", str(none), "--misses", str(none), "--strict"]
    assert precision.main(args) == 0
    assert "ADV301" not in capsys.readouterr().out
    assert precision.main([*args, "--config", str(config)]) == 1  # the findings it turns on are unlabeled
    out = capsys.readouterr().out
    assert f"| ADV301 | {len(lines)} | 0 | 0 | {len(lines)} | – | 0 (0) |" in out
    assert [s for s in out.splitlines() if s.startswith("UNLABELED")] == [f"UNLABELED proj/gan.py:{n} ADV301" for n in lines]


def test_a_finding_an_option_enables_is_silent_by_default_but_lost_when_the_option_is_set(gan_corpus, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    root, config = gan_corpus
    precision = _load()
    lines = _gan_lines(precision, root, config)
    labels = tmp_path / "labels.tsv"
    header = HEADER.replace("\n", "\tenabled_by\n")
    optional = "".join(f"proj\tgan.py\t{n}\tADV301\ttrue\tfixed GAN rates\t{GAN_OPTION}\n" for n in lines)
    labels.write_text(header + optional, encoding="utf-8")
    none = tmp_path / "none.tsv"
    args = [str(root), "--labels", str(labels), "--misses", str(none), "--strict"]

    assert precision.main(args) == 0  # default run: silent on purpose, not lost
    out = capsys.readouterr().out
    assert f"SILENT BY DEFAULT proj/gan.py:{lines[0]} ADV301 (enabled by {GAN_OPTION})" in out
    assert "LOST" not in out
    assert precision.main([*args, "--config", str(config)]) == 0  # option set: found, true
    assert "SILENT" not in capsys.readouterr().out

    # With the option set, a label it no longer finds is a lost true finding.
    labels.write_text(header + optional + f"proj\tgan.py\t2\tADV301\ttrue\tgone\t{GAN_OPTION}\n", encoding="utf-8")
    assert precision.main([*args, "--config", str(config)]) == 1
    assert "LOST TRUE FINDING proj/gan.py:2 ADV301" in capsys.readouterr().out
    # On the default run a lost label without the column still fails, next to the silent ones.
    labels.write_text(header + optional + "proj\tgan.py\t3\tADV301\ttrue\tgone\n", encoding="utf-8")
    assert precision.main(args) == 1
    out = capsys.readouterr().out
    assert "LOST TRUE FINDING proj/gan.py:3 ADV301" in out and "SILENT BY DEFAULT" in out
    # An option set to another value does not turn the finding on.
    other = tmp_path / "other.toml"
    other.write_text("[tool.advisor.options.ADV301]\ngans = false\n", encoding="utf-8")
    labels.write_text(header + optional, encoding="utf-8")
    assert precision.main([*args, "--config", str(other)]) == 0
    assert "SILENT BY DEFAULT" in capsys.readouterr().out


def test_enabled_by_must_name_a_rule_option(tmp_path: Path) -> None:
    precision = _load()
    labels = tmp_path / "labels.tsv"
    labels.write_text(HEADER.replace("\n", "\tenabled_by\n") + "p\ta.py\t1\tADV301\ttrue\t?\tgans\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="CODE.option=value"):
        precision.read_labels(labels)


def test_recall_mode_marks_misses_an_option_would_find(gan_corpus, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    root, config = gan_corpus
    precision = _load()
    lines = _gan_lines(precision, root, config)
    expected = tmp_path / "expected.tsv"
    rows = "".join(f"proj\tgan.py\t{n}\tADV301\tfixed GAN rates\t{GAN_OPTION}\n" for n in lines)
    expected.write_text("project\tpath\tline\tcode\treason\tenabled_by\n" + rows, encoding="utf-8")

    assert precision.main([str(root), "--expected", str(expected)]) == 0
    out = capsys.readouterr().out
    assert f"| ADV301 | {len(lines)} | 0 | {len(lines)} | 0 | 0 | 0.00 | – |" in out  # still counted as missed
    assert f"MISSED proj/gan.py:{lines[0]} ADV301 (silent by default; enabled by {GAN_OPTION})" in out
    assert precision.main([str(root), "--expected", str(expected), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"| ADV301 | {len(lines)} | {len(lines)} | 0 | {len(lines)} | 0 | 1.00 | 1.00 |" in out
    assert "MISSED" not in out
