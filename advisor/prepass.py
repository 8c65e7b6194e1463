"""The context pre-pass, in pieces: one `Fragment` per subtree, assembled into a `FileContext`.

Everything the pre-pass records about a subtree (parent links, the per-type node index, imports,
definitions, bindings, attribute calls) depends on that subtree alone, so a fragment can be kept with
its top-level statement and reused while the statement is unchanged (the language server does, see
`advisor.incremental`). Assembling fragments in document order gives exactly the context one walk of
the whole module gives: the index lists are concatenated and the recorded events replayed in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import libcst as cst

from advisor.syntax import call_attr, dotted_name, target_names
from advisor.tree_walk import children

# What the walk saw, in visit order: ("import", local name, full name), ("star", "", None), ("function", name,
# node), ("class", name, node), ("bind", dotted name, value), ("attr", attribute, call).
Event = tuple[str, str, Any]


@dataclass
class Fragment:
    """The pre-pass over one subtree; the root's own parent is the assembler's to set."""

    root: cst.CSTNode
    parents: dict[int, cst.CSTNode] = field(default_factory=dict)
    by_type: dict[str, list[cst.CSTNode]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    # Facts derived from this subtree alone, computed on first use by their owner (`advisor.loops`) and
    # kept with the fragment, so the language server does not derive them again for unchanged statements.
    derived: dict[str, Any] = field(default_factory=dict)


def collect(root: cst.CSTNode, descend: bool = True) -> Fragment:
    """Walk `root` (or only look at it, with descend=False) and record what the context needs."""
    frag = Fragment(root)
    parents, by_type, events = frag.parents, frag.by_type, frag.events
    stack: list[tuple[cst.CSTNode, cst.CSTNode | None]] = [(root, None)]
    while stack:
        node, parent = stack.pop()
        if parent is not None:
            parents[id(node)] = parent
        name = type(node).__name__
        found = by_type.get(name)
        if found is None:
            by_type[name] = [node]
        else:
            found.append(node)
        handler = _HANDLERS.get(name)
        if handler is not None:
            handler(node, events)
        if descend:
            kids = children(node)
            stack.extend((kid, node) for kid in reversed(kids))
    return frag


def module_fragments(module: cst.Module, body: Sequence[Fragment] | None = None) -> list[Fragment]:
    """The fragments of a whole module in document order: the module node, its header, one per top-level
    statement (`body` when the caller already has them), its footer."""
    out = [collect(module, descend=False)]
    out += [collect(line) for line in module.header]
    out += body if body is not None else [collect(stmt) for stmt in module.body]
    out += [collect(line) for line in module.footer]
    return out


class ParentLinks:
    """The parent links of a whole module kept up to date from one version to the next: only the
    fragments that came or went change the table (rebuilding it costs ~20 ms on a 5,000-line file, on
    every keystroke in the language server). The table is the one every context of this owner gets, so
    an older context's links are no longer valid once a newer version is assembled."""

    def __init__(self) -> None:
        self.links: dict[int, cst.CSTNode] = {}
        self._held: dict[int, Fragment] = {}

    def assemble(self, module: cst.Module, fragments: Sequence[Fragment]) -> dict[int, cst.CSTNode]:
        """The links of `module`, made of `fragments` (all of its pieces, as `module_fragments` gives)."""
        try:
            return self._assemble(module, fragments)
        except Exception:  # cannot happen while the table matches what it holds; if it ever does, rebuild
            self.links, self._held = {}, {}
            return self._assemble(module, fragments)

    def _assemble(self, module: cst.Module, fragments: Sequence[Fragment]) -> dict[int, cst.CSTNode]:
        links = self.links
        now = {id(frag): frag for frag in fragments}
        for key, frag in self._held.items():  # first forget what went (its nodes are alive until this returns)
            if key not in now:
                for node_id in frag.parents:
                    del links[node_id]
                links.pop(id(frag.root), None)
        for key, frag in now.items():
            if key not in self._held:
                links.update(frag.parents)
        for frag in fragments:
            if frag.root is not module:
                links[id(frag.root)] = module
        self._held = now
        return links


# ---------------------------------------------------------------------- what each node type records
def _import(node: cst.Import, events: list[Event]) -> None:
    for alias in node.names:
        full = dotted_name(alias.name)
        if full is None:
            continue
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            events.append(("import", alias.asname.name.value, full))
        else:
            head = full.split(".")[0]
            events.append(("import", head, head))


def _import_from(node: cst.ImportFrom, events: list[Event]) -> None:
    if isinstance(node.names, cst.ImportStar):
        events.append(("star", "", None))
        return
    if node.relative or node.module is None:
        return
    module = dotted_name(node.module)
    if module is None:
        return
    for alias in node.names:
        name = dotted_name(alias.name)
        if name is None:
            continue
        local = name
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            local = alias.asname.name.value
        events.append(("import", local, f"{module}.{name}"))


def _function(node: cst.FunctionDef, events: list[Event]) -> None:
    events.append(("function", node.name.value, node))


def _class(node: cst.ClassDef, events: list[Event]) -> None:
    events.append(("class", node.name.value, node))


def _assign(node: cst.Assign, events: list[Event]) -> None:
    for t in node.targets:
        _bind(t.target, node.value, events)


def _ann_assign(node: cst.AnnAssign, events: list[Event]) -> None:
    if node.value is not None:
        _bind(node.target, node.value, events)


def _aug_assign(node: cst.AugAssign, events: list[Event]) -> None:
    for name in target_names(node.target):
        events.append(("bind", name, node.value))


def _call(node: cst.Call, events: list[Event]) -> None:
    attr = call_attr(node)
    if attr is not None:
        events.append(("attr", attr, node))


def _bind(target: cst.BaseExpression, value: cst.BaseExpression, events: list[Event]) -> None:
    if isinstance(target, (cst.Tuple, cst.List)):
        values = value.elements if isinstance(value, (cst.Tuple, cst.List)) else None
        for i, el in enumerate(target.elements):
            sub = values[i].value if values is not None and i < len(values) else cst.Name("__unknown__")
            _bind(el.value, sub, events)
        return
    if isinstance(target, (cst.Name, cst.Attribute)):
        dotted = dotted_name(target)
        if dotted:
            events.append(("bind", dotted, value))


_HANDLERS: dict[str, Callable[[Any, list[Event]], None]] = {
    "Import": _import,
    "ImportFrom": _import_from,
    "FunctionDef": _function,
    "ClassDef": _class,
    "Assign": _assign,
    "AnnAssign": _ann_assign,
    "AugAssign": _aug_assign,
    "Call": _call,
}
