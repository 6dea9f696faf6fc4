"""Round 17: a fitted estimator pickles to scikit-learn's size; batch norm without hidden
layers trains on; callbacks are called as chainrule.train.fit calls them; several targets'
Huber and absolute losses are averaged as the squared error is; errors that say what to do
in the estimator's terms; save/load keeps every parameter's type; scikit-learn's loss types
and verbose output."""

from __future__ import annotations

import contextlib
import copy
import io
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

from chainrule.sklearn import MLPClassifier, MLPRegressor
from chainrule.train import EarlyStopping
from chainrule.train.callbacks import Callback

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
Y_BINARY = (X[:, 0] > 0).astype(int)


def quietly(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return function(*args, **kwargs)


# ---------------------------------------------------------------------- pickle size
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_pickle_is_of_scikit_learns_size(solver):
    kwargs = {"hidden_layer_sizes": (8,), "max_iter": 5, "random_state": 0, "solver": solver}
    ours = quietly(MLPClassifier(**kwargs).fit, X_IRIS, Y_IRIS)
    theirs = quietly(SkMLPClassifier(**kwargs).fit, X_IRIS, Y_IRIS)
    assert len(pickle.dumps(ours)) < 5 * len(pickle.dumps(theirs))
    # What the pickle leaves out (the optimizer's scratch space) partial_fit rebuilds:
    # the copy trains on exactly as the original does.
    copied = pickle.loads(pickle.dumps(ours))
    deep = copy.deepcopy(ours)
    for estimator in (ours, copied, deep):
        estimator.partial_fit(X_IRIS, Y_IRIS)
    for estimator in (copied, deep):
        np.testing.assert_array_equal(estimator.predict_proba(X_IRIS), ours.predict_proba(X_IRIS))
        assert estimator.loss_curve_ == ours.loss_curve_


# ---------------------------------------------------------------------- batch norm, no hidden
def test_batch_norm_without_hidden_layers_trains_on():
    reg = MLPRegressor(hidden_layer_sizes=(), batch_norm=True, random_state=0)
    reg.partial_fit(X, X[:, 0])
    reg.partial_fit(X, X[:, 0])
    assert reg.n_iter_ == 1 and len(reg.loss_curve_) == 2
    warm = MLPRegressor(hidden_layer_sizes=(), batch_norm=True, max_iter=3, warm_start=True)
    quietly(warm.fit, X, X[:, 0])
    quietly(warm.fit, X, X[:, 0])
    assert len(warm.loss_curve_) == 6


# ---------------------------------------------------------------------- callbacks
class KerasStyle(Callback):
    def __init__(self):
        self.epochs, self.batches, self.begun = [], [], None

    def on_train_begin(self, logs=None):
        self.begun = logs

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((epoch, sorted(logs)))

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(batch)


class Plain:  # Keras's way: an object with hooks, not a chainrule Callback
    def __init__(self):
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)
        if epoch == 1:
            self.model.stop_training = True


def test_keras_style_hooks_get_kerass_arguments():
    callback = KerasStyle()
    quietly(
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, batch_size=20, callbacks=[callback]).fit,
        X,
        Y_BINARY,
    )
    assert callback.begun == {}
    assert callback.epochs == [(0, ["loss", "lr", "time"]), (1, ["loss", "lr", "time"])]
    assert callback.batches == [0, 1, 0, 1]


def test_an_object_with_hooks_is_a_callback_and_can_stop_training():
    callback = Plain()
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=10, callbacks=[callback])
    clf.fit(X, Y_BINARY)
    assert callback.epochs == [0, 1]
    assert clf.n_iter_ == 2
    assert callback.model is clf.model_


def test_an_object_without_hooks_is_refused():
    with pytest.raises(TypeError, match=r"callbacks must be None or a list of chainrule.train"):
        MLPClassifier(callbacks=[object()]).fit(X, Y_BINARY)


# ---------------------------------------------------------------------- EarlyStopping callback
@pytest.mark.parametrize("monitor", ["val_loss", "val_score"])
def test_validation_monitor_without_early_stopping_says_how_to_log_it(monitor):
    clf = MLPClassifier(max_iter=3, callbacks=[EarlyStopping(monitor=monitor)])
    with pytest.raises(
        ValueError,
        match=rf"EarlyStopping monitors '{monitor}', which is logged only with "
        r"early_stopping=True .*; set early_stopping=True, or monitor 'loss'",
    ):
        clf.fit(X, Y_BINARY)


def test_validation_monitor_with_early_stopping_runs():
    stopper = EarlyStopping(monitor="val_loss", patience=0, min_delta=1e9)
    clf = MLPClassifier(max_iter=5, early_stopping=True, callbacks=[stopper])
    clf.fit(X, Y_BINARY)
    assert clf.n_iter_ == 2  # the first epoch improves on nothing; the second stops
    with pytest.raises(ValueError, match=r"monitors 'val_accuracy', which is not logged"):
        clf.set_params(callbacks=[EarlyStopping(monitor="val_accuracy")]).fit(X, Y_BINARY)


# ---------------------------------------------------------------------- several targets
@pytest.mark.parametrize(
    "loss, per_output",
    [
        ("squared_error", lambda d: 0.5 * d**2),
        ("huber", lambda d: np.where(abs(d) <= 1, 0.5 * d**2, abs(d) - 0.5)),
        ("absolute_error", np.abs),
    ],
)
def test_loss_is_averaged_over_targets(loss, per_output):
    targets = np.c_[X[:, 0] * 3, X[:, 1] - 2]
    # A learning rate of 1e-300 leaves the weights as they were: loss_ is the loss at them.
    reg = MLPRegressor(
        loss=loss,
        hidden_layer_sizes=(4,),
        alpha=0,
        learning_rate_init=1e-300,
        batch_size=len(X),
        random_state=0,
    ).partial_fit(X, targets)
    np.testing.assert_allclose(reg.loss_, per_output(reg.predict(X) - targets).mean(), rtol=1e-12)


def test_squared_error_loss_matches_scikit_learn_for_several_targets():
    targets = np.c_[X[:, 0] * 3, X[:, 1] - 2]
    kwargs = {"hidden_layer_sizes": (4,), "max_iter": 3, "random_state": 0}
    ours = quietly(MLPRegressor(**kwargs).fit, X, targets)
    theirs = quietly(SkMLPRegressor(**kwargs).fit, X, targets)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)


# ---------------------------------------------------------------------- restart messages
def test_partial_fit_after_new_hidden_layer_sizes_says_call_fit():
    clf = MLPClassifier(hidden_layer_sizes=(4,)).partial_fit(X, Y_BINARY, classes=[0, 1])
    clf.set_params(hidden_layer_sizes=(5,))
    with pytest.raises(
        ValueError,
        match=r"hidden_layer_sizes=\(5,\) gives hidden layers of sizes \[5\], but the network "
        r"of the previous fit has \[4\]; call fit to start over",
    ):
        clf.partial_fit(X, Y_BINARY)


def test_warm_start_after_new_hidden_layer_sizes_says_warm_start_false():
    clf = quietly(
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, warm_start=True).fit, X, Y_BINARY
    )
    clf.set_params(hidden_layer_sizes=(5,))
    with pytest.raises(ValueError, match=r"has \[4\]; set warm_start=False to start over"):
        clf.fit(X, Y_BINARY)


def test_partial_fit_with_another_type_of_y_says_so():
    multilabel = np.c_[Y_BINARY, 1 - Y_BINARY]
    clf = MLPClassifier(hidden_layer_sizes=(4,)).partial_fit(X, multilabel, classes=[0, 1])
    with pytest.raises(
        ValueError,
        match=r"the type of y changed: the network of the previous fit was built for "
        r"multilabel-indicator y \(2 output\(s\)\), got binary y; call fit to start over",
    ):
        clf.partial_fit(X, Y_BINARY)
    clf = MLPClassifier(hidden_layer_sizes=(4,)).partial_fit(X, Y_BINARY, classes=[0, 1])
    with pytest.raises(ValueError, match=r"the type of y changed: .* got multilabel-indicator y"):
        clf.partial_fit(X, multilabel)


def test_partial_fit_with_other_columns_of_y_says_so():
    reg = MLPRegressor(hidden_layer_sizes=(4,)).partial_fit(X, np.c_[X[:, 0], X[:, 1]])
    with pytest.raises(
        ValueError,
        match=r"expected y with 2 output\(s\) as in the previous fit, got y with 1: the type "
        r"or the columns of y changed; call fit to start over",
    ):
        reg.partial_fit(X, X[:, 0])


def test_partial_fit_with_another_loss_says_call_fit():
    reg = MLPRegressor(hidden_layer_sizes=(4,)).partial_fit(X, X[:, 0] ** 2)
    with pytest.raises(ValueError, match=r"'identity' output; call fit to start over"):
        reg.set_params(loss="poisson").partial_fit(X, X[:, 0] ** 2)


# ---------------------------------------------------------------------- save and load
@pytest.mark.parametrize(
    "params",
    [
        {"hidden_layer_sizes": range(3, 5)},
        {"hidden_layer_sizes": (3, 4), "dropout": (0.1, np.float32(0.2))},
        {"hidden_layer_sizes": [3, 4], "activation": ["tanh", "relu"]},
        {"hidden_layer_sizes": (np.int64(3), np.int32(4))},
        {"hidden_layer_sizes": (3, 4), "activation": np.array(["tanh", "relu"])},
        {"random_state": np.int64(0), "tol": np.float32(1e-3), "shuffle": np.bool_(True)},
        {"alpha": np.float64(1e-3), "learning_rate_init": np.float32(1e-3)},
        {"class_weight": {np.int64(0): np.float32(1.5), 1: 2, 2: np.float64(3)}},
        {"dtype": np.dtype("float32")},
        {"dtype": np.float32},
        {"batch_size": np.int64(32), "verbose": np.bool_(False)},
    ],
    ids=repr,
)
def test_get_params_after_load_equals_before(params, tmp_path):
    clf = quietly(MLPClassifier(**{"max_iter": 2, "random_state": 0, **params}).fit, X_IRIS, Y_IRIS)
    path = tmp_path / "clf.safetensors"
    clf.save(path)
    loaded = MLPClassifier.load(path)
    before, after = clf.get_params(), loaded.get_params()
    assert before.keys() == after.keys()
    for name, value in before.items():
        assert type(after[name]) is type(value), name
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[name], value)
            assert after[name].dtype == value.dtype
        else:
            assert repr(after[name]) == repr(value), name
    np.testing.assert_array_equal(loaded.predict_proba(X_IRIS), clf.predict_proba(X_IRIS))


def test_load_refuses_malformed_parameter_types(tmp_path):
    from chainrule.io import load as load_model
    from chainrule.io import save as save_model

    clf = quietly(MLPClassifier(max_iter=2, tol=np.float32(1e-3)).fit, X_IRIS, Y_IRIS)
    path = tmp_path / "clf.safetensors"
    clf.save(path)
    model, metadata = load_model(path, with_metadata=True)
    metadata["param_types"] = {"tol": {"numpy": "not a dtype"}}
    save_model(model, path, metadata=metadata)
    with pytest.raises(ValueError, match=r"MLPClassifier.load: expected parameter types"):
        MLPClassifier.load(path)


# ---------------------------------------------------------------------- scikit-learn's types
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_losses_are_numpy_float64_as_in_scikit_learn(solver, tmp_path):
    kwargs = {"hidden_layer_sizes": (4,), "max_iter": 3, "random_state": 0, "solver": solver}
    ours = quietly(MLPClassifier(**kwargs).fit, X_IRIS, Y_IRIS)
    theirs = quietly(SkMLPClassifier(**kwargs).fit, X_IRIS, Y_IRIS)
    assert type(ours.loss_) is type(theirs.loss_) is np.float64
    path = tmp_path / "clf.safetensors"
    ours.save(path)
    loaded = MLPClassifier.load(path)
    assert type(loaded.loss_) is np.float64
    if solver != "lbfgs":
        assert {type(v) for v in ours.loss_curve_} == {type(v) for v in theirs.loss_curve_}
        assert type(ours.best_loss_) is type(theirs.best_loss_)
        assert {type(v) for v in loaded.loss_curve_} == {np.float64}
        assert type(loaded.best_loss_) is np.float64


def test_lbfgs_verbose_prints_what_scikit_learn_prints():
    kwargs = {"hidden_layer_sizes": (4,), "max_iter": 3, "random_state": 0, "solver": "lbfgs"}
    outputs = []
    for estimator in (
        MLPClassifier(verbose=True, **kwargs),
        SkMLPClassifier(verbose=True, **kwargs),
    ):
        stream = io.StringIO()
        with contextlib.redirect_stdout(stream):
            quietly(estimator.fit, X_IRIS, Y_IRIS)
        outputs.append(stream.getvalue())
    assert outputs[0] == outputs[1]
