"""Pure syntax helpers over libcst nodes: names, arguments, literals, walks and source text.

Nothing here knows about a file's imports or about training; rules and the index share these so that no
module keeps its own copy (of `code_for_node`, argument lookup, ...).
"""

from __future__ import annotations

from typing import Iterator

import libcst as cst

from advisor.tree_walk import preorder

LOOP_TYPES = (cst.For, cst.While)
# Node types that bind names (see `bound_names`).
BINDING_TYPES = ("Assign", "AugAssign", "AnnAssign", "For", "CompFor", "AsName", "NamedExpr", "Del")
DTYPE_NAMES = frozenset(
    "float float16 float32 float64 half double bfloat16 int int8 int16 int32 int64 long short bool "
    "uint8 complex64 complex128 cfloat cdouble float8_e4m3fn float8_e5m2".split()
)



# dotted_name, call_attr and callee_name run for most nodes of a file: they test node types with `type(x) is`
# (libcst's node classes are final; `isinstance` goes through ABCMeta, a Python-level call, and was a fifth
# of the rules' time on a long file).


def dotted_name(node: cst.BaseExpression | None) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    if type(node) is cst.Name:
        return node.value
    parts: list[str] = []
    while type(node) is cst.Attribute:
        parts.append(node.attr.value)
        node = node.value
    if type(node) is cst.Name:
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def call_attr(node: cst.CSTNode) -> str | None:
    """For `x.method(...)` return "method", else None."""
    if type(node) is cst.Call and type(node.func) is cst.Attribute:
        return node.func.attr.value
    return None


def call_receiver(call: cst.Call) -> cst.BaseExpression | None:
    """`x` of `x.method(...)`, else None (a plain `f(...)` call has no receiver)."""
    return call.func.value if isinstance(call.func, cst.Attribute) else None


def callee_name(node: cst.CSTNode) -> str | None:
    """For `f(...)` return "f", for `x.y.f(...)` return "f", else None (not a call, or a computed callee)."""
    if type(node) is cst.Call:
        func = node.func
        if type(func) is cst.Name:
            return func.value
        if type(func) is cst.Attribute:
            return func.attr.value
    return None


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def has_star_args(call: cst.Call) -> bool:
    """True when `*args` or `**kwargs` may supply arguments we cannot see."""
    return any(arg.star in ("*", "**") for arg in call.args)


def positional(call: cst.Call) -> list[cst.Arg]:
    return [a for a in call.args if a.keyword is None and a.star == ""]


def int_value(node: cst.BaseExpression | None) -> int | None:
    if isinstance(node, cst.Integer):
        try:
            return int(node.value.replace("_", ""), 0)
        except ValueError:
            return None
    return None


def names_in(node: cst.CSTNode) -> set[str]:
    """Every bare Name read in `node` (attribute names excluded)."""
    found: set[str] = set()

    class _Names(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            found.add(n.value)

        def visit_Attribute(self, n: cst.Attribute) -> bool:
            n.value.visit(self)
            return False

    node.visit(_Names())
    return found


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Pre-order walk of a subtree, in document order (read from the fields: see `advisor.tree_walk`)."""
    return preorder(node)


def target_names(target: cst.CSTNode) -> set[str]:
    """Names (and dotted attribute targets like `self.x`) bound by an assignment target."""
    out: set[str] = set()
    if isinstance(target, cst.Name):
        out.add(target.value)
    elif isinstance(target, cst.Attribute):
        dotted = dotted_name(target)
        if dotted:
            out.add(dotted)
    elif isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            out |= target_names(el.value)
    elif isinstance(target, cst.StarredElement):
        out |= target_names(target.value)
    elif isinstance(target, cst.Subscript):
        dotted = dotted_name(target.value)
        if dotted:
            out.add(dotted)  # x[i] = ... mutates x
    return out



def bound_names(node: cst.CSTNode) -> set[str]:
    """Names a binding statement or clause binds (see BINDING_TYPES)."""
    if isinstance(node, cst.Assign):
        out: set[str] = set()
        for t in node.targets:
            out |= target_names(t.target)
        return out
    if isinstance(node, (cst.AugAssign, cst.AnnAssign)):
        return target_names(node.target)
    if isinstance(node, (cst.For, cst.CompFor)):
        return target_names(node.target)
    if isinstance(node, cst.AsName):
        return target_names(node.name)
    if isinstance(node, cst.NamedExpr):
        return target_names(node.target)
    if isinstance(node, cst.Del):
        return target_names(node.target)
    return set()


_EMPTY_MODULE = cst.Module([])


def node_code(node: cst.CSTNode) -> str:
    """Source text of a node on its own (default formatting of an empty module)."""
    return _EMPTY_MODULE.code_for_node(node)
