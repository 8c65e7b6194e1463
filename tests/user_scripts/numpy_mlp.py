"""A two-layer MLP trained with hand-written backprop in NumPy (our own script)."""

import numpy as np

rng = np.random.default_rng(0)


def one_hot(y, k):
    out = np.zeros((len(y), k))
    out[np.arange(len(y)), y] = 1.0
    return out


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def init(sizes):
    return [(rng.normal(0, np.sqrt(2.0 / m), (m, n)), np.zeros(n)) for m, n in zip(sizes[:-1], sizes[1:])]


def forward(params, x):
    (w1, b1), (w2, b2) = params
    h = np.maximum(0, x @ w1 + b1)
    return h, softmax(h @ w2 + b2)


def train(x, y, epochs=20, lr=0.1, batch=64):
    params = init([x.shape[1], 128, 10])
    targets = one_hot(y, 10)
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            xb, tb = x[idx], targets[idx]
            (w1, b1), (w2, b2) = params
            h, p = forward(params, xb)
            g2 = (p - tb) / len(idx)
            gw2, gb2 = h.T @ g2, g2.sum(0)
            gh = g2 @ w2.T
            gh[h <= 0] = 0
            gw1, gb1 = xb.T @ gh, gh.sum(0)
            params = [(w1 - lr * gw1, b1 - lr * gb1), (w2 - lr * gw2, b2 - lr * gb2)]
        loss = -np.mean(np.sum(targets * np.log(forward(params, x)[1] + 1e-9), axis=1))
        print(f"epoch {epoch}: loss {loss:.4f}")
    return params


def confusion(pred, y, k=10):
    m = [[0] * k for _ in range(k)]
    for p, t in zip(pred, y):
        m[t][p] += 1
    return m


if __name__ == "__main__":
    data = np.load("mnist.npz")
    params = train(data["x_train"].reshape(-1, 784) / 255.0, data["y_train"])
    pred = forward(params, data["x_test"].reshape(-1, 784) / 255.0)[1].argmax(1)
    print(confusion(pred, data["y_test"]))
