# Built here, used elsewhere: the training loader already has workers, and the other is only passed to
# a method that evaluates. An in-memory TensorDataset loader, trained on elsewhere, does no per-item work.
import torch
import torchvision.datasets as dset
import torchvision.transforms as T
from torch.utils.data import DataLoader, TensorDataset


def get_loaders(root, batch_size):
    tf = T.ToTensor()
    train_loader = DataLoader(dset.CIFAR10(root, train=True, transform=tf), batch_size=batch_size, shuffle=True, num_workers=4)
    test_loader = DataLoader(dset.CIFAR10(root, train=False, transform=tf), batch_size=batch_size)
    return train_loader, test_loader


def get_features(batch_size):
    return DataLoader(TensorDataset(torch.randn(1000, 16), torch.randn(1000, 1)), batch_size=batch_size, shuffle=True)
