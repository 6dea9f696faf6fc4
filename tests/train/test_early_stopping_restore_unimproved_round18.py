"""EarlyStopping(restore_best_weights=True) where no epoch ever improves on the first (a
monitor NaN from the start): as Keras 3, which takes the first epoch counted as the best
until one beats it, the weights of that epoch come back at the end."""

from __future__ import annotations

from typing import Any

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.train import Callback, EarlyStopping
from chainrule.train.metrics import Metric


class _Weights(Callback):
    def __init__(self) -> None:
        self.by_epoch: dict[int, np.ndarray] = {}

    def on_epoch_end(self, state: Any, logs: dict[str, float]) -> None:
        self.by_epoch[state.epoch] = state.model.weight.data.copy()


def _fit(start_from_epoch: int = 0, patience: int = 1) -> tuple[nn.Linear, _Weights, EarlyStopping]:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 3)).astype(np.float32), rng.normal(size=(20, 1)).astype(np.float32)
    model = nn.Linear(3, 1)
    weights = _Weights()
    stopper = EarlyStopping(
        monitor="broken",
        patience=patience,
        restore_best_weights=True,
        start_from_epoch=start_from_epoch,
    )
    nan = Metric("broken", lambda t, p: float("nan"), "predictions", greater_is_better=False)
    cr.fit(
        model,
        "mse",
        cr.optim.SGD(model.parameters(), lr=0.1),
        x,
        y,
        epochs=6,
        metrics=[nan],
        callbacks=[weights, stopper],
        verbose=0,
    )
    return model, weights, stopper


def test_the_first_epoch_counted_is_restored_when_none_improves() -> None:
    model, weights, stopper = _fit()
    assert stopper.stopped_epoch == 2
    assert stopper.best_epoch == 1
    np.testing.assert_array_equal(model.weight.data, weights.by_epoch[1])
    assert not np.array_equal(weights.by_epoch[1], weights.by_epoch[2])


def test_after_a_warm_up_the_first_epoch_counted_is_restored() -> None:
    model, weights, stopper = _fit(start_from_epoch=2, patience=2)
    assert stopper.stopped_epoch == 4  # epochs 3 and 4 counted, neither improving
    np.testing.assert_array_equal(model.weight.data, weights.by_epoch[3])
