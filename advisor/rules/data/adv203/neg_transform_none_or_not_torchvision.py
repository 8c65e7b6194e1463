# On a GPU, but no torchvision dataset runs a transform per item: `transform=None`, a dataset from the
# project's own module (its `__getitem__` is not in this file, so what it does is unknown), and tensors.
import torch
from torch.utils.data import DataLoader, TensorDataset
from torchvision import datasets

from project.data import CachedImages

device = "cuda"
plain = datasets.MNIST("data", train=True, download=True, transform=None)
cached = CachedImages("cache/train.npz", transform=normalise)
tensors = TensorDataset(torch.randn(1000, 3, 32, 32), torch.randint(0, 10, (1000,)))
for dataset in (plain, cached, tensors):
    pass
loaders = [DataLoader(plain, batch_size=64), DataLoader(cached, batch_size=64), DataLoader(tensors, batch_size=64)]
for epoch in range(5):
    for loader in loaders:
        pass
for x, y in DataLoader(cached, batch_size=64, shuffle=True):
    x, y = x.to(device), y.to(device)
    optimizer.zero_grad()
    criterion(model(x), y).backward()
    optimizer.step()
for x, y in DataLoader(plain, batch_size=64, shuffle=True):
    x, y = x.to(device), y.to(device)
    optimizer.zero_grad()
    criterion(model(x), y).backward()
    optimizer.step()
for x, y in DataLoader(tensors, batch_size=64, shuffle=True):
    x, y = x.to(device), y.to(device)
    optimizer.zero_grad()
    criterion(model(x), y).backward()
    optimizer.step()
