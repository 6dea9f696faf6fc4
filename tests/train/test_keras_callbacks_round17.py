"""Callbacks as a Keras user drives them: the direction 'auto' reads for a plain function
metric, what a learning-rate schedule may return, the progress line of an epoch that was
not validated, and ``LambdaCallback``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import (
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    ReduceLROnPlateau,
)
from chainrule.train.metrics import get_metric


def _blobs(rows: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 5)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64)


def _model() -> nn.Module:
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))


def my_error(y_true: Any, y_pred: Any) -> float:
    return float(np.mean(np.asarray(y_true) != np.asarray(y_pred)))


def my_accuracy(y_true: Any, y_pred: Any) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


# --- a plain function metric: its direction read from its name ---------------------------


def test_a_plain_function_has_no_direction_of_its_own() -> None:
    assert get_metric(my_error).greater_is_better is None
    assert get_metric("accuracy").greater_is_better is True
    assert get_metric("mse").greater_is_better is False


@pytest.mark.parametrize(
    "make",
    [
        lambda: EarlyStopping(monitor="val_my_error", patience=2),
        lambda: ReduceLROnPlateau(monitor="val_my_error", patience=2),
        lambda: ModelCheckpoint("unused.ckpt", monitor="val_my_error", save_best_only=True),
    ],
)
def test_auto_mode_minimizes_a_function_named_as_an_error_in_fit(
    make: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    callback = make()
    assert callback.mode == "min"
    x, y = _blobs()
    model = _model()
    cr.fit(
        model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), x, y, epochs=3,
        validation_split=0.3, metrics=[my_error], callbacks=[callback], verbose=0, seed=0,
    )  # fmt: skip
    assert callback.mode == "min"  # it was flipped to 'max' once training began


def test_early_stopping_on_a_falling_function_metric_keeps_its_lowest_value() -> None:
    x, y = _blobs()
    model = _model()
    stopper = EarlyStopping(monitor="val_my_error", patience=2)
    history = cr.fit(
        model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), x, y, epochs=30,
        validation_split=0.3, metrics=[my_error], callbacks=[stopper], verbose=0, seed=0,
    )  # fmt: skip
    errors = history["val_my_error"]
    assert stopper.best == min(errors)
    # Stopped for want of improvement, not because the error fell (as it does here).
    assert errors[stopper.best_epoch - 1] == min(errors)
    assert len(errors) > 3


def test_auto_mode_maximizes_a_function_named_as_an_accuracy() -> None:
    x, y = _blobs()
    model = _model()
    stopper = EarlyStopping(monitor="val_my_accuracy", patience=2)
    assert stopper.mode == "max"
    cr.fit(
        model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), x, y, epochs=2,
        validation_split=0.3, metrics=[my_accuracy], callbacks=[stopper], verbose=0, seed=0,
    )  # fmt: skip
    assert stopper.mode == "max"


@pytest.mark.parametrize(
    ("monitor", "mode"),
    [
        ("val_sq", "min"),  # Keras minimizes what its name does not say rises
        ("val_custom", "min"),
        ("val_auc", "max"),
        ("val_f1", "max"),
        ("val_r2", "max"),
        ("val_precision", "max"),
        ("val_recall", "max"),
        ("val_mean_squared_error", "min"),
    ],
)
def test_auto_mode_reads_names_as_keras_does(monitor: str, mode: str) -> None:
    assert EarlyStopping(monitor=monitor).mode == mode


# --- LearningRateScheduler: what a schedule returns ----------------------------------------


def _classes() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(90, 4)).astype(np.float32), rng.integers(0, 3, 90)


def _fit_with(schedule: Any, epochs: int = 3) -> Any:
    x, y = _classes()
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=0.01)
    history = cr.fit(
        model, "cross_entropy", opt, x, y, epochs=epochs,
        callbacks=[LearningRateScheduler(schedule)], verbose=0,
    )  # fmt: skip
    return history, opt


def test_a_schedule_that_returns_none_is_named_with_its_epoch() -> None:
    def schedule(epoch: int, lr: float) -> float | None:
        return lr if epoch < 2 else None

    with pytest.raises(
        ValueError,
        match=r"LearningRateScheduler: expected the schedule to return a finite learning rate "
        r">= 0, got None from schedule\(2, 0\.01\), as epoch 3 began",
    ):
        _fit_with(schedule, epochs=4)


@pytest.mark.parametrize(
    ("returned", "shown"),
    [(-0.1, "-0.1"), (float("nan"), "nan"), (float("inf"), "inf"), (np.array([0.1, 0.2]), "array")],
)
def test_a_schedule_that_returns_no_usable_rate_is_refused(returned: Any, shown: str) -> None:
    x, y = _classes()
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=0.01)
    callback = LearningRateScheduler(lambda epoch: 0.05 if epoch == 0 else returned)
    with pytest.raises(ValueError, match=rf"got {shown}.* from schedule\(1\), as epoch 2 began"):
        cr.fit(model, "cross_entropy", opt, x, y, epochs=3, callbacks=[callback], verbose=0)
    assert opt.param_groups[0]["lr"] == 0.05  # the refused rate was never set


def test_a_schedule_may_return_numpy_numbers() -> None:
    history, _ = _fit_with(lambda epoch: np.float32(0.5) ** epoch)
    assert history["lr"] == [1.0, 0.5, 0.25]


# --- the progress line of an epoch that validation_freq skipped -----------------------------


def test_progress_lines_show_validation_only_on_validated_epochs() -> None:
    x, y = _classes()
    stream = io.StringIO()
    cr.fit(
        nn.Linear(4, 3), "cross_entropy", "adam", x, y, epochs=4, validation_split=0.2,
        validation_freq=2, metrics=["accuracy"], verbose=0,
        callbacks=[ProgressBar(stream=stream, force_bar=False)],
    )  # fmt: skip
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4
    for epoch, line in enumerate(lines, start=1):
        assert ("val_loss" in line) == (epoch % 2 == 0), line
        assert ("val_accuracy" in line) == (epoch % 2 == 0), line
        assert "nan" not in line


# --- LambdaCallback -------------------------------------------------------------------------


def test_lambda_callback_calls_each_function_with_keras_arguments() -> None:
    x, y = _classes()
    calls: list[tuple[Any, ...]] = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin", logs)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch, logs)),
        on_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch, logs)),
        on_batch_end=lambda batch, logs: calls.append(("batch_end", batch, sorted(logs))),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append(("train_end", sorted(logs))),
    )
    cr.fit(
        nn.Linear(4, 3), "cross_entropy", "sgd", x, y, epochs=2, batch_size=45,
        validation_split=0.2, callbacks=callback, verbose=0,
    )  # fmt: skip
    epoch_logs = ["loss", "lr", "time", "val_loss"]
    one_epoch = [
        ("batch_begin", 0, {}),
        ("batch_end", 0, ["loss"]),
        ("batch_begin", 1, {}),
        ("batch_end", 1, ["loss"]),
    ]
    assert calls == [
        ("train_begin", {}),
        ("epoch_begin", 0, {}),
        *one_epoch,
        ("epoch_end", 0, epoch_logs),
        ("epoch_begin", 1, {}),
        *one_epoch,
        ("epoch_end", 1, epoch_logs),
        ("train_end", epoch_logs),
    ]


def test_lambda_callback_can_stop_training_as_a_keras_one_does() -> None:
    x, y = _classes()
    model = nn.Linear(4, 3)

    def stop(epoch: int, logs: dict[str, float]) -> None:
        if epoch == 1:
            model.stop_training = True

    history = cr.fit(
        model, "cross_entropy", "sgd", x, y, epochs=5,
        callbacks=[LambdaCallback(on_epoch_end=stop)], verbose=0,
    )  # fmt: skip
    assert history.epoch == [1, 2]


def test_lambda_callback_refuses_a_hook_that_is_not_a_function() -> None:
    with pytest.raises(TypeError, match="LambdaCallback: expected on_epoch_end as a function"):
        LambdaCallback(on_epoch_end=3)


def test_lambda_callback_is_exported_beside_the_others() -> None:
    assert "LambdaCallback" in cr.train.__all__
