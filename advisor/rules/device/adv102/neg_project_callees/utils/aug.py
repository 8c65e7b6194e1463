import torch


def flip(x):
    return torch.flip(x, dims=[0]).to(torch.zeros(1).cuda().device)
