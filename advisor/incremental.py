"""Parse an editor buffer again after a change by re-parsing only the top-level statements it touched.

The language server analyses a document on every keystroke; one libcst parse of a 5,000-line file
costs seconds on a small machine. The buffer is kept as chunks of text, each holding whole top-level
statements with its parsed nodes and their pre-pass fragments (`advisor.prepass`). After a change,
the chunks wholly inside the unchanged beginning and end of the text are reused as they are, the rest
is split again (CPython's own parser finds where statements begin) and parsed piece by piece.

Parsing the pieces alone gives the same tree as parsing the whole text because each piece starts at
column 0 after a complete statement. The places where libcst could attach comments or blank lines
differently are checked, and a piece that fails a check is parsed together with its neighbour:
- the lines before a piece's first statement become that statement's `leading_lines` (libcst puts them
  in the module header when the piece is parsed alone); that holds only when they are empty lines or
  comments at column 0 (an indented comment there belongs to the block before it);
- a piece that is not the last must leave no module footer (trailing lines belong to what follows);
- the first and last chunks were parsed as first and last (module header, footer, final newline);
- every chunk agrees on the file's default indentation and line break;
- every chunk renders back to its text (libcst drops a lone backslash line, so lines would shift).
Anything else (a syntax error, a construct CPython cannot parse) falls back to one whole parse.
`tests/test_incremental.py` checks the assembled tree equals a whole parse after many kinds of edit.
"""

from __future__ import annotations

import ast
import bisect
import re
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import libcst as cst

from advisor.context import Parsed, context_from
from advisor.prepass import Fragment, ParentLinks, collect, module_fragments

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Lines before a piece's first statement that surely belong to that statement: empty, or a comment at column 0.
_CLEAN_LEAD = re.compile(r"(?:(?:#[^\r\n]*)?(?:\r\n|\r|\n))*(?=[^\s#])")


@dataclass(frozen=True)
class Chunk:
    """Whole top-level statements of the buffer: their text, nodes and pre-pass fragments."""

    text: str
    module: cst.Module  # the text parsed alone; when not first, its header moved into the first statement
    fragments: tuple[Fragment, ...]  # one per statement of module.body
    first: bool  # parsed as the start of the file (its header is the module's header)
    last: bool  # parsed as the end of the file (its footer and final newline are the module's)
    lines: int  # line breaks in text
    starts: tuple[int, ...] | None  # line of each statement within text; None when unknown (not computed)
    blocks: bool  # holds an indented block (so its default indentation matters)


class Unsplittable(Exception):
    """The region cannot be parsed in pieces that provably match a whole parse."""


@dataclass
class IncrementalParser:
    """The parse state of one open document; `parse` is called with each new version of its text."""

    text: str | None = None
    chunks: list[Chunk] = field(default_factory=list)
    reused: int = 0  # statements reused by the last parse (for tests and the benchmark)
    links: ParentLinks = field(default_factory=ParentLinks)  # the parent table, updated per version

    def parse(self, text: str, path: str) -> Parsed:
        """The module and context of `text`. Raises SourceError when it does not parse; the state is then
        kept, so the next version is again compared with the last one that parsed."""
        from advisor.engine import parse_module

        try:
            chunks, reused = self._update(text)
        except Exception:  # anything the pieces cannot settle (a syntax error above all): the scan's way
            module = parse_module(text)  # the whole parse: its SourceError says what is wrong, and where
            chunks = [_whole_chunk(text, module)]
            reused = 0
        parsed = _assemble(chunks, text, path, self.links)
        if parsed is None:  # chunks disagree on indentation or line breaks: parse the file as one
            module = parse_module(text)
            chunks, reused = [_whole_chunk(text, module)], 0
            parsed = _assemble(chunks, text, path, self.links)
            assert parsed is not None
        self.text, self.chunks, self.reused = text, chunks, reused
        return parsed

    def _update(self, text: str) -> tuple[list[Chunk], int]:
        old = self.text
        chunks = self.chunks
        if old is None or not chunks:
            return _split(text, True, True), 0
        if old == text:
            return chunks, sum(len(c.module.body) for c in chunks)
        ends = []
        offset = 0
        for c in chunks:
            offset += len(c.text)
            ends.append(offset)
        prefix = _common_prefix(old, text)
        suffix = _common_suffix(old, text, min(len(old), len(text)) - prefix)
        # chunks holding the last unchanged character before the change through the first one after it
        first = bisect.bisect_right(ends, max(prefix - 1, 0))
        changed_end = len(old) - suffix
        last = bisect.bisect_right(ends, changed_end) if changed_end < len(old) else len(chunks) - 1
        first, last = min(first, len(chunks) - 1), min(last, len(chunks) - 1)
        while True:
            start = ends[first - 1] if first > 0 else 0
            stop = ends[last] + len(text) - len(old)
            if first > 0 and not _clean_lead(text, start):
                first -= 1  # an indented line before the first statement may belong to the block before
                continue
            region = _split_region(text[start:stop], first == 0, last == len(chunks) - 1)
            if region is None:
                first, last = max(first - 1, 0), min(last + 1, len(chunks) - 1)  # a footer: take a neighbour
                if (first, last) == (0, len(chunks) - 1):
                    return _split(text, True, True), 0
                continue
            kept = chunks[:first] + region + chunks[last + 1 :]
            reused = sum(len(c.module.body) for c in chunks[:first] + chunks[last + 1 :])
            return kept, reused


def _split_region(text: str, first: bool, last: bool) -> list[Chunk] | None:
    """Chunks for a region; None when its last piece leaves a footer although more text follows."""
    try:
        return _split(text, first, last)
    except _Footer:
        if first and last:
            raise Unsplittable("trailing lines the file's end would own") from None
        return None


class _Footer(Exception):
    """A piece that is not the end of the file left trailing lines in its module footer."""


def _split(text: str, first: bool, last: bool) -> list[Chunk]:
    """`text` (whole top-level statements) as chunks of one statement each where the checks allow."""
    if not text:
        return []
    pieces = _pieces(text)
    chunks: list[Chunk] = []
    at = 0
    pending = ""
    for n, piece in enumerate(pieces):
        piece = pending + piece
        pending = ""
        is_first = first and at == 0
        is_last = last and n == len(pieces) - 1
        if not is_first and chunks and not _CLEAN_LEAD.match(piece):
            previous = chunks.pop()  # an indented comment or blank line after a block: parse them together
            at -= len(previous.text)
            piece = previous.text + piece
            is_first = first and at == 0
        chunk = _chunk(piece, is_first, is_last)
        if chunk is None:  # trailing lines (or no statement at all): parse with what follows
            if n == len(pieces) - 1:
                raise _Footer
            pending = piece
            continue
        chunks.append(chunk)
        at += len(piece)
    return chunks


def _pieces(text: str) -> list[str]:
    """Split before each top-level statement's leading lines, at lines CPython's parser places."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences and the like: not ours to report here
        tree = ast.parse(text)
    starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]
    cuts: list[int] = []
    previous_end = 0
    for stmt in tree.body:
        begin = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", ())])
        if cuts or previous_end:
            cut = previous_end + 1  # the line after the previous statement's last line
            if begin >= cut and stmt.col_offset == 0:
                cuts.append(cut)
        previous_end = max(previous_end, stmt.end_lineno or stmt.lineno)
    offsets = [0] + [starts[c - 1] for c in cuts if c - 1 < len(starts)] + [len(text)]
    return [text[a:b] for a, b in zip(offsets, offsets[1:]) if b > a]


def _chunk(text: str, first: bool, last: bool) -> Chunk | None:
    module = cst.parse_module(text)
    if not module.body or (module.footer and not last):
        return None
    if module.code != text:  # libcst drops a few odd lines (a lone `\` line): leave such text to the whole parse
        raise Unsplittable("the text does not render back from its tree")
    if module.header and not first:
        head = module.body[0]
        module = module.with_changes(header=(), body=[head.with_changes(leading_lines=[*module.header, *head.leading_lines]), *module.body[1:]])
    fragments = tuple(collect(stmt) for stmt in module.body)
    starts = (len(module.header),) if len(module.body) == 1 else None
    blocks = any("IndentedBlock" in f.by_type for f in fragments)
    return Chunk(text, module, fragments, first, last, len(_LINE_BREAK.findall(text)), starts, blocks)


def _whole_chunk(text: str, module: cst.Module) -> Chunk:
    fragments = tuple(collect(stmt) for stmt in module.body)
    blocks = any("IndentedBlock" in f.by_type for f in fragments)
    return Chunk(text, module, fragments, True, True, len(_LINE_BREAK.findall(text)), None, blocks)


def _clean_lead(text: str, start: int) -> bool:
    return _CLEAN_LEAD.match(text, start) is not None


def _assemble(chunks: Sequence[Chunk], text: str, path: str, links: ParentLinks) -> Parsed | None:
    """One module and its context from the chunks; None when they disagree on the file's settings."""
    if not chunks:
        module = cst.parse_module(text)  # only comments and blank lines: cheap
        return Parsed(module, context_from(module, text, path, module_fragments(module), links))
    head, tail = chunks[0], chunks[-1]
    if not head.first or not tail.last or any(c.first for c in chunks[1:]) or any(c.last for c in chunks[:-1]):
        return None
    indents = {c.module.default_indent for c in chunks if c.blocks}
    newlines = {c.module.default_newline for c in chunks if c.lines}
    if len(indents) > 1 or len(newlines) > 1:
        return None
    indent = indents.pop() if indents else head.module.default_indent
    newline = newlines.pop() if newlines else head.module.default_newline
    body: list[cst.SimpleStatementLine | cst.BaseCompoundStatement] = []
    fragments: list[Fragment] = []
    starts: list[int] | None = []
    line = 0
    for c in chunks:
        body.extend(c.module.body)
        fragments.extend(c.fragments)
        if starts is not None and c.starts is not None:
            starts.extend(line + s for s in c.starts)
        else:
            starts = None
        line += c.lines
    module = cst.Module(
        body=body, header=head.module.header, footer=tail.module.footer, encoding=head.module.encoding,
        default_indent=indent, default_newline=newline, has_trailing_newline=tail.module.has_trailing_newline,
    )
    return Parsed(module, context_from(module, text, path, module_fragments(module, fragments), links), starts)


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix, by halving (string comparison runs in C)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def _common_suffix(a: str, b: str, limit: int) -> int:
    low, high = 0, max(limit, 0)
    while low < high:
        mid = (low + high + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            low = mid
        else:
            high = mid - 1
    return low
