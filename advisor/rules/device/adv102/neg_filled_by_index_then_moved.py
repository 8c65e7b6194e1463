# A padded index tensor is created on the host, filled row by row from Python lists, then moved: it holds
# data. Created on the device, every row written into it would be a copy of its own.
import torch


class Converter:
    def __init__(self, alphabet):
        self.index = {c: i + 1 for i, c in enumerate(alphabet)}

    def encode(self, texts, max_length, device):
        batch = torch.LongTensor(len(texts), max_length).fill_(0)
        for i, text in enumerate(texts):
            row = [self.index[c] for c in text]
            batch[i][: len(row)] = torch.LongTensor(row)
        return batch.to(device)


converter = Converter("abc")
for images, labels in loader:
    targets = converter.encode(labels, 25, "cuda")
    loss = criterion(model(images.cuda()), targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
