"""A tiny training script for the `advisor profile` tests (seconds, not minutes).

It has what the scan reports (a per-sample warm-up, a per-step `.item()`, a loop-invariant `.to()`)
and two problems only a run shows: a sync inside a helper from another file, and a dataset whose
`__getitem__` is slow in a way no rule can read from the source.
"""

import time

import torch
from helpers import log_loss
from torch import nn
from torch.utils.data import DataLoader, Dataset

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class SlowItems(Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, i):
        time.sleep(0.004)
        return torch.full((4,), float(i % 3)), i % 2


def warm_up(model, optimizer):
    inputs, targets = torch.randn(40, 4), torch.randint(0, 2, (40,))
    for x, y in zip(inputs, targets):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x.unsqueeze(0).to(device)), y.view(1).to(device))
        loss.backward()
        optimizer.step()


def main():
    model = nn.Linear(4, 2).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    weights = torch.ones(2)
    loader = DataLoader(SlowItems(), batch_size=8, shuffle=True)
    warm_up(model, optimizer)
    running = 0.0
    for epoch in range(1000):
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            w = weights.to(device)
            loss = nn.functional.cross_entropy(model(x), y, weight=w)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()
            log_loss(loss)


if __name__ == "__main__":
    main()
