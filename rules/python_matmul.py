"""ADV401: matrix multiplication written as Python loops over lists or arrays."""

from __future__ import annotations

import re

import libcst as cst

from advisor.context import dotted_name, int_value, positional
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence

COMPREHENSIONS = (cst.ListComp, cst.GeneratorExp, cst.SetComp, cst.DictComp)
# Matrices this small (rows and columns) are cheaper in Python than through a BLAS call.
TINY = 4
# A product written as one of these methods is called through its class's instances, not by name.
OPERATOR_METHODS = frozenset({"__mul__", "__rmul__", "__imul__", "__matmul__", "__rmatmul__", "__imatmul__"})
# A product of two subscripts (`a[i][k] * b[k][j]`, `A[i, k]*B[k, j]`) or a zip of rows and columns.
_SHAPE = re.compile(r"\]\s*\*\s*[\w.]+\s*\[|\bzip\(")


def _subscript_indices(node: cst.BaseExpression) -> tuple[str, tuple[str, ...]] | None:
    """`a[i][k]` or `a[i, k]` → ("a", ("i", "k")); only plain names as indices."""
    indices: list[str] = []
    while isinstance(node, cst.Subscript):
        names = []
        for el in node.slice:
            if not isinstance(el.slice, cst.Index) or not isinstance(el.slice.value, cst.Name):
                return None
            names.append(el.slice.value.value)
        indices[:0] = names
        node = node.value
    base = dotted_name(node)
    if base is None or len(indices) != 2:
        return None
    return base, tuple(indices)


def matmul_product(expr: cst.BaseExpression) -> tuple[str, str, str] | None:
    """For `A[p][k] * B[k][q]` (either operand order) return (p, k, q), else None."""
    if not isinstance(expr, cst.BinaryOperation) or not isinstance(expr.operator, cst.Multiply):
        return None
    left, right = _subscript_indices(expr.left), _subscript_indices(expr.right)
    if left is None or right is None:
        return None
    for (_, (p, k1)), (_, (k2, q)) in ((left, right), (right, left)):
        if k1 == k2 and p != k1 and q != k1:
            return p, k1, q
    return None


def _accumulated_product(node: cst.CSTNode) -> cst.BaseExpression | None:
    """The product in `acc += A*B` or `acc = acc + A*B`."""
    if isinstance(node, cst.AugAssign) and isinstance(node.operator, cst.AddAssign):
        return node.value
    if isinstance(node, cst.Assign) and isinstance(node.value, cst.BinaryOperation) and isinstance(
        node.value.operator, cst.Add
    ):
        target = cst.Module([]).code_for_node(node.targets[0].target)
        left = cst.Module([]).code_for_node(node.value.left)
        if target == left:
            return node.value.right
    return None


class PythonMatmul(Rule):
    code = "ADV401"
    name = "python-matmul"
    summary = "Matrix multiplication written as nested Python loops or comprehensions"
    message = "Replace this Python-loop matrix multiplication with `numpy.matmul` / `@` / `torch.matmul`"
    why = (
        "Each multiply-add runs through the interpreter (tens of nanoseconds each, no SIMD, no cache "
        "blocking); a BLAS matmul does the same work hundreds to thousands of times faster."
    )
    suggestion = "use `np.asarray(A) @ np.asarray(B)` (or `torch.matmul`) and keep the data as arrays"
    pair = "adv401"

    @classmethod
    def may_match(cls, text: str) -> bool:
        return "for" in text and _SHAPE.search(text) is not None
    docs = RuleDocs(
        what="Finds matrix products computed element by element in Python: the triple loop accumulating "
        "`a[i][k] * b[k][j]` (or `a[i, k] * b[k, j]`), `sum(a[i][k] * b[k][j] for k in ...)`, and the "
        "comprehension `[[sum(x * y for x, y in zip(row, col)) for col in zip(*B)] for row in A]`.",
        why="An n×n product is n³ multiply-adds. In Python each one costs an interpreter round trip; "
        "NumPy and PyTorch call an optimised BLAS that vectorises, blocks for cache and uses every core.",
        example="""
            def matmul(A, B):
                return [[sum(a * b for a, b in zip(row, col)) for col in zip(*B)] for row in A]
        """,
        use_instead="""
            import numpy as np

            def matmul(A, B):
                return np.asarray(A) @ np.asarray(B)
        """,
        references=(
            "NumPy reference: numpy.matmul",
            "PyTorch reference: torch.matmul",
        ),
    )

    # --- the triple loop and the explicit-index generator -----------------------------------------
    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._check_accumulation(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        self._check_accumulation(node)

    def _check_accumulation(self, node: cst.AugAssign | cst.Assign) -> None:
        product = _accumulated_product(node)
        if product is None:
            return
        pkq = matmul_product(product)
        if pkq is None:
            return
        binders = self._binders(node)
        p, k, q = pkq
        if all(name in binders for name in pkq) and isinstance(binders[k], cst.For):
            self._report(self._outermost(binders, pkq))

    def visit_Call(self, node: cst.Call) -> None:
        if not (isinstance(node.func, cst.Name) and node.func.value == "sum" and node.args):
            self._check_dot_helper(node)
            return
        gen = node.args[0].value
        if not isinstance(gen, (cst.GeneratorExp, cst.ListComp)) or gen.for_in.inner_for_in is not None:
            return
        binders = self._binders(node)
        # sum(A[i][k] * B[k][j] for k in ...)
        pkq = matmul_product(gen.elt)
        if pkq is not None:
            p, k, q = pkq
            if isinstance(gen.for_in.target, cst.Name) and gen.for_in.target.value == k and p in binders and q in binders:
                self._report(self._outermost(binders, (p, q)) or node)
            return
        # sum(x * y for x, y in zip(row, col)) with row, col drawn from two enclosing iterations
        row_col = self._zip_dot(gen)
        if row_col is None:
            return
        row, col = row_col
        if row not in binders or col not in binders:
            return
        # Two separate iterations (rows of A, columns of B); one loop yielding (r, c) pairs is not a matmul.
        if self._binding_iter(binders[row], row) is self._binding_iter(binders[col], col):
            return
        transpose = self._iterates_transpose(binders, (row, col))
        self._report(self._outermost(binders, (row, col)), confidence=Confidence.HIGH if transpose else Confidence.MEDIUM)

    def _check_dot_helper(self, node: cst.Call) -> None:
        """`[[dot(r, c) for c in cols(B)] for r in A]` where `dot` is a helper in this file whose whole body
        is `return sum(...)` of an inner product of its two parameters."""
        args = positional(node)
        if len(args) != 2 or len(node.args) != 2 or not all(isinstance(a.value, cst.Name) for a in args):
            return
        func = node.func
        name = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else None
        defs = self.ctx.functions.get(name or "", [])
        if len(defs) != 1 or not self._is_dot_function(defs[0]):
            return
        row, col = (a.value.value for a in args)  # type: ignore[union-attr]
        binders = self._binders(node)
        if row == col or row not in binders or col not in binders:
            return
        if not all(isinstance(binders[n], COMPREHENSIONS + (cst.For,)) for n in (row, col)):
            return
        if self._binding_iter(binders[row], row) is self._binding_iter(binders[col], col):
            return
        transpose = self._iterates_transpose(binders, (row, col))
        self._report(self._outermost(binders, (row, col)), confidence=Confidence.HIGH if transpose else Confidence.MEDIUM)

    def _is_dot_function(self, fdef: cst.FunctionDef) -> bool:
        params = [p.name.value for p in fdef.params.params if p.name.value not in ("self", "cls")]
        body = fdef.body.body
        if len(params) != 2 or len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine):
            return False
        stmt = body[0].body[0]
        if not isinstance(stmt, cst.Return) or not isinstance(stmt.value, cst.Call):
            return False
        call = stmt.value
        if not (isinstance(call.func, cst.Name) and call.func.value == "sum" and call.args):
            return False
        gen = call.args[0].value
        if not isinstance(gen, (cst.GeneratorExp, cst.ListComp)) or gen.for_in.inner_for_in is not None:
            return False
        pair = self._zip_dot(gen) or _indexed_dot(gen)
        return pair is not None and set(pair) == set(params)

    @staticmethod
    def _zip_dot(gen: cst.GeneratorExp | cst.ListComp) -> tuple[str, str] | None:
        comp = gen.for_in
        if not isinstance(comp.target, cst.Tuple) or len(comp.target.elements) != 2:
            return None
        xs = [el.value for el in comp.target.elements]
        if not all(isinstance(x, cst.Name) for x in xs):
            return None
        it = comp.iter
        if not (isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "zip" and len(it.args) == 2):
            return None
        if not all(isinstance(a.value, cst.Name) and a.star == "" for a in it.args):
            return None
        elt = gen.elt
        if not (isinstance(elt, cst.BinaryOperation) and isinstance(elt.operator, cst.Multiply)):
            return None
        operands = {getattr(elt.left, "value", None), getattr(elt.right, "value", None)}
        if operands != {x.value for x in xs}:  # type: ignore[union-attr]
            return None
        return it.args[0].value.value, it.args[1].value.value  # type: ignore[union-attr]

    def _iterates_transpose(self, binders: dict[str, cst.CSTNode], names: tuple[str, str]) -> bool:
        """One of the names iterates `zip(*B)`: the columns of B."""
        for name in names:
            iter_node = self._binding_iter(binders[name], name)
            if (
                isinstance(iter_node, cst.Call)
                and isinstance(iter_node.func, cst.Name)
                and iter_node.func.value == "zip"
                and len(iter_node.args) == 1
                and iter_node.args[0].star == "*"
            ):
                return True
        return False

    @staticmethod
    def _binding_iter(binder: cst.CSTNode, name: str) -> cst.BaseExpression | None:
        if isinstance(binder, cst.For):
            return binder.iter
        if isinstance(binder, COMPREHENSIONS):
            comp: cst.CompFor | None = binder.for_in
            while comp is not None:
                if name in _plain_names(comp.target):
                    return comp.iter
                comp = comp.inner_for_in
        return None

    # --- tiny fixed matrices -------------------------------------------------------------------
    def _report(self, node: cst.CSTNode, confidence: Confidence = Confidence.HIGH) -> None:
        if not self._only_tiny_matrices(node):
            self.report(node, confidence=confidence)

    def _only_tiny_matrices(self, node: cst.CSTNode) -> bool:
        """Every caller in this file passes small literal matrices (2x2 recurrences, rotations): a BLAS
        call costs more than the handful of Python multiplications, and exact integers would overflow
        int64. Needs at least one caller and no caller with data of unknown size."""
        func = self.ctx.enclosing_function(node)
        if func is None:
            return False
        cls = self.ctx.enclosing_class(func)
        callee = cls.name.value if cls is not None and func.name.value in OPERATOR_METHODS else func.name.value
        sites = [
            c
            for c in self.ctx.nodes_by_type.get("Call", ())
            if isinstance(c.func, cst.Name) and c.func.value == callee and not any(a is func for a in self.ctx.ancestors(c))
        ]
        if not sites or not self._squares_repeatedly(callee):
            return False
        return all(a.star == "" and self._tiny(a.value, callee, frozenset()) for c in sites for a in c.args)

    def _squares_repeatedly(self, callee: str) -> bool:
        """`f(m, m)`, `m * m` or `m *= m`: exponentiation by squaring, whose entries grow as exact integers.
        A general helper that a demo happens to call with a 2x2 literal keeps its finding."""
        def same(a: cst.BaseExpression, b: cst.BaseExpression) -> bool:
            return isinstance(a, cst.Name) and isinstance(b, cst.Name) and a.value == b.value

        for call in self.ctx.nodes_by_type.get("Call", ()):
            if isinstance(call.func, cst.Name) and call.func.value == callee and len(call.args) == 2:
                if same(call.args[0].value, call.args[1].value):
                    return True
        for op in self.ctx.nodes_by_type.get("BinaryOperation", ()):
            if isinstance(op.operator, (cst.Multiply, cst.MatrixMultiply)) and same(op.left, op.right):  # type: ignore[attr-defined]
                return True
        for aug in self.ctx.nodes_by_type.get("AugAssign", ()):
            if isinstance(aug.operator, (cst.MultiplyAssign, cst.MatrixMultiplyAssign)) and same(aug.target, aug.value):  # type: ignore[attr-defined]
                return True
        return False

    def _tiny(self, value: cst.BaseExpression, callee: str, seen: frozenset[str]) -> bool:
        if isinstance(value, cst.List):
            return len(value.elements) <= TINY and all(
                isinstance(row.value, cst.List) and len(row.value.elements) <= TINY for row in value.elements
            )
        if isinstance(value, cst.Integer):
            return (int_value(value) or 0) <= TINY
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Name):
            if value.func.value == callee:
                return True  # the product of tiny matrices is tiny
            args = value.args
            return bool(args) and all(isinstance(a.value, cst.Integer) and (int_value(a.value) or 0) <= TINY for a in args)
        if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Multiply):
            return self._tiny(value.left, callee, seen) and self._tiny(value.right, callee, seen)
        if isinstance(value, cst.IfExp):
            return self._tiny(value.body, callee, seen) and self._tiny(value.orelse, callee, seen)
        if isinstance(value, cst.Name) and value.value not in seen:
            bound = self.ctx.bindings.get(value.value, [])
            return bool(bound) and all(self._tiny(v, callee, seen | {value.value}) for v in bound)
        return isinstance(value, cst.Name)  # a name already being resolved: decided by its other bindings

    # --- helpers --------------------------------------------------------------------------------
    def _binders(self, node: cst.CSTNode) -> dict[str, cst.CSTNode]:
        """Loop variables visible at `node`, mapped to the for-statement or comprehension binding them
        (the innermost binding wins)."""
        found: dict[str, cst.CSTNode] = {}
        child = node
        for anc in self.ctx.ancestors(node):
            if isinstance(anc, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                break
            if isinstance(anc, cst.For) and child is anc.body:
                for name in _plain_names(anc.target):
                    found.setdefault(name, anc)
            elif isinstance(anc, COMPREHENSIONS):
                comp: cst.CompFor | None = anc.for_in
                while comp is not None:
                    for name in _plain_names(comp.target):
                        found.setdefault(name, anc)
                    comp = comp.inner_for_in
            child = anc
        return found

    def _outermost(self, binders: dict[str, cst.CSTNode], names: tuple[str, ...]) -> cst.CSTNode:
        nodes = [binders[n] for n in names if n in binders]
        for candidate in nodes:
            if all(candidate is other or any(a is candidate for a in self.ctx.ancestors(other)) for other in nodes):
                return candidate
        return nodes[0]


def _indexed_dot(gen: cst.GeneratorExp | cst.ListComp) -> tuple[str, str] | None:
    """`sum(u[t] * v[t] for t in ...)`: the two vectors, else None."""
    target = gen.for_in.target
    elt = gen.elt
    if not isinstance(target, cst.Name) or not isinstance(elt, cst.BinaryOperation) or not isinstance(elt.operator, cst.Multiply):
        return None
    names = []
    for side in (elt.left, elt.right):
        if not (isinstance(side, cst.Subscript) and isinstance(side.value, cst.Name) and len(side.slice) == 1):
            return None
        index = side.slice[0].slice
        if not (isinstance(index, cst.Index) and isinstance(index.value, cst.Name) and index.value.value == target.value):
            return None
        names.append(side.value.value)
    return (names[0], names[1]) if names[0] != names[1] else None


def _plain_names(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for el in target.elements for n in _plain_names(el.value)]
    return []
