"""Which loop makes a function run repeatedly: an in-file call graph over functions, methods and modules.

Rules see one node at a time; the per-step work of real code often sits one call away from its loop
(`forward()` of a module called as `model(x)`, a helper the loop calls, a method called every N batches).
This module resolves calls to the functions of the file they reach (plain functions, `self.method`,
`obj.method` where `obj = LocalClass(...)`, `model(x)` → `LocalModule.forward`) and lets "runs in a loop"
flow from each loop to everything it reaches, keeping the loop that starts the chain so a finding can
name it. Built once per file on first use and shared by every rule through `ctx.shared`.

Loops of other files of the scanned project reach in through `ctx.shared["project"]` (see
`advisor/project.py`): a function another module calls every step starts a chain here too, and its
repeat names that module's loop by path and line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import libcst as cst

from advisor.context import FileContext
from advisor.syntax import dotted_name, walk

MAX_HOPS = 4  # a chain longer than this is rarely per-step work a reader would follow


@dataclass(frozen=True)
class Repeat:
    """A function runs repeatedly because `site` (a call inside `loop`) reaches it. When the loop is in
    another file of the project, `loop` and `site` are None and `elsewhere` says where it is
    (`train.py:88`)."""

    loop: cst.For | cst.While | None
    site: cst.Call | None
    gated: bool  # the call sits under an `if step % N` inside the loop: every N iterations
    training: bool  # the loop trains (backward / optimizer step inside)
    hops: int
    steps: bool = True  # the loop's own body takes the optimizer step (else it is an epoch loop)
    elsewhere: str | None = None

    @property
    def how(self) -> str:
        unit = "step" if self.steps else "epoch"
        if not self.training:
            return "in a loop"
        return f"every N {unit}s" if self.gated else f"every {unit}"

    def rank(self) -> tuple[int, int, int, int]:
        """Lower is stronger evidence: a training loop, ungated, fewest hops, in this file."""
        return (0 if self.training else 1, 1 if self.gated else 0, self.hops, 0 if self.elsewhere is None else 1)

    def further(self) -> "Repeat":
        """The same repetition one call deeper."""
        return replace(self, hops=self.hops + 1)


class CallGraph:
    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self._module_funcs: dict[str, cst.FunctionDef] = {}
        self._methods: dict[str, dict[str, cst.FunctionDef]] = {}
        for fdefs in ctx.functions.values():
            for f in fdefs:
                owner = ctx.parent(ctx.parent(f) or f)  # FunctionDef -> IndentedBlock -> ClassDef / Module
                if isinstance(owner, cst.ClassDef):
                    self._methods.setdefault(owner.name.value, {})[f.name.value] = f
                elif isinstance(ctx.parent(f), cst.Module):
                    self._module_funcs[f.name.value] = f
        self._class_of_cache: dict[str, str | None] = {}
        self._targets: dict[int, list[cst.FunctionDef]] = {}
        self._repeats: dict[int, Repeat] | None = None

    # ------------------------------------------------------------------ resolution
    def targets(self, call: cst.Call) -> list[cst.FunctionDef]:
        """Functions of this file that `call` runs (empty when it leaves the file or is unknown);
        remembered per call, as several rules ask about the same calls."""
        found = self._targets.get(id(call))
        if found is None:
            found = self._targets[id(call)] = self._resolve(call)
        return found

    def _resolve(self, call: cst.Call) -> list[cst.FunctionDef]:
        func = call.func
        if isinstance(func, cst.Name):
            if func.value in self._module_funcs:
                return [self._module_funcs[func.value]]
            cls = self.class_of(func, call)
            return self._method(cls, "forward") if cls else []
        if isinstance(func, cst.Attribute):
            cls = self.class_of(func.value, call)
            if cls is None:
                return []
            found = self._method(cls, func.attr.value)
            if found or func.attr.value in self._methods.get(cls, {}):
                return found
            # `self.G(z)`: an attribute holding a local module, called
            inner = self.class_of(func, call)
            return self._method(inner, "forward") if inner else []
        return []

    def _method(self, cls: str | None, name: str) -> list[cst.FunctionDef]:
        seen: set[str] = set()
        while cls is not None and cls not in seen:
            seen.add(cls)
            found = self._methods.get(cls, {}).get(name)
            if found is not None:
                return [found]
            cls = self._local_base(cls)
        return []

    def _local_base(self, cls: str) -> str | None:
        node = self.ctx.classes.get(cls)
        if node is None:
            return None
        for base in node.bases:
            name = dotted_name(base.value)
            if name in self.ctx.classes:
                return name
        return None

    def class_of(self, expr: cst.BaseExpression, where: cst.CSTNode) -> str | None:
        """The local class an expression holds an instance of: `self` in a method, or a name / attribute
        every binding of which constructs that class (possibly moved: `Net().to(device)`)."""
        if isinstance(expr, cst.Name) and expr.value == "self":
            cls = self.ctx.enclosing_class(where)
            return cls.name.value if cls is not None else None
        dotted = dotted_name(expr)
        if dotted is None:
            return None
        if dotted in self._class_of_cache:
            return self._class_of_cache[dotted]
        self._class_of_cache[dotted] = None
        found: set[str | None] = {self._constructed(v) for v in self.ctx.bindings.get(dotted, ())}
        class_name = found.pop() if len(found) == 1 else None
        self._class_of_cache[dotted] = class_name
        return class_name

    def _constructed(self, value: cst.BaseExpression) -> str | None:
        while isinstance(value, cst.Call):
            func = value.func
            if isinstance(func, cst.Name):
                return func.value if func.value in self.ctx.classes else None
            if isinstance(func, cst.Attribute) and func.attr.value in ("to", "cuda", "cpu", "train", "eval", "float", "half", "double"):
                value = func.value
                continue
            return None
        return None

    # ------------------------------------------------------------------ repetition
    def repeat_of(self, node: cst.CSTNode) -> Repeat | None:
        """Why the function holding `node` runs repeatedly: the loop whose call chain reaches it."""
        func = self.ctx.enclosing_function(node)
        if func is None:
            return None
        return self._all_repeats().get(id(func))

    def repeat_at(self, call: cst.Call) -> Repeat | None:
        """How often `call` itself runs: in a loop of its own function (one hop: what it calls runs per
        iteration), or because a loop reaches its function (one hop more)."""
        ctx = self.ctx
        loops = ctx.loops.call_sites()[0].get(id(call))
        if loops:
            return self._direct(call, loops)
        rep = self.repeat_of(call)
        return rep.further() if rep is not None else None

    def _direct(self, call: cst.Call, loops: list[tuple[cst.For | cst.While, int]]) -> Repeat | None:
        """The repeat a call inside a loop gives what it calls: the training loop around it if any."""
        ctx = self.ctx
        loop = next((lp for lp, _ in loops if ctx.loop_facts(lp).is_training_loop), loops[0][0])
        if ctx.in_test_function(loop):
            return None
        facts = ctx.loop_facts(loop)
        return Repeat(loop, call, step_gated(ctx, call, loop), facts.is_training_loop, 1, facts.is_step_loop)

    def _all_repeats(self) -> dict[int, Repeat]:
        if self._repeats is not None:
            return self._repeats
        ctx = self.ctx
        call_loops, call_func = ctx.loops.call_sites()
        best: dict[int, Repeat] = {}
        by_func: dict[int, list[cst.Call]] = {}
        for call in ctx.nodes(cst.Call):
            owner = call_func.get(id(call))
            if owner is not None:
                by_func.setdefault(id(owner[0]), []).append(call)
        work: list[tuple[cst.FunctionDef, Repeat]] = self._from_elsewhere()
        for call in ctx.nodes(cst.Call):
            loops = call_loops.get(id(call))
            if not loops:
                continue
            targets = self.targets(call)
            rep = self._direct(call, loops) if targets else None
            if rep is not None:
                work.extend((target, rep) for target in targets)
        while work:
            func, rep = work.pop()
            known = best.get(id(func))
            if known is not None and known.rank() <= rep.rank():
                continue
            best[id(func)] = rep
            if rep.hops >= MAX_HOPS:
                continue
            for call in by_func.get(id(func), ()):
                for target in self.targets(call):
                    if target is not func:
                        work.append((target, rep.further()))
        self._repeats = best
        return best

    def _from_elsewhere(self) -> list[tuple[cst.FunctionDef, Repeat]]:
        """Functions of this file that loops of other project files call (`name` or `Class.method`)."""
        external = self.ctx.shared.get("project")
        out: list[tuple[cst.FunctionDef, Repeat]] = []
        for key, rep in getattr(external, "repeats", ()):
            cls, _, name = key.rpartition(".")
            found = self._method(cls, name) if cls else [f for f in [self._module_funcs.get(name)] if f is not None]
            out.extend((f, rep) for f in found)
        return out


def step_gated(ctx: FileContext, node: cst.CSTNode, loop: cst.CSTNode | None) -> bool:
    """Under an `if` inside `loop` whose test takes a remainder (`if step % 100 == 0:`): every N steps.
    `loop` None (a loop of another file): any such `if` around `node` in its file."""
    child = node
    for anc in ctx.ancestors(node):
        if anc is loop:
            return False
        if isinstance(anc, cst.If) and child is not anc.test:
            if any(isinstance(n, cst.BinaryOperation) and isinstance(n.operator, cst.Modulo) for n in walk(anc.test)):
                return True
        child = anc
    return False


class CallsWithin:
    """The calls inside a loop or function of the file, in document order: what `walk(node)` (or
    `walk(node.body)`) filtered to calls yields. The node index lists every subtree's calls as one run
    in that order, so the walk stops at the subtree's first call and the run is read from the index,
    extended while each next call still lies inside (a short climb up the parent index)."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self._calls = ctx.nodes(cst.Call)
        self._position = {id(c): i for i, c in enumerate(self._calls)}
        self._found: dict[int, list[cst.Call]] = {}

    def of(self, node: cst.For | cst.While | cst.FunctionDef) -> list[cst.Call]:
        """Every call anywhere in `node` (its header, decorators and `else` included)."""
        return self._within(node)

    def in_body(self, node: cst.For | cst.While | cst.FunctionDef) -> list[cst.Call]:
        """Every call in `node.body`."""
        return self._within(node.body)

    def _within(self, root: cst.CSTNode) -> list[cst.Call]:
        found = self._found.get(id(root))
        if found is not None:
            return found
        first = _first_call(root)
        at = self._position.get(id(first)) if first is not None else None
        if first is None or at is None:  # no call, or a subtree the index does not hold
            found = [n for n in walk(root) if type(n) is cst.Call] if first is not None else []
        else:
            parents, calls = self.ctx.parents, self._calls
            outside = parents.get(id(root))
            found = [calls[at]]
            for i in range(at + 1, len(calls)):
                call = calls[i]
                node = parents.get(id(call))
                while node is not None and node is not root and node is not outside:
                    node = parents.get(id(node))
                if node is not root:
                    break
                found.append(call)
        self._found[id(root)] = found
        return found


def _first_call(root: cst.CSTNode) -> cst.Call | None:
    """The first call of `root` in document order. `for i in range(n):` is common enough to answer
    without a walk: nothing before its `iter` can hold a call when the target is a plain name."""
    if type(root) is cst.For and type(root.target) is cst.Name and type(root.iter) is cst.Call:
        return root.iter
    return next((n for n in walk(root) if type(n) is cst.Call), None)


def calls_within(ctx: FileContext) -> CallsWithin:
    """The file's calls-per-loop-and-function index, built once and shared by every rule."""
    index = ctx.shared.get("calls_within")
    if index is None:
        index = ctx.shared["calls_within"] = CallsWithin(ctx)
    return index


def call_graph(ctx: FileContext) -> CallGraph:
    """The file's call graph, built once and shared by every rule."""
    graph = ctx.shared.get("callgraph")
    if graph is None:
        graph = ctx.shared["callgraph"] = CallGraph(ctx)
    return graph
