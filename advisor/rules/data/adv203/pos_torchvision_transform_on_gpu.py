# An in-memory torchvision dataset given a `transform=`: `__getitem__` converts every item to a PIL image
# and runs the transform in the training process, while the GPU waits.
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

device = torch.device("cuda")
augment = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.ToTensor()])
train_set = datasets.CIFAR10("data", train=True, download=True, transform=augment)
loader = DataLoader(train_set, batch_size=128, shuffle=True)  # expect: ADV203
for epoch in range(10):
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
