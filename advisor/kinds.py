"""Value kinds: what a name holds ("model", "optimizer", "dataloader", ...), decided from how the file
binds it, and what a `.to(...)` call moves to. Ambiguous bindings resolve to None so rules stay silent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import libcst as cst

from advisor.syntax import DTYPE_NAMES, call_attr, call_receiver, dotted_name, has_star_args, keyword, positional

if TYPE_CHECKING:
    from advisor.context import FileContext

MODEL_FACTORY_PREFIXES = ("torchvision.models.", "timm.", "transformers.")


class ValueKinds:
    """Per-file memo of name kinds, built from a `FileContext` index."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self._module_classes: set[str] | None = None
        self._kinds: dict[str, str | None] = {}
        self._owners: set[str] | None = None

    def is_cpu_device(self, node: cst.BaseExpression, seen: frozenset[str] = frozenset()) -> bool:
        """`"cpu"`, `torch.device("cpu")`, or a name bound only to those: a move that stays on the host."""
        if isinstance(node, cst.SimpleString):
            return node.evaluated_value == "cpu"
        if isinstance(node, cst.Call) and self.ctx.qualname(node.func) == "torch.device":
            args = positional(node)
            return len(args) == 1 and self.is_cpu_device(args[0].value, seen)
        name = dotted_name(node)
        if name is None or name in seen:
            return False
        values = self.ctx.bindings.get(name, [])
        return bool(values) and all(self.is_cpu_device(v, seen | {name}) for v in values)


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
        values = self.ctx.bindings.get(dotted, [])
        kinds = {self._kind_of_value(v) for v in values}
        kind = kinds.pop() if len(kinds) == 1 else None
        if kind is None and dotted in self._parameter_owners():
            kind = "model"
        self._kinds[dotted] = kind
        return kind

    def _kind_of_value(self, value: cst.BaseExpression) -> str | None:
        if isinstance(value, cst.Call):
            q = self.ctx.call_qualname(value)
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
                for call in self.ctx.calls_by_attr.get(attr, ()):
                    owner = dotted_name(call_receiver(call))
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
            for name, cls in self.ctx.classes.items():
                if name in found:
                    continue
                for base in cls.bases:
                    q = self.ctx.qualname(base.value)
                    local = dotted_name(base.value)
                    if (q is not None and q in roots) or local in found:
                        found.add(name)
                        changed = True
                        break
        return found



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

