"""Acceptance, eleventh pass: what a scikit-learn user changes between calls (set_params,
then a warm start or partial_fit) and the edges of the parameter ranges, with scikit-learn
1.9's MLP as the oracle.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn import neural_network as sk
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import InvalidParameterError

from chainrule.sklearn import MLPClassifier, MLPRegressor


def _data():
    rng = np.random.RandomState(1)
    x = rng.randn(60, 3)
    return x, x @ np.array([1.0, 2.0, 3.0]), rng.randint(0, 2, 60)


@pytest.mark.parametrize(
    "name", ["alpha", "learning_rate_init", "power_t", "tol", "epsilon"], ids=str
)
def test_an_infinite_value_is_refused_as_scikit_learn_refuses_it(name):
    x, y, _ = _data()
    params = {"hidden_layer_sizes": (3,), "max_iter": 2, "random_state": 0, name: np.inf}
    with pytest.raises(InvalidParameterError, match=name):
        sk.MLPRegressor(**params).fit(x, y)
    # It was taken: alpha=inf ended in 'non-finite weights ... preprocess the data',
    # tol=inf stopped at once, epsilon=inf froze Adam, all without naming the parameter.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what a fit that takes inf warns on its way
        with pytest.raises(InvalidParameterError, match=rf"MLPRegressor: {name} must be"):
            MLPRegressor(**params).fit(x, y)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_class_weights_that_leave_every_sample_weightless_are_refused(solver):
    x, _, labels = _data()
    model = MLPClassifier(hidden_layer_sizes=(3,), solver=solver, class_weight={0: 0, 1: 0})
    # adam trained nothing and reported a loss of 0; lbfgs raised ZeroDivisionError.
    with pytest.raises(ValueError, match=r"class_weight=\{0: 0, 1: 0\} gives every sample"):
        model.fit(x, labels)
    only_class_0 = (labels == 0).astype(float)
    model = MLPClassifier(hidden_layer_sizes=(3,), solver=solver, class_weight={0: 0, 1: 1})
    with pytest.raises(ValueError, match="gives every sample a weight of 0"):
        model.fit(x, labels, sample_weight=only_class_0)


def _both(step):
    results = []
    for estimator in (MLPRegressor, sk.MLPRegressor):
        model = estimator(hidden_layer_sizes=(4,), solver="sgd", max_iter=5, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            step(model)
        results.append(model)
    return results


def test_a_changed_activation_trains_on_as_in_scikit_learn():
    x, y, _ = _data()

    def warm(model):
        model.fit(x, y)
        model.set_params(activation="tanh", warm_start=True)
        model.fit(x, y)

    def incremental(model):
        model.partial_fit(x, y)
        model.set_params(activation="logistic")
        model.partial_fit(x, y)

    for step in (warm, incremental):
        ours, theirs = _both(step)
        # The network kept its ReLU layers and trained on with them.
        assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
        for mine, reference in zip(ours.coefs_, theirs.coefs_, strict=True):
            assert_allclose(mine, reference, rtol=1e-8, atol=1e-12)
        assert_allclose(ours.predict(x), theirs.predict(x), rtol=1e-8)


@pytest.mark.parametrize(
    ("first", "change", "message"),
    [
        ({}, {"loss": "poisson"}, r"loss='poisson' needs the 'exp' output, but .* 'identity'"),
        ({"loss": "poisson"}, {"loss": "huber"}, r"loss='huber' needs the 'identity' output"),
        ({}, {"batch_norm": True}, r"batch_norm=True, but .* batch_norm=False"),
        ({"batch_norm": True}, {"batch_norm": False}, r"batch_norm=False, but .*=True"),
        ({}, {"dropout": 0.5}, r"dropout=0.5, but .* dropout rates none"),
        ({"dropout": 0.2}, {"dropout": 0.5}, r"dropout=0.5, but .* rates \[0.2\]"),
        ({}, {"dtype": "float32"}, r"dtype='float32', but .* is float64"),
    ],
    ids=["to-poisson", "from-poisson", "add-norm", "drop-norm", "add-dropout", "rate", "dtype"],
)
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_warm_start_refuses_a_network_other_than_the_one_it_continues(first, change, message, how):
    x, y, _ = _data()
    model = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0, batch_size=20)
    model.set_params(**first)
    y = np.abs(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y) if how == "warm_start" else model.partial_fit(x, y)
    model.set_params(**change, warm_start=how == "warm_start")
    # Each was half-applied: a Poisson loss trained a network that predicts with the
    # identity (R^2 fell below 0), batch_norm and dropout changed nothing, and dropping
    # batch_norm failed inside BatchNorm1d on a last batch of one sample.
    with pytest.raises(ValueError, match=message), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x[:41], y[:41]) if how == "warm_start" else model.partial_fit(x[:41], y[:41])


def test_a_weightless_validation_split_is_refused_with_a_message() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = np.array([0, 1] * 20)
    weights = np.zeros(40)
    weights[:4] = 1.0  # train_test_split below puts none of these in the validation part
    model = MLPClassifier(
        hidden_layer_sizes=(4,),
        early_stopping=True,
        validation_fraction=0.1,
        random_state=0,
        max_iter=5,
    )
    _, _, _, _, _, w_val = train_test_split(
        X, y, weights, random_state=np.random.RandomState(0), test_size=0.1, stratify=y
    )
    assert not w_val.any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the error, not a division warning before it
        with pytest.raises(ValueError, match=r"validation split .* has weight 0"):
            model.fit(X, y, sample_weight=weights)


def test_the_poisson_error_prints_the_minimum_as_a_number() -> None:
    with pytest.raises(ValueError, match=r"minimum of -2\.5$"):
        MLPRegressor(loss="poisson").fit(np.ones((4, 2)), np.array([1.0, -2.5, 3.0, 0.0]))


@pytest.mark.parametrize("dtype", ["datetime64[D]", "datetime64[s]", "timedelta64[h]"])
def test_date_and_duration_labels_survive_save_and_load(tmp_path: Any, dtype: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = np.array([3, 700, 9000] * 10).astype(dtype)
    model = MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    path = tmp_path / "dates.safetensors"
    model.save(path)
    again = MLPClassifier.load(path)
    assert again.classes_.dtype == model.classes_.dtype
    np.testing.assert_array_equal(again.classes_, model.classes_)
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
