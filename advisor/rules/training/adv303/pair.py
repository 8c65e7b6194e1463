"""ADV303 no-mixed-precision: float32 training steps vs the same steps under
`torch.autocast("cuda", dtype=torch.bfloat16)`.

Sizes: `steps` per call, `batch`, `features`, `hidden`, `layers` (a plain MLP of `layers` hidden layers).
Timed: `steps` training steps from the same weights; the after side runs forward and loss under bf16
autocast (matrix products on tensor cores), backward and the optimizer step as usual.
Not measured on a GPU yet (no GPU in the session that wrote it): the verifier reports what it measures.
Equivalence: bfloat16 keeps 8 bits of mantissa, so the final loss is compared loosely (rtol 5e-2); this
checks that the same training happened, not that the arithmetic is identical.
Needs CUDA: on the CPU, bf16 autocast speed depends on the CPU's matrix extensions, not on tensor cores.
"""

from __future__ import annotations

import contextlib
from typing import Any

DEFAULT_SIZES = {"steps": 20, "batch": 1024, "features": 2048, "hidden": 4096, "layers": 4}
TOLERANCE = {"rtol": 5e-2, "atol": 1e-3}
DEVICES = ("cuda",)


def setup(sizes: dict[str, Any], device: str) -> dict[str, Any]:
    from advisor.rules._pair_helpers import deep_mlp_inputs

    return deep_mlp_inputs(sizes, device)


def _train(inputs: dict[str, Any], mixed: bool) -> Any:
    import torch

    model = inputs["model"]
    model.load_state_dict(inputs["init"])
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    loss = None
    for _ in range(inputs["steps"]):
        opt.zero_grad()
        guard = torch.autocast(inputs["device"], dtype=torch.bfloat16) if mixed else contextlib.nullcontext()
        with guard:
            loss = torch.nn.functional.mse_loss(model(inputs["X"]).float(), inputs["y"])
        loss.backward()
        opt.step()
    return loss.detach().float()


def before(inputs: dict[str, Any]) -> Any:
    return _train(inputs, mixed=False)


def after(inputs: dict[str, Any]) -> Any:
    return _train(inputs, mixed=True)
