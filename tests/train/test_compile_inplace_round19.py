"""``compile_step`` with in-place ops in the forward: ``nn.ReLU(inplace=True)`` and
``h.relu_()`` are replayed, to the bits of the eager loop; an in-place change of a
reduction's result (a view of a temporary) trains eagerly, as the eager loop does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim


class _Net(nn.Module):
    def __init__(self, middle: Callable[[Any], Any]) -> None:
        super().__init__()
        self.first, self.last = nn.Linear(5, 8), nn.Linear(8, 1)
        self.middle = middle

    def forward(self, x: Any) -> Any:
        return self.last(self.middle(self.first(x)))


def _clamped_max(h: Any) -> Any:
    values = h.reshape(-1, 2, 4).max(1).values
    values.clamp_(min=0.0)
    return values.repeat(1, 2)


MIDDLES: dict[str, Callable[[], Callable[[Any], Any]]] = {
    "nn.ReLU(inplace=True)": lambda: nn.ReLU(inplace=True),
    "relu_ then mul_": lambda: lambda h: h.relu_().mul_(2.0),
    "F.leaky_relu(inplace=True)": lambda: lambda h: nn.functional.leaky_relu(h, 0.1, True),
    "max(1).values.clamp_": lambda: _clamped_max,
}


def _losses(middle: Callable[[], Callable[[Any], Any]], compiled: bool) -> tuple[list[float], Any]:
    cr.manual_seed(0)
    model = _Net(middle())
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss()
    step = cr.compile_step(model, loss_fn, optimizer) if compiled else None
    rng = np.random.default_rng(1)
    x = cr.tensor(rng.standard_normal((16, 5)).astype(np.float32))
    y = cr.tensor(rng.standard_normal((16, 1)).astype(np.float32))
    losses = []
    for _ in range(4):
        if step is not None:
            loss = step(x, y)
        else:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        losses.append(loss.item())
    return losses, step


@pytest.mark.parametrize("name", list(MIDDLES))
def test_a_step_with_in_place_ops_gives_the_eager_losses(name: str) -> None:
    eager, _ = _losses(MIDDLES[name], compiled=False)
    compiled, step = _losses(MIDDLES[name], compiled=True)
    assert compiled == eager
    if name == "max(1).values.clamp_":
        assert step.eager_reason == "the forward changes the result of a view op in place"
    else:
        assert step.eager_reason is None  # replayed
        assert step.code is not None
