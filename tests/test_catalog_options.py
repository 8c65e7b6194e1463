"""Rule options of the catalog rules: what a configured value changes, through the real engine."""

from __future__ import annotations

import textwrap

from advisor.config import Config
from advisor.engine import analyse_text

CUDA_SGD = textwrap.dedent(
    """
    import torch

    model = Net().cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    """
)


def _codes(text: str, options: dict) -> list[tuple[int, str]]:
    config = Config(options=options)
    return [(f.line, f.code) for f in analyse_text(text, "train.py", ["ADV306"], config)]


def test_adv306_reports_the_default_loop_on_a_configured_torch_before_2_0():
    found = analyse_text(CUDA_SGD, "train.py", ["ADV306"], Config(options={"ADV306": {"torch-version": "1.13.1"}}))
    assert [(f.line, f.code) for f in found] == [(5, "ADV306")]
    assert "PyTorch 1.13" in found[0].message


def test_adv306_is_silent_on_the_default_for_2_x_or_no_configured_version():
    assert _codes(CUDA_SGD, {"ADV306": {"torch-version": "2.1"}}) == []
    assert _codes(CUDA_SGD, {}) == []
