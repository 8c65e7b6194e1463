# The per-step work lives in other modules of the project: a noise helper imported by name, a helper
# reached through its module (`import utils.labels as labels`), and a method of a network class
# imported from `nets` (`net = Recurrent(...)`). Each finding is in the callee's file and names this loop.
import torch

import utils.labels as labels
from nets import Recurrent
from utils.noise import sample_noise

device = torch.device("cuda")
net = Recurrent(32, 64).to(device)
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
for epoch in range(10):
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        h0 = net.init_hidden(x.size(0), device)
        out = net(x + sample_noise(x.size(0), device), h0)
        loss = torch.nn.functional.cross_entropy(out, labels.smooth(y, 10, device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
