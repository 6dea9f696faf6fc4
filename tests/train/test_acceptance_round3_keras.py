"""fit, evaluate and the callbacks as a Keras user tries them, third round: Keras's loss,
optimizer and metric names, fit(x, y), initial_epoch, validation_freq, History.params,
model.stop_training from a callback, EarlyStopping's baseline and start_from_epoch, and
evaluate(return_dict=False); values against scikit-learn's metrics and Keras's documented
behaviour."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn import metrics as sk

from chainrule import nn, optim
from chainrule.train import (
    Callback,
    EarlyStopping,
    FitState,
    LearningRateScheduler,
    evaluate,
    fit,
    predict,
)


def _blobs(n: int = 60, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, 4)) + 3.0 * np.eye(classes, 4)[y]
    return x.astype(np.float32), y.astype(np.int64)


def _model(n_out: int, *head: nn.Module, seed: int = 0) -> nn.Sequential:
    model = nn.Sequential(nn.Linear(4, n_out), *head)
    model.reset_parameters(seed)
    return model


def _weights(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.data.copy() for k, v in model.state_dict().items()}


# --- Keras's loss names, with Keras's meaning (probabilities) -------------------------------


def test_sparse_categorical_crossentropy_of_softmax_outputs_is_scikit_learns_log_loss() -> None:
    x, y = _blobs()
    model = _model(3, nn.Softmax(dim=1))
    proba = predict(model, x)
    result = evaluate(model, "sparse_categorical_crossentropy", (x, y), metrics=["accuracy"])
    assert result["loss"] == pytest.approx(sk.log_loss(y, proba), rel=1e-5)
    assert result["accuracy"] == pytest.approx(sk.accuracy_score(y, proba.argmax(axis=1)))


def test_categorical_crossentropy_takes_one_hot_targets() -> None:
    x, y = _blobs()
    one_hot = np.eye(3)[y]
    model = _model(3, nn.Softmax(dim=1))
    proba = predict(model, x)
    result = evaluate(model, "categorical_crossentropy", (x, one_hot), metrics=["accuracy"])
    assert result["loss"] == pytest.approx(sk.log_loss(y, proba), rel=1e-5)
    # Keras's categorical_accuracy: the argmax of the targets against that of the outputs.
    assert result["accuracy"] == pytest.approx(sk.accuracy_score(y, proba.argmax(axis=1)))


def test_binary_crossentropy_of_sigmoid_outputs_is_scikit_learns_log_loss() -> None:
    x, y = _blobs(classes=2)
    model = _model(1, nn.Sigmoid())
    proba = predict(model, x)[:, 0]
    result = evaluate(model, "binary_crossentropy", (x, y.astype(np.float32)))
    assert result["loss"] == pytest.approx(sk.log_loss(y, proba), rel=1e-5)


def test_a_softmax_classifier_trained_with_keras_names_learns_separable_blobs() -> None:
    x, y = _blobs(n=90)
    model = _model(3, nn.Softmax(dim=1))
    history = fit(
        model,
        "sparse_categorical_crossentropy",
        "Adam",
        x,
        y,
        epochs=30,
        batch_size=16,
        metrics=["accuracy"],
        seed=0,
        verbose=0,
    )
    assert history["loss"][-1] < history["loss"][0]
    assert sk.accuracy_score(y, predict(model, x).argmax(axis=1)) >= 0.85


def test_cross_entropy_with_one_hot_targets_reports_accuracy() -> None:
    x, y = _blobs()
    model = _model(3)
    logits = predict(model, x)
    result = evaluate(model, "cross_entropy", (x, np.eye(3)[y]), metrics=["accuracy", "f1"])
    assert result["accuracy"] == pytest.approx(sk.accuracy_score(y, logits.argmax(axis=1)))
    assert result["f1"] == pytest.approx(
        sk.f1_score(y, logits.argmax(axis=1), average="macro", zero_division=0)
    )


def test_keras_metric_names_are_logged_as_given_with_scikit_learns_values() -> None:
    x, _ = _blobs()
    target = x @ np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32)
    model = _model(1)
    predicted = predict(model, x)[:, 0]
    result = evaluate(
        model,
        "mean_squared_error",
        (x, target),
        metrics=["mean_squared_error", "mean_absolute_error"],
    )
    assert result["mean_squared_error"] == pytest.approx(sk.mean_squared_error(target, predicted))
    assert result["mean_absolute_error"] == pytest.approx(sk.mean_absolute_error(target, predicted))
    assert result["loss"] == pytest.approx(sk.mean_squared_error(target, predicted), rel=1e-5)
    history = fit(
        _model(1),
        "mse",
        "sgd",
        x,
        target,
        epochs=1,
        metrics=["mean_absolute_error"],
        validation_split=0.2,
        verbose=0,
    )
    assert {"mean_absolute_error", "val_mean_absolute_error"} <= set(history.history)


def test_optimizer_and_loss_given_as_classes_train_as_instances_do() -> None:
    x, y = _blobs()
    by_class, by_instance = _model(3), _model(3)
    fit(by_class, nn.CrossEntropyLoss, optim.RMSprop, (x, y), epochs=2, seed=1, verbose=0)
    fit(
        by_instance,
        nn.CrossEntropyLoss(),
        optim.RMSprop(by_instance.parameters()),
        (x, y),
        epochs=2,
        seed=1,
        verbose=0,
    )
    for name, value in _weights(by_class).items():
        np.testing.assert_array_equal(value, _weights(by_instance)[name])


@pytest.mark.parametrize(
    ("name", "cls"), [("SGD", optim.SGD), ("Adam", optim.Adam), ("RMSprop", optim.RMSprop)]
)
def test_optimizer_names_in_kerass_spelling(name: str, cls: type[optim.Optimizer]) -> None:
    x, y = _blobs()
    keras_way, lower_case = _model(3), _model(3)
    fit(keras_way, "cross_entropy", name, (x, y), epochs=2, seed=1, verbose=0)
    fit(
        lower_case,
        "cross_entropy",
        cls(lower_case.parameters()),
        (x, y),
        epochs=2,
        seed=1,
        verbose=0,
    )
    for key, value in _weights(keras_way).items():
        np.testing.assert_array_equal(value, _weights(lower_case)[key])


# --- fit's Keras arguments -------------------------------------------------------------------


def test_fit_and_evaluate_take_x_and_y_apart() -> None:
    x, y = _blobs()
    apart, together = _model(3), _model(3)
    fit(apart, "cross_entropy", "adam", x, y, epochs=2, seed=3, verbose=0)
    fit(together, "cross_entropy", "adam", (x, y), epochs=2, seed=3, verbose=0)
    for key, value in _weights(apart).items():
        np.testing.assert_array_equal(value, _weights(together)[key])
    assert evaluate(apart, "cross_entropy", x, y) == evaluate(apart, "cross_entropy", (x, y))
    with pytest.raises(TypeError, match="y is given"):
        fit(apart, "cross_entropy", "adam", (x, y), y, verbose=0)


def test_initial_epoch_runs_the_remaining_epochs_as_keras_does() -> None:
    x, y = _blobs(n=40)
    seen: list[int] = []
    history = fit(
        _model(3),
        "cross_entropy",
        "sgd",
        (x, y),
        epochs=5,
        initial_epoch=2,
        batch_size=10,
        callbacks=[LearningRateScheduler(lambda epoch: seen.append(epoch) or 0.01)],
        verbose=0,
    )
    assert seen == [2, 3, 4]  # Keras's 0-based epoch indices
    assert history.epoch == [3, 4, 5]
    assert len(history.step_loss) == 3 * 4
    with pytest.raises(ValueError, match="initial_epoch must be an integer in"):
        fit(_model(3), "cross_entropy", "sgd", (x, y), epochs=2, initial_epoch=3, verbose=0)


def test_validation_freq_validates_every_nth_epoch_and_early_stopping_waits_for_it() -> None:
    x, y = _blobs()
    history = fit(
        _model(3),
        "cross_entropy",
        "sgd",
        (x, y),
        epochs=4,
        validation_split=0.25,
        validation_freq=2,
        callbacks=[EarlyStopping(monitor="val_loss", patience=5)],
        verbose=0,
    )
    assert history.epoch == [1, 2, 3, 4]
    assert np.isnan(history["val_loss"][0]) and np.isnan(history["val_loss"][2])
    assert np.isfinite(history["val_loss"][1]) and np.isfinite(history["val_loss"][3])
    with pytest.raises(ValueError, match="validation_freq must be a positive integer"):
        fit(_model(3), "cross_entropy", "sgd", (x, y), validation_freq=0, verbose=0)


def test_history_has_kerass_params_and_model() -> None:
    x, y = _blobs(n=50)
    model = _model(3)
    history = fit(model, "cross_entropy", "sgd", (x, y), epochs=3, batch_size=16, verbose=0)
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 4}
    assert history.model is model


def test_a_callback_stops_training_through_model_stop_training() -> None:
    x, y = _blobs()

    class StopAtTwo(Callback):
        def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
            assert self.params is not None and self.params["epochs"] == 6
            if state.epoch == 2:
                self.model.stop_training = True

    model = _model(3)
    history = fit(
        model, "cross_entropy", "sgd", (x, y), epochs=6, callbacks=[StopAtTwo()], verbose=0
    )
    assert history.epoch == [1, 2]
    # As Keras resets the flag when fit starts, a later fit on the model trains again.
    history = fit(model, "cross_entropy", "sgd", (x, y), epochs=3, verbose=0)
    assert history.epoch == [1, 2, 3]


def test_early_stopping_stops_after_patience_epochs_when_the_baseline_is_never_beaten() -> None:
    x, y = _blobs()
    # Keras: "If no epoch improves on baseline, training will run for patience epochs".
    history = fit(
        _model(3),
        "cross_entropy",
        "sgd",
        (x, y),
        epochs=10,
        callbacks=[EarlyStopping(monitor="loss", baseline=-1.0, patience=3)],
        verbose=0,
    )
    assert history.epoch == [1, 2, 3]
    history = fit(
        _model(3),
        "cross_entropy",
        "sgd",
        (x, y),
        epochs=10,
        callbacks=[EarlyStopping(monitor="loss", baseline=100.0, patience=3)],
        verbose=0,
    )
    assert history.epoch == list(range(1, 11))


def test_early_stopping_ignores_the_warm_up_epochs_of_start_from_epoch() -> None:
    x, y = _blobs()
    # A min_delta no change can meet: every epoch after the first counted one is without
    # improvement, so patience=1 stops one epoch after the warm-up and the first count.
    stopper = EarlyStopping(monitor="loss", patience=1, min_delta=1e9, start_from_epoch=3)
    history = fit(
        _model(3), "cross_entropy", "sgd", (x, y), epochs=10, callbacks=[stopper], verbose=0
    )
    assert history.epoch == [1, 2, 3, 4, 5]
    assert stopper.best_epoch == 4


def test_evaluate_returns_kerass_scalar_or_list_without_return_dict() -> None:
    x, y = _blobs()
    model = _model(3)
    as_dict = evaluate(model, "cross_entropy", (x, y), metrics=["accuracy"])
    loss_only: Any = evaluate(model, "cross_entropy", (x, y), return_dict=False)
    assert loss_only == pytest.approx(as_dict["loss"])
    listed = evaluate(model, "cross_entropy", (x, y), metrics=["accuracy"], return_dict=False)
    assert listed == pytest.approx([as_dict["loss"], as_dict["accuracy"]])
