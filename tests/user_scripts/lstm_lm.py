"""Word-level LSTM language model on a tokenised text file (our own script)."""

import math
import time

import torch
import torch.nn as nn

device = torch.device("cuda")


class Corpus:
    def __init__(self, path: str) -> None:
        self.vocab: dict[str, int] = {}
        ids = []
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                for word in line.split() + ["<eos>"]:
                    ids.append(self.vocab.setdefault(word, len(self.vocab)))
        self.ids = torch.tensor(ids, dtype=torch.long)


def batchify(data: torch.Tensor, bsz: int) -> torch.Tensor:
    nbatch = data.size(0) // bsz
    return data[: nbatch * bsz].view(bsz, -1).t().contiguous().to(device)


class LanguageModel(nn.Module):
    def __init__(self, ntoken: int, ninp: int = 256, nhid: int = 512, nlayers: int = 2) -> None:
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=0.2)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.encoder(x), hidden)
        return self.decoder(out), hidden


def detach(hidden):
    return tuple(h.detach() for h in hidden)


corpus = Corpus("data/train.txt")
train_data = batchify(corpus.ids, 20)
bptt = 35
model = LanguageModel(len(corpus.vocab)).to(device)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

for epoch in range(1, 6):
    model.train()
    hidden = (torch.zeros(2, 20, 512, device=device), torch.zeros(2, 20, 512, device=device))
    total_loss = 0.0
    start = time.time()
    for batch, i in enumerate(range(0, train_data.size(0) - 1, bptt)):
        seq_len = min(bptt, len(train_data) - 1 - i)
        data, targets = train_data[i : i + seq_len], train_data[i + 1 : i + 1 + seq_len]
        hidden = detach(hidden)
        output, hidden = model(data, hidden)
        loss = criterion(output.view(-1, output.size(-1)), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        optimizer.step()
        total_loss += loss.item()
        if batch % 200 == 0 and batch > 0:
            cur_loss = total_loss / 200
            print(f"epoch {epoch} batch {batch} loss {cur_loss:.2f} ppl {math.exp(cur_loss):.1f} {time.time() - start:.1f}s")
            total_loss = 0.0
            start = time.time()
    torch.save(model.state_dict(), "lm.pt")
