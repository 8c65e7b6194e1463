"""Source positions for just the nodes that were reported, instead of for the whole module.

libcst's PositionProvider renders the entire module while recording every node's range; on a file with
a finding that cost about as much as parsing it (more on long files). A reported node lies inside one
top-level statement, so it is enough to know where each top-level statement begins (plain rendering of
the statements before it, several times cheaper than recording positions) and to resolve positions
inside that statement alone, shifted by its first line. Top-level statements start at column 0, so
columns need no shift. Whenever the pieces do not render back to the exact text, the whole module is
resolved the usual way.
"""

from __future__ import annotations

import re
from typing import Callable, Mapping

import libcst as cst
from libcst.metadata import CodePosition, CodeRange, MetadataWrapper, PositionProvider

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class LazyPositions:
    """A read-only mapping node -> CodeRange, computed per top-level statement on first use."""

    def __init__(
        self, module: cst.Module, text: str, parent: Callable[[cst.CSTNode], cst.CSTNode | None], starts: list[int] | None = None,
    ) -> None:
        """`starts`: the first line (0-based) of each top-level statement when the caller knows them."""
        self.module, self.text, self.parent, self.given = module, text, parent, starts
        self._index = {id(stmt): i for i, stmt in enumerate(module.body)}
        self._starts: list[int] = []  # line breaks before each top-level statement rendered so far
        self._cursor = -1  # character offset in `text` after the last rendered statement; -1: header not done
        self._line = 0  # line breaks in `text` before the cursor
        self._ranges: dict[int, CodeRange] = {}
        self._done: set[int] = set()
        self._full: Mapping[cst.CSTNode, CodeRange] | None = None

    # ------------------------------------------------------------------ mapping protocol (what callers use)
    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self._lookup(node)
        if found is None:
            raise KeyError(node)
        return found

    def __contains__(self, node: object) -> bool:
        return isinstance(node, cst.CSTNode) and self._lookup(node) is not None

    def get(self, node: cst.CSTNode, default: CodeRange | None = None) -> CodeRange | None:
        found = self._lookup(node)
        return default if found is None else found

    # ------------------------------------------------------------------ internals
    def _lookup(self, node: cst.CSTNode) -> CodeRange | None:
        if self._full is not None:
            return self._full.get(node)
        index = self._statement_of(node)
        if index is None:
            return self._whole().get(node)
        if index not in self._done and not self._resolve(index):
            return self._whole().get(node)
        return self._ranges.get(id(node))

    def _statement_of(self, node: cst.CSTNode) -> int | None:
        current: cst.CSTNode | None = node
        while current is not None:
            index = self._index.get(id(current))
            if index is not None and self.module.body[index] is current:
                return index
            current = self.parent(current)
        return None

    def _first_line(self, index: int) -> int | None:
        """Lines before top-level statement `index`, rendering statements up to it once; None on a mismatch."""
        if self.given is not None:
            return self.given[index]
        if self._cursor < 0:
            header = "".join(self.module.code_for_node(line) for line in self.module.header)
            if not self.text.startswith(header):
                return None
            self._cursor, self._line = len(header), len(_LINE_BREAK.findall(header))
        while len(self._starts) <= index:
            code = self.module.code_for_node(self.module.body[len(self._starts)])
            if not self.text.startswith(code, self._cursor):
                # a last line without a line break renders with one on its own
                newline = self.module.default_newline
                if not (code.endswith(newline) and self.text.startswith(code[: -len(newline)], self._cursor)):
                    return None
                code = code[: -len(newline)]
            self._starts.append(self._line)
            self._line += len(_LINE_BREAK.findall(code))
            self._cursor += len(code)
        return self._starts[index]

    def _resolve(self, index: int) -> bool:
        first = self._first_line(index)
        if first is None:
            return False
        stmt = self.module.body[index]
        alone = self.module.with_changes(body=[stmt], header=[], footer=[])
        ranges = MetadataWrapper(alone, unsafe_skip_copy=True).resolve(PositionProvider)
        for node, rng in ranges.items():
            if node is alone:
                continue
            self._ranges[id(node)] = CodeRange(
                CodePosition(rng.start.line + first, rng.start.column), CodePosition(rng.end.line + first, rng.end.column)
            )
        self._done.add(index)
        return True

    def _whole(self) -> Mapping[cst.CSTNode, CodeRange]:
        if self._full is None:
            self._full = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)
        return self._full
