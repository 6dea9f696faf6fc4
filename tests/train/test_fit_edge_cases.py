"""``fit`` at its edges, as a Keras user tries it: patience counts, odd batches and targets,
interruptions between steps, checkpoint paths, resuming without a seed."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from chainrule import nn
from chainrule.data import DataLoader, TensorDataset
from chainrule.optim import SGD, Adam
from chainrule.train import (
    Callback,
    DivergenceWarning,
    EarlyStopping,
    FitState,
    ModelCheckpoint,
    ReduceLROnPlateau,
    evaluate,
    fit,
)


def _toy(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return x, y


def _mlp(n_out: int = 2, dropout: float = 0.0) -> nn.Sequential:
    model = nn.Sequential(
        nn.Linear(4, 8), nn.ReLU(), nn.Dropout(dropout, generator=7), nn.Linear(8, n_out)
    )
    model.reset_parameters(0)
    return model


def _weights(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


class _Scripted(Callback):
    """Logs a given value as ``score`` at the end of each epoch."""

    def __init__(self, values: list[float]) -> None:
        self.values = values

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        logs["score"] = self.values[state.epoch - 1]


@pytest.mark.parametrize(("patience", "epochs_run"), [(0, 3), (1, 3), (2, 4), (3, 5)])
def test_early_stopping_stops_after_patience_epochs_without_improvement(
    patience: int, epochs_run: int
) -> None:
    # Best at epoch 2, worse ever after: Keras stops at epoch 2 + patience (at least 3).
    x, y = _toy()
    history = fit(
        _mlp(),
        "cross_entropy",
        "adam",
        (x, y),
        epochs=8,
        callbacks=[
            _Scripted([1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]),
            EarlyStopping("score", patience=patience, mode="min"),
        ],
        verbose=0,
    )
    assert history.epoch == list(range(1, epochs_run + 1))
    assert history.stop_reason is not None and "best 0.5 at epoch 2" in history.stop_reason


@pytest.mark.parametrize(("patience", "lr_after_4_epochs"), [(1, 0.025), (2, 0.05), (3, 0.1)])
def test_reduce_lr_on_plateau_waits_patience_epochs_without_improvement(
    patience: int, lr_after_4_epochs: float
) -> None:
    # Best at epoch 2, worse after: Keras lowers the rate at the end of epoch 2 + patience.
    x, y = _toy()
    model = _mlp()
    optimizer = SGD(model.parameters(), lr=0.1)
    fit(
        model,
        "cross_entropy",
        optimizer,
        (x, y),
        epochs=4,
        callbacks=[
            _Scripted([1.0, 0.5, 0.6, 0.7]),
            ReduceLROnPlateau("score", factor=0.5, patience=patience, mode="min"),
        ],
        verbose=0,
    )
    assert optimizer.param_groups[0]["lr"] == pytest.approx(lr_after_4_epochs)


def test_fit_refuses_a_loader_too_short_for_one_batch() -> None:
    x, y = _toy()
    loader = DataLoader(TensorDataset(x[:5], y[:5]), batch_size=8, drop_last=True)
    with pytest.raises(ValueError, match="5 samples, fewer than one batch of 8 with drop_last"):
        fit(_mlp(), "cross_entropy", "adam", loader, epochs=1, verbose=0)


def test_a_dataset_smaller_than_a_batch_trains_one_step_per_epoch() -> None:
    x, y = _toy()
    history = fit(
        _mlp(), "cross_entropy", "adam", (x[:5], y[:5]), batch_size=8, epochs=2, verbose=0
    )
    assert len(history.step_loss) == 2 and np.isfinite(history["loss"]).all()


def test_numpy_integers_are_accepted_for_epochs_and_batch_size() -> None:
    x, y = _toy()
    history = fit(
        _mlp(),
        "cross_entropy",
        "adam",
        (x, y),
        epochs=np.int64(2),
        batch_size=np.int32(20),
        verbose=0,
    )
    assert history.epoch == [1, 2] and len(history.step_loss) == 6


def test_ctrl_c_between_epochs_stops_before_another_step() -> None:
    x, y = _toy()
    epochs_stepped: list[int] = []

    class Interrupt(Callback):
        def on_batch_end(self, state: FitState, logs: dict[str, float]) -> None:
            epochs_stepped.append(state.epoch)

        def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
            if state.epoch == 2:  # as if Ctrl-C came during validation
                os.kill(os.getpid(), signal.SIGINT)

    history = fit(
        _mlp(),
        "cross_entropy",
        "adam",
        (x, y),
        epochs=5,
        batch_size=20,
        validation_split=0.25,
        callbacks=[Interrupt()],
        verbose=0,
    )
    assert history.interrupted
    assert history.epoch == [1, 2]
    assert sorted(set(epochs_stepped)) == [1, 2]


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_targets_of_shape_n_fit_a_one_output_regression(loss: str) -> None:
    x, _ = _toy()
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0])).astype(np.float32)  # shape (N,), as diabetes
    flat, column = _mlp(1), _mlp(1)
    fit(flat, loss, Adam(flat.parameters()), (x, y), epochs=3, seed=0, verbose=0)
    fit(column, loss, Adam(column.parameters()), (x, y[:, None]), epochs=3, seed=0, verbose=0)
    for key, value in _weights(flat).items():
        assert np.array_equal(value, _weights(column)[key]), key
    scores = evaluate(flat, loss, (x, y), metrics=["mse", "r2"])
    assert scores == evaluate(column, loss, (x, y[:, None]), metrics=["mse", "r2"])


def test_integer_labels_of_shape_n_fit_a_one_logit_binary_model() -> None:
    x, y = _toy()
    model = _mlp(1)
    history = fit(
        model,
        "bce_with_logits",
        Adam(model.parameters(), lr=0.05),
        (x, y),
        epochs=20,
        metrics=["accuracy"],
        seed=0,
        verbose=0,
    )
    assert history["accuracy"][-1] > 0.9


def test_samples_that_are_not_x_y_pairs_are_refused_clearly() -> None:
    x, y = _toy()
    with pytest.raises(ValueError, match=r"fit: expected samples of two fields \(x, y\).*got 3"):
        fit(_mlp(), "cross_entropy", "adam", TensorDataset(x, y, np.ones(60)), verbose=0)
    with pytest.raises(ValueError, match=r"evaluate: expected samples .* got 1"):
        evaluate(_mlp(), "cross_entropy", TensorDataset(x))


def test_a_metric_the_loss_cannot_feed_is_refused_before_any_training() -> None:
    x, y = _toy()
    model = _mlp()
    before = _weights(model)
    with pytest.raises(ValueError, match="fit: metric 'r2' needs values"):
        fit(model, "cross_entropy", "adam", (x, y), metrics=["r2"], verbose=0)
    for key, value in _weights(model).items():
        assert np.array_equal(value, before[key]), key


def test_non_finite_targets_are_named_when_the_loss_diverges() -> None:
    x, _ = _toy()
    y = x.sum(axis=1, keepdims=True)
    y[3] = np.nan
    with pytest.warns(DivergenceWarning, match="batch's targets already hold NaN"):
        history = fit(_mlp(1), "mse", "adam", (x, y), shuffle=False, verbose=0)
    # The diverged epoch's loss stays in History, as Keras's TerminateOnNaN leaves it.
    assert history.epoch == [1]
    assert np.isnan(history["loss"]).all()


def test_model_checkpoint_makes_its_folder_and_fills_logged_fields(tmp_path: Path) -> None:
    x, y = _toy()
    history = fit(
        _mlp(),
        "cross_entropy",
        "adam",
        (x, y),
        epochs=2,
        validation_split=0.25,
        callbacks=[ModelCheckpoint(tmp_path / "runs" / "{epoch:02d}-{val_loss:.3f}.ckpt")],
        verbose=0,
    )
    written = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert written == [
        f"{e:02d}-{v:.3f}.ckpt" for e, v in zip([1, 2], history["val_loss"], strict=True)
    ]


def test_model_checkpoint_names_a_field_that_is_not_logged(tmp_path: Path) -> None:
    x, y = _toy()
    with pytest.raises(ValueError, match="names 'val_loss', which is not logged; available"):
        fit(
            _mlp(),
            "cross_entropy",
            "adam",
            (x, y),
            callbacks=[ModelCheckpoint(tmp_path / "{val_loss}.ckpt")],
            verbose=0,
        )


def test_resuming_a_run_without_a_seed_equals_the_uninterrupted_run(tmp_path: Path) -> None:
    """The validation rows must be the same ones, or validation data leaks into training."""
    x, y = _toy()

    def run(epochs: int, resume_from: Path | None = None) -> nn.Sequential:
        model = _mlp(dropout=0.2)
        fit(
            model,
            "cross_entropy",
            Adam(model.parameters(), lr=0.01),
            (x, y),
            epochs=epochs,
            batch_size=8,
            validation_split=0.25,
            callbacks=[ModelCheckpoint(tmp_path / "{epoch}.ckpt")],
            resume_from=resume_from,
            verbose=0,
        )
        return model

    straight = _weights(run(4))
    resumed = _weights(run(4, resume_from=tmp_path / "2.ckpt"))
    for key, value in straight.items():
        assert np.array_equal(value, resumed[key]), key
