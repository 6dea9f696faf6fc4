"""A one-element tensor as a learning rate, as PyTorch takes ``lr=torch.tensor(0.01)``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_a_tensor_learning_rate_trains_as_in_pytorch(name: str) -> None:
    start = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    results = []
    for lib, make in ((cr, getattr(optim, name)), (torch, getattr(torch.optim, name))):
        w = lib.tensor(start, requires_grad=True)
        extra: dict[str, Any] = {"momentum": 0.9} if name == "SGD" else {}
        opt = make([w], lr=lib.tensor(0.05), **extra)
        for _ in range(5):
            opt.zero_grad()
            ((w * w).sum() + w.sin().sum()).backward()
            opt.step()
        results.append(w.detach().numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-6)


def test_a_parameter_group_takes_a_tensor_learning_rate_too() -> None:
    w, b = cr.tensor([1.0], requires_grad=True), cr.tensor([2.0], requires_grad=True)
    opt = optim.SGD([{"params": [w]}, {"params": [b], "lr": cr.tensor(0.5)}], lr=0.1)
    (w * b).sum().backward()
    opt.step()
    assert w.item() == pytest.approx(1.0 - 0.1 * 2.0) and b.item() == pytest.approx(2.0 - 0.5)
