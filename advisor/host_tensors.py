"""Where a tensor that is moved to the device was made: the factory, under the names real code uses.

`torch.zeros(n).cuda()` is the plain shape; real code also builds the host tensor a statement earlier
(`z = torch.randn(...)` … `Variable(z).cuda()`), through legacy constructors (`torch.FloatTensor(n, 1)
.uniform_()`, `torch.LongTensor([[SOS] * n])`), from NumPy's random generator (`torch.from_numpy(
np.random.rand(...))`, `Tensor(np.random.normal(...))` with `Tensor = torch.cuda.FloatTensor`), and moves
it through a helper of the project (`self.to_var(x)` whose body is `return Variable(x).cuda()`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import libcst as cst

from advisor.context import FileContext
from advisor.syntax import call_attr, dotted_name, positional, walk

SHAPE_FACTORIES = frozenset(
    "torch.zeros torch.ones torch.full torch.empty torch.rand torch.randn torch.randint torch.randperm "
    "torch.arange torch.linspace torch.logspace torch.eye torch.tril_indices torch.triu_indices".split()
)
DATA_FACTORIES = frozenset({"torch.tensor", "torch.as_tensor"})
LEGACY = frozenset(
    f"torch.{t}Tensor" for t in ("", "Float", "Double", "Half", "Long", "Int", "Short", "Byte", "Bool", "Char")
)
CUDA_LEGACY = frozenset(f"torch.cuda.{t.rsplit('.', 1)[-1]}" for t in LEGACY if t != "torch.Tensor")
# In-place fills and views: the tensor is still the host one the factory made.
SAME_TENSOR = frozenset(
    "uniform_ normal_ fill_ zero_ random_ bernoulli_ exponential_ expand view reshape transpose unsqueeze "
    "squeeze t long float double half int contiguous".split()
)
RANDOM_FILLS = frozenset({"uniform_", "normal_", "random_", "bernoulli_", "exponential_"})


@dataclass(frozen=True)
class Origin:
    """A host tensor made by `factory`; `suggest` is the factory to call with `device=` instead."""

    factory: cst.Call
    qualname: str  # of the factory call, e.g. torch.zeros, torch.FloatTensor, numpy.random.normal
    suggest: str  # e.g. "zeros", "rand", "tensor"
    direct: bool  # the factory is the moved expression itself (no name, fill or view in between)


def unwrap_variable(ctx: FileContext, node: cst.BaseExpression) -> cst.BaseExpression:
    """`Variable(torch.ones(n))` is `torch.ones(n)` for placement: the legacy wrapper copies nothing."""
    if isinstance(node, cst.Call) and ctx.qualname(node.func) == "torch.autograd.Variable":
        args = positional(node)
        if len(args) == 1 and len(node.args) == 1:
            return args[0].value
    return node


def is_numpy_random(ctx: FileContext, node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Call) and (ctx.call_qualname(node) or "").startswith("numpy.random.")


def _constant_display(ctx: FileContext, node: cst.BaseExpression) -> bool:
    """A list/tuple display of numbers and module-level names (`[[SOS_token] * n]`): constants, not data
    computed in the function (`[[next_id]]`). A repeat count may be anything."""
    if isinstance(node, (cst.Integer, cst.Float)):
        return True
    if isinstance(node, cst.Name):
        return all(ctx.enclosing_function(v) is None for v in ctx.bindings.get(node.value, ())) and node.value in ctx.bindings
    if isinstance(node, cst.UnaryOperation):
        return _constant_display(ctx, node.expression)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        lists = [side for side in (node.left, node.right) if isinstance(side, (cst.List, cst.Tuple))]
        return len(lists) == 1 and _constant_display(ctx, lists[0])
    if isinstance(node, (cst.List, cst.Tuple)):
        return bool(node.elements) and all(_constant_display(ctx, e.value) for e in node.elements)
    return False


def factory_origin(ctx: FileContext, expr: cst.BaseExpression) -> Origin | None:
    """The host factory `expr` evaluates to, through `Variable(...)`, fills and views; None if unknown."""
    direct = True
    fills: list[str] = []
    while True:
        expr = unwrap_variable(ctx, expr)
        attr = call_attr(expr) if isinstance(expr, cst.Call) else None
        if attr is not None and attr in SAME_TENSOR and isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
            fills.append(attr)
            expr = expr.func.value
            direct = False
            continue
        break
    if not isinstance(expr, cst.Call):
        return None
    q = ctx.call_qualname(expr)
    if q is None:
        return _alias_origin(ctx, expr)
    if q in SHAPE_FACTORIES or q in DATA_FACTORIES:
        if q in DATA_FACTORIES and not positional(expr):
            return None
        return Origin(expr, q, q.rsplit(".", 1)[-1], direct)
    if q == "torch.from_numpy":
        args = positional(expr)
        if len(args) == 1 and is_numpy_random(ctx, args[0].value):
            return Origin(expr, q, _random_name(ctx, args[0].value), False)
        return None
    if q in LEGACY:
        return _legacy_origin(ctx, expr, q, fills)
    return None


def _legacy_origin(ctx: FileContext, call: cst.Call, q: str, fills: list[str]) -> Origin | None:
    args = positional(call)
    if not args or len(args) != len(call.args):
        return None
    if len(args) == 1 and is_numpy_random(ctx, args[0].value):
        return Origin(call, q, _random_name(ctx, args[0].value), False)
    if len(args) == 1 and isinstance(args[0].value, (cst.List, cst.Tuple)):
        return Origin(call, q, "tensor", False) if _constant_display(ctx, args[0].value) else None
    filled = [f for f in fills if f in RANDOM_FILLS or f in ("fill_", "zero_")]
    if all(isinstance(a.value, (cst.Integer, cst.Name, cst.Attribute, cst.BinaryOperation, cst.Call)) for a in args) and filled:
        # `torch.FloatTensor(n, 1).uniform_(0, 1)`: a shape then filled on the host
        if not any(isinstance(a.value, cst.Call) and call_attr(a.value) not in ("size", None) for a in args):
            random = next((f for f in filled if f in RANDOM_FILLS), None)
            if random is not None:
                return Origin(call, q, "rand" if random == "uniform_" else "randn", False)
            return Origin(call, q, "zeros" if "zero_" in filled else "full", False)
    return None


def _alias_origin(ctx: FileContext, call: cst.Call) -> Origin | None:
    """`Tensor(np.random.normal(...))` where `Tensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor`:
    NumPy draws on the host and the constructor copies the draw to the device."""
    name = dotted_name(call.func)
    if name is None or "." in name:
        return None
    args = positional(call)
    if len(args) != 1 or not is_numpy_random(ctx, args[0].value):
        return None
    values = ctx.bindings.get(name, ())
    if not values or not all(_is_tensor_type(ctx, v) for v in values):
        return None
    return Origin(call, name, _random_name(ctx, args[0].value), False)


def _is_tensor_type(ctx: FileContext, value: cst.BaseExpression) -> bool:
    if isinstance(value, cst.IfExp):
        return _is_tensor_type(ctx, value.body) and _is_tensor_type(ctx, value.orelse)
    q = ctx.qualname(value)
    return q is not None and (q in LEGACY or q in CUDA_LEGACY)


def alias_on_device(ctx: FileContext, call: cst.Call) -> bool:
    """The alias (or type) the call constructs with is the CUDA one in at least one branch."""
    name = dotted_name(call.func)
    values = ctx.bindings.get(name or "", ())
    return any(_mentions_cuda_type(ctx, v) for v in values)


def _mentions_cuda_type(ctx: FileContext, value: cst.BaseExpression) -> bool:
    if isinstance(value, cst.IfExp):
        return _mentions_cuda_type(ctx, value.body) or _mentions_cuda_type(ctx, value.orelse)
    return (ctx.qualname(value) or "") in CUDA_LEGACY


def _random_name(ctx: FileContext, draw: cst.BaseExpression) -> str:
    name = (ctx.call_qualname(draw) or "").rsplit(".", 1)[-1]
    if name in ("rand", "random", "random_sample", "uniform", "sample"):
        return "rand"
    if name in ("randint", "choice", "permutation"):
        return "randint"
    return "randn"


def preceding_binding(ctx: FileContext, name: str, use: cst.CSTNode) -> cst.BaseExpression | None:
    """The value `name` holds at `use` when the assignment is an earlier statement of the same block (or
    of a block around the use) with no other binding of the name between them; None otherwise."""
    stmts = statement_chain(ctx, use)
    found_for = _binding_index(ctx, name)
    for stmt in stmts:
        block = ctx.parent(stmt)
        body = getattr(block, "body", None)
        if not isinstance(body, (list, tuple)):
            continue
        try:
            at = next(i for i, s in enumerate(body) if s is stmt)
        except StopIteration:
            continue
        for earlier in reversed(body[:at]):
            found = found_for.at(earlier)
            if found:
                return found[-1] if len(found) == 1 else None
            if not isinstance(earlier, cst.SimpleStatementLine):
                if found_for.binds_inside(earlier):
                    return None
        if isinstance(block, cst.IndentedBlock) and isinstance(ctx.parent(block), (cst.FunctionDef, cst.For, cst.While)):
            return None  # never look past the top of a function or loop body
    return None


def statement_chain(ctx: FileContext, node: cst.CSTNode) -> list[cst.CSTNode]:
    """The statements holding `node`, innermost first, up to the enclosing function or module."""
    out: list[cst.CSTNode] = []
    for anc in [node, *ctx.ancestors(node)]:
        if isinstance(anc, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            break
        if isinstance(anc, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            out.append(anc)
    return out


class _Bindings:
    """The bindings of one name, found where `preceding_binding` looks. Long files bind `x` or `y` hundreds
    of times while the search reads a few statements near the use: it walks those statements for the
    values (within a budget of nodes), and only past the budget indexes every value by its statement."""

    def __init__(self, ctx: FileContext, name: str) -> None:
        self.ctx, self.parents = ctx, ctx.parents
        self.values = ctx.bindings.get(name, ())
        self._count: dict[int, int] = {}
        for v in self.values:
            self._count[id(v)] = self._count.get(id(v), 0) + 1
        self._budget = 4 * len(self.values)  # nodes the walks may visit: beyond, the index is cheaper
        self._inside: dict[int, list[cst.BaseExpression] | None] = {}
        self._by_stmt: dict[int, list[cst.BaseExpression]] | None = None
        self._around: set[int] | None = None

    def at(self, stmt: cst.CSTNode) -> list[cst.BaseExpression]:
        """The values whose statement (as `ctx.statement_of` finds it) is `stmt`."""
        found = self._values_inside(stmt)
        if found is not None:
            return [v for v in found if self.ctx.statement_of(v) is stmt]
        if self._by_stmt is None:
            self._by_stmt = {}
            for v in self.values:
                self._by_stmt.setdefault(id(self.ctx.statement_of(v)), []).append(v)
        return self._by_stmt.get(id(stmt), [])

    def binds_inside(self, stmt: cst.CSTNode) -> bool:
        """Some value of the name lies inside `stmt`."""
        found = self._values_inside(stmt)
        if found is not None:
            return bool(found)
        if self._around is None:  # the ancestors of every value, gathered once
            around: set[int] = set()
            for v in self.values:
                current = self.parents.get(id(v))
                while current is not None and id(current) not in around:
                    around.add(id(current))
                    current = self.parents.get(id(current))
            self._around = around
        return id(stmt) in self._around

    def _values_inside(self, stmt: cst.CSTNode) -> list[cst.BaseExpression] | None:
        """The values in the subtree of `stmt` (each as often as it is bound), or None past the budget."""
        if id(stmt) in self._inside:
            return self._inside[id(stmt)]
        found: list[cst.BaseExpression] | None = []
        for node in walk(stmt):
            self._budget -= 1
            if self._budget < 0:
                found = None
                break
            times = self._count.get(id(node))
            if times and found is not None:
                found.extend([cast(cst.BaseExpression, node)] * times)
        self._inside[id(stmt)] = found
        return found


def _binding_index(ctx: FileContext, name: str) -> _Bindings:
    cache: dict[str, _Bindings] = ctx.shared.setdefault("host_tensors.bindings", {})
    found = cache.get(name)
    if found is None:
        found = cache[name] = _Bindings(ctx, name)
    return found


CORPUS_FACTORIES = frozenset({"torch.tensor", "torch.as_tensor", "torch.from_numpy", "torch.load", *LEGACY})


def host_corpus(ctx: FileContext, expr: cst.BaseExpression, where: cst.CSTNode, depth: int = 0) -> str | None:
    """The module-level host tensor `expr` is a slice or a stack of slices of (`data[i:i + n]`,
    `torch.stack([data[i:i + n] for i in ix])`, through names and `a if cond else b`), or None."""
    if depth > 6:
        return None
    if isinstance(expr, cst.Subscript):
        return _corpus_name(ctx, expr.value, where, depth)
    if isinstance(expr, cst.Call) and ctx.call_qualname(expr) in ("torch.stack", "torch.cat"):
        args = positional(expr)
        if args and isinstance(args[0].value, (cst.ListComp, cst.GeneratorExp)) and isinstance(args[0].value.elt, cst.Subscript):
            return _corpus_name(ctx, args[0].value.elt.value, where, depth)
        return None
    if isinstance(expr, cst.Name):
        value = preceding_binding(ctx, expr.value, where)
        return host_corpus(ctx, value, value, depth + 1) if value is not None else None
    return None


def _corpus_name(ctx: FileContext, expr: cst.BaseExpression, where: cst.CSTNode, depth: int) -> str | None:
    """`expr` names (directly, through `a if c else b` or a slice) a tensor built at module level."""
    if isinstance(expr, cst.Subscript):
        return _corpus_name(ctx, expr.value, where, depth + 1)
    if isinstance(expr, cst.IfExp):
        a = _corpus_name(ctx, expr.body, where, depth + 1)
        b = _corpus_name(ctx, expr.orelse, where, depth + 1)
        return (a if a == b else f"{a}` and `{b}") if a is not None and b is not None else None
    if not isinstance(expr, cst.Name) or depth > 6:
        return None
    value = preceding_binding(ctx, expr.value, where)
    if value is None:
        values = ctx.bindings.get(expr.value, ())
        if len(values) != 1 or ctx.enclosing_function(values[0]) is not None:
            return None
        value = values[0]
    if isinstance(value, cst.Call):
        if ctx.call_qualname(value) in CORPUS_FACTORIES and ctx.enclosing_function(value) is None:
            return expr.value
        return None
    found = _corpus_name(ctx, value, value, depth + 1)
    if found is None:
        return None
    return found if ctx.enclosing_function(value) is not None else expr.value
