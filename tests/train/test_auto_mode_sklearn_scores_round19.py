"""mode='auto' maximizes scikit-learn's scores named after the error or loss they are
computed from (``d2_absolute_error_score``, ``d2_log_loss_score``): a name ending in
``_score`` rises, as every scikit-learn ``*_score`` function does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau

sklearn_metrics = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize(
    "name",
    [
        "d2_absolute_error_score",
        "val_d2_absolute_error_score",
        "d2_log_loss_score",
        "val_d2_pinball_score",
        "d2_tweedie_score",
    ],
)
def test_scores_named_after_errors_and_losses_are_maximized(name: str, tmp_path: Path) -> None:
    assert EarlyStopping(monitor=name).mode == "max"
    assert ReduceLROnPlateau(monitor=name).mode == "max"
    assert ModelCheckpoint(tmp_path / "m.ckpt", monitor=name, save_best_only=True).mode == "max"


@pytest.mark.parametrize(
    "name", ["brier_score_loss", "val_loss", "mean_absolute_error", "val_log_loss"]
)
def test_losses_and_errors_still_fall(name: str) -> None:
    assert EarlyStopping(monitor=name).mode == "min"


def test_early_stopping_trains_on_while_d2_absolute_error_score_rises() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    y = x @ np.array([1.0, 2.0, 3.0], np.float32)
    stopper = EarlyStopping(monitor="val_d2_absolute_error_score", patience=2)
    history = cr.fit(
        nn.Linear(3, 1, generator=0),
        "mse",
        "adam",
        x,
        y,
        epochs=8,
        validation_split=0.2,
        seed=0,
        metrics=[sklearn_metrics.d2_absolute_error_score],
        callbacks=[stopper],
        verbose=0,
    )
    scores = history["val_d2_absolute_error_score"]
    assert np.all(np.diff(scores) > 0)  # Adam improves the fit every epoch
    assert len(scores) == 8 and history.stop_reason is None
