"""Metrics agree with scikit-learn's on the same labels and scores."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from chainrule.train import metrics


@pytest.fixture
def labels() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, 4, 200))
    proba = rng.dirichlet(np.ones(4), 200)
    return y_true, y_pred, proba


def test_classification_metrics_match_scikit_learn(labels: tuple[np.ndarray, ...]) -> None:
    y_true, y_pred, proba = labels
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(sk.accuracy_score(y_true, y_pred))
    for average in ("macro", "weighted"):
        assert metrics.precision(y_true, y_pred, average) == pytest.approx(
            sk.precision_score(y_true, y_pred, average=average)
        )
        assert metrics.recall(y_true, y_pred, average) == pytest.approx(
            sk.recall_score(y_true, y_pred, average=average)
        )
        assert metrics.f1_score(y_true, y_pred, average) == pytest.approx(
            sk.f1_score(y_true, y_pred, average=average)
        )
    assert np.array_equal(
        metrics.confusion_matrix(y_true, y_pred), sk.confusion_matrix(y_true, y_pred)
    )
    assert metrics.log_loss(y_true, proba) == pytest.approx(sk.log_loss(y_true, proba))
    assert metrics.top_k_accuracy(y_true, proba, k=2) == pytest.approx(
        sk.top_k_accuracy_score(y_true, proba, k=2)
    )


def test_regression_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=100)
    p = y + rng.normal(scale=0.5, size=100)
    assert metrics.mean_squared_error(y, p) == pytest.approx(sk.mean_squared_error(y, p))
    assert metrics.root_mean_squared_error(y, p) == pytest.approx(
        np.sqrt(sk.mean_squared_error(y, p))
    )
    assert metrics.mean_absolute_error(y, p) == pytest.approx(sk.mean_absolute_error(y, p))
    assert metrics.r2_score(y, p) == pytest.approx(sk.r2_score(y, p))


def test_unknown_metric_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown metric 'acurracy'; expected one of"):
        metrics.get_metric("acurracy")
    assert metrics.get_metric("acc").name == "acc"  # Keras's short name is known


def test_regression_metrics_stay_finite_for_targets_near_1e200() -> None:
    """Squares of such differences overflow float64; the metrics scale them first, and
    give what the same data in units 1e190 times larger give, scaled back."""
    rng = np.random.default_rng(1)
    y_true = rng.standard_normal(50)
    y_pred = y_true + 0.1 * rng.standard_normal(50)
    big = 1e190
    with np.errstate(all="raise"):  # no overflow on the way
        rmse = metrics.root_mean_squared_error(y_true * big, y_pred * big)
        r2 = metrics.r2_score(y_true * big, y_pred * big)
    assert rmse == pytest.approx(metrics.root_mean_squared_error(y_true, y_pred) * big)
    assert r2 == pytest.approx(sk.r2_score(y_true, y_pred))
    # Ordinary values take the plain formula, as scikit-learn computes it.
    assert metrics.root_mean_squared_error(y_true, y_pred) == pytest.approx(
        sk.root_mean_squared_error(y_true, y_pred), rel=1e-12
    )
