# The loop calls the other module's sampler under `torch.no_grad()`, and a loss helper whose output is
# backpropagated: neither is an evaluation with autograd on.
import torch

import viz
from losses import critic_loss

for step, real in enumerate(loader):
    loss = critic_loss(critic, generator, real)
    c_opt.zero_grad()
    loss.backward()
    c_opt.step()
    if step % 500 == 0:
        with torch.no_grad():
            viz.save_samples(generator, step)
