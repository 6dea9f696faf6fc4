"""Round 18: the estimators' callbacks. 'val_score' is a score (higher is better) for
callbacks with mode='auto'; a ModelCheckpoint that saves every epoch needs no validation;
the epochs of successive partial_fit calls make one run of the callbacks, as in one fit;
the logged 'lr' is the rate the epoch trained with."""

from __future__ import annotations

import csv
import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from chainrule.sklearn import MLPClassifier, MLPRegressor
from chainrule.train import (
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    ModelCheckpoint,
    ReduceLROnPlateau,
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(120, 4))
Y_CLASSES = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
Y_VALUES = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * RNG.normal(size=120)


def quietly(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return function(*args, **kwargs)


# ---------------------------------------------------------------------- val_score is maximized
@pytest.mark.parametrize(
    ("estimator", "y"),
    [(MLPClassifier, Y_CLASSES), (MLPRegressor, Y_VALUES)],
)
def test_callbacks_monitoring_val_score_maximize_it(estimator, y):
    stopping = EarlyStopping(monitor="val_score", patience=50)
    plateau = ReduceLROnPlateau(monitor="val_score", patience=50)
    model = estimator(
        hidden_layer_sizes=(8,),
        early_stopping=True,
        n_iter_no_change=50,
        max_iter=15,
        learning_rate_init=0.01,
        random_state=0,
        callbacks=[stopping, plateau],
    )
    quietly(model.fit, X, y)
    scores = model.validation_scores_
    assert stopping.mode == plateau.mode == "max"
    assert stopping.best == max(scores)
    assert stopping.best_epoch == int(np.argmax(scores)) + 1
    assert plateau.best == pytest.approx(max(scores))


def test_checkpoint_of_the_best_val_score_keeps_the_highest(tmp_path):
    checkpoint = ModelCheckpoint(
        tmp_path / "best-{epoch}.ckpt", save_best_only=True, monitor="val_score"
    )
    model = MLPClassifier(
        hidden_layer_sizes=(8,),
        early_stopping=True,
        n_iter_no_change=50,
        max_iter=12,
        learning_rate_init=0.01,
        random_state=0,
        callbacks=[checkpoint],
    )
    quietly(model.fit, X, Y_CLASSES)
    best_epoch = int(np.argmax(model.validation_scores_)) + 1
    assert checkpoint.last_path == tmp_path / f"best-{best_epoch}.ckpt"


# ---------------------------------------------------------------------- checkpoint every epoch
def test_checkpoint_of_every_epoch_needs_no_early_stopping(tmp_path):
    checkpoint = ModelCheckpoint(tmp_path / "e{epoch}.ckpt")  # monitor: 'val_loss', unused
    model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, callbacks=[checkpoint])
    quietly(model.fit, X, Y_CLASSES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e1.ckpt", "e2.ckpt"]


def test_checkpoint_of_the_best_val_loss_still_needs_early_stopping(tmp_path):
    checkpoint = ModelCheckpoint(tmp_path / "e.ckpt", save_best_only=True)
    model = MLPClassifier(max_iter=2, callbacks=[checkpoint])
    with pytest.raises(ValueError, match="monitors 'val_loss', which is logged only with"):
        model.fit(X, Y_CLASSES)


# ---------------------------------------------------------------------- partial_fit: one run
def test_partial_fit_calls_make_one_run_of_the_callbacks(tmp_path):
    begun, epochs = [], []
    note = LambdaCallback(
        on_train_begin=lambda logs: begun.append(1),
        on_epoch_end=lambda epoch, logs: epochs.append(epoch),
    )
    log = CSVLogger(tmp_path / "log.csv")
    checkpoint = ModelCheckpoint(tmp_path / "e{epoch}.ckpt", save_weights_only=True)
    model = MLPClassifier(
        hidden_layer_sizes=(5,), random_state=0, callbacks=[note, log, checkpoint]
    )
    for _ in range(3):
        model.partial_fit(X, Y_CLASSES, classes=[0, 1, 2])
    assert begun == [1]
    assert epochs == [0, 1, 2]  # Keras's count, from 0
    with (tmp_path / "log.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert [float(row["loss"]) for row in rows] == pytest.approx(model.loss_curve_)
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == ["e1.ckpt", "e2.ckpt", "e3.ckpt"]


def test_early_stopping_fires_across_partial_fit_calls():
    # min_delta=100: only the first epoch improves; with patience 2 the third stops.
    stopping = EarlyStopping(monitor="loss", patience=2, min_delta=100)
    ended = []
    note = LambdaCallback(on_train_end=lambda logs: ended.append(logs["loss"]))
    model = MLPClassifier(hidden_layer_sizes=(5,), random_state=0, callbacks=[stopping, note])
    stopped_at = []
    for _ in range(4):
        model.partial_fit(X, Y_CLASSES, classes=[0, 1, 2])
        stopped_at.append(stopping.stopped_epoch)
    # The stop ends the run (on_train_end); the next call begins a new one.
    assert stopped_at == [0, 0, 3, 0]
    assert ended == [model.loss_curve_[2]]


def test_set_params_with_other_callbacks_begins_a_new_run():
    begun = []
    first = LambdaCallback(on_train_begin=lambda logs: begun.append("first"))
    second = LambdaCallback(on_train_begin=lambda logs: begun.append("second"))
    model = MLPRegressor(hidden_layer_sizes=(3,), random_state=0, callbacks=[first])
    model.partial_fit(X, Y_VALUES)
    model.partial_fit(X, Y_VALUES)
    model.set_params(callbacks=[second])
    model.partial_fit(X, Y_VALUES)
    quietly(model.set_params(max_iter=1).fit, X, Y_VALUES)  # fit: a run of its own
    model.partial_fit(X, Y_VALUES)
    assert begun == ["first", "second", "second", "second"]


def test_estimator_in_a_run_of_partial_fit_calls_pickles():
    model = MLPRegressor(hidden_layer_sizes=(3,), random_state=0, callbacks=[EarlyStopping("loss")])
    model.partial_fit(X, Y_VALUES)
    copy = pickle.loads(pickle.dumps(model))
    copy.partial_fit(X, Y_VALUES)
    model.partial_fit(X, Y_VALUES)
    assert len(copy.loss_curve_) == len(model.loss_curve_) == 2


# ---------------------------------------------------------------------- logged learning rate
@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive", "constant"])
def test_logged_lr_is_the_rate_the_epoch_trained_with(learning_rate):
    logged: list[float] = []
    note = LambdaCallback(on_epoch_end=lambda epoch, logs: logged.append(logs["lr"]))
    used: list[float] = []
    model = MLPRegressor(
        hidden_layer_sizes=(4,),
        solver="sgd",
        learning_rate=learning_rate,
        learning_rate_init=0.05,
        power_t=0.5,
        n_iter_no_change=1,
        tol=10.0,  # no epoch improves by 10: 'adaptive' divides the rate after the third
        max_iter=4,
        random_state=0,
        callbacks=[note],
    )
    rate = LambdaCallback(on_batch_begin=lambda batch, logs: used.append(model._learning_rate()))
    model.set_params(callbacks=[note, rate])
    quietly(model.fit, X, Y_VALUES)
    assert len(logged) == model.n_iter_
    assert logged == used[: len(logged)]  # one batch per epoch (120 samples < 200)
    if learning_rate == "invscaling":
        expected = [0.05 / (len(X) * epoch + 1) ** 0.5 for epoch in range(len(logged))]
        assert logged == pytest.approx(expected, rel=1e-12)
    if learning_rate == "adaptive":
        assert logged == pytest.approx([0.05, 0.05, 0.05, 0.01], rel=1e-12)
