import torch


def sample_noise(n, device):
    return torch.randn(n, 1, 32).to(device)  # expect: ADV102
