"""Children of a libcst node in document order, without libcst's visitor machinery.

libcst's `node.children` and `node.visit(visitor)` rebuild every node they pass (a dataclass constructor
with validation per node), which made the context pre-pass cost more than the parse. Here a node's
children are read straight from its fields, in the order libcst's own traversal visits them (read once
per node class from that traversal's compiled code and checked against one `node.children`).
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Iterator, Sequence

import libcst as cst
from libcst import CSTNode

_SEQUENCES = (tuple, list)
# per node class: its fields that can hold nodes, in libcst's traversal order; None: use `node.children`
_ORDER: dict[type, tuple[str, ...] | None] = {}
_IS_NODE: dict[type, bool] = {}
_UNSET: tuple[str, ...] = ("<not learned yet>",)


def _may_hold_node(hint: object) -> bool:
    """Whether a field annotation admits a CSTNode (conservative: anything unrecognised does)."""
    if hint in (str, bool, int, float, type(None), cst.MaybeSentinel):
        return False
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return False
    if origin is not None:
        return any(_may_hold_node(arg) for arg in typing.get_args(hint))
    return not isinstance(hint, type) or issubclass(hint, CSTNode) or hint is object


def _field_order(node: CSTNode) -> tuple[str, ...] | None:
    """The node fields of this class in the order libcst's `_visit_and_replace_children` visits them (the
    order its code first reads them, `self.<field>`, from the compiled names), checked once against
    `node.children`; None when that cannot be read or does not agree."""
    cls = type(node)
    try:
        hints = typing.get_type_hints(cls)
        fields = {f.name for f in dataclasses.fields(cls) if _may_hold_node(hints.get(f.name, object))}
        names = cls._visit_and_replace_children.__code__.co_names
    except (AttributeError, TypeError, NameError):
        return None
    order = tuple(n for n in names if n in fields)
    if set(order) != fields:
        return None
    fast = _from_fields(node, order)
    slow = node.children
    if len(fast) != len(slow) or any(a is not b for a, b in zip(fast, slow)):
        return None
    return order


def _from_fields(node: CSTNode, order: tuple[str, ...]) -> list[CSTNode]:
    out: list[CSTNode] = []
    for name in order:
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            out.extend(value)
        elif value is not None:
            is_node = _IS_NODE.get(kind)
            if is_node is None:
                is_node = _IS_NODE[kind] = isinstance(value, CSTNode)
            if is_node:
                out.append(value)
    return out


def children(node: CSTNode) -> Sequence[CSTNode]:
    """`node.children`, in the same order, without rebuilding the node."""
    order = _ORDER.get(type(node), _UNSET)
    if order is _UNSET:
        order = _ORDER[type(node)] = _field_order(node)
    if order is None:
        return node.children
    return _from_fields(node, order)


def preorder(node: CSTNode) -> Iterator[CSTNode]:
    """Every node of a subtree, parents before children, in document order."""
    stack: list[CSTNode] = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))
