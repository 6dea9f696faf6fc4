"""Parity with scikit-learn's MLP, which is the oracle here as PyTorch is for the ops.

With 'sgd' and 'adam' in float64, chainrule's estimators take scikit-learn's steps: given
the same ``random_state`` they draw the same initial weights, split, shuffle and batch the
same way, and after every epoch hold the same weights to rounding error, whatever the
schedule, momentum, early stopping, sample weights or target. 'lbfgs' runs scipy's L-BFGS-B
on chainrule's loss and gradient, as scikit-learn runs it on its own: the same weights
again, except where scikit-learn's loss and gradient disagree (several regression outputs).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import datasets
from sklearn import neural_network as sk
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from chainrule.sklearn import MLPClassifier, MLPRegressor

# Both libraries warn alike on these (test_mlp_behaviour.py checks the warnings themselves).
pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:Got `batch_size`:UserWarning"),
]


def _digits(n=300):
    X, y = datasets.load_digits(return_X_y=True)
    return X[:n] / 16, y[:n]


def _regression(n_targets=1):
    X, y = datasets.make_regression(
        n_samples=200, n_features=8, n_targets=n_targets, noise=5.0, random_state=0
    )
    return X, y / y.std()


def assert_same_fit(ours, theirs):
    """Same weights, curves, counters and predictions as scikit-learn's fit."""
    for mine, reference in zip(ours.coefs_, theirs.coefs_, strict=True):
        assert_allclose(mine, reference, rtol=1e-8, atol=1e-10)
    for mine, reference in zip(ours.intercepts_, theirs.intercepts_, strict=True):
        assert_allclose(mine, reference, rtol=1e-8, atol=1e-10)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    assert ours.n_layers_ == theirs.n_layers_
    assert ours.n_outputs_ == theirs.n_outputs_
    assert ours.out_activation_ == theirs.out_activation_
    assert_allclose(ours.loss_, theirs.loss_, rtol=1e-9)
    curves = ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_")
    for name in curves:
        assert hasattr(ours, name) == hasattr(theirs, name), name
    if not hasattr(theirs, "loss_curve_"):
        return  # 'lbfgs' keeps no curves
    assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    if theirs.best_loss_ is None:
        assert ours.best_loss_ is None
    else:
        assert_allclose(ours.best_loss_, theirs.best_loss_, rtol=1e-9)
    if theirs.validation_scores_ is None:
        assert ours.validation_scores_ is None
    else:
        assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
        assert_allclose(ours.best_validation_score_, theirs.best_validation_score_)


CLASSIFIER_SETTINGS = [
    {"solver": "adam"},
    {"solver": "adam", "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-4, "alpha": 0.1},
    {"solver": "sgd", "learning_rate_init": 0.1},
    {"solver": "sgd", "learning_rate_init": 0.1, "nesterovs_momentum": False},
    {"solver": "sgd", "learning_rate_init": 0.1, "momentum": 0.0},
    {"solver": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.5},
    {"solver": "sgd", "learning_rate": "adaptive", "tol": 0.05, "n_iter_no_change": 1},
    {"solver": "adam", "early_stopping": True, "validation_fraction": 0.2},
    {"solver": "sgd", "early_stopping": True, "learning_rate": "adaptive", "tol": 0.01},
    {"solver": "adam", "batch_size": 32, "shuffle": False},
    {"solver": "adam", "batch_size": 1000},
    {"solver": "adam", "activation": "tanh", "hidden_layer_sizes": (20, 10)},
    {"solver": "adam", "activation": "logistic", "hidden_layer_sizes": ()},
    {"solver": "adam", "activation": "identity", "tol": 1.0, "n_iter_no_change": 2},
    {"solver": "lbfgs"},
    {"solver": "lbfgs", "activation": "tanh", "alpha": 1.0, "hidden_layer_sizes": (20, 10)},
    {"solver": "lbfgs", "max_fun": 8},
    {"solver": "lbfgs", "activation": "logistic", "tol": 1e-2, "max_iter": 200},
]


@pytest.mark.parametrize("settings", CLASSIFIER_SETTINGS, ids=repr)
def test_classifier_takes_scikit_learns_steps(settings):
    X, y = _digits()
    params = {"hidden_layer_sizes": (30,), "max_iter": 12, "random_state": 0, **settings}
    ours = MLPClassifier(**params).fit(X, y)
    theirs = sk.MLPClassifier(**params).fit(X, y)
    assert_same_fit(ours, theirs)
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-7, atol=1e-10)
    assert_array_equal(ours.predict(X), theirs.predict(X))


def test_adaptive_learning_rate_stops_where_scikit_learns_does():
    # scikit-learn's test_adaptive_learning_rate, compared step for step: the rate is
    # divided by 5 each time the loss stalls, until it is below 1e-6.
    X, y = [[3, 2], [1, 6]], [1, 0]
    params = {"tol": 0.5, "max_iter": 3000, "solver": "sgd", "learning_rate": "adaptive"}
    ours = MLPClassifier(random_state=0, **params).fit(X, y)
    theirs = sk.MLPClassifier(random_state=0, **params).fit(X, y)
    assert ours.n_iter_ < 3000
    assert_same_fit(ours, theirs)
    assert ours._optimizer.param_groups[0]["lr"] == pytest.approx(theirs._optimizer.learning_rate)
    assert ours._optimizer.param_groups[0]["lr"] < 1e-6


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["cat", "dog", "emu"], dtype=object),
        np.array([-1, 1, 7]),
        np.array([0.0, 1.0, 5.0]),
    ],
    ids=["strings", "ints", "floats"],
)
def test_labels_of_any_kind_give_scikit_learns_fit(labels):
    X, y = _digits()
    y = labels[y % 3]
    params = {"hidden_layer_sizes": (20,), "max_iter": 5, "random_state": 1}
    ours, theirs = MLPClassifier(**params).fit(X, y), sk.MLPClassifier(**params).fit(X, y)
    assert_same_fit(ours, theirs)
    assert_array_equal(ours.classes_, theirs.classes_)
    assert_array_equal(ours.predict(X), theirs.predict(X))


def test_binary_and_multilabel_targets_give_scikit_learns_fit():
    X, y = _digits()
    params = {"hidden_layer_sizes": (20,), "max_iter": 5, "random_state": 2}
    for target in (y % 2, np.stack([y % 2, y > 4, y == 3], axis=1).astype(int)):
        ours, theirs = MLPClassifier(**params).fit(X, target), sk.MLPClassifier(**params)
        theirs.fit(X, target)
        assert_same_fit(ours, theirs)
        assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-7)
        assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("early_stopping", [False, True])
def test_sample_weight_gives_scikit_learns_fit(early_stopping):
    X, y = _digits()
    weights = np.random.default_rng(0).uniform(0, 3, len(y))
    params = {
        "hidden_layer_sizes": (20,),
        "max_iter": 6,
        "random_state": 3,
        "early_stopping": early_stopping,
        "batch_size": 64,
    }
    ours = MLPClassifier(**params).fit(X, y, sample_weight=weights)
    theirs = sk.MLPClassifier(**params).fit(X, y, sample_weight=weights)
    assert_same_fit(ours, theirs)


REGRESSOR_SETTINGS = [
    {"solver": "adam", "learning_rate_init": 0.01},
    {"solver": "sgd", "learning_rate_init": 0.01},
    {"solver": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.05},
    {"solver": "adam", "early_stopping": True, "learning_rate_init": 0.01},
    {"solver": "adam", "activation": "logistic", "batch_size": 16},
]


@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("settings", REGRESSOR_SETTINGS, ids=repr)
def test_regressor_takes_scikit_learns_steps(settings, n_targets):
    X, y = _regression(n_targets)
    params = {"hidden_layer_sizes": (16,), "max_iter": 10, "random_state": 0, **settings}
    ours = MLPRegressor(**params).fit(X, y)
    theirs = sk.MLPRegressor(**params).fit(X, y)
    assert_same_fit(ours, theirs)
    assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("settings", [{}, {"activation": "tanh", "alpha": 0.5}], ids=repr)
def test_lbfgs_regressor_takes_scikit_learns_steps(settings):
    # 30 iterations: rounding differences between the two grow about tenfold every ten
    # iterations, past the 1e-8 compared here after about 60 (both converge alike).
    X, y = _regression()
    params = {"hidden_layer_sizes": (16,), "solver": "lbfgs", "max_iter": 30, "random_state": 0}
    params |= settings
    ours = MLPRegressor(**params).fit(X, y)
    theirs = sk.MLPRegressor(**params).fit(X, y)
    assert_same_fit(ours, theirs)
    assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-7, atol=1e-10)


def test_lbfgs_multi_output_regression_ends_at_least_as_low_as_scikit_learns():
    """With several outputs, scikit-learn hands scipy the squared error averaged over the
    outputs together with the gradient of their sum, so its line search works on a pair
    that disagree and it stops early; chainrule hands over a matching pair."""
    X, y = _regression(n_targets=3)
    ours, theirs = [], []
    for seed in range(4):
        params = {"hidden_layer_sizes": (16,), "solver": "lbfgs", "random_state": seed}
        params |= {"activation": "tanh", "alpha": 0.5, "max_iter": 200}
        ours.append(MLPRegressor(**params).fit(X, y))
        theirs.append(sk.MLPRegressor(**params).fit(X, y))
    assert np.mean([m.loss_ for m in ours]) <= np.mean([m.loss_ for m in theirs])
    assert np.mean([m.score(X, y) for m in ours]) >= np.mean([m.score(X, y) for m in theirs])


def test_poisson_loss_gives_scikit_learns_fit():
    X, _ = _regression()
    y = np.random.default_rng(0).poisson(np.exp(0.3 * X[:, 0]))
    weights = np.random.default_rng(1).uniform(0.5, 2, len(y))
    params = {"hidden_layer_sizes": (16,), "max_iter": 10, "random_state": 0}
    ours = MLPRegressor("poisson", **params).fit(X, y, sample_weight=weights)
    theirs = sk.MLPRegressor(loss="poisson", **params).fit(X, y, sample_weight=weights)
    assert_same_fit(ours, theirs)


def test_partial_fit_and_warm_start_continue_as_scikit_learn_does():
    X, y = _digits()
    params = {"hidden_layer_sizes": (20,), "random_state": 4, "solver": "sgd"}
    ours, theirs = MLPClassifier(**params), sk.MLPClassifier(**params)
    for start in (0, 100, 200, 0):
        batch = slice(start, start + 100)
        ours.partial_fit(X[batch], y[batch], classes=np.arange(10))
        theirs.partial_fit(X[batch], y[batch], classes=np.arange(10))
    assert_same_fit(ours, theirs)

    params = {"hidden_layer_sizes": (20,), "random_state": 5, "warm_start": True}
    ours = MLPRegressor(max_iter=3, **params)
    theirs = sk.MLPRegressor(max_iter=3, **params)
    X, y = _regression()
    for max_iter in (3, 5):
        ours.set_params(max_iter=max_iter).fit(X, y)
        theirs.set_params(max_iter=max_iter).fit(X, y)
    assert_same_fit(ours, theirs)


def test_float32_input_trains_in_float32_close_to_scikit_learn():
    X, y = _digits()
    X = X.astype(np.float32)
    params = {"hidden_layer_sizes": (30,), "max_iter": 5, "random_state": 0}
    ours, theirs = MLPClassifier(**params).fit(X, y), sk.MLPClassifier(**params).fit(X, y)
    assert all(c.dtype == np.float32 for c in ours.coefs_ + ours.intercepts_)
    assert ours.predict_proba(X).dtype == np.float32
    for mine, reference in zip(ours.coefs_, theirs.coefs_, strict=True):
        assert_allclose(mine, reference, rtol=1e-3, atol=1e-4)


def test_initial_weights_are_scikit_learns():
    X, y = _digits()
    for activation in ("relu", "logistic"):
        params = {"hidden_layer_sizes": (7, 5), "activation": activation, "random_state": 9}
        ours = MLPClassifier(max_iter=1, learning_rate_init=1e-12, **params).fit(X, y)
        theirs = sk.MLPClassifier(max_iter=1, learning_rate_init=1e-12, **params).fit(X, y)
        assert_same_fit(ours, theirs)


# ---------------------------------------------------------------------- quality of L-BFGS
# Seeds per dataset: enough that the mean's noise is well under the 0.01 allowed (the
# smallest sets swing most: one iris test sample is 0.033 of a fold's score).
LBFGS_DATASETS = {"iris": 20, "wine": 20, "breast_cancer": 10, "digits": 4, "diabetes": 10}


def _cv_score(estimator, name, seed):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    if name == "diabetes":
        y = (y - y.mean()) / y.std()
        folds = KFold(5, shuffle=True, random_state=seed)
    else:
        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    model = make_pipeline(StandardScaler(), estimator)
    return cross_val_score(model, X, y, cv=folds).mean()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(LBFGS_DATASETS))
def test_lbfgs_scores_at_least_as_well_as_scikit_learns(name):
    """Mean 5-fold score over several seeds (of the weights and the folds), same settings:
    no worse than scikit-learn's beyond the noise of these small datasets (0.01)."""
    if name == "diabetes":
        ours_class, theirs_class = MLPRegressor, sk.MLPRegressor
        params = {"hidden_layer_sizes": (16,), "alpha": 10.0}
    else:
        ours_class, theirs_class = MLPClassifier, sk.MLPClassifier
        params = {"hidden_layer_sizes": (50,)}
    ours, theirs = [], []
    for seed in range(LBFGS_DATASETS[name]):
        ours.append(_cv_score(ours_class(solver="lbfgs", random_state=seed, **params), name, seed))
        theirs.append(
            _cv_score(theirs_class(solver="lbfgs", random_state=seed, **params), name, seed)
        )
    assert np.mean(ours) >= np.mean(theirs) - 0.01


@pytest.mark.parametrize("name", ["iris", "breast_cancer"])
def test_lbfgs_fits_as_well_as_scikit_learns(name):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier((20,), solver="lbfgs", random_state=0).fit(X, y)
        theirs = sk.MLPClassifier((20,), solver="lbfgs", random_state=0).fit(X, y)
    assert ours.score(X, y) >= theirs.score(X, y) - 0.005
    assert ours.loss_ <= theirs.loss_ * 1.5
