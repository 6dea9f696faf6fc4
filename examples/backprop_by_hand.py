"""Backpropagation with chainrule tensors, step by step, on XOR-like data.

A 2-8-1 network: forward pass (weighted sums, tanh, sigmoid), binary cross-entropy written
out, ``backward()`` for every gradient, and the SGD update w = w - lr * dL/dw.

    python examples/backprop_by_hand.py --epochs 500
"""

from __future__ import annotations

import argparse
import math

import numpy as np

import chainrule as cr


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1, else a one-line usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0, else a one-line usage error."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=500, help="full-batch steps (default: 500)"
    )
    parser.add_argument(
        "--lr", type=positive_float, default=0.5, help="SGD learning rate (default: 0.5)"
    )
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x_data = rng.uniform(-1, 1, size=(200, 2)).astype(np.float32)
    y_data = ((x_data[:, 0] * x_data[:, 1]) > 0).astype(np.float32)[:, None]
    x, y = cr.tensor(x_data), cr.tensor(y_data)

    w1 = cr.tensor(rng.normal(0, 1, (8, 2)).astype(np.float32), requires_grad=True)
    b1 = cr.zeros(8, requires_grad=True)
    w2 = cr.tensor(rng.normal(0, 0.5, (1, 8)).astype(np.float32), requires_grad=True)
    b2 = cr.zeros(1, requires_grad=True)

    for epoch in range(1, args.epochs + 1):
        z1 = x @ w1.T + b1  # weighted sums of the hidden layer
        a1 = cr.tanh(z1)  # hidden activations
        p = cr.sigmoid(a1 @ w2.T + b2)  # predicted probability of class 1
        eps = 1e-7
        loss = -(y * cr.log(p + eps) + (1 - y) * cr.log(1 - p + eps)).mean()
        loss.backward()  # the chain rule, from the loss back to w1, b1, w2, b2
        with cr.no_grad():
            for param in (w1, b1, w2, b2):
                assert param.grad is not None
                param.sub_(param.grad, alpha=args.lr)
                param.grad = None
        if epoch == 1 or epoch % max(1, args.epochs // 5) == 0:
            accuracy = ((p.numpy() > 0.5) == (y_data > 0.5)).mean()
            print(f"epoch {epoch:4d}  loss {loss.item():.4f}  accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
