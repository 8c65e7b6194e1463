"""Positions resolved per top-level statement are exactly libcst's whole-module positions."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from advisor.context import build_context
from advisor.fixtures_index import rule_fixtures
from advisor.positions import LazyPositions

REPO = Path(__file__).resolve().parent.parent
SOURCES = [f.path for f in rule_fixtures() if f.positive and f.path.suffix == ".py"] + [REPO / "fixtures" / "demo" / "train.py"]


def variants(text: str) -> list[str]:
    """The file, with CRLF line breaks, and with a header comment and no final line break."""
    return [text, text.replace("\n", "\r\n"), "# header\n\n" + text.rstrip("\n")]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_node_in_a_statement_gets_libcsts_own_range_without_resolving_the_whole_module(path):
    for text in variants(path.read_text(encoding="utf-8")):
        module = cst.parse_module(text)
        ctx = build_context(module, text, str(path))
        expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        lazy = LazyPositions(module, text, ctx.parent)
        checked = 0
        for node, rng in expected.items():
            if node is module or lazy._statement_of(node) is None:  # whitespace nodes the context does not index
                continue
            assert lazy[node] == rng, (type(node).__name__, rng, lazy[node])
            assert node in lazy
            checked += 1
        assert checked > 20 and lazy._full is None


def test_a_node_outside_every_statement_falls_back_to_whole_module_positions():
    text = "import torch\nx = 1\n"
    module = cst.parse_module(text)
    lazy = LazyPositions(module, text, lambda node: None)  # no parent index at all
    name = module.body[1].body[0].targets[0].target
    assert lazy[name] == MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)[name]
    assert lazy._full is not None
