"""What the engine analyses as one module: a file's text, or a notebook's code cells joined, with the map
from unit lines back to cells. Its own module so that the notebook reader and the fixer build units
without importing the engine (which imports them).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from advisor.fixes import Unanchorable
from advisor.types import Edit


@dataclass(frozen=True)
class SourceUnit:
    """Text to analyse as one module. Notebooks become one unit whose lines map back to cells."""

    path: str
    text: str
    cells: tuple[tuple[int, int], ...] | None = None  # per unit line (1-based index-1): (cell, line in cell)
    # notebooks: (cell index, the cell's source as stored, 0-based lines blanked because they were IPython)
    cell_sources: tuple[tuple[int, str, frozenset[int]], ...] = ()

    def locate(self, line: int, column: int) -> tuple[int | None, int, int]:
        if self.cells is None:
            return None, line, column
        cell, cell_line = self.cells[min(line, len(self.cells)) - 1]
        return cell, cell_line, column

    def same_cell(self, a: int, b: int) -> bool:
        """Whether two offsets of the unit text lie in one notebook cell (always, for a plain file)."""
        if self.cells is None:
            return True
        return self._cell_at(a) == self._cell_at(b)

    def _cell_at(self, offset: int) -> int:
        line = self.text.count("\n", 0, offset) + 1
        return self.locate(line, 0)[0] or 0

    def fixed_text_and_name(self, cell: int | None) -> tuple[str, str]:
        """The text a finding's fix edits apply to (the file, or its cell's source) and its name in a diff."""
        if cell is None or self.cells is None:
            return self.text, self.path
        source = next(src for idx, src, _ in self.cell_sources if idx == cell)
        return source, f"{self.path}:cell {cell + 1}"

    def display_edits(self, edits: tuple[Edit, ...], cell: int | None) -> tuple[Edit, ...]:
        """Edits in the coordinates a user applies them to: the file's text, or the cell's own source.

        Raises Unanchorable when a notebook edit leaves its cell or touches a blanked IPython line.
        """
        cells = self.cells
        if cells is None:
            return edits
        source, blanked = next((src, bl) for idx, src, bl in self.cell_sources if idx == cell)
        starts = [0] + [i + 1 for i, ch in enumerate(source) if ch == "\n"]
        unit_starts = [0] + [i + 1 for i, ch in enumerate(self.text) if ch == "\n"]
        real_lines = len(cells) - 1  # the last entry maps libcst's one-past-the-end line

        def cell_offset(pos: int, is_end: bool) -> tuple[int, int]:
            """(offset in the cell's source, 0-based cell line) for a unit offset; an end at the start of a
            line is taken as the end of the line before, so an edit never reaches into the next line."""
            line = _line_at(unit_starts, pos)
            col = pos - unit_starts[line - 1]
            if is_end and col == 0 and line > 1:
                line -= 1
                col = unit_starts[line] - unit_starts[line - 1]
            if line > real_lines:
                raise Unanchorable("the edit reaches past the last cell")
            where, cell_line = cells[line - 1]
            if where != cell:
                raise Unanchorable("the edit leaves its notebook cell")
            return min(starts[cell_line - 1] + col, len(source)), cell_line - 1

        out = []
        for e in edits:
            begin, first = cell_offset(e.start, False)
            finish, last = cell_offset(e.end, True) if e.end > e.start else (begin, first - 1)
            if any(n in blanked for n in range(first, last + 1)):
                raise Unanchorable("the edit touches an IPython line")
            analysed = self.text[e.start : e.end]
            if source[begin:finish] not in (analysed, analysed[:-1] if analysed.endswith("\n") else analysed):
                raise Unanchorable("the cell's text differs from the analysed text here")
            out.append(Edit(begin, finish, e.replacement))
        return tuple(out)


def _line_at(starts: list[int], offset: int) -> int:
    return bisect.bisect_right(starts, offset)
