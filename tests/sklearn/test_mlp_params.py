"""Bad parameters: ``__init__`` and ``set_params`` accept anything (scikit-learn's rule, so
that ``clone`` and grid searches never fail early); ``fit`` rejects a bad value with a
message that names the parameter, what it accepts and what it got."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.neural_network as sk
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from chainrule.sklearn import MLPClassifier, MLPRegressor
from chainrule.train import EarlyStopping

X = np.random.default_rng(0).normal(size=(20, 3))
Y_CLASSES = np.arange(20) % 2
Y_VALUES = X.sum(axis=1)

BAD_VALUES = [
    ("hidden_layer_sizes", 0, ValueError, r"hidden_layer_sizes must be a positive integer or"),
    ("hidden_layer_sizes", (10, -1), ValueError, r"got \(10, -1\)"),
    ("hidden_layer_sizes", (10, 2.5), TypeError, r"hidden_layer_sizes must be .* got \(10, 2.5\)"),
    ("hidden_layer_sizes", "100", TypeError, r"hidden_layer_sizes must be"),
    (
        "activation",
        "swish",
        ValueError,
        r"activation must be one of 'identity', .*'silu', got 'swish'",
    ),
    (
        "activation",
        ["relu", "tanh"],
        ValueError,
        r"activation must be one value or one per hidden layer \(1\), got 2",
    ),
    ("activation", 3, TypeError, r"activation must be one of"),
    (
        "solver",
        "newton",
        ValueError,
        r"solver must be one of 'lbfgs', 'sgd', 'adam', 'adamw', 'rmsprop', got 'newton'",
    ),
    ("alpha", -1.0, ValueError, r"alpha must be a number >= 0, got -1.0"),
    ("alpha", "0.1", TypeError, r"alpha must be a number >= 0, got '0.1'"),
    ("alpha", float("nan"), ValueError, r"alpha must be a number >= 0, got nan"),
    ("batch_size", 0, ValueError, r"batch_size must be an integer >= 1, got 0"),
    ("batch_size", "big", ValueError, r"batch_size must be 'auto' or an integer >= 1, got 'big'"),
    ("batch_size", 2.0, TypeError, r"batch_size must be an integer >= 1, got 2.0"),
    (
        "learning_rate",
        "cosine",
        ValueError,
        r"learning_rate must be one of 'constant', 'invscaling', 'adaptive'",
    ),
    ("learning_rate_init", 0.0, ValueError, r"learning_rate_init must be a number > 0, got 0.0"),
    ("power_t", -0.5, ValueError, r"power_t must be a number >= 0"),
    ("max_iter", 0, ValueError, r"max_iter must be an integer >= 1, got 0"),
    ("max_iter", True, TypeError, r"max_iter must be an integer >= 1, got True"),
    ("shuffle", "yes", TypeError, r"shuffle must be True or False, got 'yes'"),
    (
        "random_state",
        -1,
        ValueError,
        r"random_state must be None, an integer in \[0, 2\*\*32 - 1\]",
    ),
    ("random_state", "seed", TypeError, r"random_state must be None, an integer"),
    ("tol", -1e-4, ValueError, r"tol must be a number >= 0"),
    ("verbose", "loud", TypeError, r"verbose must be a boolean or an integer"),
    ("warm_start", 1, TypeError, r"warm_start must be True or False, got 1"),
    ("momentum", 1.5, ValueError, r"momentum must be a number in \[0, 1\], got 1.5"),
    ("nesterovs_momentum", None, TypeError, r"nesterovs_momentum must be True or False"),
    ("early_stopping", "no", TypeError, r"early_stopping must be True or False"),
    (
        "validation_fraction",
        1.0,
        ValueError,
        r"validation_fraction must be a number in \[0, 1\), got 1.0",
    ),
    ("beta_1", 1.0, ValueError, r"beta_1 must be a number in \[0, 1\), got 1.0"),
    ("beta_2", -0.1, ValueError, r"beta_2 must be a number in \[0, 1\)"),
    ("epsilon", 0.0, ValueError, r"epsilon must be a number > 0, got 0.0"),
    ("n_iter_no_change", 0, ValueError, r"n_iter_no_change must be an integer >= 1, got 0"),
    ("n_iter_no_change", 2.5, TypeError, r"n_iter_no_change must be an integer >= 1, got 2.5"),
    ("max_fun", 0, ValueError, r"max_fun must be an integer >= 1, got 0"),
    ("dropout", 1.0, ValueError, r"dropout must be a number in \[0, 1\), got 1.0"),
    ("dropout", [0.1, 0.2], ValueError, r"dropout must be one value or one per hidden layer"),
    ("batch_norm", "on", TypeError, r"batch_norm must be True or False, got 'on'"),
    ("dtype", "float16", ValueError, r"dtype must be None, 'float32' or 'float64', got 'float16'"),
    ("dtype", "fast", TypeError, r"dtype must be None, 'float32' or 'float64', got 'fast'"),
    (
        "callbacks",
        ["not a callback"],
        TypeError,
        r"callbacks must be None or a list of chainrule.train callbacks",
    ),
]


@pytest.mark.parametrize("estimator_class", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize(
    ("name", "value", "error", "message"), BAD_VALUES, ids=lambda v: str(v)[:30]
)
def test_fit_names_the_bad_parameter(estimator_class, name, value, error, message):
    estimator = estimator_class(max_iter=2).set_params(**{name: value})  # accepted until fit
    y = Y_CLASSES if estimator_class is MLPClassifier else Y_VALUES
    with pytest.raises(error, match=f"^{estimator_class.__name__}: .*{message}"):
        estimator.fit(X, y)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("hidden_layer_sizes", "100"),
        ("hidden_layer_sizes", 0),
        ("activation", None),
        ("solver", None),
        ("alpha", "0.1"),
        ("alpha", -1.0),
        ("batch_size", 2.5),
        ("max_iter", 1.5),
        ("shuffle", "yes"),
        ("random_state", "seed"),
        ("verbose", "loud"),
        ("momentum", 1.5),
        ("n_iter_no_change", 2.5),
        ("max_fun", 0),
    ],
)
@pytest.mark.parametrize("catch", [ValueError, TypeError], ids=lambda error: error.__name__)
def test_code_written_for_scikit_learn_catches_a_bad_parameter(name, value, catch):
    # scikit-learn raises InvalidParameterError, both a ValueError and a TypeError; code
    # that catches either for its MLP must catch ours for the same value.
    params = {"max_iter": 2, name: value}
    for theirs, ours in [(sk.MLPClassifier, MLPClassifier), (sk.MLPRegressor, MLPRegressor)]:
        y = Y_CLASSES if ours is MLPClassifier else Y_VALUES
        with pytest.raises(catch):
            theirs(**params).fit(X, y)
        with pytest.raises(catch, match=f"^{ours.__name__}: {name} must be"):
            ours(**params).fit(X, y)
    if name != "solver":  # a solver that is not stochastic has no partial_fit
        with pytest.raises(InvalidParameterError, match=f"^MLPClassifier: {name} must be"):
            MLPClassifier(**params).partial_fit(X, Y_CLASSES, classes=[0, 1])


@pytest.mark.parametrize(
    ("name", "value", "error", "message"),
    [
        (
            "loss",
            "squared_error",
            ValueError,
            r"loss must be one of 'log_loss', got 'squared_error'",
        ),
        ("class_weight", "auto", ValueError, r"class_weight must be None, 'balanced' or a dict"),
        (
            "class_weight",
            {0: -1.0},
            ValueError,
            r"class_weight must map labels to numbers >= 0, got -1.0 for class 0",
        ),
        ("class_weight", [1.0, 2.0], TypeError, r"class_weight must be None, 'balanced' or a dict"),
        (
            "class_weight",
            np.array([1.0, 2.0]),
            TypeError,
            r"class_weight must be None, 'balanced' or a dict",
        ),
        (
            "label_smoothing",
            1.0,
            ValueError,
            r"label_smoothing must be a number in \[0, 1\), got 1.0",
        ),
    ],
)
def test_classifier_parameters(name, value, error, message):
    with pytest.raises(error, match=f"^MLPClassifier: {message}"):
        MLPClassifier(max_iter=2, **{name: value}).fit(X, Y_CLASSES)


@pytest.mark.parametrize(
    ("name", "value", "error", "message"),
    [
        (
            "loss",
            "log_loss",
            ValueError,
            r"loss must be one of 'squared_error', 'poisson', 'huber', 'absolute_error', "
            r"got 'log_loss'",
        ),
        ("huber_delta", 0.0, ValueError, r"huber_delta must be a number > 0, got 0.0"),
    ],
)
def test_regressor_parameters(name, value, error, message):
    with pytest.raises(error, match=f"^MLPRegressor: {message}"):
        MLPRegressor(max_iter=2, **{name: value}).fit(X, Y_VALUES)


def test_layer_sizes_given_where_the_regressor_takes_its_loss_get_a_hint():
    # scikit-learn's signature: MLPRegressor(loss="squared_error", hidden_layer_sizes=...)
    with pytest.raises(
        TypeError, match=r"got \(16,\)\. The first argument of MLPRegressor is loss"
    ):
        MLPRegressor((16,)).fit(X, Y_VALUES)


def test_combinations_that_cannot_work_are_refused():
    with pytest.raises(
        ValueError, match=r"^MLPClassifier: callbacks run once per epoch .*got solver='lbfgs'"
    ):
        MLPClassifier(solver="lbfgs", callbacks=[EarlyStopping()]).fit(X, Y_CLASSES)
    with pytest.raises(
        ValueError, match=r"^MLPRegressor: dropout makes the loss random.*got dropout=0.5"
    ):
        MLPRegressor(solver="lbfgs", dropout=0.5).fit(X, Y_VALUES)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        MLPRegressor(early_stopping=True).partial_fit(X, Y_VALUES)


def test_per_layer_values_and_sequences_are_accepted():
    model = MLPClassifier(
        hidden_layer_sizes=np.array([4, 3]),
        activation=("tanh", "gelu"),
        dropout=[0.0, 0.25],
        n_iter_no_change=np.inf,
        max_iter=np.int64(2),
        random_state=np.int32(0),
        batch_size=np.int64(8),
    )
    with pytest.warns(ConvergenceWarning):  # two epochs do not converge
        model.fit(X, Y_CLASSES)
    assert [type(layer).__name__ for layer in model.model_] == [
        "Linear", "Tanh", "Linear", "GELU", "Dropout", "Linear",
    ]  # fmt: skip
    assert model.model_[4].p == 0.25
