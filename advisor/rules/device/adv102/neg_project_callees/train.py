# Helpers of other modules that do NOT run every step: one called once before the loop, one whose name
# is shadowed by a local function of the same name, and one from a module outside the scanned project.
import torch

from helpers import make_template, scale
from thirdparty.aug import flip  # not part of the scan: nothing is known about it

device = torch.device("cuda")
template = make_template(device)


def scale(x, device):
    return x * 2


for x, y in loader:
    x = flip(scale(x.to(device), device))
    loss = torch.nn.functional.mse_loss(model(x + template), y.to(device))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
