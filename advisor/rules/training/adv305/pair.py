"""ADV305 zero-grad-in-place: gradients cleared with a `p.grad.zero_()` loop vs `optimizer.zero_grad()`
(which sets them to None).

Sizes: `steps` per call, `batch`, `width`, `layers` (a plain MLP of `layers` hidden layers: 2 parameter
tensors each, so the loop's per-tensor cost shows).
Timed: `steps` training steps from the same weights. The before side walks the parameters in Python and
memsets each gradient, then backward accumulates into the zeros; the after side sets gradients to None
and backward writes them fresh.
Equivalence: the same steps give the same final loss (rtol 1e-6): adding to zero and writing give the same
gradient.
"""

from __future__ import annotations

from typing import Any

DEFAULT_SIZES = {"steps": 20, "batch": 32, "width": 32, "layers": 24}
TOLERANCE = {"rtol": 1e-6, "atol": 1e-7}
DEVICES = ("cpu", "cuda")
COUNT_SIZES = {"steps": 4, "batch": 16, "width": 16, "layers": 12}


def setup(sizes: dict[str, Any], device: str) -> dict[str, Any]:
    import torch

    from advisor.rules._pair_helpers import make_data

    width = int(sizes["width"])
    X, y = make_data(int(sizes["batch"]), width, device)
    torch.manual_seed(0)
    layers: list[Any] = []
    for _ in range(int(sizes["layers"])):
        layers += [torch.nn.Linear(width, width), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1)).to(device)
    return {"X": X, "y": y, "model": model, "steps": int(sizes["steps"]), "init": {k: v.clone() for k, v in model.state_dict().items()}}


def _train(inputs: dict[str, Any], manual: bool) -> Any:
    import torch

    model = inputs["model"]
    model.load_state_dict(inputs["init"])
    for p in model.parameters():
        p.grad = None
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    loss = None
    for _ in range(inputs["steps"]):
        if manual:
            for p in model.parameters():
                if p.grad is not None:
                    p.grad.zero_()
        else:
            opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs["X"]), inputs["y"])
        loss.backward()
        opt.step()
    return loss.detach()


def before(inputs: dict[str, Any]) -> Any:
    return _train(inputs, manual=True)


def after(inputs: dict[str, Any]) -> Any:
    return _train(inputs, manual=False)
