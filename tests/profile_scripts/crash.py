import torch

model = torch.nn.Linear(2, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(100):
    loss = model(torch.randn(4, 2)).sum()
    loss.backward()
    optimizer.step()
    if step == 3:
        raise RuntimeError("planted failure at step 3")
