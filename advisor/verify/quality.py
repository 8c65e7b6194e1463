"""Quality pairs (metric "loss"), inside the child: the same training budget with and without the fix,
over several seeds; held-out loss mean ± sd and epochs to reach a target loss.

The pair's `before(inputs, seed)` and `after(inputs, seed)` each train from the same seed on the same
data for the same number of epochs and return the held-out loss after every epoch. Its `LABELS`
name the two sides ("fixed LR", "scheduler") in the detail line and in the reports.
"""

from __future__ import annotations

import math
import statistics
from types import ModuleType
from typing import Any


def _epochs_to(target: float, curve: list[float]) -> int | None:
    for epoch, loss in enumerate(curve, start=1):
        if loss <= target:
            return epoch
    return None


def _fmt(x: float, sd: float) -> str:
    """A loss shown to the precision its spread across seeds allows."""
    digits = max(1, 1 - math.floor(math.log10(sd))) if sd > 0 else 4
    return f"{x:.{min(digits, 6)}f} ± {sd:.{min(digits, 6)}f}"


def measure_loss(module: ModuleType, inputs: Any, req: dict[str, Any]) -> dict[str, Any]:
    seeds = list(getattr(module, "SEEDS", (0, 1, 2)))
    first, second = (str(x) for x in getattr(module, "LABELS", ("before", "after")))
    target = float(module.TARGET_LOSS)
    curves = {"before": [module.before(inputs, s) for s in seeds], "after": [module.after(inputs, s) for s in seeds]}
    lengths = {len(c) for side in curves.values() for c in side}
    if len(lengths) != 1:
        return {"status": "not-equivalent", "equivalent": False, "detail": f"epoch budgets differ: {sorted(lengths)}"}
    summary: dict[str, Any] = {"seeds": seeds, "epochs": lengths.pop(), "target_loss": target, "labels": [first, second]}
    for side, runs in curves.items():
        finals = [c[-1] for c in runs]
        reach = [_epochs_to(target, c) for c in runs]
        summary[side] = {
            "loss_mean": statistics.fmean(finals),
            "loss_sd": statistics.stdev(finals) if len(finals) > 1 else 0.0,
            "epochs_to_target": reach,
        }
    b, a = summary["before"], summary["after"]
    spread = math.hypot(b["loss_sd"], a["loss_sd"])
    helps = a["loss_mean"] < b["loss_mean"] - 2 * spread and a["loss_mean"] < b["loss_mean"] * 0.95

    def reach_text(side: dict[str, Any]) -> str:
        got = [e for e in side["epochs_to_target"] if e is not None]
        if not got:
            return "never"
        return f"{statistics.fmean(got):.0f} epochs ({len(got)}/{len(seeds)} seeds)"

    detail = (
        f"held-out loss after {summary['epochs']} epochs, {len(seeds)} seeds: {first} {_fmt(b['loss_mean'], b['loss_sd'])}, "
        f"{second} {_fmt(a['loss_mean'], a['loss_sd'])}; loss {target:g} reached in {reach_text(b)} ({first}) vs {reach_text(a)} ({second})"
    )
    if not helps:
        detail = f"the {second} did not help here — " + detail
    return {"status": "measured" if helps else "no-significant-gain", "equivalent": True, "detail": detail, "extra": summary}
