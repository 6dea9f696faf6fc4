"""mode='auto' reads the direction of a plain function's metric from its name, as Keras
does: scikit-learn's *_score functions, kappa and correlation coefficients rise (a
functools.partial is named after the function it binds), so EarlyStopping, ModelCheckpoint
and ReduceLROnPlateau wait while they rise instead of stopping."""

from __future__ import annotations

import functools
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
        "fbeta_score",
        "cohen_kappa_score",
        "matthews_corrcoef",
        "balanced_accuracy_score",
        "jaccard_score",
        "val_explained_variance_score",
    ],
)
def test_scores_kappa_and_correlations_are_maximized(name: str) -> None:
    assert EarlyStopping(monitor=name).mode == "max"
    assert ReduceLROnPlateau(monitor=name).mode == "max"


@pytest.mark.parametrize("name", ["brier_score_loss", "val_loss", "mean_squared_error"])
def test_losses_and_errors_still_fall(name: str) -> None:
    assert EarlyStopping(monitor=name).mode == "min"


def test_a_checkpoint_keeps_the_highest_correlation(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(tmp_path / "m.ckpt", monitor="matthews_corrcoef")
    assert checkpoint.mode == "max"


def test_early_stopping_trains_on_while_a_partial_score_rises() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 3)).astype(np.float32), rng.integers(0, 2, 20)
    calls: list[int] = []

    def cohen_kappa_score(y_true: np.ndarray, y_pred: np.ndarray, weights: object) -> float:
        calls.append(1)
        return float(len(calls))  # higher at every call: an improving score

    metric = functools.partial(cohen_kappa_score, weights=None)
    history = cr.fit(
        nn.Linear(3, 2),
        "cross_entropy",
        "sgd",
        x,
        y,
        epochs=4,
        metrics=[metric],
        callbacks=[EarlyStopping(monitor="val_cohen_kappa_score", patience=0)],
        validation_split=0.25,
        seed=0,
        verbose=0,
    )
    assert len(history["val_cohen_kappa_score"]) == 4  # it rose every epoch
