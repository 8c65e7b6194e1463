# The host batch is changed in place after its copy starts: an asynchronous copy could read the new
# values, so non_blocking is not advised for it (the other copy is).
import torch
from torch.utils.data import DataLoader

device = torch.device("cuda")
loader = DataLoader(train_set, batch_size=64, pin_memory=True)
for x, y in loader:
    x_dev = x.to(device)
    x.mul_(0.5)
    y[0] = 0
    labels = y.cuda()
    loss = loss_fn(model(x_dev), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
