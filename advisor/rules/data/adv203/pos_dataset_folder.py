# `DatasetFolder` reads a file per item with the loader it is given (here `torch.load`).
import torch
from torch.utils.data import DataLoader
from torchvision.datasets import DatasetFolder

shards = DatasetFolder("data/features", loader=torch.load, extensions=(".pt",))
train_loader = DataLoader(shards, batch_size=32, shuffle=True)  # expect: ADV203
for epoch in range(20):
    for x, y in train_loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
