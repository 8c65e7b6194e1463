# A relative import inside a package: `from .jitter import jitter` runs every step.
import torch

from .jitter import jitter


def fit(model, loader, optimizer, device):
    for x, y in loader:
        x = jitter(x.to(device), device)
        loss = torch.nn.functional.mse_loss(model(x), y.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
