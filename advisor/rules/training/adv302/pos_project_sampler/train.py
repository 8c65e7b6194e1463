# Every 500 steps the loop saves samples through a helper of another module, which runs the generator
# with autograd on; the finding is in that module and names this loop.
import torch

from viz import save_samples

for step, real in enumerate(loader):
    fake = generator(torch.randn(real.size(0), 64, device=real.device))
    loss = critic(fake).mean()
    g_opt.zero_grad()
    loss.backward()
    g_opt.step()
    if step % 500 == 0:
        save_samples(generator, step)
