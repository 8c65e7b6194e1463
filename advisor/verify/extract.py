"""The user's own code for the verifier: lift the flagged function out of the file with libcst, without
importing the user's module, and only when it is self-contained and proven pure. Two kinds: a matrix
product (compared with `@`) and an element-wise loop (compared with the same function whose loop is
replaced by the rule's vectorised statement).

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
# An element-wise loop may also call `math` functions (the allow-list in `purity` names which).
ELEMENTWISE_MODULES = (*FRAMEWORKS, "math")
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


def _framework_import(assignment: Any, frameworks: tuple[str, ...] = FRAMEWORKS) -> str | None:
    """The framework module an import binds (`import numpy as np` → "numpy"), else None."""
    node = getattr(assignment, "node", None)
    if isinstance(node, cst.Import):
        for alias in node.names:
            full = node_code(alias.name)
            if full.split(".")[0] in frameworks:
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


@dataclass(frozen=True)
class _Lifted:
    """A function proven self-contained and pure, with the framework aliases it reads."""

    fn: cst.FunctionDef
    aliases: dict[str, str]
    source: str
    positions: Any


def _lift(text: str, line: int, frameworks: tuple[str, ...] = FRAMEWORKS, helpers_allowed: bool = True) -> _Lifted | Extraction:
    """The function enclosing `line` when it is self-contained and pure, else a refusal saying why.
    It may call other functions of the file (`dot(w, x)`) that pass the same proof on their own and
    call none themselves; their sources come first in the lifted source."""
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
    body_scope = scopes.get(fn.body.body[0]) if fn.body.body else None
    if body_scope is None:
        return _refuse(f"`{name}` has no body to measure")
    aliases: dict[str, str] = {}
    helpers: dict[str, _Lifted] = {}
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
                    framework = _framework_import(ref, frameworks) if isinstance(ref.scope, GlobalScope) else None
                    helper = getattr(ref, "node", None)
                    if framework is None and isinstance(helper, cst.FunctionDef) and isinstance(ref.scope, GlobalScope) and helper is not fn:
                        if not helpers_allowed:
                            return _refuse(f"`{name}` calls `{ident}` — a helper may not call other functions of the file")
                        lifted = helpers.get(ident) or _lift(text, positions[helper].start.line, frameworks, helpers_allowed=False)
                        if isinstance(lifted, Extraction):
                            return _refuse(f"`{name}` calls `{ident}`, which cannot be run: {lifted.refusal}")
                        helpers[ident] = lifted
                        aliases.update(lifted.aliases)
                        continue
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
    why = impurity(fn, set(aliases), frozenset(helpers))
    if why:
        return _refuse(f"`{name}` {why} — only functions proven pure are run")
    if not any(isinstance(n, cst.Return) and n.value is not None for n in _walk(fn)):
        return _refuse(f"`{name}` returns nothing to compare")
    source = textwrap.dedent(node_code(fn.with_changes(leading_lines=())))
    source = "\n".join([*(h.source for _, h in sorted(helpers.items())), source])
    return _Lifted(fn, dict(sorted(aliases.items())), source, positions)


def extract_function(text: str, line: int, matvec: bool = False) -> Extraction:
    """The self-contained matrix-product function enclosing `line`, ready for the child, or why it cannot
    be used. `matvec`: the product is matrix-vector (the rule said so); the parameters' roles are then
    read from how the function uses them."""
    lifted = _lift(text, line)
    if isinstance(lifted, Extraction):
        return lifted
    fn, name = lifted.fn, lifted.fn.name.value
    if matvec:
        return _matvec_extraction(lifted)
    required = [p.name.value for p in fn.params.params if p.default is None]
    matrices = [p for p in required if p not in SIZE_PARAMS]
    sizes_params = [p for p in required if p in SIZE_PARAMS]
    if len(matrices) != 2:
        return _refuse(f"`{name}` must take exactly two matrices (it takes {', '.join(required) or 'none'})")
    if required[:2] != matrices:
        return _refuse(f"`{name}` must take the two matrices first")
    uses_tuple_index = any(
        isinstance(n, cst.Subscript) and len(n.slice) > 1 for n in _walk(fn)
    )
    return Extraction(
        {
            "kind": "matmul",
            "name": name,
            "source": lifted.source,
            "aliases": lifted.aliases,
            "input": "arrays" if uses_tuple_index else "lists",
            "size_params": sizes_params,
        }
    )


def _matvec_extraction(lifted: _Lifted) -> Extraction:
    fn, name = lifted.fn, lifted.fn.name.value
    roles: dict[str, str] = {}
    for param in fn.params.params:
        if param.default is not None:
            continue
        p = param.name.value
        roles[p] = "size" if p in SIZE_PARAMS else _rank(fn, p)
    mats = [p for p, r in roles.items() if r in ("matrix", "flat")]
    vecs = [p for p, r in roles.items() if r == "vector"]
    if len(mats) != 1 or len(vecs) != 1 or len(roles) != 2 + sum(r == "size" for r in roles.values()):
        shown = ", ".join(f"{p} ({r})" for p, r in roles.items()) or "none"
        return _refuse(f"`{name}` must take one matrix and one vector (advisor reads its parameters as: {shown})")
    arrays = any(isinstance(n, cst.Subscript) and len(n.slice) > 1 for n in _walk(fn))
    return Extraction(
        {
            "kind": "matmul",
            "shape": "matvec",
            "name": name,
            "source": lifted.source,
            "aliases": lifted.aliases,
            "input": "arrays" if arrays else "lists",
            "roles": roles,
        }
    )


def _rank(fn: cst.FunctionDef, name: str, depth: int = 0) -> str:
    """How the function reads `name`: "matrix" (two indices, its rows iterated or one row picked whole),
    "flat" (one row-major index `i * n + j`), "vector" (one plain index in arithmetic, or passed whole
    to a helper), else "unknown". A first "matrix" or "flat" use decides."""
    parents: dict[int, cst.CSTNode] = {}
    for node in _walk(fn):
        for child in node.children:
            parents[id(child)] = node
    seen = "unknown"
    for node in _walk(fn.body):
        if not (isinstance(node, cst.Name) and node.value == name):
            continue
        parent = parents.get(id(node))
        if isinstance(parent, cst.Subscript) and parent.value is node:
            index = parent.slice[0].slice
            outer = parents.get(id(parent))
            if len(parent.slice) > 1 or (isinstance(outer, cst.Subscript) and outer.value is parent):
                return "matrix"
            if isinstance(index, cst.Index) and _row_major(index.value):
                return "flat"
            if (isinstance(outer, (cst.For, cst.CompFor)) and outer.iter is parent) or _helper_arg(parents, outer):
                return "matrix"  # `for w in W[i]`, `dot(W[i], x)`: one row taken whole
            if isinstance(outer, cst.Assign) and _assigned_row(fn, outer, depth):
                return "matrix"  # `k = K[t]` and `k` is then read as a vector: a row
            seen = "vector"
        elif isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is node:
            return "matrix"
        elif isinstance(parent, cst.Arg):
            call = parents.get(id(parent))
            if isinstance(call, cst.Call) and isinstance(call.func, cst.Name) and call.func.value == "zip" and parent.star == "*":
                return "matrix"  # zip(*B): its columns
            if _helper_arg(parents, parent) or (isinstance(call, cst.Call) and isinstance(call.func, cst.Name) and call.func.value == "zip"):
                seen = "vector"
    return seen


def _assigned_row(fn: cst.FunctionDef, assign: cst.Assign, depth: int) -> bool:
    """`k = K[t]` where `k` is itself read as a vector (or a matrix): `K[t]` is a row, not an element."""
    if depth > 2 or len(assign.targets) != 1 or not isinstance(assign.targets[0].target, cst.Name):
        return False
    return _rank(fn, assign.targets[0].target.value, depth + 1) in ("vector", "matrix")


def _helper_arg(parents: dict[int, cst.CSTNode], node: cst.CSTNode | None) -> bool:
    """`node` is an argument of a call to something other than a numeric or sizing builtin."""
    if not isinstance(node, cst.Arg):
        return False
    call = parents.get(id(node))
    return isinstance(call, cst.Call) and not (isinstance(call.func, cst.Name) and call.func.value in SAFE_BUILTINS)


def _row_major(index: cst.BaseExpression) -> bool:
    return isinstance(index, cst.BinaryOperation) and isinstance(index.operator, cst.Add) and any(
        isinstance(side, cst.BinaryOperation) and isinstance(side.operator, cst.Multiply) for side in (index.left, index.right)
    )


def apply_edits(text: str, edits: list[tuple[int, int, str]]) -> str:
    """`text` with each `(start, end, replacement)` applied (they must not overlap)."""
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def extract_elementwise(text: str, line: int, fixed_text: str | None) -> Extraction:
    """The function holding the element-wise loop at `line`, and the same function with the loop
    replaced by the vectorised statement (`fixed_text`: the file with the finding's fix applied).

    Inputs are made from the parameters' roles in the loop: `x[i]` read or stored, an array of n
    elements; the bound `range(n)`, the size; a name read as a whole, a scalar. A parameter used any
    other way (indexed elsewhere, passed to a call) is refused: advisor could not make its input."""
    if fixed_text is None:
        return _refuse("advisor has no single vectorised statement for this loop to compare with")
    lifted = _lift(text, line, ELEMENTWISE_MODULES)
    if isinstance(lifted, Extraction):
        return lifted
    name = lifted.fn.name.value
    start = lifted.positions[lifted.fn].start.line
    after = _lift(fixed_text, start, ELEMENTWISE_MODULES)
    if isinstance(after, Extraction):
        return _refuse(f"its vectorised form cannot be run: {after.refusal}")
    if after.fn.name.value != name:
        return _refuse("its vectorised form is not the same function")
    loop = next((n for n in _walk(lifted.fn) if isinstance(n, cst.For) and lifted.positions[n].start.line == line), None)
    if loop is None or not isinstance(loop.target, cst.Name):
        return _refuse("the flagged loop is not a plain `for i in range(...)` of this function")
    roles = _elementwise_roles(lifted.fn, loop, loop.target.value)
    if isinstance(roles, str):
        return _refuse(f"`{name}` {roles}")
    libraries = {after.aliases[a] for a in after.aliases if after.aliases[a] in FRAMEWORKS}
    return Extraction(
        {
            "kind": "elementwise",
            "name": name,
            "source": lifted.source,
            "after_source": after.source,
            "aliases": {**lifted.aliases, **after.aliases},
            "params": roles,
            "library": "torch" if libraries == {"torch"} else "numpy",
        }
    )


def _elementwise_roles(fn: cst.FunctionDef, loop: cst.For, index: str) -> dict[str, str] | str:
    """Each required parameter's role: "array" (read as x[i]), "output" (stored as y[i], and copied
    afresh for every call), "size" (the loop's bound), "scalar" (read only as a whole); or why not."""
    stored, read = set(), set()
    for node in _walk(loop.body):
        if isinstance(node, (cst.AssignTarget, cst.AugAssign)):
            target = node.target
            if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
                stored.add(target.value.value)
        if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and len(node.slice) == 1:
            element = node.slice[0].slice
            if isinstance(element, cst.Index) and isinstance(element.value, cst.Name) and element.value.value == index:
                read.add(node.value.value)
    bound = {n.value for n in _walk(loop.iter) if isinstance(n, cst.Name)}
    roles: dict[str, str] = {}
    for param in fn.params.params:
        if param.default is not None:
            continue
        p = param.name.value
        if p in stored:
            roles[p] = "output"
        elif p in read:
            roles[p] = "array"
        elif p in bound and p in SIZE_PARAMS:
            roles[p] = "size"
        elif _only_read_whole(fn, p):
            roles[p] = "scalar"
        else:
            return f"uses its parameter `{p}` in a way advisor cannot make an input for"
    if not any(r in ("array", "output") for r in roles.values()):
        return "takes no array the loop reads or writes"
    return roles


def _only_read_whole(fn: cst.FunctionDef, name: str) -> bool:
    """`name` is never indexed, called, passed to a call or read through an attribute: a number."""
    for node in _walk(fn.body):
        if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and node.value.value == name:
            return False
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == name:
            return False
        if isinstance(node, cst.Call):
            if isinstance(node.func, cst.Name) and node.func.value == name:
                return False
            if any(isinstance(a.value, cst.Name) and a.value.value == name for a in node.args):
                return False
    return True


def _walk(node: cst.CSTNode) -> list[cst.CSTNode]:
    out: list[cst.CSTNode] = []
    stack = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(n.children)
    return out
