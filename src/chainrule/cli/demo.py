"""``chainrule demo``: backpropagation written out with tensors, on a small regression task."""

from __future__ import annotations

import math
import sys

import chainrule as cr
from chainrule.backend import np


def run_demo(epochs: int = 200, lr: float = 0.1, seed: int = 0) -> int:
    """Fit y = sin(x1) + x2 / 2 with a 2-16-1 tanh network by full-batch SGD.

    Every step is the textbook loop: forward pass, mean squared error, ``backward()`` to get
    dL/dW for every weight and bias, then ``w = w - lr * dL/dw``. Prints the loss every
    tenth of the run to stdout and returns 0.
    """
    if epochs < 1:
        raise ValueError(f"demo: --epochs must be >= 1, got {epochs}")
    if not 0 < lr < math.inf:
        raise ValueError(f"demo: --lr must be > 0 and finite, got {lr}")
    if seed < 0:  # NumPy's own message names neither the command nor the value
        raise ValueError(f"demo: --seed must be >= 0, got {seed}")
    rng = np.random.default_rng(seed)
    x_data = rng.uniform(-2, 2, size=(256, 2)).astype(np.float32)
    y_data = (np.sin(x_data[:, :1]) + x_data[:, 1:] / 2).astype(np.float32)
    y_data += rng.normal(0, 0.05, size=y_data.shape).astype(np.float32)
    x, y = cr.tensor(x_data), cr.tensor(y_data)

    hidden = 16
    w1 = cr.randn(hidden, 2, generator=rng) * np.sqrt(1 / 2)
    b1 = cr.zeros(hidden)
    w2 = cr.randn(1, hidden, generator=rng) * np.sqrt(1 / hidden)
    b2 = cr.zeros(1)
    params = [w1, b1, w2, b2]
    for p in params:
        p.requires_grad_()

    def mean_squared_error() -> cr.Tensor:
        hidden_out = cr.tanh(cr.linear(x, w1, b1))  # a = tanh(W1 x + b1)
        prediction = cr.linear(hidden_out, w2, b2)  # y_hat = W2 a + b2
        return ((prediction - y) ** 2).mean()  # L = mean (y_hat - y)^2

    print(f"training a 2-{hidden}-1 tanh network on {len(x_data)} points, SGD lr={lr}")
    first = last = float("nan")
    for epoch in range(1, epochs + 1):
        loss = mean_squared_error()
        loss.backward()  # dL/dW and dL/db for every parameter, by the chain rule
        with cr.no_grad():
            for p in params:
                assert p.grad is not None
                p.sub_(p.grad, alpha=lr)  # w = w - lr * dL/dw
                p.grad = None
        last = loss.item()
        if epoch == 1:
            first = last
        if epoch == 1 or epoch % max(1, epochs // 10) == 0 or epoch == epochs:
            print(f"epoch {epoch:4d}  loss {last:.5f}")
    with cr.no_grad():  # the loss after the last update, not the one before it
        final = mean_squared_error().item()
    if final < first:
        print(f"loss fell from {first:.4f} to {final:.4f}")
    else:
        print(f"loss did not fall: from {first:.4f} to {final:.4f}; try a smaller --lr")
    sys.stdout.flush()
    return 0
