"""Child side: what happens in one profiling window, charged to the user's source lines.

A window is a run of optimizer steps at one call site of `optimizer.step()` (or, for a script that never
steps, a few seconds). Inside it torch.profiler records (for the pattern matcher, optimizer kernels and
CUDA), and a TorchFunctionMode notes each read-back to the host (`.item()`, `.tolist()`, `.numpy()`,
`float(t)`, formatting) and each device move (`.to()`, `.cuda()`, `.cpu()`, cross-device `copy_`) with
the user line that issued it, the step it fell in, its time and bytes. Global module hooks give the
samples per step and autocast; DataLoader iterators are timed by the session (see `session`).
Nothing here changes what the user's code computes.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from advisor.profile.frames import FrameFilter, Site

T = torch.Tensor
READBACKS: dict[Any, str] = {
    T.item: ".item()",
    T.tolist: ".tolist()",
    T.numpy: ".numpy()",
    T.__float__: "float()",
    T.__int__: "int()",
    T.__bool__: "bool()",
    T.__format__: "format()",
    T.__repr__: "repr()",
}
MOVES: dict[Any, str] = {T.to: ".to()", T.cuda: ".cuda()", T.cpu: ".cpu()", T.copy_: ".copy_()"}


def _direction(src: str, dst: str) -> str:
    if src == dst:
        return "none"
    if src == "cpu":
        return "h2d"
    return "d2h" if dst == "cpu" else "d2d"


def _target_device(func: Any, tensor: torch.Tensor, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The device type a move goes to, or None when the call is not a device move (a dtype cast)."""
    name = MOVES[func]
    if name == ".cuda()":
        return "cuda"
    if name == ".cpu()":
        return "cpu"
    if name == ".copy_()":
        src = args[1] if len(args) > 1 else kwargs.get("src")
        return tensor.device.type if isinstance(src, torch.Tensor) else None
    try:
        device = torch._C._nn._parse_to(*args[1:], **kwargs)[0]
    except Exception:  # a signature torch itself will reject; let the call raise it
        return None
    return device.type if device is not None else None


@dataclass
class EventStat:
    """One kind of runtime event at one user line, summed over a window."""

    kind: str  # "readback" | "move"
    op: str
    site: Site
    via: str
    callers: list[Site]
    tensor_device: str
    direction: str = "none"
    count: int = 0
    seconds: float = 0.0
    bytes: int = 0
    steps: set[int] = field(default_factory=set)
    same_tensor_steps: int = 0  # steps that moved a tensor object already moved in an earlier step

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "op": self.op,
            "path": self.site[0],
            "line": self.site[1],
            "function": self.site[2],
            "via": self.via,
            "callers": [list(c) for c in self.callers],
            "tensor_device": self.tensor_device,
            "direction": self.direction,
            "count": self.count,
            "seconds": self.seconds,
            "bytes": self.bytes,
            "steps_seen": len(self.steps),
            "same_tensor_steps": self.same_tensor_steps,
        }


@dataclass
class StepStat:
    """The parts of one step interval (from one optimizer step to the next) the session could time."""

    total_s: float = 0.0
    data_s: float = 0.0
    optimizer_s: float = 0.0
    readback_s: float = 0.0
    move_s: float = 0.0
    samples: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Watch(TorchFunctionMode):
    """Notes read-backs and device moves; every other torch call passes straight through."""

    def __init__(self, window: "Window") -> None:
        super().__init__()
        self.window = window

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        readback = READBACKS.get(func)
        if readback is None and func not in MOVES:
            return func(*args, **kwargs)
        start = time.perf_counter()
        out = func(*args, **kwargs)
        elapsed = time.perf_counter() - start
        tensor = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if tensor is not None:
            try:
                self.window.note(func, readback, tensor, args, kwargs, elapsed)
            except Exception:  # bookkeeping must never break the user's run
                pass
        return out


@dataclass
class ForwardStat:
    """Top-level module calls (a model or a loss) from one user line."""

    site: Site
    module: str
    calls: int = 0
    grad_calls: int = 0
    eval_grad_calls: int = 0
    samples: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.site[0],
            "line": self.site[1],
            "function": self.site[2],
            "module": self.module,
            "calls": self.calls,
            "grad_calls": self.grad_calls,
            "eval_grad_calls": self.eval_grad_calls,
            "samples": sorted(set(self.samples))[:8],
        }


def leading_dim(value: Any) -> int | None:
    """The first dimension of the first tensor in a (nested) argument list: the batch, usually."""
    stack = [value]
    while stack:
        item = stack.pop(0)
        if isinstance(item, torch.Tensor):
            return int(item.shape[0]) if item.dim() > 0 else None
        if isinstance(item, (list, tuple)):
            stack[:0] = list(item)[:4]
        elif isinstance(item, dict):
            stack[:0] = list(item.values())[:4]
    return None


class Window:
    """One profiled stretch: torch.profiler plus our own event, step and forward bookkeeping."""

    def __init__(self, kind: str, site: Site | None, frames: FrameFilter, cuda: bool, profiler: bool) -> None:
        self.kind = kind
        self.profiler = profiler
        self.site = site
        self.frames = frames
        self.cuda = cuda
        self.events: dict[tuple[str, str, Site], EventStat] = {}
        self.forwards: dict[tuple[Site, str], ForwardStat] = {}
        self.steps: list[StepStat] = [StepStat()]
        self.loader_stats: dict[int, dict[str, Any]] = {}
        self.autocast: set[str] = set()
        self.started = time.perf_counter()
        self.seconds = 0.0
        self._moved: dict[int, tuple[weakref.ref[torch.Tensor], int]] = {}
        self._depth = 0
        self._handles: list[Any] = []
        self.result: dict[str, Any] = {}
        self.prof: Any = None
        self.watch: Watch | None = None
        if profiler:  # torch.profiler alone: its python tracer would inflate the figures the watch takes
            activities = [torch.profiler.ProfilerActivity.CPU]
            if cuda:
                activities.append(torch.profiler.ProfilerActivity.CUDA)
            self.prof = torch.profiler.profile(activities=activities, record_shapes=True, with_stack=True)
            self.prof.start()
        else:
            self.watch = Watch(self)
            self.watch.__enter__()  # type: ignore[no-untyped-call]  # torch.overrides.TorchFunctionMode is untyped
            hooks = torch.nn.modules.module
            self._handles = [hooks.register_module_forward_pre_hook(self._pre_forward), hooks.register_module_forward_hook(self._post_forward)]

    @property
    def step(self) -> StepStat:
        return self.steps[-1]

    def next_step(self, total_s: float) -> None:
        self.step.total_s = total_s
        self.steps.append(StepStat())
        self._depth = 0  # a forward that raised never ran its post hook
        if self.prof is not None:
            self.prof.step()

    def note(self, func: Any, readback: str | None, tensor: torch.Tensor, args: tuple[Any, ...], kwargs: dict[str, Any], elapsed: float) -> None:
        import sys

        src = tensor.device.type
        if readback is not None:
            kind, op, direction = "readback", readback, "d2h" if src != "cpu" else "none"
        else:
            dst = _target_device(func, tensor, args, kwargs)
            if dst is None:
                return
            kind, op, direction = "move", MOVES[func], _direction(src, dst)
            if op == ".copy_()":  # the source is the second argument
                other = args[1] if len(args) > 1 else kwargs.get("src")
                direction = _direction(other.device.type, src) if isinstance(other, torch.Tensor) else "none"
                if direction == "none":
                    return
            if direction == "d2h":
                kind = "readback"  # a copy to the host waits for the device like .item() does
        users, via = self.frames.attribute(sys._getframe(2))
        if not users:
            return
        key = (kind, op, users[0])
        stat = self.events.get(key)
        if stat is None:
            stat = self.events[key] = EventStat(kind, op, users[0], via, users[1:], src, direction)
        index = len(self.steps) - 1
        stat.count += 1
        stat.seconds += elapsed
        stat.steps.add(index)
        if kind == "move":
            stat.bytes += tensor.nelement() * tensor.element_size()
            self.step.move_s += elapsed
            seen = self._moved.get(id(tensor))
            if seen is not None and seen[0]() is tensor and seen[1] != index:
                stat.same_tensor_steps += 1
            self._moved[id(tensor)] = (weakref.ref(tensor), index)
        else:
            stat.bytes += tensor.nelement() * tensor.element_size() if direction == "d2h" else 0
            self.step.readback_s += elapsed

    def _pre_forward(self, module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        self._depth += 1
        if self._depth != 1:
            return
        try:
            site = self.frames.caller(skip=1)
            if site is None:
                return
            name = type(module).__name__
            stat = self.forwards.get((site, name))
            if stat is None:
                stat = self.forwards[(site, name)] = ForwardStat(site, name)
            stat.calls += 1
            grad = torch.is_grad_enabled()
            stat.grad_calls += grad
            stat.eval_grad_calls += grad and not module.training
            n = leading_dim(args)
            if n is not None:
                stat.samples.append(n)
                if self.step.samples is None and not isinstance(module, torch.nn.modules.loss._Loss):
                    self.step.samples = n
            for device in ("cpu", "cuda"):
                if torch.is_autocast_enabled(device):
                    self.autocast.add(f"{device} ({str(torch.get_autocast_dtype(device)).removeprefix('torch.')})")
        except Exception:
            pass

    def _post_forward(self, module: torch.nn.Module, args: tuple[Any, ...], output: Any) -> None:
        self._depth = max(0, self._depth - 1)

    def close(self) -> dict[str, Any]:
        """Stop recording and boil the window down to plain data; the profiler is dropped afterwards."""
        if self.result:
            return self.result
        self.seconds = time.perf_counter() - self.started
        for handle in self._handles:
            handle.remove()
        if self.watch is not None:
            self.watch.__exit__(None, None, None)  # type: ignore[no-untyped-call]  # see __enter__ above
        steps = self.steps[:-1] if self.kind == "steps" else self.steps
        if self.kind == "time":
            steps[-1].total_s = self.seconds
        self.result = {
            "kind": self.kind,
            "site": list(self.site) if self.site else None,
            "seconds": self.seconds,
            "steps": [s.to_dict() for s in steps],
            "events": [e.to_dict() for e in self.events.values()],
            "forwards": [f.to_dict() for f in self.forwards.values()],
            "loaders": [{"id": k, **v} for k, v in self.loader_stats.items()],
            "autocast": sorted(self.autocast),
        }
        if self.prof is not None:
            self.prof.stop()
            patterns, pattern_note = pattern_matches(self.prof, self.cuda)
            self.result.update(
                optimizer_ops=optimizer_ops(self.prof),
                patterns=patterns,
                pattern_note=pattern_note,
                cuda=cuda_totals(self.prof) if self.cuda else None,
                profiled_step_s=[s.total_s for s in steps],
            )
            self.prof = None
        return self.result


def _walk(prof: Any) -> Any:
    roots = prof.profiler.kineto_results.experimental_event_tree()
    stack = list(roots)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


def optimizer_ops(prof: Any) -> dict[str, int]:
    """How many multi-tensor (`_foreach_*`) and fused (`_fused_*`) optimizer ops ran: which implementation
    the optimizer really used, whatever it was configured with."""
    counts = {"foreach": 0, "fused": 0}
    try:
        for node in _walk(prof):
            name = node.name
            if name.startswith("aten::_foreach_"):
                counts["foreach"] += 1
            elif name.startswith("aten::_fused_"):
                counts["fused"] += 1
    except Exception:
        pass
    return counts


# Patterns of torch's matcher that only mean something on a CUDA device (its TF32 check passes
# vacuously on a CPU-only build and would advise TF32 to a machine without a GPU).
CUDA_ONLY_PATTERNS = ("FP32 MatMul Pattern", "Extra CUDA Copy Pattern", "Matrix Multiplication Dimension Not Aligned Pattern")


def pattern_matches(prof: Any, cuda: bool) -> tuple[list[dict[str, Any]], str]:
    """torch's own profiler pattern matcher, reused as it is (it is private API: guarded)."""
    try:
        from torch.profiler._pattern_matcher import report_all_anti_patterns
    except ImportError:
        return [], f"torch {torch.__version__} has no torch.profiler._pattern_matcher: its patterns are not reported"
    try:
        with tempfile.TemporaryDirectory() as folder:
            report_all_anti_patterns(prof, should_benchmark=False, print_enable=False, json_report_dir=folder)
            with open(os.path.join(folder, "torchtidy_report.json"), encoding="utf-8") as fh:
                report = json.load(fh)
    except Exception as exc:  # private API: its shape may change under us
        return [], f"torch's pattern matcher failed ({type(exc).__name__}: {exc}): its patterns are not reported"
    out = []
    for path, items in report.items():
        for item in items:
            if not cuda and item.get("name") in CUDA_ONLY_PATTERNS:
                continue
            out.append({"path": str(path), "line": item.get("line_number"), "name": item.get("name"), "message": item.get("message"), "url": item.get("url")})
    return out, ""


def cuda_totals(prof: Any) -> dict[str, Any] | None:
    """Device-side time of kernels and of host<->device memcpy, from the CUDA activity."""
    try:
        totals: dict[str, Any] = {"kernel_s": 0.0, "memcpy_h2d": 0, "memcpy_d2h": 0, "memcpy_s": 0.0}
        for node in _walk(prof):
            name = node.name
            if "Memcpy HtoD" in name:
                totals["memcpy_h2d"] += 1
                totals["memcpy_s"] += node.duration_time_ns / 1e9
            elif "Memcpy DtoH" in name:
                totals["memcpy_d2h"] += 1
                totals["memcpy_s"] += node.duration_time_ns / 1e9
        for avg in prof.key_averages():
            totals["kernel_s"] += getattr(avg, "self_device_time_total", 0.0) / 1e6
        return totals
    except Exception:
        return None
