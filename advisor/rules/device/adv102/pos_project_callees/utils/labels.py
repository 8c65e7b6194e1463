import torch


def smooth(y, classes, device):
    target = torch.full((y.size(0), classes), 0.1 / classes).to(device)  # expect: ADV102
    return target.scatter(1, y.unsqueeze(1), 0.9)
