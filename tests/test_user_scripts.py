"""Four training scripts of our own, written as users write them (issue 17): their true findings stay,
their false alarms (a GAN's fixed rates, a 5-epoch run, one loss read three times) are gone."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.config import Config
from advisor.engine import analyse_text

SCRIPTS = Path(__file__).resolve().parent / "user_scripts"

# (line, code) each script must report, and nothing else.
EXPECTED = {
    # ADV106 (cudnn.benchmark) and ADV303 (mixed precision) are the catalog's info/low-confidence advice:
    # true for these fixed-size conv nets trained on CUDA without either.
    "cifar_cnn.py": [(19, "ADV106"), (57, "ADV204"), (61, "ADV301"), (70, "ADV103"), (73, "ADV303")],
    "lstm_lm.py": [(66, "ADV103")],
    "dcgan.py": [(17, "ADV106"), (62, "ADV303")],
    "numpy_mlp.py": [],
}


def _scan(name: str, options: dict | None = None):
    return analyse_text((SCRIPTS / name).read_text(encoding="utf-8"), name, config=Config(options=options or {}))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_script_reports_its_true_findings_only(name: str) -> None:
    assert sorted((f.line, f.code) for f in _scan(name)) == EXPECTED[name]


def test_one_loss_read_three_times_is_one_finding_naming_the_others() -> None:
    (sync,) = [f for f in _scan("cifar_cnn.py") if f.code == "ADV103"]
    assert "`pbar.set_postfix`" in sync.message and "`wandb.log`" in sync.message
    assert "torch.isfinite(loss)" in sync.suggestion  # the NaN guard: say how to keep it cheap


def test_unknown_epoch_count_is_reported_with_medium_confidence() -> None:
    (lr,) = [f for f in _scan("cifar_cnn.py") if f.code == "ADV301"]
    assert lr.confidence.value == "medium"  # range(args.epochs): we cannot see how long it runs


def test_min_epochs_option_reports_short_runs() -> None:
    assert not [f for f in _scan("lstm_lm.py") if f.code == "ADV301"]
    short = [f for f in _scan("lstm_lm.py", {"ADV301": {"min-epochs": 5}}) if f.code == "ADV301"]
    assert [(f.line, f.message.split(": ")[1][:19]) for f in short] == [(49, "all 5 epochs use on")]


def test_gans_option_reports_adversarial_optimizers() -> None:
    found = [f.line for f in _scan("dcgan.py", {"ADV301": {"gans": True}}) if f.code == "ADV301"]
    assert found == [52, 53]


def test_options_are_validated_in_config(tmp_path: Path) -> None:
    from advisor.config import ConfigError, load_config

    (tmp_path / "pyproject.toml").write_text('[tool.advisor.options.ADV301]\nmin-epochs = 3\ngans = true\n')
    assert load_config(tmp_path / "pyproject.toml").options == {"ADV301": {"min-epochs": 3, "gans": True}}
    (tmp_path / "pyproject.toml").write_text('[tool.advisor.options.ADV301]\nmin-epochs = "3"\n')
    with pytest.raises(ConfigError):
        load_config(tmp_path / "pyproject.toml")


def test_pin_memory_fix_adds_non_blocking_to_the_copies_it_feeds() -> None:
    text = (SCRIPTS / "cifar_cnn.py").read_text(encoding="utf-8")
    (pin,) = [f for f in _scan("cifar_cnn.py") if f.code == "ADV204"]
    assert pin.fix is not None and pin.fix.safe
    replaced = sorted(e.replacement for e in pin.fix.edits)
    assert any("pin_memory=True" in r for r in replaced)
    assert replaced.count("images.to(device, non_blocking=True)") == 1
    assert replaced.count("labels.to(device, non_blocking=True)") == 1
    assert "non_blocking=True" in pin.fix.description
    assert len(text) > 0


def test_batch_size_hint_names_one_size_as_the_message_does() -> None:
    from advisor.rule import rules_by_code

    rule = rules_by_code()["ADV202"]
    assert "`batch_size=64`" in rule.message and "`batch_size=64`" in rule.suggestion
    assert " to `batch_size=" not in rule.suggestion


def test_two_optimizers_get_two_schedulers_and_each_is_checked(tmp_path: Path) -> None:
    from advisor.fixer import fix_file

    two = (
        "import torch\n\n"
        "enc_opt = torch.optim.SGD(enc.parameters(), lr=0.1)\n"
        "dec_opt = torch.optim.SGD(dec.parameters(), lr=0.1)\n"
        "for epoch in range(40):\n"
        "    for x, y in loader:\n"
        "        loss_fn(dec(enc(x)), y).backward()\n"
        "        enc_opt.step()\n"
        "        dec_opt.step()\n"
    )
    target = tmp_path / "two.py"
    target.write_text(two)
    assert [f.line for f in analyse_text(two, "two.py") if f.code == "ADV301"] == [3, 4]
    fix_file(target, Config(), unsafe=True)
    fixed = target.read_text()
    assert "enc_opt_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(enc_opt, T_max=40)" in fixed
    assert "dec_opt_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(dec_opt, T_max=40)" in fixed
    assert fixed.endswith("    enc_opt_scheduler.step()\n    dec_opt_scheduler.step()\n")
    # a scheduler for one optimizer does not silence the other
    half = two.replace("for epoch", "enc_sched = torch.optim.lr_scheduler.StepLR(enc_opt, 10)\nfor epoch")
    assert [f.line for f in analyse_text(half, "half.py") if f.code == "ADV301"] == [4]
