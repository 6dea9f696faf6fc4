"""Explain found wanting by outside-in testing (round 18): ``GradientHealth`` crashed on
padded sequences whose length changes from batch to batch (each position was a unit), a
trace's text spent seconds padding numbers it never printed (and padded the corners it
printed to the width of hidden ones), the optimizer's line showed only the first parameter
group's settings, and a layer run under ``no_grad`` was said to get its gradient from the
next step."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, Dataset
from chainrule.explain import GradientHealth, trace_step


class _Sequences(Dataset):
    """Variable-length sequences of 2 features, padded per batch by ``_pad``."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        lengths = rng.integers(3, 9, size=24)
        self.x = [rng.normal(size=(n, 2)) for n in lengths]
        self.y = rng.normal(size=(24, 1))

    def __len__(self) -> int:
        return 24

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        return self.x[i], self.y[i]


def _pad(items: list[tuple[Any, Any]]) -> tuple[cr.Tensor, cr.Tensor]:
    longest = max(len(x) for x, _ in items)
    x = np.zeros((len(items), longest, 2))
    for row, (sequence, _) in enumerate(items):
        x[row, : len(sequence)] = sequence
    return cr.tensor(x), cr.tensor(np.array([y for _, y in items]))


class _PerStep(nn.Module):
    """A Linear layer at every time step, features on the last axis."""

    def __init__(self) -> None:
        super().__init__()
        # Seeded: which features training leaves active must not depend on the tests run
        # before this one.
        self.hidden = nn.Linear(2, 6, generator=0)
        self.act = nn.ReLU()
        self.out = nn.Linear(6, 1, generator=1)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.out(self.act(self.hidden(x)).mean(1))


class _Convolution(nn.Module):
    """A 1-D convolution over time, channels on axis 1."""

    def __init__(self, flatten: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 5, 3, padding=1, generator=2)
        self.act = nn.ReLU()
        self.out = nn.Linear(5, 1, generator=3)
        self.flatten = flatten

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        h = self.conv(x.transpose(1, 2))
        if self.flatten:  # positions and channels mixed: no fixed units
            return self.act(h.flatten(1)).mean(1, keepdim=True)
        return self.out(self.act(h).mean(2))


def _fit(model: nn.Module, health: GradientHealth) -> None:
    model.to(np.float64)
    loader = DataLoader(_Sequences(), batch_size=5, collate_fn=_pad)
    cr.fit(
        model,
        "mse",
        optim.SGD(model.parameters(), lr=0.01),
        loader,
        epochs=2,
        verbose=0,
        callbacks=[health],
    )


def test_padded_sequences_of_changing_length_count_each_feature_as_a_unit() -> None:
    model = _PerStep()
    model.hidden.bias.data[:2] = -100.0  # 2 of the 6 features never active
    health = GradientHealth()
    _fit(model, health)
    assert health.report.layers["act (ReLU)"].dead_share == [pytest.approx(2 / 6)] * 2


def test_a_convolutions_channels_are_its_units() -> None:
    model = _Convolution()
    model.conv.bias.data[:3] = -100.0  # 3 of the 5 channels never active
    health = GradientHealth()
    _fit(model, health)
    assert health.report.layers["act (ReLU)"].dead_share == [pytest.approx(3 / 5)] * 2
    assert "dead relu" in health.report.problems()


def test_units_whose_number_changes_from_batch_to_batch_are_refused() -> None:
    with pytest.raises(ValueError, match=r"GradientHealth: expected act \(ReLU\) to have \d+ "):
        _fit(_Convolution(flatten=True), GradientHealth())


def test_a_large_arrays_text_is_padded_to_the_numbers_it_shows() -> None:
    model = nn.Sequential(nn.Linear(20, 20))
    model[0].weight.data[:] = 0.5
    model[0].weight.data[10, 10] = -1.234567e-05  # hidden in the middle: not shown
    trace = trace_step(model, np.ones((1, 20), dtype=np.float32), np.zeros((1, 20)))
    lines = trace.to_text().splitlines()
    first = lines.index("  W1 =") + 1
    assert lines[first].strip() == "[[0.5 0.5 0.5 ... 0.5 0.5 0.5]"
    assert "-1.235e-05" not in trace.to_text()


def test_the_optimizer_line_shows_every_parameter_groups_settings() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    sgd = optim.SGD(
        [{"params": model[0].parameters(), "lr": 0.5}, {"params": model[2].parameters()}],
        lr=0.1,
        momentum=0.9,
    )
    trace = trace_step(model, [[0.0, 1.0]], [[1.0]], optimizer=sgd)
    assert trace.optimizer == (
        "SGD(momentum=0.9, dampening=0.0, weight_decay=0.0); group 0: lr=0.5; group 1: lr=0.1"
    )
    alone = trace_step(model, [[0.0, 1.0]], [[1.0]], optimizer=optim.SGD(model.parameters()))
    assert alone.optimizer == "SGD(lr=0.001, momentum=0.0, dampening=0.0, weight_decay=0.0)"


class _NoGradFirst(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(2, 2)
        self.b = nn.Linear(2, 1)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        with cr.no_grad():
            h = self.a(x)
        return self.b(h)


def test_a_layer_run_under_no_grad_gets_no_gradient_from_the_next_step() -> None:
    trace = trace_step(_NoGradFirst(), [[0.0, 1.0], [1.0, 0.0]], [[1.0], [0.0]])
    first, second = trace.steps
    assert first.backward[0].label == "dL/dz1 = 0 (z1 does not require grad)"
    np.testing.assert_array_equal(first.backward[0].value, np.zeros((2, 2)))
    assert second.backward[-1].label == "dL/dz1 = 0 (z1 does not require grad)"
