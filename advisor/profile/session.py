"""Child side: decides when to profile while the user's script runs.

Steps are counted with torch's global optimizer step hooks, so the script needs no change. Each call
site of `optimizer.step()` (a warm-up loop, the main loop) gets one window of `steps` steps after
`skip` unprofiled ones; after the last window the script runs on, unprofiled, for up to `linger_s`
seconds in case another loop starts, then it is stopped by raising `ProfileDone` from the step hook.
A script that has not stepped after `startup_s` seconds gets a time window of `window_s` seconds.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
import weakref
from typing import Any

import torch
from torch.utils.data import dataloader as dl

from advisor.profile.frames import FrameFilter, Site, library_roots
from advisor.profile.recorder import Window, leading_dim

MAX_WINDOWS = 4
UNPROFILED_KEEP = 64
PROFILER_STEPS = 5  # steps under torch.profiler after each timed window (its tracer slows them)
PROFILER_KEYS = ("optimizer_ops", "patterns", "pattern_note", "cuda", "profiled_step_s")


class ProfileDone(BaseException):
    """Raised into the user's script to stop it; BaseException so `except Exception` does not catch it."""


class Session:
    def __init__(self, steps: int, skip: int, startup_s: float, window_s: float, linger_s: float, cuda: bool) -> None:
        self.steps, self.skip = steps, skip
        self.startup_s, self.window_s, self.linger_s = startup_s, window_s, linger_s
        self.cuda = cuda
        self.frames = FrameFilter(_roots())
        self.window: Window | None = None
        self.pending: dict[str, Any] | None = None  # a timed window waiting for its profiler window
        self.closed: list[dict[str, Any]] = []
        self.site_steps: dict[Site, int] = {}
        self.covered: set[Site] = set()
        self.unprofiled: dict[Site, list[float]] = {}
        self.total_steps = 0
        self.last_step: float | None = None
        self.last_site: Site | None = None
        self.window_site_steps = 0
        self.last_close: float | None = None
        self.opt_start: float | None = None
        self.optimizers: dict[int, dict[str, Any]] = {}
        self.loaders: list[dict[str, Any]] = []
        self._loader_ids: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._iter_loader: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self.ended = "script finished"
        self.started = time.perf_counter()

    # ---- installation -------------------------------------------------------------------------
    def install(self) -> None:
        from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

        register_optimizer_step_pre_hook(self._pre_step)
        register_optimizer_step_post_hook(self._post_step)
        self._patch_dataloader()
        signal.signal(signal.SIGALRM, self._alarm)
        signal.setitimer(signal.ITIMER_REAL, self.startup_s)

    def _patch_dataloader(self) -> None:
        session = self
        original_init = dl.DataLoader.__init__
        original_iter_init = dl._BaseDataLoaderIter.__init__
        original_next = dl._BaseDataLoaderIter.__next__

        def init(loader: Any, *args: Any, **kwargs: Any) -> None:
            original_init(loader, *args, **kwargs)
            session._register_loader(loader)

        def iter_init(it: Any, loader: Any) -> None:
            original_iter_init(it, loader)
            index = session._loader_ids.get(loader)
            if index is not None:
                session._iter_loader[it] = index

        def next_(it: Any) -> Any:
            window = session.window
            if window is None:
                return original_next(it)
            start = time.perf_counter()
            batch = original_next(it)
            elapsed = time.perf_counter() - start
            window.step.data_s += elapsed
            index = session._iter_loader.get(it)
            if index is not None:
                stat = window.loader_stats.setdefault(index, {"batches": 0, "wait_s": 0.0, "samples": []})
                stat["batches"] += 1
                stat["wait_s"] += elapsed
                n = leading_dim(batch)
                if n is not None and len(stat["samples"]) < 64:
                    stat["samples"].append(n)
            return batch

        dl.DataLoader.__init__ = init  # type: ignore[method-assign, assignment]  # counting wrappers with loose signatures, installed in the profiled child only
        dl._BaseDataLoaderIter.__init__ = iter_init  # type: ignore[method-assign, assignment]  # counting wrappers with loose signatures, installed in the profiled child only
        dl._BaseDataLoaderIter.__next__ = next_  # type: ignore[method-assign, assignment]  # counting wrappers with loose signatures, installed in the profiled child only

    def _register_loader(self, loader: Any) -> None:
        try:
            site = self.frames.caller(skip=2)
            self._loader_ids[loader] = len(self.loaders)
            self.loaders.append(
                {
                    "path": site[0] if site else None,
                    "line": site[1] if site else None,
                    "batch_size": loader.batch_size if isinstance(loader.batch_size, int) else None,
                    "num_workers": int(loader.num_workers),
                    "pin_memory": bool(loader.pin_memory),
                    "dataset": type(loader.dataset).__name__,
                }
            )
        except Exception:
            pass

    # ---- steps --------------------------------------------------------------------------------
    def _pre_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.opt_start = time.perf_counter()

    def _post_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        now = time.perf_counter()
        site = self.frames.caller(skip=2) or ("<library>", 0, "")
        self.total_steps += 1
        self._note_optimizer(optimizer)
        window = self.window
        if window is not None and window.kind == "time":
            self.window = None  # the script does step after all: profile steps instead
            window.close()
            window = None
        if window is not None:
            if self.opt_start is not None:
                window.step.optimizer_s += now - self.opt_start
            self.covered.add(site)
            if site == window.site:
                self.window_site_steps += 1
                window.next_step(now - (self.last_step or now))
                if self.window_site_steps >= (PROFILER_STEPS if window.profiler else self.steps):
                    self._close()
        else:
            if self.last_step is not None and site == self.last_site:
                kept = self.unprofiled.setdefault(site, [])
                if len(kept) < UNPROFILED_KEEP:
                    kept.append(now - self.last_step)
            seen = self.site_steps[site] = self.site_steps.get(site, 0) + 1
            if site not in self.covered and seen >= self.skip and len(self.closed) < MAX_WINDOWS:
                self._open("steps", site)
            elif self._should_stop(now):
                self.ended = "profiled every loop seen" if len(self.closed) < MAX_WINDOWS else f"profiled {MAX_WINDOWS} loops"
                raise ProfileDone()
        self.last_step, self.last_site = time.perf_counter(), site

    def _should_stop(self, now: float) -> bool:
        if not self.closed:
            return False
        return len(self.closed) >= MAX_WINDOWS or (self.last_close is not None and now - self.last_close >= self.linger_s)

    def _note_optimizer(self, optimizer: Any) -> None:
        if id(optimizer) in self.optimizers:
            return
        defaults = getattr(optimizer, "defaults", {}) or {}
        self.optimizers[id(optimizer)] = {
            "class": type(optimizer).__name__,
            "foreach": defaults.get("foreach"),
            "fused": defaults.get("fused"),
            "default_foreach": _default_foreach(optimizer),
        }

    # ---- windows ------------------------------------------------------------------------------
    def _open(self, kind: str, site: Site | None, profiler: bool = False) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        self.window_site_steps = 0
        if site is not None:
            self.covered.add(site)
        self.window = Window(kind, site, self.frames, self.cuda, profiler)
        if kind == "time":
            signal.setitimer(signal.ITIMER_REAL, self.window_s)

    def _close(self, final: bool = False) -> None:
        """End the open window. A timed window is followed by a short torch.profiler window at the same
        site (unless the run is ending); the two are kept as one result."""
        window, self.window = self.window, None
        if window is None:
            return
        result = window.close()
        if window.profiler:
            pending, self.pending = self.pending, None
            if pending is not None:
                pending.update({k: result[k] for k in PROFILER_KEYS if k in result})
                self._keep(pending)
            return
        if window.kind == "steps" and not result["steps"]:
            return  # the script stopped before a whole step was recorded
        if window.kind == "steps" and not final:
            self.pending = result
            self._open("steps", window.site, profiler=True)
        else:
            self._keep(result)

    def _keep(self, result: dict[str, Any]) -> None:
        self.closed.append(result)
        self.last_close = time.perf_counter()

    def _alarm(self, signum: int, frame: Any) -> None:
        if self.window is None and self.total_steps == 0:
            self._open("time", None)
        elif self.window is not None and self.window.kind == "time":
            self.ended = f"no optimizer step in {self.startup_s:g} s: profiled {self.window_s:g} s instead"
            raise ProfileDone()

    # ---- result -------------------------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if self.window is not None:
            self._close(final=True)
        if self.total_steps == 0 and self.ended == "script finished":
            self.ended = "script finished before any optimizer step"
        if self.pending is not None:
            self._keep(self.pending)
            self.pending = None
        for window in self.closed:
            site = tuple(window["site"]) if window["site"] else None
            kept = self.unprofiled.get(site, []) if site else []
            window["unprofiled_step_s"] = statistics.median(kept) if len(kept) >= 3 else None
        return {
            "elapsed_s": time.perf_counter() - self.started,
            "total_steps": self.total_steps,
            "ended": self.ended,
            "windows": self.closed,
            "loaders": self.loaders,
            "optimizers": list(self.optimizers.values()),
        }


def _default_foreach(optimizer: Any) -> bool | None:
    """What torch picks when neither `foreach` nor `fused` is set (private helper: guarded)."""
    try:
        from torch.optim.optimizer import _default_to_fused_or_foreach

        params = [p for group in optimizer.param_groups for p in group["params"]]
        return bool(_default_to_fused_or_foreach(params, False, use_fused=False)[1])
    except Exception:
        return None


def _roots() -> tuple[str, ...]:
    return library_roots((os.path.dirname(torch.__file__),))
