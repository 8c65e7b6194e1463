import torch
from torchvision.utils import save_image


def save_samples(generator, step):
    z = torch.randn(64, 64, device="cuda")
    images = generator(z)
    save_image(images.cpu(), f"samples/{step}.png")
