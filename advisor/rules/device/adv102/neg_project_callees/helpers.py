import torch


def make_template(device):
    return torch.ones(1, 3, 32, 32).to(device)


def scale(x, device):
    return x * torch.tensor(2.0).to(device)
