"""Jupyter notebooks as one analysable module, and the way back from module lines to cells.

Code cells are joined in order into one unit so imports in cell 1 resolve in cell 5. IPython syntax that
is not Python (line and cell magics, shell escapes, `?` help) is replaced line for line by `pass` at the
same indentation, so line numbers stay exact and an indented block never becomes empty.

Read with plain `json`: the scan stays light (no nbformat import) and a malformed notebook is one
clear per-file error.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass

from advisor.source import SourceError, decode
from advisor.unit import SourceUnit

# Cell magics whose body is still Python; any other `%%magic` cell (bash, html, writefile...) is skipped whole.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "pypy"})
# `x = !ls`, `out = %timeit f()`: IPython assignment from a shell escape or a magic.
_ASSIGNED_ESCAPE = re.compile(r"^[ \t]*[\w.]+(?:[ \t]*,[ \t]*[\w.]+)*[ \t]*=[ \t]*[!%]")
# `obj?`, `obj.attr??`, `?obj`, `np.*load*?`: IPython help and wildcard search, a whole line of its own.
_HELP = re.compile(r"^(?:\?{1,2}[\w.*]+|[\w.*]+\?{1,2})$")
_FLAGS = ast.PyCF_ONLY_AST | getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)


@dataclass(frozen=True)
class NotebookCell:
    """One code cell: its index among all cells, its source as stored, and the lines we blanked."""

    index: int
    source: str
    blanked: frozenset[int]  # 0-based line numbers within the cell replaced by `pass`


def cell_source(raw: object) -> str:
    """nbformat stores `source` as a string or a list of strings (lines keep their own newlines)."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        return "".join(raw)
    raise SourceError("malformed notebook: a cell's `source` is neither text nor a list of lines — re-save it in Jupyter")


def _is_escape(stripped: str) -> bool:
    """A line IPython rewrites before Python sees it."""
    if stripped.startswith(("%", "!")) or _HELP.match(stripped):
        return True
    return _ASSIGNED_ESCAPE.match(stripped) is not None


def python_lines(source: str) -> tuple[list[str], frozenset[int]]:
    """The cell's lines with IPython-only lines blanked to `pass` (same indentation), and which ones."""
    lines = source.splitlines()
    if not lines:
        return [], frozenset()
    first = lines[0].strip()
    if first.startswith("%%"):
        magic = first[2:].split(None, 1)[0] if len(first) > 2 else ""
        if magic not in PYTHON_CELL_MAGICS:
            return ["" for _ in lines], frozenset(range(len(lines)))
    out: list[str] = []
    blanked: set[int] = set()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped and _is_escape(stripped):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}pass")
            blanked.add(i)
        else:
            out.append(line)
    return out, frozenset(blanked)


def load_cells(data: bytes) -> list[NotebookCell]:
    """The code cells of a notebook file, or a SourceError that says what is wrong with it."""
    text = decode(data)
    if not text.strip():
        raise SourceError("empty notebook file — delete it or save it again from Jupyter")
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"malformed notebook: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}) — re-save it in Jupyter") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise SourceError("malformed notebook: no `cells` list (nbformat 4 expected) — convert it with `jupyter nbconvert --to notebook`")
    cells: list[NotebookCell] = []
    for index, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or "cell_type" not in cell:
            raise SourceError(f"malformed notebook: cell {index + 1} has no `cell_type` — re-save it in Jupyter")
        if cell["cell_type"] != "code":
            continue
        source = cell_source(cell.get("source", ""))
        cells.append(NotebookCell(index, source, python_lines(source)[1]))
    return cells


def notebook_unit(data: bytes, display: str) -> SourceUnit:
    """One SourceUnit for all code cells; each unit line maps back to (cell index, line in cell)."""
    parts: list[str] = []
    mapping: list[tuple[int, int]] = []
    cells = load_cells(data)
    for cell in cells:
        lines, _ = python_lines(cell.source)
        code = "\n".join(lines) + "\n" if lines else ""
        _check_cell(code, cell.index)
        parts.append(code)
        mapping.extend((cell.index, n) for n in range(1, len(lines) + 1))
    text = "".join(parts)
    # libcst reports a position one past the last line for the end of the module
    mapping.append(mapping[-1] if mapping else (0, 1))
    return SourceUnit(display, text, tuple(mapping), tuple((c.index, c.source, c.blanked) for c in cells))


def _check_cell(code: str, index: int) -> None:
    """Each cell must parse on its own, so a syntax error is reported at its cell, not the joined module."""
    try:
        compile(code, "<cell>", "exec", flags=_FLAGS, dont_inherit=True)
    except SyntaxError as exc:
        if exc.lineno is None:  # not a place in the code: a NUL byte in the cell's text
            raise SourceError(f"cell {index + 1} has a character Python source cannot hold ({exc.msg}) — fix the cell") from None
        raise SourceError(
            f"syntax error in cell {index + 1} at line {exc.lineno}, column {exc.offset or 1}: {exc.msg}"
            " — fix the cell; advisor analyses only code that parses"
        ) from None
    except ValueError as exc:  # a NUL or a lone surrogate (JSON "\\u0000", "\\udcff") in the cell's text
        raise SourceError(f"cell {index + 1} has a character Python source cannot hold ({exc}) — fix the cell") from None
    except (RecursionError, MemoryError):
        raise SourceError(f"cell {index + 1} is too deeply nested to parse — simplify it") from None


# ---------------------------------------------------------------- writing fixed cells back
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _ws(text: str, i: int) -> int:
    return _WS.match(text, i).end()  # type: ignore[union-attr]  # `[ \t\n\r]*` matches everywhere, if only empty


def _members(text: str, i: int) -> list[tuple[str, int, int]]:
    """(key, value start, value end) for the JSON object starting at `text[i] == "{"`."""
    from json.decoder import scanstring  # type: ignore[attr-defined]  # public in the module, missing from typeshed

    out: list[tuple[str, int, int]] = []
    i = _ws(text, i + 1)
    while text[i] != "}":
        key, i = scanstring(text, i + 1)
        i = _ws(text, _ws(text, i) + 1)  # past the colon
        _, end = _DECODER.raw_decode(text, i)
        out.append((key, i, end))
        i = _ws(text, end)
        if text[i] == ",":
            i = _ws(text, i + 1)
    return out


def _elements(text: str, i: int) -> list[tuple[int, int]]:
    """(start, end) of each element of the JSON array starting at `text[i] == "["`."""
    out: list[tuple[int, int]] = []
    i = _ws(text, i + 1)
    while text[i] != "]":
        _, end = _DECODER.raw_decode(text, i)
        out.append((i, end))
        i = _ws(text, end)
        if text[i] == ",":
            i = _ws(text, i + 1)
    return out


def _source_spans(text: str) -> dict[int, tuple[int, int]]:
    """Where each cell's `source` value lies in the notebook text."""
    cells = next(((s, e) for k, s, e in _members(text, _ws(text, 0)) if k == "cells"), None)
    if cells is None:
        raise SourceError("malformed notebook: no `cells` list — re-save it in Jupyter")
    spans: dict[int, tuple[int, int]] = {}
    for index, (start, _) in enumerate(_elements(text, cells[0])):
        for key, s, e in _members(text, start):
            if key == "source":
                spans[index] = (s, e)
    return spans


def _render_source(new: str, old_value: str, text: str, start: int) -> str:
    """The new `source` in the style the file already uses: a string, or one JSON string per line laid
    out with the same indentation as the old list."""
    ascii_only = "\\u" in old_value and not any(ord(c) > 127 for c in old_value)
    if old_value.startswith('"'):
        return json.dumps(new, ensure_ascii=ascii_only)
    elements = _elements(text, start)
    line_start = text.rfind("\n", 0, start) + 1
    key_indent = text[line_start : line_start + len(text[line_start:]) - len(text[line_start:].lstrip(" \t"))]
    if elements:
        lead = text[start + 1 : elements[0][0]]
        close = text[elements[-1][1] : text.index("]", elements[-1][1])]
    else:
        lead, close = "\n" + key_indent + " ", "\n" + key_indent
    lines = new.splitlines(keepends=True)
    if not lines:
        return "[]"
    sep = "," + lead if "\n" in lead else ", "
    return "[" + lead + sep.join(json.dumps(line, ensure_ascii=ascii_only) for line in lines) + close + "]"


def replace_cell_sources(data: bytes, new_sources: dict[int, str]) -> bytes:
    """The notebook with only these cells' `source` values rewritten; every other byte is kept.

    The result is re-read and compared with the original: anything but the intended sources differing
    is an error and nothing is written.
    """
    from advisor.source import decode_with_encoding

    text, encoding = decode_with_encoding(data)
    spans = _source_spans(text)
    out = text
    for index in sorted(new_sources, reverse=True):
        if index not in spans:
            raise SourceError(f"cell {index + 1} has no `source` to replace — nothing was written")
        s, e = spans[index]
        out = out[:s] + _render_source(new_sources[index], text[s:e], text, s) + out[e:]
    before, after = json.loads(text), json.loads(out)
    for index, cell in enumerate(after["cells"]):
        expected = dict(before["cells"][index])
        if index in new_sources:
            if cell_source(cell["source"]) != new_sources[index]:
                raise SourceError(f"cell {index + 1} did not round-trip — nothing was written; please report it")
            expected["source"] = cell["source"]
        if cell != expected:
            raise SourceError(f"cell {index + 1} changed beyond its source — nothing was written; please report it")
    if {k: v for k, v in after.items() if k != "cells"} != {k: v for k, v in before.items() if k != "cells"}:
        raise SourceError("notebook metadata changed — nothing was written; please report it")
    return out.encode(encoding)
