"""ADV403: a tensor or array grown by concatenation inside a loop (quadratic copying)."""

from __future__ import annotations

import libcst as cst

from advisor.syntax import dotted_name, positional
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence

# Functions that return a new array holding their inputs one after another.
SEQUENCE_JOINS = frozenset(
    f"{lib}.{fn}"
    for lib in ("numpy", "torch")
    for fn in ("concatenate", "vstack", "hstack", "row_stack", "column_stack", "dstack")
) | frozenset({"torch.cat", "torch.concat"})
APPENDS = frozenset({"numpy.append"})


class GrownInLoop(Rule):
    code = "ADV403"
    name = "grown-in-loop"
    summary = "Tensor or array grown with `torch.cat` / `np.append` / `np.concatenate` inside a loop"
    message = "Collect the pieces in a list and concatenate once after the loop"
    why = (
        "Each concatenation allocates a new array and copies everything gathered so far, so growing one "
        "piece at a time copies O(n²) elements; appending to a list and concatenating once copies each "
        "element once."
    )
    suggestion = "append each piece to a Python list inside the loop and call `torch.cat(pieces)` / `np.concatenate(pieces)` once after it"
    triggers = ("cat", "append", "stack")
    docs = RuleDocs(
        what="Finds `x = torch.cat([x, piece])`, `x = np.concatenate((x, piece))`, `x = np.vstack([x, piece])`, "
        "`x = np.append(x, piece)` and the same inside a conditional expression (`x = piece if x is None "
        "else torch.cat((x, piece))`) in the body of a `for` or `while` loop, when the loop reads `x` for "
        "nothing else. A loop that uses the grown value each iteration (DenseNet feature concatenation, "
        "autoregressive decoding feeding `idx` back to the model) or keeps only its last rows "
        "(`torch.cat([q, k])[-size:]`) needs it every time and is not reported.",
        why="Arrays are contiguous blocks of memory: concatenation cannot extend one in place, so it copies "
        "both inputs into a new block. After k pieces of size s the loop has copied about k²·s/2 elements. "
        "A list of pieces grows in amortised constant time and one final concatenation copies k·s.",
        example="""
            import torch

            outputs = torch.empty(0, 10)
            for x, _ in loader:
                outputs = torch.cat([outputs, model(x)])
        """,
        use_instead="""
            import torch

            pieces = []
            for x, _ in loader:
                pieces.append(model(x))
            outputs = torch.cat(pieces)
        """,
        references=(
            "NumPy docs: numpy.append (\"a copy of arr with values appended\"; the input is not changed)",
            "NumPy docs: numpy.concatenate",
            "PyTorch docs: torch.cat",
        ),
    )

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1:
            return
        name = dotted_name(node.targets[0].target)
        if name is None:
            return
        loop = self.ctx.innermost_loop(node)
        if loop is None or self.ctx.in_test_function(loop):
            return
        call = self._growth(node.value, name)
        if call is None or self._reads_elsewhere(loop, name, node):
            return
        grown = node_name(self.ctx.call_qualname(call))
        once = "np.concatenate" if grown == "np.append" else grown
        self.report(
            call,
            f"Collect the pieces in a list and call `{once}` once after the loop: `{name} = {grown}(...)` copies all of `{name}` every iteration",
            confidence=Confidence.HIGH,
        )

    def _growth(self, value: cst.BaseExpression, name: str) -> cst.Call | None:
        """The call in `value` (or a branch of a conditional expression) that joins `name` with more."""
        if isinstance(value, cst.IfExp):
            return self._growth(value.body, name) or self._growth(value.orelse, name)
        if not isinstance(value, cst.Call):
            return None
        q = self.ctx.call_qualname(value)
        args = positional(value)
        if not args:
            return None
        if q in APPENDS and dotted_name(args[0].value) == name:
            rest: list[cst.CSTNode] = [a.value for a in value.args[1:]]
        elif q in SEQUENCE_JOINS and isinstance(args[0].value, (cst.List, cst.Tuple)):
            elements = args[0].value.elements
            if len(elements) < 2 or not any(dotted_name(e.value) == name for e in (elements[0], elements[-1])):
                return None
            rest = [*(e.value for e in elements if dotted_name(e.value) != name), *(a.value for a in value.args[1:])]
        else:
            return None
        # `x = torch.cat([x, layer(x)], 1)` feeds the grown value back in: it is needed every iteration
        return None if any(name in _reads(r) for r in rest) else value

    def _reads_elsewhere(self, loop: cst.For | cst.While, name: str, growth: cst.Assign) -> bool:
        """The loop uses the grown value for more than growing it (or testing it for None)."""
        head = loop.test if isinstance(loop, cst.While) else loop.iter
        if name in _reads(head):
            return True
        for stmt in loop.body.body:
            if stmt is self.ctx.statement_of(growth):
                continue
            if _contains(stmt, growth):
                if self._reads_outside(stmt, growth, name):
                    return True
                continue
            if name in _reads(stmt, skip_none_tests=True):
                return True
        return False

    def _reads_outside(self, stmt: cst.CSTNode, growth: cst.Assign, name: str) -> bool:
        """In a compound statement holding the growth, `name` is read by some other statement."""
        for line in _simple_lines(stmt):
            if line is self.ctx.statement_of(growth):
                continue
            if name in _reads(line, skip_none_tests=True):
                return True
        return False


def node_name(qualname: str | None) -> str:
    if qualname is None:
        return "torch.cat"
    lib, _, fn = qualname.partition(".")
    return ("np." if lib == "numpy" else "torch.") + fn


def _contains(outer: cst.CSTNode, inner: cst.CSTNode) -> bool:
    stack = [outer]
    while stack:
        node = stack.pop()
        if node is inner:
            return True
        stack.extend(node.children)
    return False


def _simple_lines(node: cst.CSTNode) -> list[cst.CSTNode]:
    """Simple statements and compound-statement headers (tests, iterables) inside `node`."""
    out: list[cst.CSTNode] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.SimpleStatementLine):
            out.append(current)
            continue
        if isinstance(current, (cst.If, cst.While)):
            out.append(current.test)
        elif isinstance(current, cst.For):
            out.append(current.iter)
        elif isinstance(current, cst.With):
            out.extend(item.item for item in current.items)
        stack.extend(current.children)
    return out


def _reads(node: cst.CSTNode, skip_none_tests: bool = False) -> set[str]:
    """Names and dotted names read in `node`; `x is None` / `x is not None` tests left out if asked."""
    found: set[str] = set()

    class _Reads(cst.CSTVisitor):
        def visit_Comparison(self, n: cst.Comparison) -> bool:
            if skip_none_tests and all(
                isinstance(t.operator, (cst.Is, cst.IsNot)) and isinstance(t.comparator, cst.Name) and t.comparator.value == "None"
                for t in n.comparisons
            ):
                return False
            return True

        def visit_AssignTarget(self, n: cst.AssignTarget) -> bool:
            return not isinstance(n.target, (cst.Name, cst.Attribute))  # rebinding is not reading

        def visit_Attribute(self, n: cst.Attribute) -> bool:
            dotted = dotted_name(n)
            if dotted is not None:
                found.add(dotted)
            return True

        def visit_Name(self, n: cst.Name) -> None:
            found.add(n.value)

    node.visit(_Reads())
    return found

