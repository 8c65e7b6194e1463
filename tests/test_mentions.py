"""The training rules' fast text search answers exactly as the case-insensitive expression it replaces."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from advisor.rules.training._mentions import Mentions
from advisor.rules.training.early_stopping import USES_METRIC
from advisor.rules.training.mixed_precision import PRECISION_WORDS

# Pieces that make near misses likely: the words themselves in any case, word characters that glue onto
# them, the characters that ignoring case equates with ASCII letters, and other non-ASCII text.
PIECES = st.sampled_from(
    ["amp", "AMP", "Amp", "clamp", "apex", "fp16", "BF16", "precision", "Precision_", "autocast", "GradScaler",
     "cuda.amp", "torch.AMP", ".half(", "float16", "tf32", "use_amp", "best", "Patience", "early", "stopping",
     "plateau", "checkpoint", "_", "1", " ", ".", "(", "\n", "é", "日本", "\u0130", "\u0131", "\u017f", "\u212a",
     "ſtopping", "aſt", "checKpoint", "apeﬅ", "Ⅰ", "x"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=12).map("".join))
def test_the_answer_is_the_expressions_on_any_text(text: str) -> None:
    for mentions in (PRECISION_WORDS, USES_METRIC):
        assert mentions.search(text) == (mentions.pattern.search(text) is not None)


@pytest.mark.parametrize(
    "text, found",
    [
        ("y = x.clamp(min=0)", False),  # `amp` inside a word is not the whole word
        ("from torch.cuda import amp", True),
        ("scaler = torch.cuda.amp.GradScaler()", True),
        ("use_AMP = True", True),
        ("to_half = model.half", False),  # `.half(` needs the call
        ("model.HALF(", True),
        ("precisions = []", False),
        ("# \u017fcaler: long s matches s ignoring case\nGradScaler", True),
        ("AUTOCAST = 1", True),
    ],
)
def test_precision_words(text: str, found: bool) -> None:
    assert PRECISION_WORDS.search(text) is found


def test_words_must_be_ascii_and_whole() -> None:
    with pytest.raises(ValueError):
        Mentions(("café",))
    with pytest.raises(ValueError):
        Mentions((), words=(".half(",))
