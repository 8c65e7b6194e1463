# Built here without pinned memory; the training loop of `train.py` copies every batch to the GPU.
from torch.utils.data import DataLoader


def make_loader(dataset, batch_size=64):
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=4)  # expect: ADV204
