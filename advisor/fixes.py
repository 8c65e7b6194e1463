"""Autofix plans: what a rule wants changed, as operations on libcst nodes, turned into exact text edits.

A rule builds its new code with libcst (`node.with_changes(...)`, rendered by libcst's code generator)
and names the nodes it replaces, deletes or inserts beside. The engine anchors each operation with the
positions it already computed, so an edit covers only the changed node: every other byte of the file
(comments, blank lines, quoting, line endings) stays as it was. Applying is plain text splicing.
"""

from __future__ import annotations

import bisect
import functools
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar, Union

import libcst as cst

from advisor.syntax import node_code

from advisor.types import Edit, Fix


@dataclass(frozen=True)
class Replace:
    """Put `new` (a node or source text) where `node` is."""

    node: cst.CSTNode
    new: cst.CSTNode | str


@dataclass(frozen=True)
class InsertBefore:
    """A new statement line (`code`, no newline) just above `stmt`, at its indentation."""

    stmt: cst.CSTNode
    code: str


@dataclass(frozen=True)
class InsertAfter:
    """A new statement line (`code`, no newline) just below `stmt` (after its whole body), at its indentation."""

    stmt: cst.CSTNode
    code: str


@dataclass(frozen=True)
class ReplaceStatement:
    """Replace a whole statement (a loop nest, say), from its first token to the end of its last line, by
    one new line `code` at the same indentation."""

    stmt: cst.CSTNode
    code: str


@dataclass(frozen=True)
class DeleteLine:
    """Remove a simple statement that sits alone on its line(s), trailing comment and newline included."""

    stmt: cst.SimpleStatementLine


@dataclass(frozen=True)
class AddImport:
    """`code` (e.g. `import numpy as np`) after the last top-level import above `anchor`, or above the
    top-level statement holding `anchor` when there is none. In a notebook only the anchor's cell counts."""

    anchor: cst.CSTNode
    code: str


Op = Union[Replace, InsertBefore, InsertAfter, ReplaceStatement, DeleteLine, AddImport]


@dataclass(frozen=True)
class FixPlan:
    """A rule's autofix for one finding: operations plus whether behaviour stays identical."""

    description: str
    safe: bool
    ops: tuple[Op, ...] = field(default_factory=tuple)


_NEWLINE = re.compile("\n")
F = TypeVar("F", bound=Callable[..., Any])


# `--debug` (Config.debug) for the code that runs rules and their fix builders, which see no Config:
# set by the engine for the duration of one file, so it follows the config into worker processes.
DEBUG: ContextVar[bool] = ContextVar("advisor_debug", default=False)


def guarded(builder: F) -> F:
    """For a rule's fix builder: an unexpected shape costs the fix, never the finding (or the file's
    other findings). `--debug` re-raises so the bug can be found."""

    @functools.wraps(builder)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return builder(*args, **kwargs)
        except Exception:
            if DEBUG.get():
                raise
            return None

    return wrapper  # type: ignore[return-value]  # same signature, but it may also return None (its purpose)


class Unanchorable(Exception):
    """An operation whose place in the text is not a whole line where it must be; the fix is dropped."""



class Anchors:
    """Offsets in the analysed text for nodes, from libcst positions (1-based lines, 0-based columns)."""

    def __init__(self, text: str, positions: Any, module: cst.Module, parents: Callable[[cst.CSTNode], cst.CSTNode | None]) -> None:
        self.text = text
        self.positions = positions
        self.module = module
        self.parent = parents
        self.starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
        self.newline = "\r\n" if "\r\n" in text else "\n"

    def offset(self, line: int, column: int) -> int:
        if line - 1 >= len(self.starts):
            return len(self.text)
        return min(self.starts[line - 1] + column, len(self.text))

    def span(self, node: cst.CSTNode) -> tuple[int, int]:
        rng = self.positions[node]
        return self.offset(rng.start.line, rng.start.column), self.offset(rng.end.line, rng.end.column)

    def render(self, node: cst.CSTNode, start: int) -> str:
        """libcst's code for `node` as it will sit at `start`: continuation lines of a bracketed expression
        get the indentation of the line it starts on, and the file's own newline."""
        line_start = self.starts[self.line_of(start) - 1]
        prefix = self.text[line_start:start]
        indent = prefix[: len(prefix) - len(prefix.lstrip(" \t"))]
        try:
            from libcst._nodes.internal import CodegenState
        except ImportError:  # pragma: no cover - libcst moved its internals; fall back to no indentation
            return node_code(node)
        state = CodegenState(default_indent=self.module.default_indent, default_newline=self.newline, indent_tokens=[indent] if indent else [])
        node._codegen(state)
        return "".join(state.tokens)

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def indent_before(self, start: int) -> str:
        """The whitespace between the start of `start`'s line and `start`; it must be nothing else."""
        line_start = self.starts[self.line_of(start) - 1]
        prefix = self.text[line_start:start]
        if prefix.strip():
            raise Unanchorable("the statement shares its line with other code")
        return prefix

    def next_line_start(self, offset: int) -> int:
        line = self.line_of(offset)
        return self.starts[line] if line < len(self.starts) else len(self.text)

    def top_level(self, node: cst.CSTNode) -> cst.CSTNode:
        current = node
        while True:
            up = self.parent(current)
            if up is None or isinstance(up, cst.Module):
                return current
            current = up


def plan_edits(plan: FixPlan, anchors: Anchors, same_cell: Callable[[int, int], bool] | None = None) -> tuple[Edit, ...]:
    """Text edits for a plan, sorted; raises Unanchorable when an operation has no clean place."""
    edits: list[Edit] = []
    nl = anchors.newline
    for op in plan.ops:
        if isinstance(op, Replace):
            start, end = anchors.span(op.node)
            new = op.new if isinstance(op.new, str) else anchors.render(op.new, start)
            if isinstance(op.new, str) and "\n" in new:
                raise Unanchorable("replacement text spans lines")
            edits.append(Edit(start, end, new))
        elif isinstance(op, InsertBefore):
            if "\n" in op.code:
                raise Unanchorable("inserted statements are single lines")
            start, _ = anchors.span(op.stmt)
            indent = anchors.indent_before(start)
            comments = _comment_lines_above(op.stmt)
            if comments:  # a comment right above the statement stays with it
                line = anchors.line_of(start) - comments
                at = anchors.starts[line - 1] + len(indent)
                if anchors.text[anchors.starts[line - 1] : at] == indent:
                    start = at
            edits.append(Edit(start, start, f"{op.code}{nl}{indent}"))
        elif isinstance(op, InsertAfter):
            if "\n" in op.code:
                raise Unanchorable("inserted statements are single lines")
            start, end = anchors.span(op.stmt)
            indent = anchors.indent_before(start)
            at = anchors.next_line_start(max(end - 1, start))
            lead = "" if anchors.text[:at].endswith("\n") else nl
            edits.append(Edit(at, at, f"{lead}{indent}{op.code}{nl}"))
        elif isinstance(op, ReplaceStatement):
            if "\n" in op.code:
                raise Unanchorable("inserted statements are single lines")
            start, end = anchors.span(op.stmt)
            anchors.indent_before(start)
            at = anchors.next_line_start(max(end - 1, start))
            edits.append(Edit(start, at, f"{op.code}{nl}"))
        elif isinstance(op, DeleteLine):
            start, end = anchors.span(op.stmt)
            indent = anchors.indent_before(start)
            edits.append(Edit(start - len(indent), anchors.next_line_start(max(end - 1, start)), ""))
        elif isinstance(op, AddImport):
            edits.append(_import_edit(op, anchors, same_cell))
    edits.sort(key=lambda e: (e.start, e.end))
    for a, b in zip(edits, edits[1:]):
        if b.start < a.end:
            raise Unanchorable("the plan's own edits overlap")
    return tuple(edits)


def _comment_lines_above(stmt: cst.CSTNode) -> int:
    """How many comment lines sit directly above the statement (no blank line between)."""
    count = 0
    for line in reversed(getattr(stmt, "leading_lines", ())):
        if line.comment is None:
            break
        count += 1
    return count


def _import_edit(op: AddImport, anchors: Anchors, same_cell: Callable[[int, int], bool] | None) -> Edit:
    top = anchors.top_level(op.anchor)
    top_start, _ = anchors.span(top)
    last_import: cst.CSTNode | None = None
    for stmt in anchors.module.body:
        if stmt is top:
            break
        if isinstance(stmt, cst.SimpleStatementLine) and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body):
            s_start, _ = anchors.span(stmt)
            if same_cell is None or same_cell(s_start, top_start):
                last_import = stmt
    if last_import is not None:
        _, end = anchors.span(last_import)
        at = anchors.next_line_start(max(end - 1, 0))
        if at == len(anchors.text) and not anchors.text.endswith("\n"):
            return Edit(at, at, f"{anchors.newline}{op.code}")
        return Edit(at, at, f"{op.code}{anchors.newline}")
    return Edit(top_start, top_start, f"{op.code}{anchors.newline}")


def with_keyword(call: cst.Call, name: str, value: cst.BaseExpression) -> cst.Call:
    """`f(a)` → `f(a, name=value)`, keeping a trailing comma and the spacing before `)` where they were."""
    args = list(call.args)
    trailing = args[-1].comma if args else cst.MaybeSentinel.DEFAULT
    after: cst.BaseParenthesizableWhitespace = args[-1].whitespace_after_arg if args else cst.SimpleWhitespace("")
    if args:
        args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")), whitespace_after_arg=cst.SimpleWhitespace(""))
    equal = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
    args.append(cst.Arg(value, keyword=cst.Name(name), equal=equal, comma=trailing, whitespace_after_arg=after))
    return call.with_changes(args=args)


def fresh_name(taken: set[str], base: str) -> str:
    """`base`, or `base2`, `base3`...: a name not in `taken`."""
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    return name


def to_fix(plan: FixPlan, edits: tuple[Edit, ...]) -> Fix:
    return Fix(description=plan.description, safe=plan.safe, edits=edits)


def apply_edits(text: str, fixes: list[Fix]) -> tuple[str, list[Fix]]:
    """Apply every fix whose edits do not overlap an earlier accepted one; return the text and those applied.

    A fix whose edits were all accepted already (two findings, one shared repair) counts as applied.
    """
    accepted: list[Edit] = []
    applied: list[Fix] = []
    for fix in sorted(fixes, key=lambda f: (f.edits[0].start if f.edits else 0)):
        new = [e for e in fix.edits if e not in accepted]
        if any(_overlaps(e, a) for e in new for a in accepted):
            continue
        accepted.extend(new)
        applied.append(fix)
    out = text
    # from the end backwards; lines inserted at one point keep the order their fixes were accepted in
    for _, e in sorted(enumerate(accepted), key=lambda ie: (ie[1].start, ie[1].end, ie[0]), reverse=True):
        out = out[: e.start] + e.replacement + out[e.end :]
    return out, applied


def _overlaps(a: Edit, b: Edit) -> bool:
    if a.start == a.end or b.start == b.end:  # an insertion conflicts only with a change around its point
        point, other = (a, b) if a.start == a.end else (b, a)
        if point.start == other.start == other.end:
            # two insertions at one point: whole lines stack (two schedulers stepped after one loop)
            return not (point.replacement.endswith("\n") and other.replacement.endswith("\n"))
        return other.start < point.start < other.end
    return a.start < b.end and b.start < a.end
