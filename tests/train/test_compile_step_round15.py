"""compile_step replays indexing by integers and slices (a packed attention weight cut in
three, the last time step of a sequence) and still runs indexing by arrays eagerly."""

from __future__ import annotations

from typing import Any

import numpy as np

import chainrule as cr
from chainrule import nn, optim


class AttentionClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(8, 2, batch_first=True)
        self.out = nn.Linear(8, 3)

    def forward(self, x: Any) -> Any:
        attended = self.attention(x, x, x, need_weights=False)[0]
        return self.out(attended[:, -1])  # the last position, by a slice and an integer


class PickRows(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 3)
        self.rows = np.array([0, 2])

    def forward(self, x: Any) -> Any:
        return self.linear(x[:, -1])[self.rows.tolist()]


def batches() -> list[tuple[Any, Any]]:
    rng = np.random.default_rng(0)
    return [
        (
            cr.tensor(rng.standard_normal((4, 5, 8)), dtype=cr.float32),
            cr.tensor(rng.integers(0, 3, 4)),
        )
        for _ in range(3)
    ]


def test_a_model_that_slices_its_weights_is_replayed_with_the_eager_losses() -> None:
    def make() -> Any:
        model = AttentionClassifier()
        return model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01)

    cr.manual_seed(0)
    eager_model, eager_loss, eager_opt = make()
    cr.manual_seed(0)
    model, loss_fn, opt = make()
    step = cr.compile_step(model, loss_fn, opt)
    for _ in range(3):
        for x, y in batches():
            eager_opt.zero_grad()
            expected = eager_loss(eager_model(x), y)
            expected.backward()
            eager_opt.step()
            assert step(x, y).item() == expected.item()
    assert step.eager_reason is None
    for a, b in zip(eager_model.parameters(), model.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_indexing_by_a_list_of_positions_still_runs_eagerly() -> None:
    model = PickRows()
    step = cr.compile_step(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    for x, y in batches():
        step(x, y[:2])
    assert step.eager_reason is not None and "'index'" in step.eager_reason
