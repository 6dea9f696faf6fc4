"""Callbacks as a Keras user expects them (found by outside-in testing, round 13): 'auto'
follows the monitored metric's direction, keys a callback adds reach History, Keras's
set_model/set_params are called, CSVLogger heads an empty file, and GradientHealth measures
gradients before fit clips them."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.explain import GradientHealth
from chainrule.optim import SGD
from chainrule.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    Metric,
    ModelCheckpoint,
    ReduceLROnPlateau,
)


def _regression(rows: int = 48) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 3)).astype(np.float32)
    return x, (x @ np.array([1.0, -2.0, 0.5], np.float32))[:, None]


def _model() -> nn.Module:
    cr.manual_seed(0)
    return nn.Linear(3, 1)


def _squared_error(y_true: Any, y_pred: Any) -> float:
    return float(np.mean((np.asarray(y_true) - np.asarray(y_pred).reshape(np.shape(y_true))) ** 2))


FALLING = Metric("sq", _squared_error, "values", greater_is_better=False)
"""A user's metric whose name says nothing about its direction."""


@pytest.mark.parametrize(
    "make",
    [
        lambda: EarlyStopping(monitor="val_sq", patience=0),
        lambda: ReduceLROnPlateau(monitor="val_sq", patience=0, factor=0.5),
    ],
)
def test_auto_mode_follows_the_metrics_own_direction(make: Any) -> None:
    x, y = _regression()
    model = _model()
    callback = make()
    history = cr.fit(
        model, "mse", SGD(model.parameters(), lr=0.05), (x, y), epochs=6, batch_size=48,
        validation_data=(x, y), metrics=[FALLING], callbacks=[callback], verbose=0,
    )  # fmt: skip
    assert callback.mode == "min"
    falling = history.history["val_sq"]
    assert all(b < a for a, b in itertools.pairwise(falling))  # it improves...
    assert len(history.epoch) == 6  # ...so nothing stops
    assert history.history["lr"] == [0.05] * 6  # ...nor cuts the rate


def test_save_best_only_keeps_the_best_epoch_of_a_falling_metric(tmp_path: Path) -> None:
    x, y = _regression()
    model = _model()
    checkpoint = ModelCheckpoint(
        tmp_path / "best-{epoch}.ckpt", monitor="val_sq", save_best_only=True
    )
    cr.fit(
        model, "mse", SGD(model.parameters(), lr=0.05), (x, y), epochs=4, batch_size=48,
        validation_data=(x, y), metrics=[FALLING], callbacks=[checkpoint], verbose=0,
    )  # fmt: skip
    assert checkpoint.mode == "min"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"best-{e}.ckpt" for e in range(1, 5)]


@pytest.mark.parametrize("monitor", ["val_msle", "val_mape", "val_kl_divergence", "val_hinge"])
def test_auto_mode_reads_more_error_names_as_falling(monitor: str) -> None:
    assert EarlyStopping(monitor=monitor).mode == "min"
    assert EarlyStopping(monitor="val_accuracy").mode == "max"
    assert EarlyStopping(monitor="val_sq", mode="max").mode == "max"


class AddsToLogs(Callback):
    def on_epoch_end(self, state: Any, logs: dict[str, float]) -> None:
        logs["custom"] = float(state.epoch) * 10


def test_keys_a_callback_adds_to_the_logs_reach_history(tmp_path: Path) -> None:
    x, y = _regression()
    model = _model()
    history = cr.fit(
        model, "mse", SGD(model.parameters(), lr=0.01), (x, y), epochs=3, verbose=0,
        callbacks=[AddsToLogs(), CSVLogger(tmp_path / "log.csv")],
    )  # fmt: skip
    assert history.history["custom"] == [10.0, 20.0, 30.0]
    assert len(history.history["loss"]) == 3


class KerasStyle:
    """A callback written for Keras: its setters are how it learns the model and params."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def set_model(self, model: Any) -> None:
        self.calls.append("set_model")
        self.layer = model[0]

    def set_params(self, params: dict[str, Any]) -> None:
        self.calls.append("set_params")
        self.epochs = params["epochs"]

    def on_train_begin(self, logs: Any = None) -> None:
        self.calls.append(f"on_train_begin {type(self.layer).__name__} {self.epochs}")


def test_set_model_and_set_params_are_called_before_training_begins() -> None:
    x, y = _regression()
    model = nn.Sequential(nn.Linear(3, 1))
    callback = KerasStyle()
    cr.fit(model, "mse", "sgd", (x, y), epochs=2, verbose=0, callbacks=[callback])
    assert callback.calls == ["set_model", "set_params", "on_train_begin Linear 2"]


def test_csv_logger_appending_to_an_empty_file_writes_the_header(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.touch()
    x, y = _regression()
    model = _model()
    cr.fit(
        model, "mse", "sgd", (x, y), epochs=2, verbose=0, callbacks=[CSVLogger(path, append=True)]
    )
    lines = path.read_text().splitlines()
    assert lines[0].split(",")[:2] == ["epoch", "loss"]
    assert len(lines) == 3


def test_gradient_health_measures_gradients_before_fit_clips_them() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = rng.integers(0, 2, 64)
    norms = {}
    for clip in (None, 1.0):
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
        model[0].weight.data *= 1e4
        health = GradientHealth()
        cr.fit(
            model, "cross_entropy", SGD(model.parameters(), lr=1e-6), (x, y), epochs=1,
            batch_size=64, callbacks=[health], clip_grad_norm=clip, verbose=0, seed=0,
        )  # fmt: skip
        norms[clip] = health.report.layers["2 (Linear)"].grad_norm[0]
        assert any(f.problem.startswith("exploding") for f in health.report.flags)
        if clip is not None:
            assert float(model[2].weight.grad.norm()) <= 1.0 + 1e-6  # clipped for the step
    assert norms[1.0] == pytest.approx(norms[None], rel=1e-6)
    assert norms[1.0] > 1e3


class NotesInLogs(Callback):
    def on_epoch_end(self, state: Any, logs: dict[str, Any]) -> None:
        logs["note"] = "a string, not a curve"
        logs["score"] = np.float32(state.epoch)


def test_a_callbacks_non_numeric_log_entry_does_not_break_fit() -> None:
    x, y = _regression()
    model = _model()
    history = cr.fit(model, "mse", "sgd", (x, y), epochs=2, verbose=0, callbacks=[NotesInLogs()])
    assert history.history["score"] == [1.0, 2.0]
    assert "note" not in history.history
