"""R² of fewer than two samples is NaN, as scikit-learn's r2_score returns (undefined:
their total sum of squares is 0 whatever they are), in the metrics module, in fit's logs
and in the CLI's tables alike."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train.metrics import r2_score

sklearn_metrics = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [([1.0], [1.0]), ([2.0], [5.0]), ([[1.0, 2.0]], [[1.0, 3.0]])],
)
def test_one_sample_scores_nan_as_scikit_learn(y_true: list, y_pred: list) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's UndefinedMetricWarning
        expected = sklearn_metrics.r2_score(y_true, y_pred)
    assert math.isnan(expected)
    assert math.isnan(r2_score(y_true, y_pred))


def test_two_samples_score_as_scikit_learn() -> None:
    assert r2_score([1.0, 3.0], [1.5, 2.0]) == pytest.approx(
        sklearn_metrics.r2_score([1.0, 3.0], [1.5, 2.0])
    )


def test_a_validation_set_of_one_row_logs_nan_r2() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=8).astype(np.float32)
    history = cr.fit(
        nn.Linear(3, 1),
        "mse",
        "sgd",
        x,
        y,
        epochs=1,
        metrics=["r2"],
        validation_data=(x[:1], y[:1]),
        verbose=0,
    )
    assert math.isnan(history["val_r2"][0])
    assert not math.isnan(history["r2"][0])
