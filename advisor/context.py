"""What every rule may ask about a file, computed once per file by a single cheap pre-pass.

We resolve imports and aliases ourselves instead of running libcst's QualifiedNameProvider on every
file (that is about ten times slower than parsing). Loop facts ("is this a training step loop?",
"which names does it assign?") are computed lazily and cached, so files without loops pay nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence, cast

import libcst as cst

from advisor.tree_walk import preorder

LOOP_TYPES = (cst.For, cst.While)
# Node types that bind names (see `_bound_names`).
BINDING_TYPES = ("Assign", "AugAssign", "AnnAssign", "For", "CompFor", "AsName", "NamedExpr", "Del")
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
MODEL_FACTORY_PREFIXES = ("torchvision.models.", "timm.", "transformers.")
DTYPE_NAMES = frozenset(
    "float float16 float32 float64 half double bfloat16 int int8 int16 int32 int64 long short bool "
    "uint8 complex64 complex128 cfloat cdouble float8_e4m3fn float8_e5m2".split()
)


# The helpers below run for most nodes of a file: they test node types with `type(x) is` (libcst's node
# classes are final; `isinstance` goes through ABCMeta, a Python-level call, and was a fifth of the rules' time).


def dotted_name(node: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    if type(node) is cst.Name:
        return node.value
    parts: list[str] = []
    while type(node) is cst.Attribute:
        parts.append(node.attr.value)
        node = node.value
    if type(node) is cst.Name:
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def call_attr(node: cst.CSTNode) -> str | None:
    """For `x.method(...)` return "method", else None."""
    if type(node) is cst.Call and type(node.func) is cst.Attribute:
        return node.func.attr.value
    return None


def callee_name(node: cst.CSTNode) -> str | None:
    """For `f(...)` return "f", for `x.y.f(...)` return "f", else None (not a call, or a computed callee)."""
    if type(node) is cst.Call:
        func = node.func
        if type(func) is cst.Name:
            return func.value
        if type(func) is cst.Attribute:
            return func.attr.value
    return None


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def has_star_args(call: cst.Call) -> bool:
    """True when `*args` or `**kwargs` may supply arguments we cannot see."""
    return any(arg.star in ("*", "**") for arg in call.args)


def positional(call: cst.Call) -> list[cst.Arg]:
    return [a for a in call.args if a.keyword is None and a.star == ""]


def int_value(node: cst.BaseExpression | None) -> int | None:
    if isinstance(node, cst.Integer):
        try:
            return int(node.value.replace("_", ""), 0)
        except ValueError:
            return None
    return None


def names_in(node: cst.CSTNode) -> set[str]:
    """Every bare Name read in `node` (attribute names excluded)."""
    found: set[str] = set()

    class _Names(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            found.add(n.value)

        def visit_Attribute(self, n: cst.Attribute) -> bool:
            n.value.visit(self)
            return False

    node.visit(_Names())
    return found


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Pre-order walk of a subtree, in document order (read from the fields: see `advisor.tree_walk`)."""
    return preorder(node)


def target_names(target: cst.CSTNode) -> set[str]:
    """Names (and dotted attribute targets like `self.x`) bound by an assignment target."""
    out: set[str] = set()
    if isinstance(target, cst.Name):
        out.add(target.value)
    elif isinstance(target, cst.Attribute):
        dotted = dotted_name(target)
        if dotted:
            out.add(dotted)
    elif isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            out |= target_names(el.value)
    elif isinstance(target, cst.StarredElement):
        out |= target_names(target.value)
    elif isinstance(target, cst.Subscript):
        dotted = dotted_name(target.value)
        if dotted:
            out.add(dotted)  # x[i] = ... mutates x
    return out


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
    _loops: dict[int, LoopFacts] | None = None
    _call_loops: dict[int, list[tuple[cst.CSTNode, int]]] | None = None
    _call_func: dict[int, tuple[cst.FunctionDef, int]] | None = None
    _body_calls: dict[int, list[cst.Call]] | None = None
    _function_facts: dict[str, FunctionFacts] | None = None
    _module_classes: set[str] | None = None
    _kinds: dict[str, str | None] = field(default_factory=dict)
    _owners: set[str] | None = None
    # Facts a rule family derives once and shares between its rules (keyed by the family's own name).
    shared: dict[str, Any] = field(default_factory=dict)

    # ----------------------------------------------------------------- names and imports
    def qualname(self, node: cst.BaseExpression) -> str | None:
        """Resolve `T.utils.data.DataLoader` to `torch.utils.data.DataLoader` through the file's imports.

        Names that are not imported resolve to None, so a local class called `DataLoader` is never
        mistaken for PyTorch's.
        """
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

    def uses_framework(self) -> bool:
        return any(v.split(".")[0] in TRAINING_FRAMEWORKS for v in self.imports.values())

    @property
    def mentions_cuda(self) -> bool:
        """The file shows it runs on a CUDA device (a `.cuda()` call, "cuda" string, or torch.cuda) in its
        code: a commented-out `# device = "cuda"` is a choice the author did not make. The one definition
        of "this file runs on CUDA" for every rule (ADV103's confidence, ADV204's pinned memory)."""
        if "cuda" not in self.text:
            return False
        for line in self.text.splitlines():
            at = line.find("cuda")
            if at >= 0 and "#" not in line[:at]:
                return True
        return False

    def is_cpu_device(self, node: cst.BaseExpression, seen: frozenset[str] = frozenset()) -> bool:
        """`"cpu"`, `torch.device("cpu")`, or a name bound only to those: a move that stays on the host."""
        if isinstance(node, cst.SimpleString):
            return node.evaluated_value == "cpu"
        if isinstance(node, cst.Call) and self.qualname(node.func) == "torch.device":
            args = positional(node)
            return len(args) == 1 and self.is_cpu_device(args[0].value, seen)
        name = dotted_name(node)
        if name is None or name in seen:
            return False
        values = self.bindings.get(name, [])
        return bool(values) and all(self.is_cpu_device(v, seen | {name}) for v in values)

    # ----------------------------------------------------------------- tree navigation
    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.parents.get(id(node))

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        current = self.parents.get(id(node))
        while current is not None:
            yield current
            current = self.parents.get(id(current))

    def enclosing_function(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        for anc in self.ancestors(node):
            if isinstance(anc, cst.FunctionDef):
                return anc
        return None

    def enclosing_class(self, node: cst.CSTNode) -> cst.ClassDef | None:
        for anc in self.ancestors(node):
            if isinstance(anc, cst.ClassDef):
                return anc
        return None

    def innermost_loop(self, node: cst.CSTNode) -> cst.For | cst.While | None:
        """The nearest enclosing for/while whose *body* holds `node`, stopping at function borders.

        Comprehensions are not loops here: they run at C-ish speed per element and have their own rules.
        """
        child = node
        for anc in self.ancestors(node):
            if isinstance(anc, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return None
            if isinstance(anc, LOOP_TYPES) and child is anc.body:
                return anc
            child = anc
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
        current: cst.CSTNode = node
        for anc in [node, *self.ancestors(node)]:
            current = anc
            if isinstance(anc, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return anc
        return current

    # ----------------------------------------------------------------- training loops
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

    def _index_calls(self) -> None:
        """For every call: the loops whose body holds it (with how many loops lie between), and the
        function whose body holds it (with its loop depth there). One climb up the parent index per
        call; no subtree is walked (libcst's `.children` rebuilds child lists by visiting, which is slow)."""
        if self._call_loops is not None:
            return
        call_loops: dict[int, list[tuple[cst.CSTNode, int]]] = {}
        call_func: dict[int, tuple[cst.FunctionDef, int]] = {}
        body_calls: dict[int, list[cst.Call]] = {}
        for call in self.nodes_by_type.get("Call", ()):
            loops, func = self._climb(call)
            if loops:
                call_loops[id(call)] = loops
                if loops[0][1] == 0:
                    body_calls.setdefault(id(loops[0][0]), []).append(call)  # type: ignore[arg-type]  # from the "Call" index
            if func is not None:
                call_func[id(call)] = func
        self._call_loops, self._call_func, self._body_calls = call_loops, call_func, body_calls

    def _climb(self, node: cst.CSTNode) -> tuple[list[tuple[cst.CSTNode, int]], tuple[cst.FunctionDef, int] | None]:
        """Loops whose body holds `node` (innermost first, with the number of loops in between), and the
        function whose body holds it with its loop depth — up to the nearest function, lambda or class."""
        loops: list[tuple[cst.CSTNode, int]] = []
        depth = 0
        child = node
        parents = self.parents
        current = parents.get(id(node))
        while current is not None:
            kind = type(current)
            if kind is cst.For or kind is cst.While:
                if child is current.body:  # type: ignore[attr-defined]  # a loop
                    loops.append((current, depth))
                depth += 1
            elif kind is cst.FunctionDef or kind is cst.ClassDef or kind is cst.Lambda:
                if kind is cst.FunctionDef and child is current.body:  # type: ignore[attr-defined]  # a function
                    return loops, (current, depth)  # type: ignore[return-value]  # a function
                return loops, None
            child = current
            current = parents.get(id(current))
        return loops, None

    def _all_loop_facts(self) -> dict[int, LoopFacts]:
        self._index_calls()
        assert self._call_loops is not None
        funcs = self.function_facts()
        facts: dict[int, LoopFacts] = {}
        for type_name in ("For", "While"):
            for loop in self.nodes_by_type.get(type_name, ()):
                assigned = target_names(loop.target) if isinstance(loop, cst.For) else set()
                facts[id(loop)] = LoopFacts(is_step_loop=False, is_training_loop=False, assigned=assigned)
        for node in self.nodes_by_type.get("Call", ()):
            call = cast(cst.Call, node)
            loops = self._call_loops.get(id(call))
            if not loops:
                continue
            trains = self._is_training_call(call)
            callee = None if trains else self._local_callee(call)
            ff = funcs.get(callee) if callee is not None else None
            if not trains and (ff is None or not (ff.steps or ff.epochs)):
                continue
            for loop, depth in loops:
                lf = facts[id(loop)]
                lf.is_training_loop = True
                if depth == 0 and (trains or (ff is not None and ff.steps)):
                    lf.is_step_loop = True
        for type_name in BINDING_TYPES:
            for node in self.nodes_by_type.get(type_name, ()):
                names = _bound_names(node)
                if not names:
                    continue
                for loop, _ in self._climb(node)[0]:
                    facts[id(loop)].assigned |= names
        return facts

    def training_step_loop(self, node: cst.CSTNode) -> cst.For | cst.While | None:
        """The loop that runs `node` once per training step, or None (never inside a test function)."""
        loop = self.innermost_loop(node)
        if loop is not None and self.loop_facts(loop).is_step_loop and not self.in_test_function(loop):
            return loop
        return None

    def in_test_function(self, node: cst.CSTNode) -> bool:
        """Inside a pytest/unittest test (`def test_*`): a few steps to check behaviour, not a training run,
        so per-step performance advice does not apply."""
        for anc in self.ancestors(node):
            if isinstance(anc, cst.FunctionDef) and anc.name.value.startswith("test_"):
                return True
        return False

    def is_training_call(self, call: cst.Call) -> bool:
        """`.backward()`, `torch.autograd.backward` or an optimizer's / grad scaler's `.step()`."""
        return self._is_training_call(call)

    def _is_training_call(self, call: cst.Call) -> bool:
        attr = call_attr(call)
        if attr == "backward":
            return True
        if attr == "step" and isinstance(call.func, cst.Attribute):
            receiver = call.func.value
            if self.kind_of(receiver) == "optimizer":
                return True
            name = dotted_name(receiver) or ""
            last = name.rsplit(".", 1)[-1].lower()
            return "optim" in last or last in ("opt", "scaler")
        q = self.call_qualname(call)
        if q in ("torch.autograd.backward",):
            return True
        return self._is_step_helper_call(call)

    def _is_step_helper_call(self, call: cst.Call) -> bool:
        """`loss_scaler(loss, optimizer, ...)`: a helper handed the loss first and an optimizer after it
        runs backward and step itself (the AMP scaler wrappers of many research repos). Both are needed:
        an optimizer alone (a checkpoint helper) is not a step."""
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
            if self.kind_of(arg.value) == "optimizer" or "optim" in last or last == "opt":
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
        return name if name in self.functions else None

    def function_facts(self) -> dict[str, FunctionFacts]:
        """Which local functions perform a training step or a loop of them (to a fixpoint)."""
        if self._function_facts is not None:
            return self._function_facts
        facts = {name: FunctionFacts() for name in self.functions}
        self._function_facts = facts  # visible (empty) during the fixpoint, which is what recursion needs
        self._index_calls()
        assert self._call_func is not None
        # per function name: (depth, trains, local callee) of each call in its body
        calls: dict[str, list[tuple[int, bool, str | None]]] = {}
        for node in self.nodes_by_type.get("Call", ()):
            call = cast(cst.Call, node)
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

    # ----------------------------------------------------------------- what names hold
    def kind_of(self, node: cst.BaseExpression) -> str | None:
        """"model" | "optimizer" | "dataloader" | "dataset" | "scheduler" | "device" | "tensor" | None.

        Decided from how the name is bound in this file; a name bound in several ways resolves to None
        unless all bindings agree, so ambiguous code stays silent.
        """
        dotted = dotted_name(node)
        if dotted is None:
            return self._kind_of_value(node)
        if dotted in self._kinds:
            return self._kinds[dotted]
        self._kinds[dotted] = None  # guards against cycles like `x = x`
        values = self.bindings.get(dotted, [])
        kinds = {self._kind_of_value(v) for v in values}
        kind = kinds.pop() if len(kinds) == 1 else None
        if kind is None and dotted in self._parameter_owners():
            kind = "model"
        self._kinds[dotted] = kind
        return kind

    def _kind_of_value(self, value: cst.BaseExpression) -> str | None:
        if isinstance(value, cst.Call):
            q = self.call_qualname(value)
            if q is not None:
                if q.startswith("torch.optim.lr_scheduler."):
                    return "scheduler"
                if q.startswith("torch.optim.") and q.rsplit(".", 1)[-1][:1].isupper():
                    return "optimizer"
                if q.rsplit(".", 1)[-1] == "DataLoader" and q.startswith("torch.utils.data"):
                    return "dataloader"
                if q.startswith(("torch.utils.data.", "torchvision.datasets.")) and q.rsplit(".", 1)[-1][:1].isupper():
                    return "dataset"
                if q == "torch.device":
                    return "device"
                if q.startswith("torch.nn.") and q.rsplit(".", 1)[-1][:1].isupper():
                    return "model"
                if q.startswith(MODEL_FACTORY_PREFIXES):
                    return "model"
                if q.startswith("torch.") and q.rsplit(".", 1)[-1][:1].islower():
                    return "tensor"
            func = value.func
            if isinstance(func, cst.Name) and func.value in self.module_classes():
                return "model"
            if isinstance(func, cst.Name) and func.value in self.dataset_classes():
                return "dataset"
            if call_attr(value) in ("to", "cuda", "cpu", "half", "float", "double", "train", "eval"):
                return self.kind_of(value.func.value)  # type: ignore[attr-defined]  # call_attr matched: func is an Attribute
        if isinstance(value, cst.IfExp):
            a, b = self._kind_of_value(value.body), self._kind_of_value(value.orelse)
            return a if a == b else None
        if isinstance(value, cst.SimpleString) and value.evaluated_value in ("cuda", "cpu", "mps") or (
            isinstance(value, cst.SimpleString) and str(value.evaluated_value).startswith("cuda:")
        ):
            return "device"
        return None

    def _parameter_owners(self) -> set[str]:
        """Names that only a module can be: their `.parameters()` feed an optimizer, or they are put in
        `.eval()` mode. Cached: many names are asked about."""
        if self._owners is None:
            owners: set[str] = set()
            for attr in ("parameters", "named_parameters", "eval"):
                for call in self.calls_by_attr.get(attr, ()):
                    owner = dotted_name(call.func.value)  # type: ignore[attr-defined]  # indexed by attribute: func is an Attribute
                    if owner:
                        owners.add(owner)
            self._owners = owners
        return self._owners

    def module_classes(self) -> set[str]:
        """Classes defined here that subclass torch.nn.Module (directly or through each other)."""
        if self._module_classes is None:
            self._module_classes = self._subclasses_of(("torch.nn.Module", "torch.nn.modules.module.Module"))
        return self._module_classes

    def dataset_classes(self) -> set[str]:
        return self._subclasses_of(("torch.utils.data.Dataset", "torch.utils.data.dataset.Dataset"))

    def _subclasses_of(self, roots: Sequence[str]) -> set[str]:
        found: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name, cls in self.classes.items():
                if name in found:
                    continue
                for base in cls.bases:
                    q = self.qualname(base.value)
                    local = dotted_name(base.value)
                    if (q is not None and q in roots) or local in found:
                        found.add(name)
                        changed = True
                        break
        return found


def _bound_names(node: cst.CSTNode) -> set[str]:
    if isinstance(node, cst.Assign):
        out: set[str] = set()
        for t in node.targets:
            out |= target_names(t.target)
        return out
    if isinstance(node, (cst.AugAssign, cst.AnnAssign)):
        return target_names(node.target)
    if isinstance(node, (cst.For, cst.CompFor)):
        return target_names(node.target)
    if isinstance(node, cst.AsName):
        return target_names(node.name)
    if isinstance(node, cst.NamedExpr):
        return target_names(node.target)
    if isinstance(node, cst.Del):
        return target_names(node.target)
    return set()


def move_target(ctx: FileContext, call: cst.Call) -> str | None:
    """What a `.to(...)` / `.cuda()` call does: "device" (a device move), "unknown", or None (not a move:
    a dtype cast, `memory_format=` only, or no arguments).

    Only "device" is certain enough for a confident finding; `x.to(other_tensor)` stays "unknown".
    """
    attr = call_attr(call)
    if attr == "cuda":
        return "device"
    if attr != "to":
        return None
    if keyword(call, "device") is not None:
        return "device"
    args = positional(call)
    if not args:
        return "unknown" if has_star_args(call) else None
    first = args[0].value
    q = ctx.qualname(first)
    if q is not None and q.startswith("torch.") and q.rsplit(".", 1)[-1] in DTYPE_NAMES:
        return None
    if isinstance(first, cst.SimpleString):
        value = str(first.evaluated_value)
        return "device" if value.split(":")[0] in ("cuda", "cpu", "mps", "xla", "xpu", "meta") else None
    if isinstance(first, cst.Call) and ctx.qualname(first.func) == "torch.device":
        return "device"
    if isinstance(first, (cst.Integer,)):
        return "device"  # .to(0) is cuda:0
    name = dotted_name(first)
    if name is not None:
        last = name.rsplit(".", 1)[-1].lower()
        if ctx.kind_of(first) == "device" or "device" in last or last in ("dev", "gpu", "rank", "local_rank"):
            return "device"
        if "dtype" in last:
            return None
    return "unknown"
