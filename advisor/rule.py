"""The base class every rule derives from, and the registry that finds them.

A rule is one module in a family folder, `advisor/rules/<family>/<rule>.py`: a class with its code,
messages and docs as class attributes and the libcst `visit_*` methods it needs. Beside the module, the
folder named by its code (`advNNN/`) holds its fixtures, its before/after pair (`pair.py`) and its
autofix cases, found from the code alone. All enabled rules run together in one batched traversal.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import libcst as cst

from advisor.callgraph import Repeat
from advisor.context import FileContext
from advisor.fixes import FixPlan, Op
from advisor.types import Confidence, Severity

if TYPE_CHECKING:
    from advisor.verify.sizes import Literals


@dataclass(frozen=True)
class RuleDocs:
    """The `advisor explain` page, in Ruff's shape."""

    what: str
    why: str
    example: str
    use_instead: str
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    """What a rule says about a node; the engine turns it into a Finding with a position."""

    node: cst.CSTNode
    message: str
    confidence: Confidence
    suggestion: str
    fix: FixPlan | None
    tags: tuple[str, ...] = ()
    # The loop that makes this code repeat when it sits in a function that loop calls: the finding then
    # names it (`called every step from train.py:88`).
    via: Repeat | None = None


class Rule:
    """Subclasses define `visit_<NodeType>(node)` methods. The engine calls each one for every node of that
    type, in document order, from the index the context pre-pass built: there is no per-rule traversal.
    Rules keep no traversal state (use `self.ctx` for structure: parents, loops, bindings); findings
    that need the whole file can be decided in `finish()`, called once after all visits."""

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    message: ClassVar[str]
    why: ClassVar[str]
    suggestion: ClassVar[str]
    docs: ClassVar[RuleDocs]
    severity: ClassVar[Severity] = Severity.WARNING
    # Prefilter: the file text must contain at least one of these, or the rule cannot match.
    triggers: ClassVar[tuple[str, ...]] = ()
    # Why no pair can exist, shown by `--verify` and `explain` when the rule's folder has no `pair.py`.
    no_pair_reason: ClassVar[str] = "no before/after pair exists for this rule"
    # Upper bounds on pair sizes read from the user's code, over the verifier's general caps.
    size_caps: ClassVar[dict[str, int]] = {}
    # `scan --verify` also runs the flagged function itself (lifted out of the user's file) against the pair.
    verifies_user_function: ClassVar[bool] = False
    # How (see `advisor.verify.extract`): "matmul", the function against `@`; "elementwise", against the
    # same function with the loop replaced by the finding's vectorised statement.
    user_function_kind: ClassVar[str] = "matmul"
    # The autofix this rule offers: None for none, True when it keeps behaviour identical (`--fix`),
    # False when it changes results or types (`--unsafe-fixes`). A single finding may be downgraded to unsafe.
    fix_safe: ClassVar[bool | None] = None
    fix_title: ClassVar[str] = ""
    # What `advisor profile` watches to confirm this rule's findings at runtime: a signal name of
    # advisor/profile/join.py ("sync", "same-tensor-move", ...), or None. A rule whose problem no profile can
    # show says why in `runtime_unobservable` instead.
    runtime_signal: ClassVar[str | None] = None
    runtime_unobservable: ClassVar[str | None] = None
    # Rule options settable under [tool.advisor.options.ADVnnn], with their defaults.
    options: ClassVar[dict[str, Any]] = {}

    # Filled per subclass: node type name -> visit method name.
    visit_methods: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.visit_methods = {name[6:]: name for name in dir(cls) if name.startswith("visit_")}

    @classmethod
    def folder(cls) -> Path:
        """`advNNN/` beside the rule's module: its fixtures, its pair and its autofix cases."""
        return Path(str(sys.modules[cls.__module__].__file__)).parent / cls.code.lower()

    @classmethod
    def pair_path(cls) -> Path | None:
        """The rule's before/after pair, `advNNN/pair.py`, or None when it has none."""
        path = cls.folder() / "pair.py"
        return path if path.is_file() else None

    @classmethod
    def family(cls) -> str:
        """The family folder the rule lives in (`device`, `data`, ...)."""
        return cls.__module__.split(".")[-2]

    @classmethod
    def pair_sizes(cls, lits: Literals, line: int, end_line: int) -> dict[str, Any]:
        """The pair's size keys the user's code shows near the finding (`lits`: its size literals); none by default."""
        return {}

    def __init__(self, ctx: FileContext, options: dict[str, Any] | None = None) -> None:
        self.ctx = ctx
        self.opts = {**self.options, **(options or {})}
        self.reports: list[Report] = []

    @classmethod
    def may_match(cls, text: str) -> bool:
        """Cheap text test run before parsing: False means this rule cannot match this file."""
        return not cls.triggers or any(t in text for t in cls.triggers)

    def plan(self, *ops: Op, safe: bool | None = None, description: str | None = None) -> FixPlan | None:
        """This rule's fix made of `ops`; never safer than the rule declares. None if the rule has no fix."""
        if self.fix_safe is None or not ops:
            return None
        return FixPlan(description or self.fix_title, bool(self.fix_safe) and safe is not False, tuple(ops))

    def finish(self) -> None:
        """Called once after every visit; for rules that decide on whole-file facts."""

    def report(
        self,
        node: cst.CSTNode,
        message: str | None = None,
        *,
        confidence: Confidence = Confidence.HIGH,
        suggestion: str | None = None,
        fix: FixPlan | None = None,
        tags: tuple[str, ...] = (),
        via: Repeat | None = None,
    ) -> None:
        """`tags` are facts the finding carries for later stages (e.g. "transposed" for the verifier)."""
        self.reports.append(
            Report(
                node=node,
                message=message or self.message,
                confidence=confidence,
                suggestion=suggestion or self.suggestion,
                fix=fix,
                tags=tags,
                via=via,
            )
        )


def _rule_classes_in(module: Any) -> list[type[Rule]]:
    """Rule classes defined in `module`; a shared base without a `code` (a rule family's helper) is not one."""
    return [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Rule)
        and obj is not Rule
        and obj.__module__ == module.__name__
        and getattr(obj, "code", None)
    ]


@lru_cache(maxsize=1)
def all_rules() -> tuple[type[Rule], ...]:
    """Every rule shipped in `advisor.rules.<family>`, sorted by code. Creating a rule module is all it takes."""
    import advisor.rules as package

    found: list[type[Rule]] = []
    for family in pkgutil.iter_modules(package.__path__):
        if not family.ispkg or family.name.startswith("_"):
            continue
        members = importlib.import_module(f"advisor.rules.{family.name}")
        for info in pkgutil.iter_modules(members.__path__):
            if info.ispkg or info.name.startswith("_"):
                continue
            found.extend(_rule_classes_in(importlib.import_module(f"{members.__name__}.{info.name}")))
    codes = [r.code for r in found]
    duplicates = {c for c in codes if codes.count(c) > 1}
    if duplicates:
        raise RuntimeError(f"duplicate rule codes: {sorted(duplicates)}")
    return tuple(sorted(found, key=lambda r: r.code))


def family_summary(family: str) -> str:
    """A family's one-line description: the first line of its package docstring, without the code range."""
    doc = (importlib.import_module(f"advisor.rules.{family}").__doc__ or "").strip().splitlines()
    return doc[0].split(": ", 1)[-1] if doc else ""


def rules_by_code() -> dict[str, type[Rule]]:
    return {r.code: r for r in all_rules()}


def select_rules(select: Sequence[str] | None, ignore: Sequence[str] | None) -> list[type[Rule]]:
    """Codes or prefixes (`ADV1`, `ADV`), Ruff-style: a rule runs if selected and not ignored."""
    chosen = []
    for rule in all_rules():
        if select and not any(rule.code.startswith(p) for p in select):
            continue
        if ignore and any(rule.code.startswith(p) for p in ignore):
            continue
        chosen.append(rule)
    return chosen


def is_known_code(code: str) -> bool:
    """A full code or prefix that matches at least one rule (`ALL` selects everything)."""
    return code == "ALL" or any(r.code.startswith(code) for r in all_rules())
