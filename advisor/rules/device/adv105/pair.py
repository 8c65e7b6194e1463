"""ADV105 cuda-housekeeping-every-step: `torch.cuda.empty_cache()` after every training step vs none.

Sizes: `steps` per call, `batch`, `features`, `hidden`, `layers` (a plain MLP of `layers` hidden layers).
Timed: `steps` training steps of the same model from the same weights; the before side empties the
caching allocator after each step, so the next step's activations and gradients are allocated from the
driver again (`cudaMalloc`, which also synchronises); the after side keeps the cache.
Not measured on a GPU yet (no GPU in the session that wrote it): the verifier reports what it measures.
Equivalence: the same steps give the same final loss (rtol 1e-5).
Needs CUDA: `empty_cache()` does nothing on the CPU.
"""

from __future__ import annotations

from typing import Any

DEFAULT_SIZES = {"steps": 30, "batch": 256, "features": 1024, "hidden": 2048, "layers": 6}
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}
DEVICES = ("cuda",)


def setup(sizes: dict[str, Any], device: str) -> dict[str, Any]:
    from advisor.rules._pair_helpers import deep_mlp_inputs

    return deep_mlp_inputs(sizes, device)


def _train(inputs: dict[str, Any], empty_cache: bool) -> Any:
    import torch

    model = inputs["model"]
    model.load_state_dict(inputs["init"])
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    loss = None
    for _ in range(inputs["steps"]):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs["X"]), inputs["y"])
        loss.backward()
        opt.step()
        if empty_cache:
            torch.cuda.empty_cache()
    return loss.detach()


def before(inputs: dict[str, Any]) -> Any:
    return _train(inputs, empty_cache=True)


def after(inputs: dict[str, Any]) -> Any:
    return _train(inputs, empty_cache=False)
