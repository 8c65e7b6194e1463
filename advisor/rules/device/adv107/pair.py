"""ADV107 debug-switches-in-training: training steps under `torch.autograd.detect_anomaly()` vs without it.

Sizes: `steps` per call, `batch`, `features`, `hidden`, `layers` (a plain MLP of `layers` hidden layers).
Timed: `steps` training steps from the same weights. Anomaly mode stores a Python traceback for every
forward operation and checks every backward output for NaN, so its cost grows with the number of
operations per step, not their size: a model of many small layers shows it best.
Equivalence: the same steps give the same final loss (rtol 1e-6); anomaly mode only observes.
"""

from __future__ import annotations

import contextlib
from typing import Any

DEFAULT_SIZES = {"steps": 4, "batch": 64, "features": 64, "hidden": 64, "layers": 8}
TOLERANCE = {"rtol": 1e-6, "atol": 1e-7}
DEVICES = ("cpu", "cuda")
COUNT_SIZES = {"steps": 2, "batch": 16, "features": 32, "hidden": 32, "layers": 4}


def setup(sizes: dict[str, Any], device: str) -> dict[str, Any]:
    from advisor.rules._pair_helpers import deep_mlp_inputs

    return deep_mlp_inputs(sizes, device)


def _train(inputs: dict[str, Any], anomaly: bool) -> Any:
    import warnings

    import torch

    model = inputs["model"]
    model.load_state_dict(inputs["init"])
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    loss = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # anomaly mode warns on entry; the warning is not what we time
        guard = torch.autograd.detect_anomaly() if anomaly else contextlib.nullcontext()
        with guard:
            for _ in range(inputs["steps"]):
                opt.zero_grad()
                loss = torch.nn.functional.mse_loss(model(inputs["X"]), inputs["y"])
                loss.backward()
                opt.step()
    return loss.detach()


def before(inputs: dict[str, Any]) -> Any:
    return _train(inputs, anomaly=True)


def after(inputs: dict[str, Any]) -> Any:
    return _train(inputs, anomaly=False)
