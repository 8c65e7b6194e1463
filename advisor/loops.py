"""Loop facts: which loops train, which calls run once per step, which local functions take a step.

Computed lazily for the whole file on first use (one climb up the parent index per call, no subtree
walks), so files without loops pay nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import libcst as cst

from advisor.syntax import BINDING_TYPES, LOOP_TYPES, bound_names, call_attr, dotted_name, positional, target_names

if TYPE_CHECKING:
    from advisor.context import FileContext


@dataclass
class LoopFacts:
    """What a loop does, computed on first use."""

    is_step_loop: bool  # trains (backward / optimizer step) in its own body, not only in nested loops
    is_training_loop: bool  # trains anywhere inside, nested loops included
    assigned: set[str]  # names and dotted targets bound anywhere inside the loop (its target too)


@dataclass
class FunctionFacts:
    steps: bool = False  # calling it performs a training step
    epochs: bool = False  # calling it runs a loop of training steps


class LoopIndex:
    """The training-loop view of one file, built from its `FileContext` index."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self._loops: dict[int, LoopFacts] | None = None
        self._call_loops: dict[int, list[tuple[cst.For | cst.While, int]]] | None = None
        self._call_func: dict[int, tuple[cst.FunctionDef, int]] | None = None
        self._body_calls: dict[int, list[cst.Call]] | None = None
        self._function_facts: dict[str, FunctionFacts] | None = None
        self._assigned: dict[int, set[str]] = {}
        self._trains: dict[int, bool] = {}  # per call: a training call (asked for every call, twice)

    def loop_facts(self, loop: cst.For | cst.While) -> LoopFacts:
        """Facts for every loop of the file are computed together on first use, from the node index."""
        if self._loops is None:
            self._loops = self._all_loop_facts()
        facts = self._loops.get(id(loop))
        if facts is None:  # a loop node that is not part of this file's tree
            facts = LoopFacts(is_step_loop=False, is_training_loop=False, assigned=set())
        return facts

    def calls_in_body(self, loop: cst.For | cst.While) -> list[cst.Call]:
        """Calls that run once per iteration of `loop` (not inside a nested loop, function or class), in
        document order."""
        self._index_calls()
        assert self._body_calls is not None
        return self._body_calls.get(id(loop), [])

    def call_sites(self) -> tuple[dict[int, list[tuple[cst.For | cst.While, int]]], dict[int, tuple[cst.FunctionDef, int]]]:
        """Per call (by id): the loops whose body holds it, innermost first with the loops in between, and
        the function whose body holds it with its loop depth there (see `call_sites_of`)."""
        self._index_calls()
        assert self._call_loops is not None and self._call_func is not None
        return self._call_loops, self._call_func

    def _index_calls(self) -> None:
        """For every call: the loops whose body holds it (with how many loops lie between), and the
        function whose body holds it (with its loop depth there); for every loop, the names bound inside it.
        These depend on one top-level statement alone, so they are derived per pre-pass fragment and kept
        with it: the language server derives them again only for the statements an edit touched."""
        if self._call_loops is not None:
            return
        call_loops: dict[int, list[tuple[cst.For | cst.While, int]]] = {}
        call_func: dict[int, tuple[cst.FunctionDef, int]] = {}
        body_calls: dict[int, list[cst.Call]] = {}
        assigned: dict[int, set[str]] = {}
        pieces: list[tuple[dict[int, cst.CSTNode], dict[str, list[cst.CSTNode]], dict[str, Any]]]
        pieces = [(f.parents, f.by_type, f.derived) for f in self.ctx.fragments]
        if not pieces:  # a context assembled by hand: the whole file is one piece
            pieces = [(self.ctx.parents, self.ctx.nodes_by_type, {})]
        for parents, by_type, derived in pieces:
            sites = derived.get("call_sites")
            if sites is None:
                sites = derived["call_sites"] = call_sites_of(parents, by_type)
            call_loops.update(sites.loops)
            call_func.update(sites.funcs)
            body_calls.update(sites.body_calls)
            assigned.update(sites.assigned)
        self._call_loops, self._call_func, self._body_calls, self._assigned = call_loops, call_func, body_calls, assigned

    def _all_loop_facts(self) -> dict[int, LoopFacts]:
        self._index_calls()
        assert self._call_loops is not None
        funcs = self.function_facts()
        facts: dict[int, LoopFacts] = {}
        for loop in self.ctx.all_loops():
            facts[id(loop)] = LoopFacts(is_step_loop=False, is_training_loop=False, assigned=set(self._assigned.get(id(loop), ())))
        for call in self.ctx.nodes(cst.Call):
            loops = self._call_loops.get(id(call))
            if not loops:
                continue
            trains = self._is_training_call(call)
            callee = None if trains else self._local_callee(call)
            ff = funcs.get(callee) if callee is not None else None
            if not trains and (ff is None or not (ff.steps or ff.epochs)):
                continue
            for outer, depth in loops:
                lf = facts[id(outer)]
                lf.is_training_loop = True
                if depth == 0 and (trains or (ff is not None and ff.steps)):
                    lf.is_step_loop = True
        return facts

    def training_step_loop(self, node: cst.CSTNode) -> cst.For | cst.While | None:
        """The loop that runs `node` once per training step, or None (never inside a test function)."""
        loop = self.ctx.innermost_loop(node)
        if loop is not None and self.loop_facts(loop).is_step_loop and not self.in_test_function(loop):
            return loop
        return None

    def in_test_function(self, node: cst.CSTNode) -> bool:
        """Inside a pytest/unittest test (`def test_*`): a few steps to check behaviour, not a training run,
        so per-step performance advice does not apply."""
        parents = self.ctx.parents
        current = parents.get(id(node))
        while current is not None:  # exact type: asked for most loops and calls by several rules
            if type(current) is cst.FunctionDef and current.name.value.startswith("test_"):
                return True
            current = parents.get(id(current))
        return False

    def is_training_call(self, call: cst.Call) -> bool:
        """`.backward()`, `torch.autograd.backward` or an optimizer's / grad scaler's `.step()`."""
        return self._is_training_call(call)

    def _is_training_call(self, call: cst.Call) -> bool:
        found = self._trains.get(id(call))
        if found is None:
            found = self._trains[id(call)] = self._trains_now(call)
        return found

    def _trains_now(self, call: cst.Call) -> bool:
        attr = call_attr(call)
        if attr == "backward":
            return True
        if attr == "step" and isinstance(call.func, cst.Attribute):
            receiver = call.func.value
            if self.ctx.kind_of(receiver) == "optimizer":
                return True
            name = dotted_name(receiver) or ""
            last = name.rsplit(".", 1)[-1].lower()
            return "optim" in last or last in ("opt", "scaler")
        # only a callee named `...backward`, or an alias imported as one, can resolve to torch.autograd.backward
        callee = dotted_name(call.func)
        if callee is not None and (callee.endswith("backward") or self.ctx.imports.get(callee, "").endswith("backward")):
            if self.ctx.qualname(call.func) == "torch.autograd.backward":
                return True
        return self._is_step_helper_call(call)

    def _is_step_helper_call(self, call: cst.Call) -> bool:
        """`loss_scaler(loss, optimizer, ...)`: a helper handed the loss first and an optimizer after it
        runs backward and step itself (the AMP scaler wrappers of many research repos). Both are needed:
        an optimizer alone (a checkpoint helper) is not a step."""
        if len(call.args) < 2:  # most calls: decided without building the positional list
            return False
        args = positional(call)
        if len(args) < 2:
            return False
        first = dotted_name(args[0].value) or ""
        if "loss" not in first.rsplit(".", 1)[-1].lower():
            return False
        for arg in args[1:]:
            name = dotted_name(arg.value)
            if name is None:
                continue
            last = name.rsplit(".", 1)[-1].lower()
            if self.ctx.kind_of(arg.value) == "optimizer" or "optim" in last or last == "opt":
                return True
        return False

    def _local_callee(self, call: cst.Call) -> str | None:
        """Name of a function or method defined in this file that `call` invokes, if any."""
        func = call.func
        if isinstance(func, cst.Name):
            name = func.value
        elif isinstance(func, cst.Attribute):
            name = func.attr.value
        else:
            return None
        return name if name in self.ctx.functions else None

    def function_facts(self) -> dict[str, FunctionFacts]:
        """Which local functions perform a training step or a loop of them (to a fixpoint)."""
        if self._function_facts is not None:
            return self._function_facts
        facts = {name: FunctionFacts() for name in self.ctx.functions}
        self._function_facts = facts  # visible (empty) during the fixpoint, which is what recursion needs
        self._index_calls()
        assert self._call_func is not None
        # per function name: (depth, trains, local callee) of each call in its body
        calls: dict[str, list[tuple[int, bool, str | None]]] = {}
        for call in self.ctx.nodes(cst.Call):
            owner = self._call_func.get(id(call))
            if owner is None:
                continue
            fdef, depth = owner
            calls.setdefault(fdef.name.value, []).append((depth, self._is_training_call(call), self._local_callee(call)))
        changed = True
        while changed:
            changed = False
            for name, found in calls.items():
                ff = facts[name]
                steps, epochs = ff.steps, ff.epochs
                for depth, trains, callee in found:
                    other = facts.get(callee) if callee else None
                    if trains or (other is not None and other.steps):
                        if depth == 0:
                            steps = True
                        else:
                            epochs = True
                    if other is not None and other.epochs:
                        epochs = True
                if (steps, epochs) != (ff.steps, ff.epochs):
                    ff.steps, ff.epochs = steps, epochs
                    changed = True
        return facts



@dataclass(frozen=True)
class CallSites:
    """Where the calls of one subtree sit, and what its loops bind (see `LoopIndex._index_calls`)."""

    loops: dict[int, list[tuple[cst.For | cst.While, int]]]
    funcs: dict[int, tuple[cst.FunctionDef, int]]
    body_calls: dict[int, list[cst.Call]]
    assigned: dict[int, set[str]]


def call_sites_of(parents: dict[int, cst.CSTNode], by_type: dict[str, list[cst.CSTNode]]) -> CallSites:
    """One climb up the parent links per call and per binding; no subtree is walked (libcst's `.children`
    rebuilds child lists by visiting, which is slow)."""
    call_loops: dict[int, list[tuple[cst.For | cst.While, int]]] = {}
    call_func: dict[int, tuple[cst.FunctionDef, int]] = {}
    body_calls: dict[int, list[cst.Call]] = {}
    for call in cast("list[cst.Call]", by_type.get("Call", [])):
        loops, func = _climb(call, parents)
        if loops:
            call_loops[id(call)] = loops
            if loops[0][1] == 0:
                body_calls.setdefault(id(loops[0][0]), []).append(call)
        if func is not None:
            call_func[id(call)] = func
    assigned: dict[int, set[str]] = {}
    for loop in cast("list[cst.For]", by_type.get("For", [])):
        assigned[id(loop)] = target_names(loop.target)
    for other in by_type.get("While", ()):
        assigned[id(other)] = set()
    for type_name in BINDING_TYPES:
        for bound in by_type.get(type_name, ()):
            names = bound_names(bound)
            if not names:
                continue
            for outer, _ in _climb(bound, parents)[0]:
                assigned[id(outer)] |= names
    return CallSites(call_loops, call_func, body_calls, assigned)


def _climb(
    node: cst.CSTNode, parents: dict[int, cst.CSTNode]
) -> tuple[list[tuple[cst.For | cst.While, int]], tuple[cst.FunctionDef, int] | None]:
    """Loops whose body holds `node` (innermost first, with the number of loops in between), and the
    function whose body holds it with its loop depth — up to the nearest function, lambda or class."""
    loops: list[tuple[cst.For | cst.While, int]] = []
    depth = 0
    child = node
    current = parents.get(id(node))
    while current is not None:  # `type(x) is`: this climb runs for every call (see advisor.syntax)
        kind = type(current)
        if kind is cst.For or kind is cst.While:
            if child is current.body:  # type: ignore[attr-defined]  # a loop
                loops.append((current, depth))  # type: ignore[arg-type]  # a loop
            depth += 1
        elif kind is cst.FunctionDef or kind is cst.ClassDef or kind is cst.Lambda:
            if kind is cst.FunctionDef and child is current.body:  # type: ignore[attr-defined]  # a function
                return loops, (current, depth)  # type: ignore[return-value]  # a function
            return loops, None
        child = current
        current = parents.get(id(current))
    return loops, None
