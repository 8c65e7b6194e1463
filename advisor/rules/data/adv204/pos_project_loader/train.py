import torch

from loaders import make_loader

device = torch.device("cuda")
loader = make_loader(train_set)
for epoch in range(10):
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
