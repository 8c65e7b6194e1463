import torch


class Trainer:
    def __init__(self, lr):
        self.model = build_model().cuda()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)

    def fit(self, loader, epochs):
        for epoch in range(epochs):
            for x, y in loader:
                x, y = x.cuda(), y.cuda()
                loss = torch.nn.functional.cross_entropy(self.model(x), y)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()

    @torch.no_grad()
    def evaluate(self, loader):
        self.model.eval()
        correct = 0
        for x, y in loader:
            correct += (self.model(x.cuda()).argmax(1) == y.cuda()).sum()
        return correct
