# A torchvision dataset with a transform on the GPU, loaded by workers; the test loader never trains.
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

device = torch.device("cuda:0")
tf = transforms.ToTensor()
train_set = datasets.FashionMNIST("data", train=True, transform=tf)
test_set = datasets.FashionMNIST("data", train=False, transform=tf)
train_loader = DataLoader(train_set, batch_size=128, shuffle=True, num_workers=4, pin_memory=True)
test_loader = DataLoader(test_set, batch_size=256)
for epoch in range(10):
    for x, y in train_loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        correct = sum((model(x.to(device)).argmax(1) == y.to(device)).sum() for x, y in test_loader)
