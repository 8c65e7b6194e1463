import sys

import torch

x = torch.randn(64, 64)
total = 0.0
for i in range(10**7):
    total += (x @ x).sum().item()
    if len(sys.argv) > 1 and i > int(sys.argv[1]):
        break
