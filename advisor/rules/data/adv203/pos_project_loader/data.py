# The loaders are built here and returned; `main.py` hands the training one to a trainer class of a
# third module whose loop moves every batch to the GPU and steps the optimizer.
import torchvision.datasets as dset
import torchvision.transforms as T
from torch.utils.data import DataLoader


def get_loaders(root, batch_size):
    tf = T.Compose([T.RandomHorizontalFlip(), T.ToTensor()])
    train_set = dset.CIFAR10(root, train=True, download=True, transform=tf)
    test_set = dset.CIFAR10(root, train=False, download=True, transform=tf)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)  # expect: ADV203
    test_loader = DataLoader(test_set, batch_size=batch_size)
    return train_loader, test_loader
