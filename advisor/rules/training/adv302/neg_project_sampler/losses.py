import torch


def critic_loss(critic, generator, real):
    fake = generator(torch.randn(real.size(0), 64, device=real.device))
    return critic(fake).mean() - critic(real).mean()
