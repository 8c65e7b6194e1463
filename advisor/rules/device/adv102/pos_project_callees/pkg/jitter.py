import torch


def jitter(x, device):
    return x + torch.rand(x.shape).to(device) * 0.01  # expect: ADV102


def unused_elsewhere(x, device):
    return x + torch.rand(x.shape).to(device)
