"""Acceptance, third pass: parity with scikit-learn's MLP where chainrule claims it.

scikit-learn's own estimators are the oracle: with 'sgd' and 'adam' in float64, and the same
``random_state``, chainrule's estimators must give the same weights, curves, counters,
predictions and warnings, step after step, whatever the combination of settings.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import datasets
from sklearn import neural_network as sk

from chainrule.sklearn import MLPClassifier, MLPRegressor


def _digits(n=120):
    X, y = datasets.load_digits(return_X_y=True)
    return X[:n] / 16, y[:n]


def _targets():
    X, y = _digits()
    Xr, yr = datasets.make_regression(
        n_samples=120, n_features=6, n_targets=2, noise=3.0, random_state=0
    )
    return {
        "multiclass": (X, y, MLPClassifier, sk.MLPClassifier),
        "binary": (X, y % 2, MLPClassifier, sk.MLPClassifier),
        "multilabel": (
            X,
            np.stack([y % 2, y > 4, y == 3], axis=1).astype(int),
            MLPClassifier,
            sk.MLPClassifier,
        ),
        "strings": (
            X,
            np.array(["a", "b", "c"], dtype=object)[y % 3],
            MLPClassifier,
            sk.MLPClassifier,
        ),
        "regression": (Xr, yr[:, 0] / yr.std(), MLPRegressor, sk.MLPRegressor),
        "multioutput": (Xr, yr / yr.std(), MLPRegressor, sk.MLPRegressor),
    }


def _recording_warnings(method, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        method(*args, **kwargs)
    return sorted({f"{w.category.__name__}: {w.message}" for w in caught})


def _assert_same_weights(ours, theirs, rtol=1e-8):
    for mine, reference in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        assert_allclose(mine, reference, rtol=rtol, atol=1e-10)


def _assert_same_state(ours, theirs):
    _assert_same_weights(ours, theirs)
    assert (ours.n_iter_, ours.t_) == (theirs.n_iter_, theirs.t_)
    assert_allclose(ours.loss_, theirs.loss_, rtol=1e-9)
    assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    for name in ("best_loss_", "validation_scores_", "best_validation_score_"):
        mine, reference = getattr(ours, name), getattr(theirs, name)
        assert (mine is None) == (reference is None), name
        if reference is not None:
            assert_allclose(mine, reference, rtol=1e-9, err_msg=name)


# Combinations that the parity suite does not hold: every target kind, batches of one and
# batches larger than the data, stopping rules that fire, all four activations, sample
# weights, nesterov and plain momentum under each schedule.
COMBINATIONS = [
    (
        "multiclass",
        {
            "solver": "sgd",
            "batch_size": 1,
            "momentum": 0.5,
            "activation": "tanh",
            "learning_rate": "invscaling",
            "learning_rate_init": 0.05,
            "power_t": 0.1,
        },
    ),
    (
        "binary",
        {
            "solver": "sgd",
            "batch_size": 500,
            "shuffle": False,
            "learning_rate": "adaptive",
            "tol": 0.3,
            "n_iter_no_change": 1,
            "learning_rate_init": 0.05,
        },
    ),
    (
        "multilabel",
        {
            "solver": "adam",
            "early_stopping": True,
            "validation_fraction": 0.25,
            "n_iter_no_change": 2,
            "tol": 0.01,
            "activation": "logistic",
            "batch_size": 7,
        },
    ),
    (
        "strings",
        {
            "solver": "sgd",
            "nesterovs_momentum": False,
            "momentum": 0.9,
            "early_stopping": True,
            "learning_rate": "adaptive",
            "tol": 0.01,
            "n_iter_no_change": 1,
            "alpha": 0.3,
        },
    ),
    (
        "regression",
        {
            "solver": "sgd",
            "activation": "identity",
            "batch_size": 7,
            "learning_rate_init": 0.001,
            "early_stopping": True,
            "validation_fraction": 0.1,
        },
    ),
    (
        "multioutput",
        {
            "solver": "adam",
            "activation": "relu",
            "batch_size": 500,
            "beta_1": 0.5,
            "beta_2": 0.9,
            "epsilon": 1e-3,
            "learning_rate_init": 0.05,
            "hidden_layer_sizes": (6, 5),
        },
    ),
    (
        "multioutput",
        {
            "solver": "sgd",
            "activation": "tanh",
            "momentum": 0.9,
            "learning_rate": "invscaling",
            "learning_rate_init": 0.05,
            "early_stopping": True,
            "n_iter_no_change": 2,
        },
    ),
    (
        "multiclass",
        {
            "solver": "adam",
            "hidden_layer_sizes": (),
            "tol": 0.5,
            "n_iter_no_change": 2,
            "max_iter": 15,
        },
    ),
]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(("kind", "settings"), COMBINATIONS, ids=[c[0] for c in COMBINATIONS])
def test_every_combination_takes_scikit_learns_steps_and_warns_alike(kind, settings, weighted):
    X, y, ours_class, theirs_class = _targets()[kind]
    weights = np.random.default_rng(1).uniform(0, 3, len(X)) if weighted else None
    params = {"hidden_layer_sizes": (8,), "max_iter": 6, "random_state": 7, **settings}
    ours, theirs = ours_class(**params), theirs_class(**params)
    assert _recording_warnings(ours.fit, X, y, weights) == _recording_warnings(
        theirs.fit, X, y, weights
    )
    _assert_same_state(ours, theirs)
    if ours_class is MLPClassifier:
        assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-7, atol=1e-10)
        assert_array_equal(ours.predict(X), theirs.predict(X))
    else:
        assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("kind", ["multiclass", "multilabel", "strings", "multioutput"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_gives_scikit_learns_losses_call_after_call(kind, solver):
    X, y, ours_class, theirs_class = _targets()[kind]
    weights = np.random.default_rng(2).uniform(0.5, 2, len(X))
    params = {"hidden_layer_sizes": (8,), "solver": solver, "random_state": 3, "batch_size": 16}
    ours, theirs = ours_class(**params), theirs_class(**params)
    extra = {}
    if kind == "multilabel":
        extra = {"classes": np.arange(y.shape[1])}
    elif kind != "multioutput":
        extra = {"classes": np.unique(y)}
    for start, stop in [(0, 40), (30, 31), (50, 120), (10, 15)]:
        batch = (X[start:stop], y[start:stop], weights[start:stop])
        # A one-sample call warns that batch_size is clipped, in both libraries.
        assert _recording_warnings(ours.partial_fit, *batch, **extra) == _recording_warnings(
            theirs.partial_fit, *batch, **extra
        )
        assert_allclose(ours.loss_, theirs.loss_, rtol=1e-9)
        _assert_same_weights(ours, theirs)
    _assert_same_state(ours, theirs)
    if extra:
        assert_array_equal(ours.classes_, theirs.classes_)


# scikit-learn's optimizer objects keep the solver, schedule, learning_rate_init, power_t,
# beta_2 and epsilon they were made with: partial_fit after set_params goes on with them.
CHANGES = [
    ({"solver": "adam"}, {"solver": "sgd"}),
    ({"solver": "sgd", "learning_rate_init": 0.05}, {"learning_rate": "invscaling"}),
    ({"solver": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.5}, {"power_t": 0.1}),
    (
        {"solver": "sgd", "learning_rate_init": 0.2},
        {"learning_rate_init": 0.9, "learning_rate": "invscaling"},
    ),
    ({"solver": "adam"}, {"epsilon": 1e-2}),
    ({"solver": "adam"}, {"beta_2": 0.5}),
    (
        {"solver": "sgd", "learning_rate": "adaptive", "tol": 10.0, "n_iter_no_change": 1},
        {"learning_rate": "constant"},
    ),
]


@pytest.mark.parametrize(("first", "change"), CHANGES, ids=[repr(c[1]) for c in CHANGES])
def test_partial_fit_after_set_params_goes_on_as_scikit_learns_does(first, change):
    X, y = _digits()
    params = {"hidden_layer_sizes": (8,), "random_state": 0, "learning_rate_init": 0.05}
    params |= first
    ours, theirs = MLPClassifier(**params), sk.MLPClassifier(**params)
    for estimator in (ours, theirs):
        estimator.partial_fit(X[:40], y[:40], classes=np.arange(10))
        estimator.partial_fit(X[40:80], y[40:80])
        estimator.set_params(**change)
    for start in (80, 0, 40):
        for estimator in (ours, theirs):
            estimator.partial_fit(X[start : start + 40], y[start : start + 40])
        _assert_same_weights(ours, theirs)
    _assert_same_state(ours, theirs)


def test_fit_after_set_params_takes_the_new_settings_as_scikit_learns_does():
    # A new fit (warm or not) makes a new optimizer from the current settings.
    X, y = _digits()
    params = {"hidden_layer_sizes": (8,), "random_state": 0, "max_iter": 3, "warm_start": True}
    ours, theirs = MLPClassifier(**params), sk.MLPClassifier(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for estimator in (ours, theirs):
            estimator.fit(X, y)
            estimator.set_params(solver="sgd", learning_rate="invscaling", learning_rate_init=0.3)
            estimator.fit(X, y)
            estimator.partial_fit(X[:50], y[:50])
    _assert_same_state(ours, theirs)
