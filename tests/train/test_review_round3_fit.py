"""Fixes from the review of the Keras-style additions to fit, each as a user meets it."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import Callback, CSVLogger, ModelCheckpoint

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3)).astype(np.float32)
Y = RNG.integers(0, 2, 40)
XV, YV = RNG.normal(size=(20, 3)).astype(np.float32), RNG.integers(0, 2, 20)


def _model():
    return nn.Sequential(nn.Linear(3, 4, generator=0), nn.ReLU(), nn.Linear(4, 2, generator=1))


def test_a_plateau_scheduler_counts_only_validated_epochs():
    """With validation every 2nd epoch, the scheduler sees validation losses only: the
    training loss of the other epochs is another quantity."""
    seen = []

    class Spy(optim.lr_scheduler.ReduceLROnPlateau):
        def step(self, metric):  # type: ignore[override]
            seen.append(metric)
            super().step(metric)

    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    history = cr.fit(
        model, "cross_entropy", opt, X, Y, epochs=6, validation_data=(XV, YV),
        validation_freq=2, scheduler=Spy(opt, patience=1), seed=0, verbose=0,
    )  # fmt: skip
    assert seen == history["val_loss"][1::2]
    assert all(math.isnan(v) for v in history["val_loss"][0::2])


def test_csv_logger_and_a_checkpoint_named_by_val_loss_work_with_validation_freq(tmp_path):
    log = tmp_path / "log.csv"
    checkpoint = ModelCheckpoint(str(tmp_path / "m-{epoch}-{val_loss:.3f}.safetensors"))
    cr.fit(
        _model(), "cross_entropy", "sgd", X, Y, epochs=4, validation_data=(XV, YV),
        validation_freq=2, callbacks=[CSVLogger(log), checkpoint], seed=0, verbose=0,
    )  # fmt: skip
    with log.open() as handle:
        rows = list(csv.DictReader(handle))
    assert "val_loss" in rows[0]
    assert [math.isnan(float(r["val_loss"])) for r in rows] == [True, False, True, False]
    written = sorted(p.name.split("-")[1] for p in tmp_path.glob("m-*.safetensors"))
    assert written == ["2", "4"]  # the validated epochs only


def test_fit_keeps_a_callbacks_own_model_attribute():
    teacher = _model()

    class Distil(Callback):
        def __init__(self):
            self.model = teacher

    class WithProperty(Callback):
        @property
        def model(self):
            return "mine"

    own, prop, plain = Distil(), WithProperty(), Callback()
    student = _model()
    cr.fit(student, "cross_entropy", "sgd", X, Y, epochs=1, callbacks=[own, prop, plain], verbose=0)
    assert own.model is teacher and prop.model == "mine" and plain.model is student
    other = _model()
    cr.fit(other, "cross_entropy", "sgd", X, Y, epochs=1, callbacks=[plain], verbose=0)
    assert plain.model is other  # fit's own attribute follows the next run


def test_keras_probability_losses_refuse_shapes_keras_refuses():
    model = nn.Sequential(nn.Linear(3, 3, generator=0), nn.Softmax(dim=1))
    with pytest.raises(ValueError, match=r"expected one-hot .* targets of the outputs' shape"):
        cr.fit(model, "categorical_crossentropy", "sgd", X[:3], np.array([0, 1, 2]), verbose=0)
    sequence = nn.Sequential(nn.Linear(3, 3, generator=0), nn.Softmax(dim=-1))
    with pytest.raises(ValueError, match=r"expected outputs of shape \(N, classes\)"):
        cr.evaluate(
            sequence,
            "sparse_categorical_crossentropy",
            X.reshape(4, 10, 3)[:, :2],
            np.zeros((4, 2)),
        )


def test_initial_epoch_equal_to_epochs_trains_nothing_as_in_keras():
    model = _model()
    before = model[0].weight.numpy().copy()
    history = cr.fit(model, "cross_entropy", "sgd", X, Y, epochs=3, initial_epoch=3, verbose=0)
    np.testing.assert_array_equal(model[0].weight.numpy(), before)
    assert history.epoch == []
