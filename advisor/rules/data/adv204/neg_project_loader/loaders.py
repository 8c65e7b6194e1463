# Built here; the other file's loop trains on the CPU (no device copies), and the pinned loader is fine.
from torch.utils.data import DataLoader


def make_loader(dataset, batch_size=64):
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=4)


def make_pinned(dataset):
    return DataLoader(dataset, batch_size=64, shuffle=True, num_workers=4, pin_memory=True)
