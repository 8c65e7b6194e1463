"""Matrix–vector products and weighted sums written as Python loops, in the shapes numeric code uses.

The matrix–matrix forms (`a[i][k] * b[k][j]`) are recognised by ADV401 itself. Code that runs a model by
hand (a transformer in pure Python, a from-scratch network) mostly multiplies a matrix by a vector:

- `val += w[i * n + j] * x[j]` over a flat row-major list (llama2.c ported to Python): `W @ x`
- `out[i] += W[i][j] * x[j]`: `W @ x`
- `score = sum(q[j] * k[j] for j in ...)` once per row `k` of a matrix, or `sum(q[j] * K[t][j] ...)` for
  each `t`: `K @ q`
- `out[i] += a * v[i]` where `a = att[t]` and `v` is row `t`: `att @ V`

Each function returns the outer loop or comprehension that makes it a product, or None.
"""

from __future__ import annotations

import libcst as cst

from advisor.context import FileContext
from advisor.syntax import dotted_name, names_in


def _index_names(node: cst.BaseExpression) -> tuple[str, list[cst.BaseExpression]] | None:
    """`v[a][b]` / `v[a, b]` → ("v", [a, b]) with the index expressions as written."""
    indices: list[cst.BaseExpression] = []
    while isinstance(node, cst.Subscript):
        got = []
        for el in node.slice:
            if not isinstance(el.slice, cst.Index):
                return None
            got.append(el.slice.value)
        indices[:0] = got
        node = node.value
    base = dotted_name(node)
    return (base, indices) if base is not None and indices else None


def _name(node: cst.BaseExpression) -> str | None:
    return node.value if isinstance(node, cst.Name) else None


def _flat_index(node: cst.BaseExpression) -> tuple[str, str] | None:
    """`i * n + j` (any operand order) → (i, j): a row-major offset into a flat list."""
    if not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add)):
        return None
    for prod, col in ((node.left, node.right), (node.right, node.left)):
        j = _name(col)
        if j is None or not (isinstance(prod, cst.BinaryOperation) and isinstance(prod.operator, cst.Multiply)):
            continue
        for row in (prod.left, prod.right):
            i = _name(row)
            if i is not None and i != j:
                return i, j
    return None


def _factors(product: cst.BaseExpression) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    if isinstance(product, cst.BinaryOperation) and isinstance(product.operator, cst.Multiply):
        return product.left, product.right
    return None


def accumulated_matvec(ctx: FileContext, node: cst.CSTNode, product: cst.BaseExpression, binders: dict[str, cst.CSTNode]) -> cst.CSTNode | None:
    """The outer loop of `acc += W[i*n + j] * x[j]`, `out[i] += W[i][j] * x[j]` or `out[i] += a * v[i]`."""
    pair = _factors(product)
    if pair is None:
        return None
    for mat, vec in (pair, pair[::-1]):
        m, v = _index_names(mat), _index_names(vec)
        if m is None:
            continue
        # W[i * n + j] * x[j] / W[i][j] * x[j]: j runs inside i
        if v is not None and len(v[1]) == 1 and (j := _name(v[1][0])) is not None:
            i: str | None = None
            if len(m[1]) == 1 and (flat := _flat_index(m[1][0])) is not None and flat[1] == j:
                i = flat[0]
            elif len(m[1]) == 2 and _name(m[1][1]) == j and _name(m[1][0]) != j:
                i = _name(m[1][0])
            if i is not None and _nested(ctx, binders, i, j) and m[0] != v[0]:
                return binders[i]
    # out[i] += a * v[i], with `a` one entry of a weight vector and `v` one row, both chosen by an outer t
    return _weighted_rows(ctx, node, pair, binders)


def _weighted_rows(ctx: FileContext, node: cst.CSTNode, pair: tuple[cst.BaseExpression, cst.BaseExpression], binders: dict[str, cst.CSTNode]) -> cst.CSTNode | None:
    if not isinstance(node, cst.AugAssign):
        return None
    target = _index_names(node.target)
    if target is None or len(target[1]) != 1:
        return None
    for scalar, vec in (pair, pair[::-1]):
        v = _index_names(vec)
        if v is None or len(v[1]) != 1 or (i := _name(v[1][0])) is None or i not in binders:
            continue
        if i not in names_in(target[1][0]) or not isinstance(binders[i], cst.For):
            continue
        outer = _enclosing_for(ctx, binders[i])
        if outer is None or not isinstance(outer.target, cst.Name):
            continue
        t = outer.target.value
        if t in names_in(target[1][0]):
            continue  # out[t][i]: one row each, not a sum over rows
        if _picked_by(ctx, scalar, t, outer) and _picked_by(ctx, cst.Name(v[0]) if "." not in v[0] else vec, t, outer):
            return outer
    return None


def _enclosing_for(ctx: FileContext, loop: cst.CSTNode) -> cst.For | None:
    for anc in ctx.ancestors(loop):
        if isinstance(anc, (cst.FunctionDef, cst.ClassDef)):
            return None
        if isinstance(anc, cst.For):
            return anc
    return None


def _picked_by(ctx: FileContext, expr: cst.BaseExpression, t: str, loop: cst.For) -> bool:
    """`expr` is `a[t]`, or a name bound inside `loop` to something that depends on `t`."""
    if isinstance(expr, cst.Subscript):
        got = _index_names(expr)
        return got is not None and any(t in names_in(i) for i in got[1])
    name = _name(expr)
    if name is None:
        return False
    values = [v for v in ctx.bindings.get(name, ()) if any(a is loop for a in ctx.ancestors(v))]
    return bool(values) and all(t in names_in(v) for v in values)


def _nested(ctx: FileContext, binders: dict[str, cst.CSTNode], outer: str, inner: str) -> bool:
    """`inner` is bound by a loop running inside the one binding `outer` (or the same comprehension)."""
    if outer not in binders or inner not in binders:
        return False
    a, b = binders[outer], binders[inner]
    return a is b or any(anc is a for anc in ctx.ancestors(b))


def row_dot(ctx: FileContext, gen: cst.GeneratorExp | cst.ListComp, binders: dict[str, cst.CSTNode]) -> cst.CSTNode | None:
    """`sum(q[j] * k[j] for j in ...)` run once per row `k` of an outer iteration (or `K[t][j]`): the
    outer loop or comprehension, which computes `K @ q`."""
    target = gen.for_in.target
    pair = _factors(gen.elt)
    if pair is None or not isinstance(target, cst.Name) or gen.for_in.inner_for_in is not None:
        return None
    j = target.value
    left, right = _index_names(pair[0]), _index_names(pair[1])
    if left is None or right is None:
        return None
    (a, ai), (b, bi) = left, right
    if a == b:
        return None
    if len(ai) == 1 and len(bi) == 1 and _name(ai[0]) == j and _name(bi[0]) == j:
        for vec in (a, b):
            loop = _row_source(ctx, vec, binders)
            if loop is not None:
                return loop
        return None
    for (m, mi), (v, vi) in (((a, ai), (b, bi)), ((b, bi), (a, ai))):
        if len(mi) == 2 and len(vi) == 1 and _name(mi[1]) == j and _name(vi[0]) == j:
            t = _name(mi[0])
            if t is not None and t != j and t in binders:
                return binders[t]
    return None


def _row_source(ctx: FileContext, name: str, binders: dict[str, cst.CSTNode]) -> cst.CSTNode | None:
    """The loop or comprehension whose iteration picks `name` as one row: its own variable, or a name
    bound inside a `for` body from an expression of that loop's variable (`k = cache[t * d:(t + 1) * d]`)."""
    if name in binders and isinstance(binders[name], (cst.For, cst.ListComp, cst.GeneratorExp)):
        return binders[name]
    for loop_var, loop in binders.items():
        if not isinstance(loop, cst.For):
            continue
        values = [v for v in ctx.bindings.get(name, ()) if any(a is loop for a in ctx.ancestors(v))]
        if values and all(loop_var in names_in(v) for v in values):
            return loop
    return None


def scalar_autograd(ctx: FileContext) -> bool:
    """The file defines its own autograd scalar (a class with `__mul__` and `backward`, micrograd style):
    its lists hold those objects, which NumPy cannot multiply for it."""
    for cls in ctx.classes.values():
        names = {s.name.value for s in cls.body.body if isinstance(s, cst.FunctionDef)}
        if "backward" in names and ("__mul__" in names or "__add__" in names):
            return True
    return False
