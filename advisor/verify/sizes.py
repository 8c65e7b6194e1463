"""Sizes for a pair taken from the user's code where it shows them, else the pair's documented defaults.

What counts as "showing": a literal `batch_size=32` in a DataLoader call, literal shapes in tensor/array
constructors (`torch.randn(1000, 20)`, `np.zeros((n, n))` with a literal n), a literal `range(200)`
driving the flagged loops, or `for epoch in range(30)`. The literal nearest to the finding wins. Values
are capped so that a verification stays a matter of seconds; a cap is recorded in the note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from advisor.types import Finding

if TYPE_CHECKING:
    from advisor.rule import Rule

CONSTRUCTORS = frozenset({"randn", "rand", "zeros", "ones", "empty", "full", "randint", "normal", "uniform", "standard_normal"})
# Upper bounds per size key: beyond these a pair would run for minutes. A rule adds its own (`size_caps`).
CAPS: dict[str, int] = {"samples": 4096, "features": 1024, "hidden": 1024, "batch_size": 1024, "batch": 1024, "epochs": 50, "steps": 200}


@dataclass(frozen=True)
class Literals:
    batch_sizes: list[tuple[int, int]] = field(default_factory=list)  # (line, value)
    shapes: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    ranges: list[tuple[int, int]] = field(default_factory=list)
    epoch_ranges: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Sizes:
    values: dict[str, Any]
    source: str  # "user code" | "defaults"
    note: str = ""


def _int(node: cst.BaseExpression) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.value.replace("_", ""), 0)
    return None


def _shape(call: cst.Call) -> tuple[int, ...] | None:
    args = [a for a in call.args if a.keyword is None]
    if len(args) == 1 and isinstance(args[0].value, (cst.Tuple, cst.List)):
        dims = [_int(e.value) for e in args[0].value.elements]
    else:
        dims = [_int(a.value) for a in args]
        size_kw = next((a for a in call.args if a.keyword and a.keyword.value == "size"), None)
        if not args and size_kw is not None and isinstance(size_kw.value, (cst.Tuple, cst.List)):
            dims = [_int(e.value) for e in size_kw.value.elements]
    if dims and all(d is not None and d > 0 for d in dims):
        return tuple(d for d in dims if d is not None)
    return None


def collect_literals(text: str) -> Literals:
    """Every size-bearing literal in the file, with its line; a file that does not parse gives none."""
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        return Literals()
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    found = Literals()

    class Visitor(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            line = positions[node].start.line
            func = node.func
            last = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
            if last == "DataLoader":
                for arg in node.args:
                    if arg.keyword and arg.keyword.value == "batch_size" and _int(arg.value):
                        found.batch_sizes.append((line, _int(arg.value) or 0))
                if len(node.args) > 1 and node.args[1].keyword is None and _int(node.args[1].value):
                    found.batch_sizes.append((line, _int(node.args[1].value) or 0))
            elif last in CONSTRUCTORS:
                shape = _shape(node)
                if shape:
                    found.shapes.append((line, shape))
            elif last == "range" and len(node.args) == 1 and _int(node.args[0].value):
                found.ranges.append((line, _int(node.args[0].value) or 0))

        def visit_For(self, node: cst.For) -> None:
            target = node.target.value if isinstance(node.target, cst.Name) else ""
            it = node.iter
            if "epoch" in target.lower() and isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "range" and len(it.args) == 1:
                value = _int(it.args[0].value)
                if value:
                    found.epoch_ranges.append((positions[node].start.line, value))

    module.visit(Visitor())
    return found


def nearest(items: list[tuple[int, Any]], line: int, within: tuple[int, int] | None = None) -> Any:
    """The value of the (line, value) item closest to `line` (the earlier on a tie), or None."""
    pool = [it for it in items if within is None or within[0] <= it[0] <= within[1]]
    if not pool:
        return None
    return min(pool, key=lambda it: (abs(it[0] - line), it[0]))[1]


def matrices(lits: Literals) -> list[tuple[int, tuple[int, ...]]]:
    """The two-dimensional literal shapes, with their lines."""
    return [(ln, s) for ln, s in lits.shapes if len(s) == 2]


def sizes_for(finding: Finding, text: str, defaults: dict[str, Any], rule: type[Rule]) -> Sizes:
    """The pair's sizes for this finding: the literals its rule reads from the user's code (`pair_sizes`)
    over the defaults, capped by the general caps and the rule's own (`size_caps`)."""
    if finding.cell is not None:
        return Sizes(dict(defaults), "defaults", "sizes are not read from notebooks")
    shown = rule.pair_sizes(collect_literals(text), finding.span.line, finding.span.end_line)
    found = {k: v for k, v in shown.items() if k in defaults}
    if not found:
        return Sizes(dict(defaults), "defaults")
    caps = {**CAPS, **rule.size_caps}
    capped = [f"{k} {v} capped to {caps[k]}" for k, v in found.items() if k in caps and v > caps[k]]
    found = {k: min(v, caps.get(k, v)) for k, v in found.items()}
    return Sizes({**defaults, **found}, "user code", "; ".join(capped))
