"""The proof that an ADV401 function lifted from the user's file is pure enough to run on our inputs.

An allow-list over the whole function, not a deny-list over its body: the signature (no decorators, no
annotations, defaults only literal numbers), every node type, every name read (a parameter, a local, a
few numeric builtins, a numpy/torch import alias) and every attribute (`alias.zeros`-style constructors
on the aliases, element-wise functions such as `math.exp` or `np.sqrt`, `append`/`shape`-style members on the function's own values; never a dunder, never a
chain like `torch.os.system`). Calls go only to those builtins and attributes. Anything else refuses the
function with the reason. Strings are inert data here: no attribute or call can reach their methods.
"""

from __future__ import annotations

import libcst as cst

# Builtins the function may name; all compute on numbers and sequences, none reaches I/O or objects.
CALL_BUILTINS = frozenset({"range", "len", "sum", "zip", "enumerate", "min", "max", "abs", "float", "int", "list", "tuple", "reversed", "round", "bool"})
# `np.<name>` / `torch.<name>` the function may use: array constructors and numeric types.
FRAMEWORK_ATTRS = frozenset({"zeros", "ones", "empty", "zeros_like", "ones_like", "empty_like", "array", "asarray", "tensor", "float32", "float64", "int64", "dot"})
# Element-wise functions on numbers and arrays (`math.exp`, `np.sqrt`, `torch.clamp`): each computes a
# value from its arguments and nothing else.
ELEMENTWISE_ATTRS = frozenset(
    "exp log log2 log10 log1p expm1 sqrt sin cos tan tanh sinh cosh arcsin arccos arctan asin acos atan "
    "floor ceil trunc fabs abs sign square reciprocal sigmoid maximum minimum clamp as_tensor pi".split()
)
# Members of the function's own lists/arrays it may use.
VALUE_ATTRS = frozenset({"append", "extend", "shape", "tolist", "copy"})

_STATEMENTS = (
    cst.IndentedBlock, cst.SimpleStatementSuite, cst.SimpleStatementLine, cst.Expr, cst.Assign, cst.AssignTarget, cst.AugAssign, cst.Return,
    cst.For, cst.While, cst.If, cst.Else, cst.Pass, cst.Break, cst.Continue,
)
_EXPRESSIONS = (
    cst.Name, cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString, cst.Tuple, cst.List, cst.Element,
    cst.StarredElement, cst.ListComp, cst.GeneratorExp, cst.CompFor, cst.CompIf, cst.Subscript, cst.SubscriptElement,
    cst.Index, cst.Slice, cst.BinaryOperation, cst.UnaryOperation, cst.BooleanOperation, cst.Comparison,
    cst.ComparisonTarget, cst.IfExp, cst.Call, cst.Arg, cst.Attribute,
)
_SYNTAX = (
    cst.BaseBinaryOp, cst.BaseUnaryOp, cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseAugOp, cst.LeftParen, cst.RightParen,
    cst.LeftSquareBracket, cst.RightSquareBracket, cst.Comma, cst.Colon, cst.Dot, cst.AssignEqual, cst.Semicolon,
    cst.SimpleWhitespace, cst.ParenthesizedWhitespace, cst.TrailingWhitespace, cst.Newline, cst.EmptyLine, cst.Comment,
)
_ALLOWED = _STATEMENTS + _EXPRESSIONS + _SYNTAX


def _literal_number(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.Integer, cst.Float)):
        return True
    if isinstance(node, cst.Name):
        return node.value in ("None", "True", "False")
    return isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and isinstance(node.expression, (cst.Integer, cst.Float))


def _targets(node: cst.CSTNode) -> list[str]:
    """Names bound by an assignment/loop target (tuples, lists and starred parts unpacked)."""
    if isinstance(node, cst.Name):
        return [node.value]
    if isinstance(node, (cst.Tuple, cst.List)):
        return [n for e in node.elements for n in _targets(e.value)]
    if isinstance(node, cst.StarredElement):
        return _targets(node.value)
    return []


def _bound_names(fn: cst.FunctionDef) -> set[str]:
    names = {p.name.value for p in fn.params.params}
    stack: list[cst.CSTNode] = [fn.body]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.AssignTarget):
            names.update(_targets(node.target))
        elif isinstance(node, cst.AugAssign):
            names.update(_targets(node.target))
        elif isinstance(node, (cst.For, cst.CompFor)):
            names.update(_targets(node.target))
        stack.extend(node.children)
    return names


def _root_name(node: cst.BaseExpression) -> str | None:
    """`out` for `out`, `out[i]`, `out[i][j]`: the value an attribute is read from."""
    while isinstance(node, cst.Subscript):
        node = node.value
    return node.value if isinstance(node, cst.Name) else None


def _signature_problem(fn: cst.FunctionDef) -> str | None:
    if fn.decorators:
        return "is decorated; a decorator runs when the function is defined"
    if fn.asynchronous:
        return "is async"
    if fn.returns is not None:
        return "has a return annotation, which runs when the function is defined"
    for param in fn.params.params:
        if param.annotation is not None:
            return f"annotates `{param.name.value}`; annotations run when the function is defined"
        if param.default is not None and not _literal_number(param.default):
            return f"gives `{param.name.value}` a default that is not a literal number; defaults run when the function is defined"
        if "__" in param.name.value:
            return f"has a parameter named with a double underscore (`{param.name.value}`)"
    return None


class _Checker:
    def __init__(self, fn: cst.FunctionDef, aliases: set[str], helpers: frozenset[str] = frozenset()) -> None:
        self.aliases = aliases
        self.bound = _bound_names(fn)
        self.helpers = helpers - self.bound

    def attribute(self, node: cst.Attribute) -> str | None:
        attr = node.attr.value
        if "__" in attr:
            return f"reads the double-underscore attribute `.{attr}`"
        if isinstance(node.value, cst.Name) and node.value.value in self.aliases and node.value.value not in self.bound:
            allowed = attr in FRAMEWORK_ATTRS or attr in ELEMENTWISE_ATTRS
            return None if allowed else f"uses `{node.value.value}.{attr}`; only array constructors and element-wise functions are allowed"
        root = _root_name(node.value)
        if root is not None and root in self.bound and attr in VALUE_ATTRS:
            return None
        return f"reads the attribute `.{attr}`; only `.{'`/`.'.join(sorted(VALUE_ATTRS))}` of its own values are allowed"

    def name(self, node: cst.Name) -> str | None:
        value = node.value
        if "__" in value:
            return f"names `{value}`, a double-underscore name"
        if value in self.bound or value in CALL_BUILTINS or value in self.aliases or value in self.helpers or value in ("None", "True", "False"):
            return None
        return f"reads `{value}`, which is not a parameter, a local, or an allowed builtin"

    def call(self, node: cst.Call) -> str | None:
        func = node.func
        if isinstance(func, cst.Name):
            if (func.value in CALL_BUILTINS or func.value in self.helpers) and func.value not in self.bound:
                return None
            return f"calls `{func.value}`; only {', '.join(sorted(CALL_BUILTINS))} may be called"
        if isinstance(func, cst.Attribute):
            return None  # the attribute itself is checked
        return "calls the result of an expression"

    def problem(self, root: cst.FunctionDef) -> str | None:
        stack: list[cst.CSTNode] = [root.body]
        for param in root.params.params:
            if param.default is not None:
                stack.append(param.default)
        while stack:
            node = stack.pop()
            if not isinstance(node, _ALLOWED):
                return f"contains `{type(node).__name__}`, which is not allowed in a function advisor runs"
            why: str | None = None
            if isinstance(node, cst.Attribute):
                why = self.attribute(node)
                stack.append(node.value)  # `.attr` is not a name read
            elif isinstance(node, cst.Arg):
                if node.keyword is not None and "__" in node.keyword.value:
                    return f"passes the keyword `{node.keyword.value}`"
                stack.append(node.value)
            elif isinstance(node, cst.Name):
                why = self.name(node)
            elif isinstance(node, cst.Call):
                why = self.call(node)
                stack.extend(node.children)
            else:
                stack.extend(node.children)
            if why:
                return why
        return None


def impurity(fn: cst.FunctionDef, aliases: set[str], helpers: frozenset[str] = frozenset()) -> str | None:
    """Why `fn` may not be run on our inputs, or None when every part of it is on the allow-list.
    `helpers`: functions of the same file, each proven pure on its own, that `fn` may call by name."""
    return _signature_problem(fn) or _Checker(fn, aliases, helpers).problem(fn)
