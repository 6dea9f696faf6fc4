"""``chainrule.manual_seed`` as ``torch.manual_seed``: one call makes every random call that
names no generator repeat from run to run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.data import DataLoader, TensorDataset


def _random_things() -> list[Any]:
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    model.train()
    x = cr.randn(5, 4)
    dropped = model(x).detach().numpy()
    loader = DataLoader(TensorDataset(np.arange(10.0), np.arange(10)), batch_size=10, shuffle=True)
    ((order, _),) = list(loader)
    history = cr.fit(
        nn.Linear(4, 1),
        "mse",
        "sgd",
        x.numpy(),
        np.ones((5, 1), np.float32),
        epochs=2,
        batch_size=2,
        validation_split=0.4,
        verbose=0,
    )
    return [
        model[0].weight.numpy().copy(),
        x.numpy(),
        cr.rand(3).numpy(),
        dropped,
        order.numpy(),
        history["loss"],
    ]


def test_the_same_seed_repeats_every_random_call() -> None:
    cr.manual_seed(123)
    first = _random_things()
    cr.manual_seed(123)
    second = _random_things()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    cr.manual_seed(124)
    third = _random_things()
    assert not np.array_equal(first[0], third[0]) and not np.array_equal(first[1], third[1])


def test_a_generator_given_to_a_call_takes_precedence() -> None:
    cr.manual_seed(0)
    a = cr.randn(3, generator=7)
    cr.manual_seed(1)
    b = cr.randn(3, generator=7)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_bad_seed_is_refused() -> None:
    with pytest.raises(TypeError, match="manual_seed: expected an int seed, got float"):
        cr.manual_seed(0.5)  # type: ignore[arg-type]
