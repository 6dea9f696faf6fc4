"""Acceptance, eighth pass: the parameter space a scikit-learn user sweeps, side by side with
scikit-learn's MLP on the same data and ``random_state``.

Where chainrule claims scikit-learn's results ('sgd' and 'adam' in float64) the weights,
curves, counters and warnings must agree to rounding error; elsewhere the same attributes,
warnings and errors. Parameters also arrive as NumPy scalars (from ``np.logspace``, an
array of candidates, a float32 grid), which scikit-learn takes as it takes Python numbers.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn import datasets
from sklearn import neural_network as sk
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from chainrule.sklearn import MLPClassifier, MLPRegressor


def _iris():
    X, y = datasets.load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _diabetes():
    X, y = datasets.load_diabetes(return_X_y=True)
    return X, (y - y.mean()) / y.std()


def _fit_both(ours, theirs, x, y):
    """Fit each estimator; return the warnings each gave, as 'Category: message'."""
    given = []
    for estimator in (ours, theirs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator.fit(x, y)
        given.append(sorted(f"{w.category.__name__}: {w.message}" for w in caught))
    return given


def _assert_same_fit(ours, theirs, rtol=1e-8):
    for mine, reference in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        assert mine.shape == reference.shape and mine.dtype == reference.dtype
        assert_allclose(mine, reference, rtol=rtol, atol=1e-10)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    if hasattr(theirs, "loss_curve_"):
        assert ours.t_ == theirs.t_
        assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)


SWEEP = [
    {"solver": "sgd", "learning_rate": rate, "momentum": momentum, "nesterovs_momentum": nesterov}
    for rate in ("constant", "invscaling", "adaptive")
    for momentum, nesterov in ((0.0, True), (0.9, True), (0.9, False))
] + [
    {"solver": "sgd", "learning_rate": "invscaling", "power_t": 0.25, "learning_rate_init": 0.2},
    {"solver": "sgd", "learning_rate": "adaptive", "tol": 0.05, "n_iter_no_change": 1},
    {"solver": "adam", "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-4},
    {"solver": "adam", "beta_1": 0.0, "beta_2": 0.0},
    {"activation": "identity", "hidden_layer_sizes": [6, 4]},
    {"activation": "logistic", "hidden_layer_sizes": 5},
    {"activation": "tanh", "hidden_layer_sizes": (3, 3, 3)},
    {"hidden_layer_sizes": ()},
    {"batch_size": 1, "max_iter": 3},
    {"batch_size": 149, "shuffle": False},
    {"alpha": 2.0, "solver": "sgd"},
    {"early_stopping": True, "validation_fraction": 0.3, "n_iter_no_change": 2},
]


@pytest.mark.parametrize("params", SWEEP, ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
def test_each_setting_takes_scikit_learns_steps(params):
    X, y = _iris()
    settings = {"hidden_layer_sizes": (8,), "max_iter": 25, "random_state": 0, **params}
    settings.setdefault("learning_rate_init", 0.05 if settings.get("solver") == "sgd" else 0.01)
    ours, theirs = MLPClassifier(**settings), sk.MLPClassifier(**settings)
    our_warnings, their_warnings = _fit_both(ours, theirs, X, y)
    assert our_warnings == their_warnings
    _assert_same_fit(ours, theirs)
    assert ours.n_layers_ == theirs.n_layers_ and ours.out_activation_ == theirs.out_activation_
    if theirs.early_stopping:
        assert ours.best_loss_ is None and theirs.best_loss_ is None
        assert ours.best_validation_score_ == theirs.best_validation_score_
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)
        assert ours.best_validation_score_ is None
    assert ours.validation_scores_ == theirs.validation_scores_


def test_a_batch_larger_than_the_data_is_clipped_with_scikit_learns_warning():
    X, y = _diabetes()
    settings = {"hidden_layer_sizes": (6,), "batch_size": 1000, "max_iter": 4, "random_state": 1}
    ours, theirs = MLPRegressor(**settings), sk.MLPRegressor(**settings)
    our_warnings, their_warnings = _fit_both(ours, theirs, X, y)
    assert our_warnings == their_warnings
    assert any("It is going to be clipped" in w for w in our_warnings)
    _assert_same_fit(ours, theirs)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_alpha_as_a_float32_scalar_fits_as_scikit_learn_does(solver):
    # A float32 alpha once made the loss a float32 number: loss_ and loss_curve_ lost their
    # float64 digits, and L-BFGS, whose line search reads the loss, ended elsewhere.
    X, y = _iris()
    settings = {"hidden_layer_sizes": (8,), "max_iter": 50, "random_state": 0, "solver": solver}
    ours = MLPClassifier(alpha=np.float32(0.01), **settings)
    theirs = sk.MLPClassifier(alpha=np.float32(0.01), **settings)
    _fit_both(ours, theirs, X, y)
    assert isinstance(ours.loss_, float) and not isinstance(ours.loss_, np.float32)
    # L-BFGS's rounding error grows over its iterations (see the classifier's Notes).
    _assert_same_fit(ours, theirs, rtol=1e-8 if solver != "lbfgs" else 1e-5)


def test_validation_fraction_as_a_numpy_scalar_is_taken_as_scikit_learn_takes_it():
    X, y = _iris()
    settings = {
        "hidden_layer_sizes": (8,),
        "max_iter": 20,
        "random_state": 0,
        "early_stopping": True,
        "validation_fraction": np.float32(0.2),
    }
    ours, theirs = MLPClassifier(**settings), sk.MLPClassifier(**settings)
    _fit_both(ours, theirs, X, y)
    _assert_same_fit(ours, theirs)
    assert ours.validation_scores_ == theirs.validation_scores_
    assert ours.best_loss_ is None

    # 0 passes the parameter check ([0, 1)) and fails in the split, as in scikit-learn.
    for estimator in (MLPClassifier, sk.MLPClassifier):
        with pytest.raises(ValueError, match=r"test_size=0.0 should be either positive"):
            estimator(early_stopping=True, validation_fraction=0.0).fit(X, y)


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("verbose", [-1, 1.5, "loud"])
def test_verbose_must_be_a_boolean_or_a_count_as_in_scikit_learn(estimator, verbose):
    X, y = _iris()
    reference = getattr(sk, estimator.__name__)
    with pytest.raises(InvalidParameterError):
        reference(verbose=verbose, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match=r"verbose must be a boolean or an integer >= 0"):
        estimator(hidden_layer_sizes=(3,), verbose=verbose, max_iter=1).fit(X, y)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("hidden_layer_sizes", 0),
        ("activation", "softmax"),
        ("solver", "newton"),
        ("alpha", -1.0),
        ("batch_size", 0),
        ("learning_rate", "optimal"),
        ("learning_rate_init", 0.0),
        ("power_t", -0.5),
        ("max_iter", 0),
        ("shuffle", 1),
        ("random_state", -1),
        ("tol", -1e-4),
        ("momentum", 1.1),
        ("validation_fraction", 1.0),
        ("beta_1", 1.0),
        ("beta_2", -0.1),
        ("epsilon", 0.0),
        ("n_iter_no_change", 0),
        ("max_fun", 0),
    ],
)
def test_a_bad_parameter_fails_at_fit_with_scikit_learns_error(name, value):
    X, y = _iris()
    estimator = MLPClassifier(**{name: value})  # __init__ only stores it, as in scikit-learn
    with pytest.raises(InvalidParameterError):
        sk.MLPClassifier(**{name: value}).fit(X, y)
    with pytest.raises(ValueError, match=rf"MLPClassifier: {name} must be .*, got"):
        estimator.fit(X, y)


def test_multilabel_and_multioutput_fits_have_scikit_learns_shapes():
    X, Y = datasets.make_multilabel_classification(
        n_samples=80, n_features=5, n_classes=3, random_state=0
    )
    settings = {"hidden_layer_sizes": (6,), "max_iter": 20, "random_state": 0}
    ours, theirs = MLPClassifier(**settings), sk.MLPClassifier(**settings)
    _fit_both(ours, theirs, X, Y)
    _assert_same_fit(ours, theirs)
    assert ours.predict_proba(X).shape == theirs.predict_proba(X).shape == (80, 3)
    assert list(ours.classes_) == list(theirs.classes_) and ours.out_activation_ == "logistic"
    assert (ours.predict(X) == theirs.predict(X)).all()

    Xr, yr = datasets.make_regression(n_samples=80, n_features=5, n_targets=3, random_state=0)
    ours, theirs = MLPRegressor(**settings), sk.MLPRegressor(**settings)
    _fit_both(ours, theirs, Xr, yr / yr.std())
    _assert_same_fit(ours, theirs)
    assert ours.n_outputs_ == theirs.n_outputs_ == 3
    assert ours.predict(Xr).shape == (80, 3)
