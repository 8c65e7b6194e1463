"""Whether a file's text mentions some words, ignoring case: a few substring searches instead of one
case-insensitive regular expression with many alternatives (which tries every alternative at every
character, about 50 ms on a 5,000-line file).

The answer is the one `re.search(<terms | \\bwords\\b>, text, re.IGNORECASE)` gives: lowering the text
changes no match and no word boundary for ASCII text, and for the four characters where it would
(`İ ı ſ K`, which case-insensitive matching equates with ASCII letters) the expression itself is used.
"""

from __future__ import annotations

import re

# Non-ASCII characters that match an ASCII letter ignoring case, or lower to one: with them in the text
# lowering it is not the same as ignoring case (found by trying every code point).
_TRICKY = re.compile("[\u0130\u0131\u017f\u212a]")


class Mentions:
    """Any of `terms` anywhere, or any of `words` as a whole word (`\\bamp\\b`), ignoring case."""

    def __init__(self, terms: tuple[str, ...], words: tuple[str, ...] = ()) -> None:
        if not all(t.isascii() for t in terms + words) or not all(_is_word(w[0]) and _is_word(w[-1]) for w in words):
            raise ValueError("terms must be ASCII and words must start and end with a word character")
        self.terms = tuple(t.lower() for t in terms)
        self.words = tuple(w.lower() for w in words)
        alternatives = [re.escape(t) for t in terms] + [rf"\b{re.escape(w)}\b" for w in words]
        self.pattern = re.compile("|".join(alternatives), re.IGNORECASE)

    def search(self, text: str) -> bool:
        if not text.isascii() and _TRICKY.search(text):
            return self.pattern.search(text) is not None
        low = text.lower()
        return any(t in low for t in self.terms) or any(_has_word(low, w) for w in self.words)


def _is_word(char: str) -> bool:
    """`\\w` of a str pattern."""
    return char.isalnum() or char == "_"


def _has_word(text: str, word: str) -> bool:
    at = text.find(word)
    while at >= 0:
        end = at + len(word)
        if (at == 0 or not _is_word(text[at - 1])) and (end == len(text) or not _is_word(text[end])):
            return True
        at = text.find(word, at + 1)
    return False
