"""ADV103: a host–device synchronisation on every training step."""

from __future__ import annotations

from typing import Any, cast

import libcst as cst

from advisor.context import STEP_TRIGGERS, FileContext
from advisor.kinds import move_target
from advisor.syntax import call_attr, call_receiver, dotted_name, keyword, node_code, positional, walk
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence
from advisor.verify.sizes import Literals, matrices, nearest

SYNC_METHODS = ("item", "cpu", "numpy", "tolist")
# A finite/NaN check of the loss is a guard worth keeping; the message says how to keep it cheap.
NAN_GUARDS = frozenset({"isfinite", "isnan", "isinf"})
# Calls whose result already lives on the host: syncing methods on them cost nothing more.
HOST_PRODUCERS = frozenset({"item", "cpu", "numpy", "tolist", "detach_numpy"})



class HostSyncEveryStep(Rule):
    code = "ADV103"
    runtime_signal = "sync"
    name = "host-sync-every-step"
    summary = "`.item()`, `.cpu()`, `.numpy()` or printing a tensor on every training step"
    message = "Avoid syncing with the device every step: keep the value on the device and read it once per epoch or every N steps"
    why = (
        "CUDA runs asynchronously: the CPU queues kernels ahead of the GPU. Reading a value on the host "
        "(`.item()`, `.cpu()`, `.numpy()`, `print(t)`) makes the CPU wait until the GPU has finished "
        "everything queued, every step, so the two never overlap."
    )
    suggestion = "accumulate on the device (`running += loss.detach()`) and call `.item()` once per epoch or under `if step % N == 0`"
    triggers = STEP_TRIGGERS
    # Code that shows no device is assumed to run on the CPU, where a sync costs nothing; a project whose
    # device comes from elsewhere (a launcher, a config file) can opt in to reporting it anyway.
    options = {"assume-accelerator": False}
    docs = RuleDocs(
        what="Finds `.item()`, `.cpu()`, `.numpy()`, `.tolist()`, `float(t)`, `print(t)` and f-strings "
        "of a tensor reached unconditionally on every iteration of a training step loop in code that "
        "runs on a CUDA device. Logging under `if step % N == 0`, evaluation loops and code after the "
        "loop are not reported.",
        why="Each of these copies a value to host memory, which first waits for every queued GPU kernel. "
        "Once per step it serialises the CPU and GPU and leaves the GPU idle while Python prepares the "
        "next batch.",
        example="""
            import torch

            device = torch.device("cuda")
            total = 0.0
            for x, y in loader:
                loss = criterion(model(x.to(device)), y.to(device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item()
        """,
        use_instead="""
            import torch

            device = torch.device("cuda")
            total = torch.zeros((), device=device)
            for x, y in loader:
                loss = criterion(model(x.to(device)), y.to(device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.detach()
            print(total.item())
        """,
        references=(
            "PyTorch Performance Tuning Guide: avoid unnecessary CPU-GPU synchronization",
            "PyTorch docs: torch.cuda.set_sync_debug_mode",
        ),
    )

    @classmethod
    def pair_sizes(cls, lits: Literals, line: int, end_line: int) -> dict[str, Any]:
        """The nearest literal matrix shape is one batch: (batch, features)."""
        shape = nearest(matrices(lits), line)
        return dict(zip(("batch", "features"), shape)) if shape else {}

    def __init__(self, ctx: FileContext, options: dict[str, Any] | None = None) -> None:
        super().__init__(ctx, options)
        self._confidence: Confidence | None | bool = False  # False: not computed yet
        self._tensors: set[str] | None = None
        # (step scope, value) -> its host reads in that scope: one finding per value per step
        self._reads: dict[tuple[int, str], list[tuple[cst.CSTNode, str, str]]] = {}
        self._scopes: dict[int, cst.CSTNode] = {}

    # ------------------------------------------------------------------ entry points
    def visit_Call(self, node: cst.Call) -> None:
        attr = call_attr(node)
        if attr in SYNC_METHODS and not node.args:
            self._check_method(node, attr)
        elif type(node.func) is cst.Name and node.func.value in ("float", "int", "print"):
            self._check_builtin(node, node.func.value)

    def visit_FormattedStringExpression(self, node: cst.FormattedStringExpression) -> None:
        name = dotted_name(node.expression)
        if name is not None and name.endswith(".data"):
            name = name[: -len(".data")]  # `{loss.data}`: the legacy accessor is the same CUDA tensor
        if name is not None and name in self.tensor_names():
            self._report_if_per_step(
                node,
                f"Log `{name}` every N steps or after the loop: formatting a tensor copies it to the host every step",
                f"format `{name}` under `if step % N == 0`, or accumulate it on the device and format once per epoch",
                name,
            )

    # ------------------------------------------------------------------ checks
    def _check_method(self, node: cst.Call, attr: str) -> None:
        receiver = cast(cst.Attribute, node.func).value  # dispatched by method name: `x.item()`
        if self._on_host_already(receiver):
            return
        if attr == "cpu" and self.ctx.kind_of(receiver) in ("model", "optimizer", "dataloader"):
            return  # moving a module, not reading a tensor
        what = node_code(receiver)
        parent = self.ctx.parent(node)
        if attr == "item" and isinstance(parent, cst.AugAssign) and parent.value is node:
            target = node_code(parent.target)
            message = f"Accumulate `{what}` on the device instead of `{target} += {what}.item()` every step"
            fix = f"make `{target}` a device tensor (`{target} += {what}.detach()`) and call `.item()` once after the loop"
        elif attr == "item":
            message = f"Avoid `{what}.item()` every step: it waits for the GPU; read it every N steps or after the loop"
            fix = f"keep `{what}` on the device and call `.item()` under `if step % N == 0` or once per epoch"
        else:
            message = f"Keep `{what}` on the device in the training loop: `.{attr}()` waits for the GPU every step"
            fix = f"collect `{what}.detach()` on the device and move it to the host once after the loop"
        self._report_if_per_step(node, message, fix, what)

    def _check_builtin(self, node: cst.Call, func: str) -> None:
        tensors = self.tensor_names()
        shown = [dotted_name(a.value) for a in node.args if a.keyword is None and a.star == ""]
        hits = [n for n in shown if n is not None and n in tensors]
        if not hits:
            return
        if func == "print":
            message = f"Print `{hits[0]}` every N steps or after the loop: printing a tensor copies it to the host every step"
        else:
            message = f"Avoid `{func}({hits[0]})` every step: converting a tensor to a Python number waits for the GPU"
        self._report_if_per_step(node, message, self.suggestion, hits[0])

    def _report_if_per_step(self, node: cst.CSTNode, message: str, suggestion: str, value: str) -> None:
        """Record a read of `value` on the host that runs every step; `finish` reports one per value per step."""
        loop = self.ctx.training_step_loop(node)
        scope: cst.CSTNode | None = loop
        if loop is None:
            if not self._in_helper_called_per_step(node):
                return
            scope = self.ctx.enclosing_function(node)
        elif self.ctx.is_conditional_within(node, loop):
            return
        if scope is None or self.confidence() is None:
            return
        self._scopes[id(scope)] = scope
        self._reads.setdefault((id(scope), value), []).append((node, message, suggestion))

    def finish(self) -> None:
        """One finding per value per step, at its first read, naming the other reads of the same value:
        the first sync waits for the GPU; the others in the same step mostly cost a copy each."""
        confidence = self.confidence()
        if confidence is None:
            return
        order: dict[int, dict[int, int]] = {}
        for (scope_id, value), reads in self._reads.items():
            if scope_id not in order:
                order[scope_id] = {id(n): i for i, n in enumerate(walk(self._scopes[scope_id]))}
            reads = sorted(reads, key=lambda r: order[scope_id].get(id(r[0]), 0))
            node, message, suggestion = reads[0]
            if len(reads) > 1:
                places = ", ".join(f"`{self._reader(n)}`" for n, _, _ in reads[1:])
                message = f"{message} (also read {len(reads) - 1} more time{'s' if len(reads) > 2 else ''} this step: {places})"
                suggestion = (
                    f"read it once per step and reuse the number for every use, or keep `{value}` on the device "
                    "and read it under `if step % N == 0`"
                )
            if any(self._guards_nan(n) for n, _, _ in reads):
                suggestion += (
                    f"; a NaN guard can stay cheap: check `torch.isfinite({value})` on the device and read the flag "
                    "every N steps, or test the one number you already read"
                )
            self.report(node, message, confidence=confidence, suggestion=suggestion)

    def _reader(self, node: cst.CSTNode) -> str:
        """What reads the value, shown short: the call around it (`pbar.set_postfix`), else its own code."""
        current = self.ctx.parent(node)
        while current is not None and not isinstance(current, cst.BaseSmallStatement):
            if isinstance(current, cst.Call):
                name = dotted_name(current.func)
                if name:
                    return name
            current = self.ctx.parent(current)
        text = node_code(node)
        return text if len(text) <= 40 else text[:37] + "..."

    def _guards_nan(self, node: cst.CSTNode) -> bool:
        current = self.ctx.parent(node)
        while current is not None and not isinstance(current, cst.BaseSmallStatement):
            if isinstance(current, cst.Call) and (dotted_name(current.func) or "").rsplit(".", 1)[-1] in NAN_GUARDS:
                return True
            current = self.ctx.parent(current)
        return False

    def _in_helper_called_per_step(self, node: cst.CSTNode) -> bool:
        """`node` runs unconditionally in a helper (`def metrics(...)`, no loop of its own around it) that a
        training step loop in this file calls unconditionally on every iteration. One level only."""
        func = self.ctx.enclosing_function(node)
        if func is None or self.ctx.innermost_loop(node) is not None or self.ctx.is_conditional_within(node, func):
            return False
        if self.ctx.in_test_function(func):
            return False
        name = func.name.value
        for call in self.ctx.nodes(cst.Call):
            callee = call.func
            direct = isinstance(callee, cst.Name) and callee.value == name
            method = isinstance(callee, cst.Attribute) and callee.attr.value == name and dotted_name(callee.value) == "self"
            if not (direct or method):
                continue
            loop = self.ctx.training_step_loop(call)
            if loop is not None and not self.ctx.is_conditional_within(call, loop):
                return True
        return False

    # ------------------------------------------------------------------ file-level facts
    def confidence(self) -> Confidence | None:
        """Syncs only cost something on an asynchronous device. HIGH when the file shows CUDA, MEDIUM when
        it moves tensors to some device, None (silent) for code that never leaves the CPU."""
        if self._confidence is False:
            if self.ctx.runs_on_cuda:
                self._confidence = Confidence.HIGH
            elif any(self._moves_off_host(c) for c in self.ctx.calls_by_attr.get("to", ())):
                self._confidence = Confidence.MEDIUM
            elif self.opts["assume-accelerator"]:
                self._confidence = Confidence.LOW
            else:
                self._confidence = None
        return self._confidence  # type: ignore[return-value]  # the sentinel was replaced above

    def _moves_off_host(self, call: cst.Call) -> bool:
        """A `.to(device)` whose device is not known to be the CPU."""
        if move_target(self.ctx, call) != "device":
            return False
        args = positional(call)
        arg = keyword(call, "device") or (args[0] if args else None)
        return arg is None or not self.ctx.is_cpu_device(arg.value)

    def tensor_names(self) -> set[str]:
        """Names we can show hold a tensor: `.backward()` receivers, model/loss outputs, torch op results."""
        if self._tensors is None:
            names: set[str] = set()
            for call in self.ctx.calls_by_attr.get("backward", ()):
                d = dotted_name(call_receiver(call))
                if d:
                    names.add(d)
            for name, values in self.ctx.bindings.items():
                if values and all(self._is_tensor_value(v) for v in values):
                    names.add(name)
            self._tensors = names
        return self._tensors

    def _is_tensor_value(self, value: cst.BaseExpression) -> bool:
        if not isinstance(value, cst.Call):
            return False
        if self.ctx.kind_of(value) == "tensor":
            return True
        callee = value.func
        if isinstance(callee, (cst.Name, cst.Attribute)) and self.ctx.kind_of(callee) == "model":
            return True  # output = model(x); loss = criterion(out, y) when criterion = nn.CrossEntropyLoss()
        q = self.ctx.call_qualname(value)
        return q is not None and q.startswith("torch.nn.functional.")

    def _on_host_already(self, receiver: cst.BaseExpression, seen: frozenset[str] = frozenset()) -> bool:
        """The receiver is already a host value (a chain through `.cpu()`/`.numpy()`, or a NumPy result)."""
        for node in walk(receiver):
            if isinstance(node, cst.Call):
                if call_attr(node) in HOST_PRODUCERS:
                    return True
                q = self.ctx.call_qualname(node)
                if q is not None and q.split(".")[0] in ("numpy", "math", "statistics"):
                    return True
        name = dotted_name(receiver)
        if name is not None and name not in seen:
            values = self.ctx.bindings.get(name, [])
            return bool(values) and all(self._on_host_already(v, seen | {name}) for v in values)
        return False
