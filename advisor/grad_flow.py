"""Whether a model's output can reach a backward pass, by following it through the function that made it.

A forward pass recorded by autograd is wasted when its output only ever ends in `.item()`, `.numpy()`,
`.data`, `argmax`, a sample or an image file: acting in an environment, sampling text, logging pictures.
This follows the output (and names derived from it by tensor operations) through its uses in the same
function; any use that could carry it into a loss (stored, returned, passed to a function of the
project, used in arithmetic that is stored) counts as kept, so the answer errs towards silence.
"""

from __future__ import annotations

from typing import Callable, Iterator

import libcst as cst

from advisor.context import FileContext
from advisor.syntax import target_names, walk
from advisor.host_tensors import statement_chain

# After these the value is on the host or is an index: a forward pass that ends here was only read.
HOST_ATTRS = frozenset({"item", "tolist", "numpy", "argmax", "argmin", "sample", "multinomial"})
HOST_FUNCS = frozenset({"torch.argmax", "torch.argmin", "torch.multinomial", "int", "float", "bool", "print", "str", "repr"})
HOST_PREFIXES = ("numpy.", "torchvision.utils.", "matplotlib.")
# After these no gradient flows, but the value stays a tensor (a target network's `.detach()`).
DETACH_ATTRS = frozenset({"data", "detach"})
# Calls that build a new tensor (or distribution) from their tensor arguments: follow their result.
DERIVE_PREFIXES = ("torch.", "torch.nn.functional.", "torch.distributions.")
MAX_DEPTH = 4
EACH_NAME_ALONE = 4  # names whose uses are looked up one pass each before every name is indexed

KEPT, HOST, DETACHED, UNUSED = "kept", "host", "detached", "unused"
_ORDER = {KEPT: 3, HOST: 2, DETACHED: 1, UNUSED: 0}


def _worst(results: list[str]) -> str:
    return max(results, key=_ORDER.__getitem__) if results else UNUSED


class GradFlow:
    def __init__(self, ctx: FileContext, is_model_call: Callable[[cst.Call], bool], inner_calls: Callable[[cst.Call], list[cst.Call]]) -> None:
        self.ctx = ctx
        self.is_model_call = is_model_call
        self.inner_calls = inner_calls  # a model method call -> the forward passes its body runs
        self._uses: dict[str, list[cst.Name]] | None = None  # every name's uses, once many are asked
        self._some_uses: dict[str, list[cst.Name]] = {}  # the few names asked so far
        self._scope_names: dict[int, dict[str, list[cst.Name]]] = {}  # per function: its names

    def fate(self, call: cst.Call) -> str:
        """Where the output of `call` ends: "kept" (may reach a backward pass, or cannot be followed),
        "host" (only read on the host: `.item()`, `.numpy()`, argmax, a sample, an image file), "detached"
        (only `.data` / `.detach()`), or "unused". For a model method (`q.sample_action(s)`) whose own
        forward passes end inside it, their fate decides."""
        inner = self.inner_calls(call)
        if inner:
            inside = _worst([self._expr(c, 0) for c in inner])
            if inside != KEPT:
                return inside
        return self._expr(call, 0)

    # ------------------------------------------------------------------ following one value
    def _expr(self, node: cst.CSTNode, depth: int) -> str:
        if depth > MAX_DEPTH:
            return KEPT
        child = node
        for parent in self.ctx.ancestors(node):
            if isinstance(parent, cst.Attribute) and parent.value is child:
                if parent.attr.value in HOST_ATTRS:
                    return HOST
                if parent.attr.value in DETACH_ATTRS:
                    return DETACHED
                child = parent
                continue
            if isinstance(parent, cst.Call) and parent.func is child:
                child = parent  # a method call on the value: its result is derived from it
                continue
            if isinstance(parent, (cst.Subscript, cst.SubscriptElement, cst.Index, cst.Slice, cst.BinaryOperation, cst.UnaryOperation, cst.Arg, cst.Element, cst.Tuple, cst.List)):
                child = parent
                continue
            if isinstance(parent, (cst.Comparison, cst.ComparisonTarget, cst.FormattedStringExpression, cst.If, cst.While)):
                return HOST  # a test or a formatted string: read on the host
            if isinstance(parent, cst.Call):  # the value is an argument of `parent`
                if self.is_model_call(parent):
                    child = parent  # fed through another forward pass: follow that output
                    continue
                q = self.ctx.call_qualname(parent) or (parent.func.value if isinstance(parent.func, cst.Name) else None)
                if q in HOST_FUNCS or (q or "").startswith(HOST_PREFIXES):
                    return HOST
                if (q or "").startswith(DERIVE_PREFIXES) and q != "torch.save":
                    child = parent
                    continue
                return KEPT  # handed to other code (a buffer, a loss, a helper): may be kept
            if isinstance(parent, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
                return self._targets(parent, depth)
            return KEPT  # returned, yielded, a statement of its own, stored in a comprehension...
        return KEPT

    def _targets(self, stmt: cst.Assign | cst.AugAssign | cst.AnnAssign, depth: int) -> str:
        targets = [t.target for t in stmt.targets] if isinstance(stmt, cst.Assign) else [stmt.target]
        names: set[str] = set()
        for t in targets:
            if isinstance(t, (cst.Tuple, cst.List)):
                for el in t.elements:
                    if not isinstance(el.value, cst.Name):
                        return KEPT
                    names.add(el.value.value)
            elif isinstance(t, cst.Name) and not isinstance(stmt, cst.AugAssign):
                names.add(t.value)
            else:
                return KEPT  # `self.x = out`, `buf[i] = out`, `total += out`: stored where a loss may find it
        line = self.ctx.statement_of(stmt)
        return _worst([self._name(n, line, depth + 1) for n in names])

    def _name(self, name: str, binder: cst.CSTNode, depth: int) -> str:
        scope = self.ctx.enclosing_function(binder)
        results = []
        for use in self._uses_of(name) if scope is None else self._uses_within(scope, name):
            if self.ctx.enclosing_function(use) is not scope or _is_target(self.ctx, use):
                continue
            if _binding_statement(self.ctx, name, use) is not binder:
                continue
            results.append(self._expr(use, depth))
            if results[-1] == KEPT:
                return KEPT
        return _worst(results)

    def _uses_within(self, func: cst.FunctionDef, name: str) -> list[cst.Name]:
        """The `Name` nodes spelled `name` inside `func`, in document order (its names indexed once):
        every use whose function is `func` is among them, and a function is small next to its file."""
        names = self._scope_names.get(id(func))
        if names is None:
            names = self._scope_names[id(func)] = {}
            for n in walk(func):
                if type(n) is cst.Name:
                    names.setdefault(n.value, []).append(n)
        return names.get(name, [])

    def _uses_of(self, name: str) -> list[cst.Name]:
        """Every `Name` node spelled `name`, in document order. Most files ask about a handful of names:
        each is found by one pass over the names; past a few, all are indexed in one pass."""
        if self._uses is None:
            found = self._some_uses.get(name)
            if found is not None:
                return found
            if len(self._some_uses) < EACH_NAME_ALONE:
                found = self._some_uses[name] = [n for n in self.ctx.nodes(cst.Name) if n.value == name]
                return found
            uses: dict[str, list[cst.Name]] = {}
            for n in self.ctx.nodes(cst.Name):
                uses.setdefault(n.value, []).append(n)
            self._uses = uses
        return self._uses.get(name, [])


def _is_target(ctx: FileContext, name: cst.Name) -> bool:
    """The name is being bound here (an assignment or loop target), not read."""
    child: cst.CSTNode = name
    for parent in ctx.ancestors(name):
        if isinstance(parent, (cst.Tuple, cst.List, cst.Element, cst.StarredElement)):
            child = parent
            continue
        if isinstance(parent, cst.AssignTarget):
            return True
        if isinstance(parent, (cst.AugAssign, cst.AnnAssign)) and parent.target is child:
            return True
        if isinstance(parent, (cst.For, cst.CompFor)) and parent.target is child:
            return True
        return False
    return False


def _binding_statement(ctx: FileContext, name: str, use: cst.CSTNode) -> cst.CSTNode | None:
    """The nearest earlier statement (same block, or a block around the use) that binds `name`; a compound
    statement that binds it somewhere inside is returned as the binder too (which then matches nothing)."""
    for stmt in statement_chain(ctx, use):
        block = ctx.parent(stmt)
        body = getattr(block, "body", None)
        if not isinstance(body, (list, tuple)):
            continue
        at = next((i for i, s in enumerate(body) if s is stmt), None)
        if at is None:
            continue
        for earlier in reversed(body[:at]):
            if _binds(earlier, name):
                return _binder_of(earlier, name)
        owner = ctx.parent(block) if isinstance(block, cst.IndentedBlock) else None
        if isinstance(owner, cst.FunctionDef):
            return None
        if isinstance(owner, (cst.For, cst.While)) and _binds(owner, name):
            return None  # bound in the loop too: at this use it may hold last iteration's value
    return None


def _binds(stmt: cst.CSTNode, name: str) -> bool:
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            if isinstance(small, cst.Assign) and any(name in target_names(t.target) for t in small.targets):
                return True
            if isinstance(small, (cst.AugAssign, cst.AnnAssign)) and name in target_names(small.target):
                return True
        return False
    return any(
        isinstance(n, cst.Assign) and any(name in target_names(t.target) for t in n.targets)
        for n in _walk_statements(stmt)
    )


def _binder_of(stmt: cst.CSTNode, name: str) -> cst.CSTNode:
    """The small statement (`x = ...`) inside a statement line that binds `name`, else the statement."""
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            if isinstance(small, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
                return stmt
    return stmt


def _walk_statements(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, (cst.SimpleStatementLine,)):
            stack.extend(n.body)
            continue
        body = getattr(n, "body", None)
        if isinstance(body, cst.BaseSuite):
            stack.append(body)
        elif isinstance(body, (list, tuple)):
            stack.extend(body)
        orelse = getattr(n, "orelse", None)
        if orelse is not None:
            stack.append(orelse)
