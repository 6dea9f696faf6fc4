# ruff: noqa: N803 - X is scikit-learn's name for the data matrix
"""Acceptance, round 4: scikit-learn's MLP examples and user guide, with chainrule's
estimators swapped in, compared with scikit-learn's MLP on the same data and settings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.datasets import (
    load_breast_cancer,
    load_iris,
    load_wine,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler

from chainrule.sklearn import MLPClassifier


def _fit_recording_warnings(estimator, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, y)
    return estimator, sorted(w.category.__name__ for w in caught)


def _unscaled(kind):
    """Data as a user passes it without scaling: large features saturate the outputs."""
    if kind == "binary":
        return load_breast_cancer(return_X_y=True)
    if kind == "multiclass":
        return load_wine(return_X_y=True)
    X, Y = make_multilabel_classification(n_samples=100, n_features=6, n_classes=3, random_state=0)
    return X * 50.0, Y


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_saturated_outputs_train_on_scikit_learns_clipped_log_loss(kind, solver):
    # scikit-learn clips probabilities to [eps, 1 - eps] in its log-loss, so that on
    # unscaled data the loss flattens at -log(eps): its loss_curve_, the tol stopping rule
    # (n_iter_, ConvergenceWarning) and the values L-BFGS sees all follow the clipped loss.
    X, y = _unscaled(kind)
    settings = dict(hidden_layer_sizes=(5,), max_iter=30, random_state=0, solver=solver)
    ours, our_warnings = _fit_recording_warnings(MLPClassifier(**settings), X, y)
    theirs, their_warnings = _fit_recording_warnings(neural_network.MLPClassifier(**settings), X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert our_warnings == their_warnings
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-7)
    if solver != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-7)
    for our_coef, their_coef in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(our_coef, their_coef, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_saturated_float32_outputs_clip_at_float32_eps_as_scikit_learn_does():
    # In float32, eps is 1.2e-7: the clip bites from logits of about 16, not 36.
    X, y = load_wine(return_X_y=True)
    X = X.astype(np.float32)
    settings = dict(hidden_layer_sizes=(5,), max_iter=20, random_state=0)
    with pytest.warns(ConvergenceWarning):
        ours = MLPClassifier(**settings).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        theirs = neural_network.MLPClassifier(**settings).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-5)


# The settings of scikit-learn's example "Compare Stochastic learning strategies for
# MLPClassifier" (plot_mlp_training_curves).
TRAINING_CURVE_PARAMS = [
    {"solver": "sgd", "learning_rate": "constant", "momentum": 0, "learning_rate_init": 0.2},
    {
        "solver": "sgd",
        "learning_rate": "constant",
        "momentum": 0.9,
        "nesterovs_momentum": False,
        "learning_rate_init": 0.2,
    },
    {
        "solver": "sgd",
        "learning_rate": "constant",
        "momentum": 0.9,
        "nesterovs_momentum": True,
        "learning_rate_init": 0.2,
    },
    {"solver": "sgd", "learning_rate": "invscaling", "momentum": 0, "learning_rate_init": 0.2},
    {
        "solver": "sgd",
        "learning_rate": "invscaling",
        "momentum": 0.9,
        "nesterovs_momentum": True,
        "learning_rate_init": 0.2,
    },
    {
        "solver": "sgd",
        "learning_rate": "adaptive",
        "momentum": 0.9,
        "nesterovs_momentum": True,
        "learning_rate_init": 0.2,
    },
    {"solver": "adam", "learning_rate_init": 0.01},
]


@pytest.mark.parametrize("params", TRAINING_CURVE_PARAMS)
def test_training_curves_example_gives_scikit_learns_loss_curves(params):
    X, y = load_iris(return_X_y=True)
    X = MinMaxScaler().fit_transform(X)
    settings = dict(random_state=0, max_iter=15, **params)
    ours, our_warnings = _fit_recording_warnings(MLPClassifier(**settings), X, y)
    theirs, their_warnings = _fit_recording_warnings(neural_network.MLPClassifier(**settings), X, y)
    assert our_warnings == their_warnings
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-7)
