"""The sandboxed side of the verifier: `python -m advisor.verify.child` reads one JSON request on stdin,
measures one pair on one device, and writes one JSON result on stdout.

Only this process imports torch, numpy and the pair module (or the extracted user function). It caps its
own address space, sends anything the pair prints to stderr so stdout stays clean JSON, and turns every
exception into a "failed" result; a hang or a hard crash is the parent's to report.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import sys
import time
import traceback
from types import ModuleType
from typing import Any, Callable

from advisor.verify import stats


def apply_limits(memory_bytes: int | None, device: str) -> None:
    """RLIMIT_AS caps the child's memory; CUDA maps huge virtual ranges at init, so it is not set there."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_bytes and device != "cuda":
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def load_pair(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"advisor_pair_{os.path.basename(path)[:-3]}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load pair {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _measurement(rounds: list[list[float]]) -> dict[str, Any]:
    flat = [t for r in rounds for t in r]
    return {"median_s": stats.round_sig(stats.median(flat), 3), "iqr_s": stats.round_sig(stats.iqr(flat), 2), "runs": len(flat)}


def _figure(before_rounds: list[list[float]], after_rounds: list[list[float]]) -> dict[str, Any]:
    """The speed-up of one after side over `before`, as the result states it: a figure only when significant."""
    est = stats.speedup_interval(before_rounds, after_rounds)
    shown = stats.rounded_estimate(est)
    if stats.verdict(est) == "measured":
        return {"status": "measured", "speedup": shown.ratio, "speedup_low": shown.low, "speedup_high": shown.high}
    return {"status": "no-significant-gain", "detail": stats.no_gain_detail(shown)}


def measure_time(before: Callable[[Any], Any], after: Callable[[Any], Any], check_before: Callable[[Any], Any],
                 check_after: Callable[[Any], Any], compare_fn: Callable[..., tuple[bool, str]], inputs: Any,
                 req: dict[str, Any], also: dict[str, Callable[[Any], Any]] | None = None) -> dict[str, Any]:
    """Equivalence first; only an equivalent pair is timed. `also`: more after sides (each checked
    against `before` too), timed in the same rounds and reported under `extra["also"]`."""
    from advisor.verify.measure import interleaved, set_threads, timed_call

    tol = req["tolerance"]
    device = req["device"]
    set_threads(int(req.get("threads", 1)))
    started = time.perf_counter()
    # The check runs each side once; when the check is the timed call itself, that call is the warm-up.
    out_before, s_before = timed_call(check_before, inputs, device)
    out_after, s_after = timed_call(check_after, inputs, device)
    rtol, atol = float(tol.get("rtol", 1e-5)), float(tol.get("atol", 1e-8))
    ok, why = compare_fn(out_before, out_after, rtol, atol)
    for name, fn in (also or {}).items():
        if ok:
            ok, why = compare_fn(out_before, fn(inputs), rtol, atol)
            why = f"{name}: {why}" if not ok else why
    check_s = time.perf_counter() - started
    if not ok:
        return {"status": "not-equivalent", "equivalent": False, "detail": why}
    warm = (s_before, s_after) if check_before is before and check_after is after else None
    raw = interleaved(before, after, inputs, device=device, budget_s=float(req.get("budget_s", 4.0)), threads=int(req.get("threads", 1)), warm=warm, also=also)
    result: dict[str, Any] = {
        "equivalent": True,
        "before": _measurement(raw["before_rounds"]),
        "after": _measurement(raw["after_rounds"]),
        "extra": {"rounds": raw["rounds"], "calls": raw["calls"], "threads": raw["threads"], "stopped": raw["stopped"],
                  "phases": {"check_s": round(check_s, 3), "warm_s": raw["warm_s"], "timing_s": raw["timing_s"]}},
    }
    result.update(_figure(raw["before_rounds"], raw["after_rounds"]))
    if also:
        result["extra"]["also"] = {
            name: {**_figure(raw["before_rounds"], rounds), "after": _measurement(rounds)} for name, rounds in raw["also_rounds"].items()
        }
    return result


def _count(before: Callable[[Any], Any], after: Callable[[Any], Any], inputs: Any, req: dict[str, Any]) -> dict[str, Any]:
    """`--count-instructions`: the same single-threaded set-up the timing uses, then callgrind."""
    import torch

    from advisor.verify.callgrind import count

    torch.set_num_threads(int(req.get("threads", 1)))
    return count(before, after, inputs)


def run_pair(req: dict[str, Any]) -> dict[str, Any]:
    from advisor.verify.compare import compare

    started = time.perf_counter()
    module = load_pair(req["pair_path"])
    inputs = module.setup(req["sizes"], req["device"])
    setup_s = time.perf_counter() - started
    if req.get("mode") == "count":
        return _count(module.before, module.after, inputs, req)
    if req.get("metric") == "loss":
        from advisor.verify.quality import measure_loss

        return measure_loss(module, inputs, req)
    result = measure_time(
        module.before,
        module.after,
        getattr(module, "before_check", module.before),
        getattr(module, "after_check", module.after),
        getattr(module, "compare", compare),
        inputs,
        req,
    )
    result.setdefault("extra", {}).setdefault("phases", {})["setup_s"] = round(setup_s, 3)
    return result


def run_user_function(req: dict[str, Any]) -> dict[str, Any]:
    from advisor.verify.compare import compare
    from advisor.verify.user_code import build_user_pair

    before, after, inputs, also = build_user_pair(req["user_function"], req["sizes"])
    if req.get("mode") == "count":
        return _count(before, after, inputs, req)
    result = measure_time(before, after, before, after, compare, inputs, req, also=also)
    if "replacement" in inputs:
        result.setdefault("extra", {})["replacement"] = inputs["replacement"]
    return result


def device_name(device: str) -> str | None:
    """None when the device cannot be used here."""
    if device != "cuda":
        from advisor.environment import cpu_model

        return cpu_model()
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(0)


def handle(req: dict[str, Any]) -> dict[str, Any]:
    name = device_name(req["device"])
    if name is None:
        return {"status": "skipped", "detail": "needs a CUDA device to measure — torch here sees none"}
    try:
        result = run_user_function(req) if req.get("user_function") else run_pair(req)
    except MemoryError:
        result = {"status": "failed", "detail": f"out of memory (limit {req.get('memory_bytes', 0) / 2**30:.1f} GiB) — use smaller sizes or raise --memory"}
    except Exception as exc:
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else ""
        result = {"status": "failed", "detail": f"{type(exc).__name__}: {exc}{where}"}
    result["device_name"] = name
    if req.get("user_function"):
        from advisor.verify.sandbox import network_state

        result.setdefault("extra", {})["network"] = network_state()
    return result


def main() -> None:
    req = json.loads(sys.stdin.read())
    apply_limits(req.get("memory_bytes"), req["device"])
    # The pair may print; keep fd 1 for our JSON only.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    result = handle(req)
    out.write(json.dumps(result))
    out.flush()


if __name__ == "__main__":
    main()
