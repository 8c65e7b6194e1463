import torch
from torch import nn


class Recurrent(nn.Module):
    def __init__(self, features, hidden):
        super().__init__()
        self.hidden = hidden
        self.rnn = nn.GRU(features, hidden, batch_first=True)

    def forward(self, x, h0):
        out, _ = self.rnn(x, h0)
        return out[:, -1]

    def init_hidden(self, batch, device):
        return torch.zeros(1, batch, self.hidden).to(device)  # expect: ADV102
