"""ADV402: an element-wise Python loop over a tensor or array (`for i in range(n): y[i] = f(x[i])`)."""

from __future__ import annotations

from typing import cast

import libcst as cst

from advisor.context import FileContext
from advisor.syntax import dotted_name, node_code, positional
from advisor.fixes import FixPlan, ReplaceStatement, guarded
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence

# Element-wise functions by their last name: the same name exists in numpy and torch.
ELEMENTWISE = frozenset(
    "exp log log2 log10 log1p expm1 sqrt sin cos tan tanh sinh cosh arcsin arccos arctan asin acos atan "
    "floor ceil trunc fabs abs sign square reciprocal sigmoid".split()
)
# `math.asin` is `np.arcsin`; torch accepts both spellings.
NUMPY_NAMES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "fabs": "abs"}
TORCH_NAMES = {"fabs": "abs"}
BUILTIN_PAIRS = {"max": "maximum", "min": "minimum"}
OPERATORS = (
    cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo, cst.Power,
)
# Calls that build or return an array/tensor: the library decides, so any lower-case function of numpy or
# torch that is not I/O. Methods that keep an array an array.
NOT_ARRAYS = frozenset({"load", "loadtxt", "genfromtxt", "fromfile", "save", "savez", "device", "Generator", "no_grad"})
ARRAY_METHODS = frozenset({"copy", "clone", "detach", "cpu", "numpy", "astype", "reshape", "view", "flatten", "ravel", "float", "double", "contiguous", "to"})


class ElementwiseLoop(Rule):
    code = "ADV402"
    name = "elementwise-loop"
    summary = "Element-wise Python loop over a tensor or array (`y[i] = f(x[i])`)"
    message = "Replace this element-wise loop with one vectorised expression"
    why = (
        "Each iteration goes through the interpreter and boxes one element into a Python (or 0-d tensor) "
        "object; a vectorised expression does the same arithmetic in one compiled loop."
    )
    suggestion = "assign the whole slice at once, e.g. `y[:n] = np.exp(x[:n])` (or the torch function of the same name)"
    triggers = ("for",)
    # Unsafe: `math.exp` computes in float64 where `torch.exp` keeps the tensor's dtype, and Python ints
    # do not overflow where int64 arrays do, so results can differ in the last bits or at the extremes.
    fix_safe = False
    fix_title = "replace the loop with one slice assignment of the vectorised expression"
    # `scan --verify-user-code` times the enclosing function against itself with this fix applied.
    verifies_user_function = True
    user_function_kind = "elementwise"
    docs = RuleDocs(
        what="Finds `for i in range(n):` loops whose body only stores `y[i] = <expr>` (or `y[i] += ...`) "
        "into a NumPy array or torch tensor built in the same file, where `<expr>` reads elements `x[i]` "
        "with the same index and combines them with arithmetic, constants and element-wise functions "
        "(`math.exp`, `np.sqrt`, `torch.tanh`, `abs`, two-argument `max`/`min`). Loops that read "
        "neighbours (`x[i - 1]`), use the index itself, branch, call other functions or fill lists are "
        "not reported.",
        why="A Python loop costs tens to hundreds of nanoseconds per element for the interpreter alone, "
        "and indexing a tensor creates a new 0-d tensor each time (microseconds). NumPy's and PyTorch's "
        "element-wise functions run the same arithmetic over the whole array in compiled, vectorised "
        "code, typically 10x to 1000x faster.",
        example="""
            import math
            import numpy as np

            x = np.random.rand(100_000)
            y = np.empty_like(x)
            for i in range(len(x)):
                y[i] = math.exp(-x[i]) * x[i] + 1.0
        """,
        use_instead="""
            import numpy as np

            x = np.random.rand(100_000)
            y = np.empty_like(x)
            y[:] = np.exp(-x) * x + 1.0
        """,
        references=(
            "NumPy docs: Universal functions (ufunc) basics",
            "NumPy docs: What is NumPy? — Why is NumPy fast? (vectorization)",
            "PyTorch docs: torch (pointwise ops)",
        ),
    )

    def visit_For(self, node: cst.For) -> None:
        if not isinstance(node.target, cst.Name) or node.orelse is not None or node.asynchronous:
            return
        bound = _range_bound(node.iter)
        if bound is None:
            return
        index = node.target.value
        stores = _stores(node.body)
        if not stores:
            return
        libraries: set[str] = set()
        sources: set[str] = set()
        for target, value in stores:
            name = _indexed_by(target, index)
            if name is None:
                return
            lib = self._array_library(name)
            if lib is None:
                return
            libraries.add(lib)
            reads: set[str] = set()
            if not self._elementwise(value, index, reads):
                return
            sources |= reads
        if not sources or len(libraries) != 1:
            return
        if index in _names_outside_subscripts(node.body, index):
            return
        lib = libraries.pop()
        unknown = [s for s in sources if self._array_library(s) is None]
        if any(not self._is_parameter(node, s) for s in unknown):
            return  # a list or a value we cannot see: vectorising it may not even apply
        alias = self._alias(lib)
        lines = [self._vectorised(t, v, index, bound, lib, alias, set(unknown)) for t, v in stores]
        shown = lines[0] if len(lines) == 1 else "; ".join(lines)
        self.report(
            node,
            f"Replace this element-wise loop with one vectorised expression: `{shown}`",
            confidence=Confidence.MEDIUM if unknown else Confidence.HIGH,
            suggestion=f"write `{shown}`: the {'NumPy' if lib == 'numpy' else 'torch'} function applies to every element at once",
            fix=self._fix(node, lines, alias),
        )

    @guarded
    def _fix(self, loop: cst.For, lines: list[str], alias: str | None) -> FixPlan | None:
        if alias is None or len(lines) != 1:
            return None
        return self.plan(ReplaceStatement(loop, lines[0]))

    # ------------------------------------------------------------------ what the loop reads and writes
    def _elementwise(self, expr: cst.BaseExpression, index: str, reads: set[str]) -> bool:
        """`expr` is arithmetic over `x[index]` reads, constants and loop-invariant names."""
        if isinstance(expr, (cst.Integer, cst.Float)):
            return True
        if isinstance(expr, cst.Name):
            return expr.value != index and expr.value not in ("True", "False", "None")
        if isinstance(expr, cst.Attribute):
            return dotted_name(expr) is not None
        if isinstance(expr, cst.Subscript):
            name = _indexed_by(expr, index)
            if name is None:
                return False
            reads.add(name)
            return True
        if isinstance(expr, cst.UnaryOperation):
            return isinstance(expr.operator, (cst.Minus, cst.Plus)) and self._elementwise(expr.expression, index, reads)
        if isinstance(expr, cst.BinaryOperation):
            return isinstance(expr.operator, OPERATORS) and all(self._elementwise(e, index, reads) for e in (expr.left, expr.right))
        if isinstance(expr, cst.Call):
            return self._elementwise_call(expr, index, reads)
        return False

    def _elementwise_call(self, call: cst.Call, index: str, reads: set[str]) -> bool:
        args = positional(call)
        if len(args) != len(call.args):
            return False
        if isinstance(call.func, cst.Name) and call.func.value not in self.ctx.imports and call.func.value not in self.ctx.functions:
            builtin = call.func.value
            if not (builtin == "abs" and len(args) == 1) and not (builtin in BUILTIN_PAIRS and len(args) == 2):
                return False
        else:
            q = self.ctx.call_qualname(call)
            if q is None or q.split(".")[0] not in ("math", "numpy", "torch") or q.rsplit(".", 1)[-1] not in ELEMENTWISE:
                return False
            if len(args) != 1:
                return False
        return all(self._elementwise(a.value, index, reads) for a in args)

    def _array_library(self, name: str, seen: frozenset[str] = frozenset()) -> str | None:
        """"numpy" or "torch" when every binding of `name` in the file makes an array of that library."""
        if name in seen:
            return None
        # `y[i] += v` is recorded as a binding of `y`; it updates the array, it does not rebind it
        values = [v for v in self.ctx.bindings.get(name, []) if not _item_update(self.ctx, v)]
        libs = {self._value_library(v, seen | {name}) for v in values}
        return libs.pop() if len(libs) == 1 and values else None

    def _value_library(self, value: cst.BaseExpression, seen: frozenset[str]) -> str | None:
        if not isinstance(value, cst.Call):
            return None
        q = self.ctx.call_qualname(value)
        if q is not None:
            head, last = q.split(".")[0], q.rsplit(".", 1)[-1]
            if head in ("numpy", "torch") and last[:1].islower() and last not in NOT_ARRAYS and ".nn." not in q:
                return head
            return None
        if isinstance(value.func, cst.Attribute) and value.func.attr.value in ARRAY_METHODS:
            if value.func.attr.value == "numpy":
                return "numpy"
            inner = value.func.value
            name = dotted_name(inner)
            if name is not None:
                return self._array_library(name, seen)
            return self._value_library(inner, seen)
        return None

    def _is_parameter(self, loop: cst.For, name: str) -> bool:
        """`name` is a parameter of the function holding the loop, never rebound in the file."""
        func = self.ctx.enclosing_function(loop)
        if func is None or name in self.ctx.bindings:
            return False
        return any(p.name.value == name for p in func.params.params)

    # ------------------------------------------------------------------ the vectorised form
    def _alias(self, lib: str) -> str | None:
        for local, full in self.ctx.imports.items():
            if full == lib:
                return local
        return None

    def _vectorised(self, target: cst.Subscript, value: cst.BaseExpression, index: str, bound: cst.BaseExpression, lib: str, alias: str | None, foreign: set[str]) -> str:
        module = alias or ("np" if lib == "numpy" else "torch")
        whole = _whole_length(bound)
        rewritten = cast(cst.BaseExpression, value.visit(_Vectorise(index, bound, whole, lib, module, self.ctx, foreign)))  # the transformer only replaces expressions
        assign = self.ctx.parent(target)
        op = node_code(assign.operator).strip() if isinstance(assign, cst.AugAssign) else "="
        name = node_code(target.value)
        sliced = name + ("[:]" if whole == name else f"[:{node_code(bound)}]")
        return f"{sliced} {op} {node_code(rewritten)}"


class _Vectorise(cst.CSTTransformer):
    """`x[i]` → `x[:n]` (or `x` when n is `len(x)`), `math.exp` → `np.exp`, `max(a, b)` → `np.maximum`."""

    def __init__(self, index: str, bound: cst.BaseExpression, whole: str | None, lib: str, module: str, ctx: FileContext, foreign: set[str]) -> None:
        self.index, self.bound, self.whole, self.lib, self.module, self.ctx = index, bound, whole, lib, module, ctx
        self.foreign = foreign

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript) -> cst.BaseExpression:
        name = _indexed_by(original, self.index)
        if name is None:
            return updated
        base = node_code(updated.value)
        if name in self.foreign:  # a parameter of unknown type: make it an array first
            base = f"{self.module}.{'asarray' if self.lib == 'numpy' else 'as_tensor'}({base})"
        if name == self.whole:
            return cst.parse_expression(base)
        return cst.parse_expression(f"{base}[:{node_code(self.bound)}]")

    def _clamp(self, builtin: str, call: cst.Call) -> cst.BaseExpression:
        """`max(t, 0.0)` on tensors is `torch.clamp(t, min=0.0)`; `torch.maximum` wants two tensors."""
        a, b = (arg.value for arg in call.args)
        if _is_number(a):
            a, b = b, a
        if _is_number(b):
            side = "min" if builtin == "max" else "max"
            return cst.parse_expression(f"{self.module}.clamp({node_code(a)}, {side}={node_code(b)})")
        return call.with_changes(func=cst.parse_expression(f"{self.module}.{BUILTIN_PAIRS[builtin]}"))

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if isinstance(original.func, cst.Name) and original.func.value in ("abs", "max", "min"):
            builtin = original.func.value
            if builtin != "abs" and self.lib == "torch":
                return self._clamp(builtin, updated)
            fn = "abs" if builtin == "abs" else BUILTIN_PAIRS[builtin]
            return updated.with_changes(func=cst.parse_expression(f"{self.module}.{fn}"))
        q = self.ctx.call_qualname(original)
        if q is not None and q.split(".")[0] in ("math", "numpy", "torch"):
            last = q.rsplit(".", 1)[-1]
            table = NUMPY_NAMES if self.lib == "numpy" else TORCH_NAMES
            return updated.with_changes(func=cst.parse_expression(f"{self.module}.{table.get(last, last)}"))
        return updated


def _item_update(ctx: FileContext, value: cst.BaseExpression) -> bool:
    parent = ctx.parent(value)
    return isinstance(parent, cst.AugAssign) and isinstance(parent.target, cst.Subscript)


def _is_number(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.UnaryOperation):
        return _is_number(expr.expression)
    return isinstance(expr, (cst.Integer, cst.Float))


def _range_bound(expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """n for `range(n)` or `range(0, n)`."""
    if not isinstance(expr, cst.Call) or not isinstance(expr.func, cst.Name) or expr.func.value != "range":
        return None
    args = positional(expr)
    if len(args) != len(expr.args):
        return None
    if len(args) == 1:
        return args[0].value
    if len(args) == 2 and isinstance(args[0].value, cst.Integer) and args[0].value.value == "0":
        return args[1].value
    return None


def _whole_length(bound: cst.BaseExpression) -> str | None:
    """`x` when the bound is `len(x)`, `x.shape[0]`, `x.size(0)` or `x.numel()`: the loop covers all of x."""
    if isinstance(bound, cst.Call):
        args = positional(bound)
        if isinstance(bound.func, cst.Name) and bound.func.value == "len" and len(args) == 1:
            return dotted_name(args[0].value)
        if isinstance(bound.func, cst.Attribute) and bound.func.attr.value == "numel" and not args:
            return dotted_name(bound.func.value)
        if isinstance(bound.func, cst.Attribute) and bound.func.attr.value == "size" and len(args) == 1:
            if isinstance(args[0].value, cst.Integer) and args[0].value.value == "0":
                return dotted_name(bound.func.value)
    if isinstance(bound, cst.Subscript) and isinstance(bound.value, cst.Attribute) and bound.value.attr.value == "shape":
        if len(bound.slice) == 1 and isinstance(bound.slice[0].slice, cst.Index):
            first = bound.slice[0].slice.value
            if isinstance(first, cst.Integer) and first.value == "0":
                return dotted_name(bound.value.value)
    return None


def _stores(body: cst.BaseSuite) -> list[tuple[cst.Subscript, cst.BaseExpression]]:
    """(target, value) of every statement when the body is only `y[i] = ...` / `y[i] op= ...`; else []."""
    if not isinstance(body, cst.IndentedBlock):
        statements: list[cst.BaseSmallStatement] = list(body.body) if isinstance(body, cst.SimpleStatementSuite) else []
    else:
        statements = []
        for line in body.body:
            if not isinstance(line, cst.SimpleStatementLine):
                return []
            statements.extend(line.body)
    out: list[tuple[cst.Subscript, cst.BaseExpression]] = []
    for stmt in statements:
        if isinstance(stmt, cst.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0].target, cst.Subscript):
            out.append((stmt.targets[0].target, stmt.value))
        elif isinstance(stmt, cst.AugAssign) and isinstance(stmt.target, cst.Subscript):
            out.append((stmt.target, stmt.value))
        else:
            return []
    return out


def _indexed_by(node: cst.BaseExpression, index: str) -> str | None:
    """`x` for `x[i]` (x a name or dotted attribute), else None."""
    if not isinstance(node, cst.Subscript) or len(node.slice) != 1:
        return None
    element = node.slice[0].slice
    if not isinstance(element, cst.Index) or not isinstance(element.value, cst.Name) or element.value.value != index:
        return None
    return dotted_name(node.value)


def _names_outside_subscripts(body: cst.CSTNode, index: str) -> set[str]:
    """Names read anywhere except as the index of `x[i]`: finds the loop index used as a value."""
    found: set[str] = set()

    class _Reads(cst.CSTVisitor):
        def visit_SubscriptElement(self, node: cst.SubscriptElement) -> bool:
            element = node.slice
            if isinstance(element, cst.Index) and isinstance(element.value, cst.Name) and element.value.value == index:
                return False
            return True

        def visit_Name(self, node: cst.Name) -> None:
            found.add(node.value)

        def visit_Attribute(self, node: cst.Attribute) -> bool:
            node.value.visit(self)
            return False

    body.visit(_Reads())
    return found
