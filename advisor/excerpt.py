"""Code excerpts and fix diffs, taken at scan time while the text is in hand.

Saved JSON then carries them, so `advisor report results.json` can render the code of a run whose files
are gone (a CI artifact); see docs/json-format.md.
"""

from __future__ import annotations

import re
from typing import Callable

from advisor.types import Excerpt, Fix

# Lines shown around the flagged ones, and the most flagged lines shown of one long span.
CONTEXT_LINES = 2
MAX_SPAN_LINES = 12

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Lines the way libcst numbers them (`\\n`, `\\r\\n` and `\\r` all end one), without their endings."""
    lines = _LINE_BREAK.split(text)
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # the final line break ends the last line; no line follows it
    return lines


def excerpt(
    lines: list[str],
    start: int,
    end: int,
    locate: Callable[[int], tuple[int | None, int]] | None = None,
) -> Excerpt:
    """Lines `start..end` (1-based, of the analysed text) with context, never crossing a notebook cell.

    `locate` maps a line of the analysed text to (cell, line in cell); None for plain files.
    """
    end = min(end, start + MAX_SPAN_LINES - 1)
    first = max(1, start - CONTEXT_LINES)
    last = min(len(lines), end + CONTEXT_LINES)
    if locate is None:
        return Excerpt(first, tuple(lines[first - 1 : last]))
    cell, _ = locate(start)
    kept = [n for n in range(first, last + 1) if locate(n)[0] == cell]
    first, last = kept[0], kept[-1]
    return Excerpt(locate(first)[1], tuple(lines[first - 1 : last]))


def fix_diff(text: str, fix: Fix, name: str) -> str:
    """The unified diff of applying `fix` to `text` (a file, or one notebook cell's source)."""
    from advisor.fixes import apply_edits

    if any(e.end > len(text) for e in fix.edits):
        return ""  # the text changed since the scan: the edits no longer fit
    fixed, _ = apply_edits(text, [fix])
    return unified_diff(text, fixed, name)


def unified_diff(old: str, new: str, name: str) -> str:
    """`a/name` → `b/name`, every line newline-terminated so diffs of several files concatenate."""
    import difflib  # only files with a fix pay for it

    sep = "" if name.startswith("/") else "/"
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), f"a{sep}{name}", f"b{sep}{name}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
