"""ADV401 on the user's own code: lift the flagged function out of the file with libcst, without
importing the user's module, and only when it is self-contained and proven pure.

Self-contained means every name it reads is a parameter, a local, a harmless builtin, or an import
alias of numpy/torch; pure means the whole function passes the allow-list in `purity` (signature,
node types, attributes, calls). Anything else is refused with the reason. Only this one function's
source is ever run, and only under `--verify-user-code`, in the isolated child (see `sandbox`).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

import libcst as cst

from advisor.syntax import node_code
from libcst.metadata import BuiltinAssignment, GlobalScope, MetadataWrapper, PositionProvider, Scope, ScopeProvider

from advisor.verify.purity import CALL_BUILTINS as SAFE_BUILTINS, impurity

FRAMEWORKS = ("numpy", "torch")
IO_ATTRS = frozenset({"load", "save", "savez", "savez_compressed", "savetxt", "loadtxt", "fromfile", "tofile", "genfromtxt", "memmap", "open", "DataFrame"})
# Parameters with these names and no default are taken as the matrix size.
SIZE_PARAMS = frozenset({"n", "m", "k", "p", "size", "dim", "rows", "cols", "N", "M", "K"})


@dataclass(frozen=True)
class Extraction:
    function: dict[str, Any] | None
    refusal: str = ""


def _refuse(why: str) -> Extraction:
    return Extraction(None, why)


def _innermost_function(module: cst.Module, positions: Any, line: int) -> cst.FunctionDef | None:
    best: cst.FunctionDef | None = None

    class Finder(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            nonlocal best
            rng = positions[node]
            if rng.start.line <= line <= rng.end.line:
                best = node

    module.visit(Finder())
    return best


def _framework_import(assignment: Any) -> str | None:
    """The framework module an import binds (`import numpy as np` → "numpy"), else None."""
    node = getattr(assignment, "node", None)
    if isinstance(node, cst.Import):
        for alias in node.names:
            full = node_code(alias.name)
            if full.split(".")[0] in FRAMEWORKS:
                bound = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else full.split(".")[0]
                if bound == assignment.name:
                    return full if alias.asname else full.split(".")[0]
    return None


def _scopes_within(scopes: Any, root: Scope) -> set[Scope]:
    found = set()
    for scope in set(scopes.values()):
        s: Scope | None = scope
        while s is not None and not isinstance(s, GlobalScope):
            if s is root:
                found.add(scope)
                break
            s = s.parent
    return found


def extract_function(text: str, line: int) -> Extraction:
    """The self-contained function enclosing `line`, ready for the child, or why it cannot be used."""
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        return _refuse("the file does not parse")
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    scopes = wrapper.resolve(ScopeProvider)
    fn = _innermost_function(module, positions, line)
    if fn is None:
        return _refuse("the flagged code is not inside a function — wrap it in one to measure it")
    name = fn.name.value
    params = fn.params
    if params.star_arg not in (None, cst.MaybeSentinel.DEFAULT) or params.star_kwarg is not None or params.posonly_params or params.kwonly_params:
        return _refuse(f"`{name}` takes *args, **kwargs, or positional-/keyword-only parameters")
    required = [p.name.value for p in params.params if p.default is None]
    matrices = [p for p in required if p not in SIZE_PARAMS]
    sizes_params = [p for p in required if p in SIZE_PARAMS]
    if len(matrices) != 2:
        return _refuse(f"`{name}` must take exactly two matrices (it takes {', '.join(required) or 'none'})")
    if required[:2] != matrices:
        return _refuse(f"`{name}` must take the two matrices first")

    body_scope = scopes.get(fn.body.body[0]) if fn.body.body else None
    if body_scope is None:
        return _refuse(f"`{name}` has no body to measure")
    aliases: dict[str, str] = {}
    for scope in _scopes_within(scopes, body_scope):
        for access in scope.accesses:
            ident = access.node.value if isinstance(access.node, cst.Name) else node_code(access.node)
            referents = list(access.referents)
            if not referents:
                return _refuse(f"`{name}` reads `{ident}`, which is not defined — only self-contained functions are run")
            for ref in referents:
                if isinstance(ref, BuiltinAssignment):
                    if ident not in SAFE_BUILTINS:
                        return _refuse(f"`{name}` calls `{ident}`, which may do I/O or depend on state — only self-contained functions are run")
                elif ref.scope not in _scopes_within(scopes, body_scope):
                    framework = _framework_import(ref) if isinstance(ref.scope, GlobalScope) else None
                    if framework is None:
                        return _refuse(f"`{name}` touches the global name `{ident}` — only self-contained functions are run")
                    aliases[ident] = framework

    for node in _walk(fn):
        if isinstance(node, (cst.Global, cst.Nonlocal)):
            return _refuse(f"`{name}` declares global or nonlocal names")
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            return _refuse(f"`{name}` imports inside its body")
        if isinstance(node, (cst.Yield, cst.Await)):
            return _refuse(f"`{name}` is a generator or coroutine")
        if isinstance(node, cst.Attribute) and node.attr.value in IO_ATTRS:
            return _refuse(f"`{name}` calls `.{node.attr.value}`, which does I/O")
    why = impurity(fn, set(aliases))
    if why:
        return _refuse(f"`{name}` {why} — only functions proven pure are run")
    if not any(isinstance(n, cst.Return) and n.value is not None for n in _walk(fn)):
        return _refuse(f"`{name}` returns nothing to compare")

    uses_tuple_index = any(
        isinstance(n, cst.Subscript) and len(n.slice) > 1 for n in _walk(fn)
    )
    source = textwrap.dedent(node_code(fn.with_changes(leading_lines=())))
    return Extraction(
        {
            "name": name,
            "source": source,
            "aliases": dict(sorted(aliases.items())),
            "input": "arrays" if uses_tuple_index else "lists",
            "size_params": sizes_params,
        }
    )


def _walk(node: cst.CSTNode) -> list[cst.CSTNode]:
    out: list[cst.CSTNode] = []
    stack = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(n.children)
    return out
