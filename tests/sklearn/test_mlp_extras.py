"""What scikit-learn's MLP lacks: dropout, batch normalization, more activations, solvers and
losses, class weights, label smoothing, validation-loss curves, callbacks, float32."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import recall_score

from chainrule import nn
from chainrule.sklearn import MLPClassifier, MLPRegressor
from chainrule.train import Callback, EarlyStopping, LearningRateScheduler

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
X_DIGITS = X_DIGITS[:600] / 16
Y_DIGITS = Y_DIGITS[:600]


@pytest.mark.parametrize("activation", ["leaky_relu", "elu", "gelu", "silu"])
def test_more_activations_learn_and_build_their_layer(activation):
    model = MLPClassifier(
        (32,), activation=activation, learning_rate_init=0.01, max_iter=30, random_state=0
    )
    model.fit(X_DIGITS, Y_DIGITS)
    assert model.score(X_DIGITS, Y_DIGITS) > 0.9
    layer = {"leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU}
    assert isinstance(model.model_[1], layer[activation])


def test_one_activation_and_dropout_per_hidden_layer():
    model = MLPClassifier(
        (32, 16), activation=["tanh", "relu"], dropout=[0.5, 0.0], max_iter=5, random_state=0
    ).fit(X_DIGITS, Y_DIGITS)
    assert [type(m).__name__ for m in model.model_] == [
        "Linear", "Tanh", "Dropout", "Linear", "ReLU", "Linear",
    ]  # fmt: skip
    assert not model.model_.training  # fitted networks predict in evaluation mode


def test_dropout_is_active_while_training_only():
    params = {"hidden_layer_sizes": (64,), "max_iter": 20, "random_state": 0}
    params["learning_rate_init"] = 0.01
    plain = MLPClassifier(**params).fit(X_DIGITS, Y_DIGITS)
    dropped = MLPClassifier(dropout=0.5, **params).fit(X_DIGITS, Y_DIGITS)
    assert dropped.loss_curve_[-1] > plain.loss_curve_[-1]  # noisier training objective
    assert dropped.score(X_DIGITS, Y_DIGITS) > 0.9
    assert_array_equal(dropped.predict_proba(X_DIGITS), dropped.predict_proba(X_DIGITS))


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_batch_norm_sits_between_linear_and_activation(solver):
    model = MLPClassifier(
        (32,), batch_norm=True, solver=solver, learning_rate_init=0.01, max_iter=30, random_state=0
    )
    model.fit(X_DIGITS, Y_DIGITS)
    assert [type(m).__name__ for m in model.model_] == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert model.score(X_DIGITS, Y_DIGITS) > 0.95
    model.predict(X_DIGITS[:1])  # evaluation mode: running statistics, one row is enough
    if solver == "lbfgs":
        # Full-batch training: the running statistics are the data's at the final weights.
        hidden = model.model_[0](X_DIGITS).data
        assert_allclose(model.model_[1].running_mean.data, hidden.mean(axis=0), atol=1e-10)


def test_batch_norm_skips_a_last_batch_of_one_sample():
    model = MLPClassifier((8,), batch_norm=True, batch_size=33, max_iter=3, random_state=0)
    model.fit(X_DIGITS[:67], Y_DIGITS[:67])  # batches of 33, 33 and 1
    assert model.t_ == 3 * 67
    with pytest.raises(ValueError, match="batch_norm needs at least 2 training samples, got 1"):
        MLPRegressor(batch_norm=True).fit([[0.0, 1.0]], [1.0])
    with pytest.raises(ValueError, match="batch_norm needs batches of at least 2 samples"):
        MLPRegressor(batch_norm=True, batch_size=1).fit(X_DIGITS, Y_DIGITS)


@pytest.mark.parametrize("solver", ["adamw", "rmsprop"])
def test_more_solvers(solver):
    model = MLPClassifier(
        (32,), solver=solver, learning_rate_init=0.01, max_iter=30, random_state=0, alpha=1e-3
    )
    model.fit(X_DIGITS, Y_DIGITS)
    assert model.score(X_DIGITS, Y_DIGITS) > 0.95
    assert type(model._optimizer).__name__ == {"adamw": "AdamW", "rmsprop": "RMSprop"}[solver]


def test_adamw_decays_the_weights_by_alpha_directly():
    params = {"hidden_layer_sizes": (32,), "solver": "adamw", "max_iter": 30, "random_state": 0}
    params["learning_rate_init"] = 0.01
    light = MLPClassifier(alpha=0.0, **params).fit(X_DIGITS, Y_DIGITS)
    heavy = MLPClassifier(alpha=20.0, **params).fit(X_DIGITS, Y_DIGITS)
    assert np.abs(heavy.coefs_[0]).sum() < 0.5 * np.abs(light.coefs_[0]).sum()
    # The biases are not decayed, as the L2 penalty leaves them alone too.
    assert np.abs(heavy.intercepts_[1]).sum() > 0.1


def _outlier_regression():
    X, y = make_regression(200, 4, noise=0.1, random_state=0)
    y = y / y.std()
    y_dirty = y.copy()
    y_dirty[::10] += 30.0  # a tenth of the targets are far off
    return X, y, y_dirty


@pytest.mark.parametrize("loss", ["huber", "absolute_error"])
def test_robust_losses_resist_outliers(loss):
    X, y, y_dirty = _outlier_regression()
    params = {"hidden_layer_sizes": (16,), "solver": "lbfgs", "random_state": 0, "max_iter": 300}
    robust = MLPRegressor(loss, **params).fit(X, y_dirty)
    squared = MLPRegressor("squared_error", **params).fit(X, y_dirty)
    clean = slice(1, None, 10)  # rows whose target was left alone
    robust_error = np.abs(robust.predict(X[clean]) - y[clean]).mean()
    squared_error = np.abs(squared.predict(X[clean]) - y[clean]).mean()
    assert robust_error < 0.5 * squared_error
    assert robust.out_activation_ == "identity"


def test_huber_delta_sets_where_the_loss_turns_linear():
    X, _, y_dirty = _outlier_regression()
    params = {"hidden_layer_sizes": (8,), "max_iter": 2, "random_state": 0, "shuffle": False}
    wide = MLPRegressor("huber", huber_delta=1e6, **params).fit(X, y_dirty)
    squared = MLPRegressor("squared_error", **params).fit(X, y_dirty)
    assert_allclose(wide.loss_curve_, squared.loss_curve_, rtol=1e-12)  # never linear


def test_class_weight_moves_the_decision_toward_the_weighted_class():
    X, y = make_classification(400, 5, weights=[0.9, 0.1], random_state=0)
    params = {"hidden_layer_sizes": (16,), "solver": "lbfgs", "random_state": 0, "alpha": 1.0}
    plain = MLPClassifier(**params).fit(X, y)
    balanced = MLPClassifier(class_weight="balanced", **params).fit(X, y)
    assert recall_score(y, balanced.predict(X)) > recall_score(y, plain.predict(X)) + 0.1
    # 'balanced' is n / (2 * count) for each class; a class weight is a sample weight for
    # every sample of the class.
    weights = len(y) / (2 * np.bincount(y))
    weighted = MLPClassifier(class_weight=dict(enumerate(weights)), **params).fit(X, y)
    by_sample = MLPClassifier(**params).fit(X, y, sample_weight=weights[y])
    assert_allclose(weighted.predict_proba(X), balanced.predict_proba(X), rtol=1e-9)
    assert_allclose(by_sample.predict_proba(X), balanced.predict_proba(X), rtol=1e-9)


def test_class_weight_with_labels_that_are_strings_and_its_errors():
    labels = np.array(["ham", "spam"])[Y_DIGITS % 2]
    model = MLPClassifier((8,), class_weight={"spam": 2.0}, max_iter=3, random_state=0)
    model.fit(X_DIGITS, labels)
    # scikit-learn's message, which names the classes left without a weight
    with pytest.raises(ValueError, match=r"The classes, \['ham', 'spam'\], are not in class"):
        MLPClassifier(class_weight={"eggs": 2.0}, max_iter=2).fit(X_DIGITS, labels)
    with pytest.raises(ValueError, match=r"^MLPClassifier: class_weight applies to one label"):
        MLPClassifier(class_weight="balanced").fit(X_DIGITS, np.eye(10)[Y_DIGITS].astype(int))
    with pytest.raises(ValueError, match=r"^MLPClassifier: class_weight='balanced' needs every"):
        MLPClassifier(class_weight="balanced").partial_fit(
            X_DIGITS, labels, classes=["ham", "spam"]
        )


def test_label_smoothing_makes_the_model_less_certain():
    params = {"hidden_layer_sizes": (32,), "solver": "lbfgs", "random_state": 0, "max_iter": 300}
    sharp = MLPClassifier(**params).fit(X_DIGITS, Y_DIGITS)
    smooth = MLPClassifier(label_smoothing=0.2, **params).fit(X_DIGITS, Y_DIGITS)
    assert smooth.score(X_DIGITS, Y_DIGITS) > 0.98
    # The smoothed target of the true class is 0.8 + 0.2 / 10 = 0.82 (0.8 + 0.2 / 2 = 0.9
    # for a logistic output): the fit aims there, not at certainty.
    confidence = smooth.predict_proba(X_DIGITS).max(axis=1).mean()
    assert confidence == pytest.approx(0.82, abs=0.02)
    assert sharp.predict_proba(X_DIGITS).max(axis=1).mean() > 0.99
    binary = MLPClassifier(label_smoothing=0.2, **params).fit(X_DIGITS, Y_DIGITS % 2)
    assert binary.predict_proba(X_DIGITS).max(axis=1).mean() == pytest.approx(0.9, abs=0.02)


def test_validation_loss_curve_sits_beside_the_scores():
    model = MLPClassifier((32,), early_stopping=True, max_iter=40, random_state=0)
    model.fit(X_DIGITS, Y_DIGITS)
    assert len(model.validation_loss_curve_) == len(model.validation_scores_) == model.n_iter_
    assert model.validation_loss_curve_[-1] < model.validation_loss_curve_[0]
    without = MLPClassifier((32,), max_iter=3, random_state=0).fit(X_DIGITS, Y_DIGITS)
    assert without.validation_loss_curve_ is None
    # n_iter_no_change=inf: curves for every epoch, no early stop (best weights restored).
    curves = MLPRegressor(
        hidden_layer_sizes=(8,), early_stopping=True, n_iter_no_change=np.inf, max_iter=25
    )
    curves.fit(X_DIGITS, Y_DIGITS / 10)
    assert len(curves.validation_loss_curve_) == 25


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, state):
        self.events.append(("begin", state.steps_per_epoch))

    def on_batch_end(self, state, logs):
        self.events.append(("batch", state.step))

    def on_epoch_end(self, state, logs):
        self.events.append(("epoch", state.epoch, sorted(logs)))

    def on_train_end(self, state):
        self.events.append(("end", state.epoch))


def test_callbacks_see_each_epoch_and_can_stop_training():
    recorder = Recorder()
    model = MLPClassifier((16,), batch_size=300, max_iter=2, callbacks=[recorder], random_state=0)
    model.fit(X_DIGITS, Y_DIGITS)
    assert recorder.events == [
        ("begin", 2),
        ("batch", 1),
        ("batch", 2),
        ("epoch", 1, ["loss", "lr", "time"]),
        ("batch", 3),
        ("batch", 4),
        ("epoch", 2, ["loss", "lr", "time"]),
        ("end", 2),
    ]
    stopper = EarlyStopping(monitor="val_loss", patience=2)
    model = MLPClassifier(
        (16,),
        early_stopping=True,
        n_iter_no_change=1000,
        max_iter=500,
        learning_rate_init=0.05,
        callbacks=[stopper],
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # it stops before max_iter
        model.fit(X_DIGITS, Y_DIGITS)
    assert model.n_iter_ < 500
    assert stopper.best_epoch == model.n_iter_ - 2  # stopped after 2 epochs without a gain


def test_a_callback_may_change_the_learning_rate():
    schedule = LearningRateScheduler(lambda epoch, lr: 0.01 / (epoch + 1))
    model = MLPClassifier((8,), max_iter=3, callbacks=[schedule], random_state=0)
    model.fit(X_DIGITS, Y_DIGITS)
    assert model._optimizer.param_groups[0]["lr"] == pytest.approx(0.01 / 3)


def test_warm_start_continues_only_the_same_network():
    model = MLPClassifier((8,), warm_start=True, max_iter=2, random_state=0)
    model.fit(X_DIGITS, Y_DIGITS)
    model.set_params(hidden_layer_sizes=(9,))
    with pytest.raises(
        ValueError,
        match=r"gives hidden layers of sizes \[9\], but the network of the previous fit has "
        r"\[8\]; set warm_start=False to start over",
    ):
        model.fit(X_DIGITS, Y_DIGITS)
    model.set_params(warm_start=False).fit(X_DIGITS, Y_DIGITS)
    assert model.coefs_[0].shape == (64, 9)


def test_a_new_solver_starts_from_a_clean_slate():
    model = MLPClassifier((8,), early_stopping=True, max_iter=3, random_state=0)
    model.fit(X_DIGITS, Y_DIGITS)
    model.set_params(solver="lbfgs").fit(X_DIGITS, Y_DIGITS)
    for name in ("loss_curve_", "validation_scores_", "validation_loss_curve_", "_optimizer"):
        assert not hasattr(model, name)  # as after a first fit with lbfgs


def test_dtype_float32_trains_and_predicts_in_float32():
    model = MLPClassifier((32,), dtype="float32", max_iter=20, random_state=0)
    model.fit(X_DIGITS, Y_DIGITS)
    assert all(c.dtype == np.float32 for c in model.coefs_)
    assert model.predict_proba(X_DIGITS).dtype == np.float64  # float64 in, float64 out
    assert model.predict_proba(X_DIGITS.astype(np.float32)).dtype == np.float32
    reference = MLPClassifier((32,), max_iter=20, random_state=0).fit(X_DIGITS, Y_DIGITS)
    assert_allclose(model.coefs_[0], reference.coefs_[0], atol=1e-3)
