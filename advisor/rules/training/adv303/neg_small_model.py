# Logistic regression on CUDA: a single 784x10 layer is launch-bound; mixed precision would not speed it up.
import torch

model = torch.nn.Linear(784, 10).cuda()
for epoch in range(100):
    for x, y in loader:
        loss = torch.nn.functional.cross_entropy(model(x.cuda().view(-1, 784)), y.cuda())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
