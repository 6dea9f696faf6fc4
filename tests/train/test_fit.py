"""The fit loop as a practitioner uses it: real datasets, validation, callbacks, history."""

from __future__ import annotations

import io
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.data import load_dataset, stratified_split
from chainrule.optim import SGD, Adam
from chainrule.optim.lr_scheduler import StepLR
from chainrule.train import (
    Callback,
    CSVLogger,
    DivergenceWarning,
    EarlyStopping,
    FitState,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    ReduceLROnPlateau,
    TerminateOnNaN,
    evaluate,
    fit,
    predict,
)


def _standardized_split(name: str, seed: int = 0) -> tuple[Any, ...]:
    data = load_dataset(name)
    if data.task == "classification":
        train, test = stratified_split(data.y, 0.25, generator=seed)
    else:
        order = np.random.default_rng(seed).permutation(len(data.y))
        train, test = order[: int(0.75 * len(order))], order[int(0.75 * len(order)) :]
    mean, std = data.x[train].mean(0), data.x[train].std(0) + 1e-6
    x = (data.x - mean) / std
    return x[train], data.y[train], x[test], data.y[test]


def _mlp(n_in: int, n_out: int, hidden: int = 64, seed: int = 0) -> nn.Sequential:
    model = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))
    model.reset_parameters(seed)
    return model


def test_digits_reaches_97_percent_test_accuracy() -> None:
    x, y, x_test, y_test = _standardized_split("digits")
    model = _mlp(64, 10, hidden=128)
    fit(
        model,
        "cross_entropy",
        Adam(model.parameters(), lr=1e-3),
        (x, y),
        epochs=25,
        batch_size=32,
        seed=0,
        verbose=0,
    )
    accuracy = np.mean(predict(model, x_test).argmax(1) == y_test)
    assert accuracy >= 0.97


def test_breast_cancer_reaches_95_percent_test_accuracy() -> None:
    x, y, x_test, y_test = _standardized_split("breast-cancer")
    model = _mlp(30, 2, hidden=32)
    fit(
        model,
        "cross_entropy",
        Adam(model.parameters(), lr=1e-3),
        (x, y),
        epochs=30,
        batch_size=32,
        seed=0,
        verbose=0,
    )
    result = evaluate(model, "cross_entropy", (x_test, y_test), metrics=["accuracy"])
    assert result["accuracy"] >= 0.95


def test_diabetes_regression_r2_at_least_045() -> None:
    """Five-fold cross-validated R^2 (one split alone ranges 0.37..0.51 even for least squares)."""
    data = load_dataset("diabetes")
    scores = []
    for fold in np.array_split(np.random.default_rng(0).permutation(len(data.y)), 5):
        train = np.setdiff1d(np.arange(len(data.y)), fold)
        mean, std = data.x[train].mean(0), data.x[train].std(0)
        center, scale = data.y[train].mean(), data.y[train].std()
        x, x_test = (data.x[train] - mean) / std, (data.x[fold] - mean) / std
        y, y_test = (data.y[train] - center) / scale, (data.y[fold] - center) / scale
        model = _mlp(10, 1, hidden=16)
        fit(
            model,
            "mse",
            Adam(model.parameters(), lr=1e-2),
            (x, y[:, None]),
            epochs=200,
            batch_size=32,
            validation_split=0.15,
            seed=0,
            verbose=0,
            callbacks=[EarlyStopping(patience=10, restore_best_weights=True)],
        )
        scores.append(evaluate(model, "mse", (x_test, y_test[:, None]), metrics=["r2"])["r2"])
    assert np.mean(scores) >= 0.45


def _toy(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return x, y


def test_same_seed_gives_bit_identical_weights() -> None:
    x, y = _toy()
    results = []
    for _ in range(2):
        model = nn.Sequential(
            nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.2, generator=5), nn.Linear(8, 2)
        )
        model.reset_parameters(1)
        fit(
            model,
            "cross_entropy",
            Adam(model.parameters(), lr=0.01),
            (x, y),
            epochs=3,
            batch_size=16,
            validation_split=0.2,
            seed=7,
            verbose=0,
        )
        results.append(model.state_dict())
    for key in results[0]:
        assert np.array_equal(results[0][key].numpy(), results[1][key].numpy()), key


def test_history_records_losses_metrics_lr_and_steps() -> None:
    x, y = _toy()
    model = _mlp(4, 2, hidden=8)
    history = fit(
        model,
        "cross_entropy",
        SGD(model.parameters(), lr=0.1),
        (x, y),
        epochs=4,
        batch_size=50,
        validation_split=0.25,
        metrics=["accuracy", "f1"],
        seed=0,
        verbose=0,
    )
    assert history.epoch == [1, 2, 3, 4]
    for key in ("loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1", "lr", "time"):
        assert len(history[key]) == 4, key
    assert len(history.step_loss) == 4 * 3  # 150 training rows in batches of 50
    assert history["loss"][-1] < history["loss"][0]
    assert history.stop_reason is None


def test_a_dataloader_brings_its_batch_size_and_drop_last() -> None:
    from chainrule.data import DataLoader, TensorDataset

    x, y = _toy()  # 200 rows
    data = TensorDataset(cr.tensor(x.astype(np.float32)), cr.tensor(y))
    for drop_last, steps in ((False, 3 * 4), (True, 3 * 3)):  # 64, 64, 64 and 8 rows, or not
        model = _mlp(4, 2, hidden=8)
        loader = DataLoader(data, batch_size=64, drop_last=drop_last)
        history = fit(
            model, "cross_entropy", "sgd", loader, epochs=3, batch_size=7, seed=0, verbose=0
        )
        assert len(history.step_loss) == steps, drop_last


def test_validation_split_is_stratified() -> None:
    x, y = _toy()
    seen: list[int] = []

    class CountValidation(Callback):
        def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
            seen.append(state.steps_per_epoch)

    model = _mlp(4, 2, hidden=4)
    fit(
        model,
        "cross_entropy",
        "sgd",
        (x, y),
        epochs=1,
        batch_size=10,
        validation_split=0.1,
        callbacks=[CountValidation()],
        seed=0,
        verbose=0,
    )
    assert seen == [18]  # 180 training rows left


def test_early_stopping_restores_the_best_weights() -> None:
    x, y = _toy()
    x_val, y_val = _toy(1)
    model = _mlp(4, 2, hidden=8)
    snapshots: list[dict[str, np.ndarray]] = []

    class Snapshot(Callback):
        def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
            snapshots.append({k: v.numpy().copy() for k, v in state.model.state_dict().items()})

    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    # A learning rate far too large makes the validation loss get worse, then stop.
    history = fit(
        model,
        "cross_entropy",
        SGD(model.parameters(), lr=5.0),
        (x, y),
        epochs=50,
        batch_size=200,
        validation_data=(x_val, y_val),
        callbacks=[Snapshot(), stopper],
        seed=0,
        verbose=0,
    )
    assert history.stop_reason is not None and "early stopping" in history.stop_reason
    assert len(history.epoch) < 50
    best = int(np.argmin(history["val_loss"]))
    for key, value in model.state_dict().items():
        assert np.array_equal(value.numpy(), snapshots[best][key])


def test_non_finite_loss_stops_with_a_warning_naming_epoch_and_step() -> None:
    x, y = _toy()
    x[150] = np.nan  # the bad row is met on the first epoch, shuffling is off
    model = _mlp(4, 2, hidden=4)
    with pytest.warns(DivergenceWarning, match=r"loss became nan at epoch 1, step 4"):
        history = fit(
            model, "cross_entropy", "sgd", (x, y), epochs=3, batch_size=50, shuffle=False, verbose=0
        )
    assert history.stop_reason is not None and "epoch 1, step 4" in history.stop_reason


def test_terminate_on_nan_callback_stops() -> None:
    state_seen: list[str | None] = []

    class Check(Callback):
        def on_train_end(self, state: FitState) -> None:
            state_seen.append(state.stop_reason)

    stopper = TerminateOnNaN()
    state = FitState(
        model=_mlp(2, 1),
        optimizer=SGD(_mlp(2, 1).parameters(), lr=0.1),
        loss_fn=nn.MSELoss(),
        history=cr.train.History(),
        epochs=1,
        steps_per_epoch=1,
    )
    stopper.on_batch_end(state, {"loss": float("inf")})
    assert state.stop_training and "non-finite loss" in str(state.stop_reason)


def test_learning_rate_callbacks_and_scheduler_set_lr() -> None:
    x, y = _toy()
    model = _mlp(4, 2, hidden=4)
    opt = SGD(model.parameters(), lr=0.1)
    history = fit(
        model,
        "cross_entropy",
        opt,
        (x, y),
        epochs=4,
        batch_size=100,
        scheduler=StepLR(opt, step_size=2, gamma=0.5),
        verbose=0,
        seed=0,
    )
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05])  # the lr each epoch used
    history = fit(
        model,
        "cross_entropy",
        opt,
        (x, y),
        epochs=3,
        batch_size=100,
        verbose=0,
        callbacks=[LearningRateScheduler(lambda epoch, lr: 0.5 / (epoch + 1))],
    )
    assert history["lr"] == pytest.approx([0.5, 0.25, 0.5 / 3])


def test_reduce_lr_on_plateau_callback() -> None:
    x, y = _toy()
    model = _mlp(4, 2, hidden=4)
    opt = SGD(model.parameters(), lr=0.0)  # nothing changes, so the loss plateaus at once
    history = fit(
        model,
        "cross_entropy",
        opt,
        (x, y),
        epochs=4,
        batch_size=200,
        verbose=0,
        callbacks=[ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)],
    )
    assert opt.param_groups[0]["lr"] == 0.0
    opt = SGD(model.parameters(), lr=1e-12)
    history = fit(
        model,
        "cross_entropy",
        opt,
        (x, y),
        epochs=5,
        batch_size=200,
        verbose=0,
        callbacks=[ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)],
    )
    assert history["lr"][-1] < 1e-12


def test_csv_logger_writes_a_row_per_epoch(tmp_path: Path) -> None:
    x, y = _toy()
    path = tmp_path / "log.csv"
    model = _mlp(4, 2, hidden=4)
    fit(
        model,
        "cross_entropy",
        "adam",
        (x, y),
        epochs=3,
        batch_size=100,
        metrics=["accuracy"],
        callbacks=[CSVLogger(path)],
        verbose=0,
        seed=0,
    )
    lines = path.read_text().splitlines()
    assert lines[0].split(",")[:3] == ["epoch", "loss", "accuracy"]
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "3"]


def test_ctrl_c_stops_after_the_current_step_and_returns_history() -> None:
    x, y = _toy()
    model = _mlp(4, 2, hidden=4)

    class Interrupt(Callback):
        def on_batch_end(self, state: FitState, logs: dict[str, float]) -> None:
            if state.step == 5:
                os.kill(os.getpid(), signal.SIGINT)

    history = fit(
        model,
        "cross_entropy",
        "sgd",
        (x, y),
        epochs=10,
        batch_size=20,
        callbacks=[Interrupt()],
        verbose=0,
        seed=0,
    )
    assert history.interrupted
    assert len(history.step_loss) == 5
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_progress_lines_go_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = _toy()
    fit(
        _mlp(4, 2, hidden=4),
        "cross_entropy",
        "sgd",
        (x, y),
        epochs=2,
        batch_size=100,
        metrics=["accuracy"],
        seed=0,
    )
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "epoch 2/2" in captured.err and "accuracy" in captured.err


def test_fit_rejects_bad_arguments() -> None:
    x, y = _toy()
    model = _mlp(4, 2)
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
        fit(model, "mse", "sgd", (x, y), epochs=0)
    with pytest.raises(ValueError, match="unknown loss 'cross'; expected one of"):
        fit(model, "cross", "sgd", (x, y))
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        fit(model, "mse", "adamm", (x, y))
    with pytest.raises(ValueError, match="same number of rows, got 200 and 10"):
        fit(model, "mse", "sgd", (x, y[:10]))
    with pytest.raises(ValueError, match="validation_split must be in"):
        fit(model, "mse", "sgd", (x, y), validation_split=1.5)


def test_float64_data_trains_a_float32_model_in_float32() -> None:
    x, y = _toy()
    model = _mlp(4, 2, hidden=4)
    fit(model, "cross_entropy", "sgd", (x.astype(np.float64), y), epochs=1, verbose=0)
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert predict(model, x.astype(np.float64)).dtype == np.float32


def test_divergence_names_the_first_op_that_went_non_finite() -> None:
    x, y = _toy()
    model = nn.Sequential(nn.Linear(4, 1))
    model.reset_parameters(0)
    opt = SGD(model.parameters(), lr=1e6)  # blows the weights up within a few steps

    def loss(output: cr.Tensor, target: cr.Tensor) -> cr.Tensor:
        return cr.log(cr.exp(output * 100).sum())  # exp overflows first

    with pytest.warns(DivergenceWarning, match="first non-finite value came from op 'exp'"):
        fit(model, loss, opt, (x, y), epochs=5, batch_size=50, shuffle=False, verbose=0)


def _resumable_run(
    epochs: int, path: Path, resume: bool, checkpoint: bool
) -> dict[str, np.ndarray]:
    x, y = _toy()
    model = nn.Sequential(
        nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.3, generator=11), nn.Linear(8, 2)
    )
    model.reset_parameters(3)
    opt = Adam(model.parameters(), lr=0.01)
    callbacks = [ModelCheckpoint(path)] if checkpoint else []
    fit(
        model,
        "cross_entropy",
        opt,
        (x, y),
        epochs=epochs,
        batch_size=32,
        validation_split=0.2,
        scheduler=StepLR(opt, step_size=2, gamma=0.5),
        callbacks=callbacks,
        seed=4,
        verbose=0,
        resume_from=path if resume else None,
    )
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    path = tmp_path / "run.ckpt"
    straight = _resumable_run(6, path, resume=False, checkpoint=False)
    _resumable_run(3, path, resume=False, checkpoint=True)
    resumed = _resumable_run(6, path, resume=True, checkpoint=False)
    for key in straight:
        assert np.array_equal(straight[key], resumed[key]), key
    assert [p.name for p in tmp_path.iterdir()] == ["run.ckpt"]  # no temporary files left


def test_history_plot_writes_a_png(tmp_path: Path) -> None:
    x, y = _toy()
    history = fit(
        _mlp(4, 2, hidden=4),
        "cross_entropy",
        "adam",
        (x, y),
        epochs=3,
        batch_size=50,
        validation_split=0.2,
        metrics=["accuracy"],
        seed=0,
        verbose=0,
    )
    path = history.plot(tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_shows_steps_and_metrics() -> None:
    x, y = _toy()
    screen = _Terminal()
    fit(
        _mlp(4, 2, hidden=4),
        "cross_entropy",
        "sgd",
        (x, y),
        epochs=2,
        batch_size=50,
        metrics=["accuracy"],
        callbacks=[ProgressBar(stream=screen)],
        verbose=0,
        seed=0,
    )
    text = screen.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text
    assert "4/4" in text  # 200 rows in batches of 50
    assert "accuracy" in text


def test_progress_prints_one_line_per_epoch_off_a_terminal() -> None:
    x, y = _toy()
    log = io.StringIO()
    fit(
        _mlp(4, 2, hidden=4),
        "cross_entropy",
        "sgd",
        (x, y),
        epochs=3,
        batch_size=50,
        callbacks=[ProgressBar(stream=log)],
        verbose=0,
        seed=0,
    )
    lines = log.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
