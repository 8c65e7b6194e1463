"""The index of one parsed file, built by a single cheap pre-pass and shared by every rule.

It resolves imports and aliases itself instead of running libcst's QualifiedNameProvider on every file
(that is about ten times slower than parsing), and answers tree navigation. Two lazy views hang off it:
`advisor.loops` (which loops train, what runs per step) and `advisor.kinds` (what a name holds); the
methods below that ask them are the one place rules ask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterator, Sequence, TypeVar, cast

import libcst as cst

from advisor.kinds import ValueKinds
from advisor.loops import FunctionFacts, LoopFacts, LoopIndex
from advisor.prepass import Event, Fragment, ParentLinks, module_fragments
from advisor.syntax import LOOP_TYPES, call_attr, callee_name, dotted_name, target_names

NodeT = TypeVar("NodeT", bound=cst.CSTNode)

# Frameworks that own the optimisation loop (and usually the learning-rate schedule) for the user.
TRAINING_FRAMEWORKS = (
    "pytorch_lightning",
    "lightning",
    "transformers",
    "accelerate",
    "ignite",
    "fastai",
    "keras",
    "deepspeed",
    "composer",
    "catalyst",
    "skorch",
    "poutyne",
)
# Text that any training step contains; rules that need a training loop use it as their prefilter.
# `scaler(` covers steps taken inside a gradient-scaler helper: `loss_scaler(loss, optimizer)`.
STEP_TRIGGERS = ("backward", ".step(", "scaler(")


@dataclass
class FileContext:
    """Facts about one parsed file, shared by all rules."""

    module: cst.Module
    text: str
    path: str
    imports: dict[str, str] = field(default_factory=dict)
    star_imports: bool = False  # `from x import *` somewhere: names may arrive unseen
    parents: dict[int, cst.CSTNode] = field(default_factory=dict)
    functions: dict[str, list[cst.FunctionDef]] = field(default_factory=dict)
    classes: dict[str, cst.ClassDef] = field(default_factory=dict)
    bindings: dict[str, list[cst.BaseExpression]] = field(default_factory=dict)
    calls_by_attr: dict[str, list[cst.Call]] = field(default_factory=dict)
    nodes_by_type: dict[str, list[cst.CSTNode]] = field(default_factory=dict)  # document order
    fragments: Sequence[Fragment] = ()  # the pre-pass pieces the index was assembled from, in document order
    # Facts a rule family derives once and shares between its rules (keyed by the family's own name).
    shared: dict[str, Any] = field(default_factory=dict)
    _qualnames: dict[int, tuple[cst.CSTNode, str | None]] = field(default_factory=dict, repr=False)
    _calls_by_callee: dict[str, list[cst.Call]] | None = field(default=None, repr=False)

    def nodes(self, kind: type[NodeT]) -> list[NodeT]:
        """Every node of exactly this libcst type, in document order (the typed view of `nodes_by_type`)."""
        return cast("list[NodeT]", self.nodes_by_type.get(kind.__name__, []))

    def all_loops(self) -> list[cst.For | cst.While]:
        """Every for/while loop of the file (for loops first)."""
        return [*self.nodes(cst.For), *self.nodes(cst.While)]

    # ----------------------------------------------------------------- names and imports
    def qualname(self, node: cst.BaseExpression) -> str | None:
        """Resolve `T.utils.data.DataLoader` to `torch.utils.data.DataLoader` through the file's imports.

        Names that are not imported resolve to None, so a local class called `DataLoader` is never
        mistaken for PyTorch's. Remembered per node: most rules ask it of every call.
        """
        known = self._qualnames.get(id(node))
        if known is not None and known[0] is node:  # the entry holds its node, so the id was not reused
            return known[1]
        found = self._resolve(node)
        self._qualnames[id(node)] = (node, found)
        return found

    def _resolve(self, node: cst.BaseExpression) -> str | None:
        dotted = dotted_name(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        base = self.imports.get(head)
        if base is None:
            base = self._implicit_module(head)
            if base is None:
                return None
        return f"{base}.{rest}" if rest else base

    def _implicit_module(self, head: str) -> str | None:
        """`torch` used but never imported by name: `import torch.nn as nn` plus a star import that
        re-exports torch is common in research code. Only for `torch`, only when the file imports some
        torch submodule or has a star import, and never when the file binds the name itself."""
        if head != "torch" or head in self.bindings or head in self.functions or head in self.classes:
            return None
        if self.star_imports or any(v.startswith("torch.") for v in self.imports.values()):
            return "torch"
        return None

    def call_qualname(self, node: cst.CSTNode) -> str | None:
        return self.qualname(node.func) if isinstance(node, cst.Call) else None

    def calls_to(self, qualnames: frozenset[str]) -> list[cst.Call]:
        """Every call whose callee resolves to one of `qualnames`, in document order, without resolving
        every call of the file: a callee resolving to `a.b.C` is named `C` (`C(...)`, `b.C(...)`) or is an
        alias imported as exactly `a.b.C` (`from a.b import C as D`), so only calls named so are resolved."""
        names = {q.rsplit(".", 1)[-1] for q in qualnames}
        names |= {local for local, full in self.imports.items() if full in qualnames}
        wanted = {id(c) for n in names for c in self.calls_named(n)}
        if not wanted:
            return []
        return [c for c in self.nodes(cst.Call) if id(c) in wanted and self.call_qualname(c) in qualnames]

    def calls_named(self, name: str) -> list[cst.Call]:
        """Calls of `name(...)` or `x.name(...)`, in document order (indexed once per file)."""
        if self._calls_by_callee is None:
            index: dict[str, list[cst.Call]] = {}
            for call in self.nodes(cst.Call):
                callee = callee_name(call)
                if callee is not None:
                    index.setdefault(callee, []).append(call)
            self._calls_by_callee = index
        return self._calls_by_callee.get(name, [])

    def uses_framework(self) -> bool:
        return any(v.split(".")[0] in TRAINING_FRAMEWORKS for v in self.imports.values())

    @cached_property
    def runs_on_cuda(self) -> bool:
        """The file's code shows it runs on a CUDA device: a `.cuda()` call, a device string or f-string
        starting with "cuda", or a `torch.cuda.*` name. Comments and docstrings do not count (a commented-out
        `# device = "cuda"` is a choice the author did not make). The one definition for every rule."""
        if "cuda" not in self.text:
            return False
        if self.calls_by_attr.get("cuda"):
            return True
        if any(str(s.evaluated_value).split(":")[0] == "cuda" for s in self.nodes(cst.SimpleString)):
            return True
        for fstring in self.nodes(cst.FormattedString):
            first = fstring.parts[0] if fstring.parts else None
            if isinstance(first, cst.FormattedStringText) and first.value.startswith("cuda"):
                return True
        return any(a.attr.value == "cuda" and self.qualname(a) == "torch.cuda" for a in self.nodes(cst.Attribute))

    # ----------------------------------------------------------------- tree navigation
    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.parents.get(id(node))

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        current = self.parents.get(id(node))
        while current is not None:
            yield current
            current = self.parents.get(id(current))

    def enclosing_function(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        return self._enclosing(node, cst.FunctionDef)

    def enclosing_class(self, node: cst.CSTNode) -> cst.ClassDef | None:
        return self._enclosing(node, cst.ClassDef)

    def _enclosing(self, node: cst.CSTNode, kind: type[NodeT]) -> NodeT | None:
        """The nearest ancestor of exactly this libcst type (they are final classes: `type(x) is` suffices
        and skips ABCMeta's instance check; rules ask this of most calls)."""
        parents = self.parents
        current = parents.get(id(node))
        while current is not None:
            if type(current) is kind:
                return current
            current = parents.get(id(current))
        return None

    def innermost_loop(self, node: cst.CSTNode) -> cst.For | cst.While | None:
        """The nearest enclosing for/while whose *body* holds `node`, stopping at function borders.

        Comprehensions are not loops here: they run at C-ish speed per element and have their own rules.
        """
        parents = self.parents
        child = node
        current = parents.get(id(node))
        while current is not None:  # exact types: final libcst classes, asked of most calls
            kind = type(current)
            if kind is cst.FunctionDef or kind is cst.Lambda or kind is cst.ClassDef:
                return None
            if kind is cst.For or kind is cst.While:
                loop = cast("cst.For | cst.While", current)
                if child is loop.body:
                    return loop
            child = current
            current = parents.get(id(current))
        return None

    def is_conditional_within(self, node: cst.CSTNode, loop: cst.CSTNode) -> bool:
        """True when `node` runs only on some iterations of `loop`: under an if/else branch, a `try`
        handler, a conditional expression branch, a short-circuit operand, or a nested loop/comprehension.

        An `if` *test* runs every iteration, so a node inside the test is unconditional.
        """
        child = node
        for anc in self.ancestors(node):
            if anc is loop:
                return False
            if isinstance(anc, cst.If) and child is not anc.test:
                return True
            if isinstance(anc, cst.Else):
                return True
            if isinstance(anc, (cst.ExceptHandler, cst.ExceptStarHandler, cst.Finally)):
                return True
            if isinstance(anc, cst.IfExp) and child is not anc.test:
                return True
            if isinstance(anc, cst.BooleanOperation) and child is anc.right:
                return True
            if isinstance(anc, LOOP_TYPES + (cst.CompFor,)):
                return True
            if isinstance(anc, (cst.FunctionDef, cst.Lambda)):
                return True
            child = anc
        return True

    def statement_of(self, node: cst.CSTNode) -> cst.CSTNode:
        """The statement that holds `node` (its first line carries suppression comments)."""
        parents = self.parents
        current = node
        while type(current) not in STATEMENT_TYPES:
            above = parents.get(id(current))
            if above is None:
                return current
            current = above
        return current


    # ----------------------------------------------------------------- training loops (advisor.loops)
    @cached_property
    def loops(self) -> LoopIndex:
        return LoopIndex(self)

    def loop_facts(self, loop: cst.For | cst.While) -> LoopFacts:
        return self.loops.loop_facts(loop)

    def calls_in_body(self, loop: cst.For | cst.While) -> list[cst.Call]:
        return self.loops.calls_in_body(loop)

    def training_step_loop(self, node: cst.CSTNode) -> cst.For | cst.While | None:
        return self.loops.training_step_loop(node)

    def in_test_function(self, node: cst.CSTNode) -> bool:
        return self.loops.in_test_function(node)

    def is_training_call(self, call: cst.Call) -> bool:
        return self.loops.is_training_call(call)

    def function_facts(self) -> dict[str, FunctionFacts]:
        return self.loops.function_facts()

    # ----------------------------------------------------------------- what names hold (advisor.kinds)
    @cached_property
    def kinds(self) -> ValueKinds:
        return ValueKinds(self)

    def kind_of(self, node: cst.BaseExpression) -> str | None:
        return self.kinds.kind_of(node)

    def is_cpu_device(self, node: cst.BaseExpression) -> bool:
        return self.kinds.is_cpu_device(node)

    def module_classes(self) -> set[str]:
        return self.kinds.module_classes()

    def dataset_classes(self) -> set[str]:
        return self.kinds.dataset_classes()


def _subclasses(kind: type) -> set[type]:
    found = {kind}
    sub: type
    for sub in kind.__subclasses__():
        found |= _subclasses(sub)
    return found


# Exact node types that are statements (for `type(x) in`, cheaper than `isinstance` through ABCMeta).
STATEMENT_TYPES = frozenset(_subclasses(cst.SimpleStatementLine) | _subclasses(cst.BaseCompoundStatement))


def build_context(module: cst.Module, text: str, path: str) -> FileContext:
    """The pre-pass over a whole module: one walk, no libcst visitor (see `advisor.tree_walk`)."""
    return context_from(module, text, path, module_fragments(module))




def context_from(
    module: cst.Module, text: str, path: str, fragments: Sequence[Fragment], links: ParentLinks | None = None
) -> FileContext:
    """The FileContext of `module` from its fragments (the module's own first, as `module_fragments` gives).
    `links`: the parent table of an earlier version of the same document, brought up to date instead of
    built again (the language server's)."""
    ctx = FileContext(module=module, text=text, path=path, fragments=fragments)
    by_type = ctx.nodes_by_type
    if links is not None:
        ctx.parents = links.assemble(module, fragments)
    else:
        parents = ctx.parents
        for frag in fragments:
            if frag.root is not module:
                parents[id(frag.root)] = module
            parents.update(frag.parents)
    for frag in fragments:
        for name, nodes in frag.by_type.items():
            found = by_type.get(name)
            if found is None:
                by_type[name] = list(nodes)
            else:
                found.extend(nodes)
        _replay(ctx, frag.events)
    return ctx


def _replay(ctx: FileContext, events: list[Event]) -> None:
    for event in events:
        kind = event[0]
        if kind == "import":
            ctx.imports[event[1]] = event[2]
        elif kind == "star":
            ctx.star_imports = True
        elif kind == "function":
            ctx.functions.setdefault(event[1], []).append(event[2])
        elif kind == "class":
            ctx.classes[event[1]] = event[2]
        elif kind == "bind":
            ctx.bindings.setdefault(event[1], []).append(event[2])
        elif kind == "attr":
            ctx.calls_by_attr.setdefault(event[1], []).append(event[2])


@dataclass(frozen=True)
class Parsed:
    """A parsed module with its context; `starts` gives each top-level statement's first line (0-based)
    when the parser knows it, which spares rendering the statements before a finding to place it."""

    module: cst.Module
    ctx: FileContext
    starts: list[int] | None = None


# Parses a unit's text (display path second) into its module and context: the engine's whole parse, or
# the language server's incremental one (`advisor.incremental`).
Parser = Callable[[str, str], Parsed]
