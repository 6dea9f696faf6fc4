"""EarlyStopping never stops at the first epoch it counts, as Keras 2 and 3 check
``self.wait >= self.patience and epoch > 0`` before they stop: a baseline not beaten by the
first epoch does not end training after it. After a warm-up (start_from_epoch), Keras's
``epoch > 0`` already holds, and the first epoch counted may stop it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import Callback, EarlyStopping


def _keras_epochs(values: list[float], patience: int, baseline: float | None) -> int:
    """Epochs Keras's EarlyStopping (mode 'max', min_delta 0) lets run over ``values``, as
    this callback documents it: an improvement that beats the baseline resets the wait and
    ends the check (Keras 3), one that does not still waits (Keras 2 and Keras's
    documentation), and the first epoch never stops (both: ``epoch > 0``)."""
    best, wait = -math.inf, 0
    for epoch, value in enumerate(values):
        wait += 1
        if value > best:
            best = value
            if baseline is None or value > baseline:
                wait = 0
                continue
        if wait >= patience and epoch > 0:
            return epoch + 1
    return len(values)


def _run(values: list[float], **options: Any) -> tuple[list[int], EarlyStopping]:
    class Logs(Callback):
        def on_epoch_end(self, state: Any, logs: dict[str, float]) -> None:
            logs["my_accuracy"] = values[state.epoch - 1]

    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3)).astype(np.float32)
    y = rng.normal(size=12).astype(np.float32)
    stopper = EarlyStopping(monitor="my_accuracy", mode="max", **options)
    history = cr.fit(
        nn.Linear(3, 1),
        "mse",
        "sgd",
        x,
        y,
        epochs=len(values),
        callbacks=[Logs(), stopper],
        verbose=0,
    )
    return history.epoch, stopper


RISING = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]


@pytest.mark.parametrize("patience", [0, 1, 2])
@pytest.mark.parametrize("baseline", [0.85, 0.99, None])
def test_epochs_run_are_kerass(patience: int, baseline: float | None) -> None:
    epochs, _ = _run(RISING, patience=patience, baseline=baseline)
    assert len(epochs) == _keras_epochs(RISING, patience, baseline)


def test_a_baseline_not_beaten_at_the_first_epoch_does_not_stop_there() -> None:
    epochs, stopper = _run(RISING, patience=1, baseline=0.85)
    assert epochs == [1, 2]
    assert stopper.stopped_epoch == 2


def test_a_nan_first_epoch_does_not_stop_training() -> None:
    epochs, _ = _run([math.nan, 0.5, 0.6, 0.7], patience=0)
    assert epochs == [1, 2, 3, 4]


def test_after_a_warm_up_the_first_epoch_counted_may_stop_as_in_keras() -> None:
    # Keras: epochs 0 and 1 (0-based) are the warm-up; epoch 2 counts, waits 1 >= patience 0
    # with epoch > 0, and stops: three epochs run.
    epochs, stopper = _run(RISING, patience=0, baseline=0.99, start_from_epoch=2)
    assert epochs == [1, 2, 3]
    assert stopper.stopped_epoch == 3
