"""Keras's guides "Training & evaluation with the built-in methods" and "Writing your own
callbacks", ported to chainrule's fit: callbacks written for Keras, sample_weight and
class_weight, ModelCheckpoint's Keras arguments, the callbacks' verbose messages and
CSVLogger's separator; values against hand computations, PyTorch and Keras's rules."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.io import load_state_dict_file
from chainrule.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    evaluate,
    fit,
    predict,
)


def _blobs(n: int = 60, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, 4)) + 1.5 * np.eye(classes, 4)[y]
    return x.astype(np.float32), y.astype(np.int64)


def _model(n_out: int = 3, seed: int = 0) -> nn.Sequential:
    model = nn.Sequential(nn.Linear(4, n_out))
    model.reset_parameters(seed)
    return model


def _weights(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.data.copy() for k, v in model.state_dict().items()}


def _row_cross_entropy(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    log_proba = z - z.max(1, keepdims=True)
    log_proba -= np.log(np.exp(log_proba).sum(1, keepdims=True))
    return -log_proba[np.arange(len(y)), y]


# --- callbacks written for Keras -------------------------------------------------------------


class _KerasStyle(Callback):
    """The guide's callback: every hook with Keras's parameters."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []

    def on_train_begin(self, logs: Any = None) -> None:
        self.calls.append(("train_begin", None, logs))

    def on_epoch_begin(self, epoch: Any, logs: Any = None) -> None:
        self.calls.append(("epoch_begin", epoch, logs))

    def on_epoch_end(self, epoch: Any, logs: Any = None) -> None:
        self.calls.append(("epoch_end", epoch, dict(logs)))

    def on_train_batch_end(self, batch: Any, logs: Any = None) -> None:
        self.calls.append(("batch_end", batch, dict(logs)))

    def on_train_end(self, logs: Any = None) -> None:
        self.calls.append(("train_end", None, dict(logs)))


def test_a_callback_written_for_keras_gets_kerass_epoch_batch_and_logs() -> None:
    x, y = _blobs(40)
    callback = _KerasStyle()
    history = fit(
        _model(),
        "cross_entropy",
        "sgd",
        x,
        y,
        epochs=2,
        batch_size=16,
        callbacks=[callback],
        verbose=0,
        seed=0,
    )
    kinds = [c[0] for c in callback.calls]
    assert kinds[0] == "train_begin" and kinds[-1] == "train_end"
    assert callback.calls[0][2] == {}
    # Keras counts epochs and batches from 0: 3 batches of 16, 16 and 8 rows per epoch.
    assert [c[1] for c in callback.calls if c[0] == "epoch_begin"] == [0, 1]
    assert [c[1] for c in callback.calls if c[0] == "epoch_end"] == [0, 1]
    assert [c[1] for c in callback.calls if c[0] == "batch_end"] == [0, 1, 2, 0, 1, 2]
    epoch_logs = [c[2] for c in callback.calls if c[0] == "epoch_end"]
    assert [logs["loss"] for logs in epoch_logs] == history["loss"]
    assert callback.calls[-1][2]["loss"] == history["loss"][-1]


def test_a_plain_object_with_one_keras_hook_is_a_callback() -> None:
    seen: list[int] = []

    class OnlyEpochEnd:
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            seen.append(epoch)

    x, y = _blobs(30)
    fit(
        _model(),
        "cross_entropy",
        "sgd",
        x,
        y,
        epochs=3,
        callbacks=[OnlyEpochEnd()],
        verbose=0,
        seed=0,
    )
    assert seen == [0, 1, 2]


def test_chainrule_style_hooks_still_get_the_fit_state() -> None:
    epochs: list[int] = []

    class StateStyle(Callback):
        def on_epoch_end(self, state: Any, logs: dict[str, float]) -> None:
            epochs.append(state.epoch)

    x, y = _blobs(30)
    fit(_model(), "cross_entropy", "sgd", x, y, epochs=2, callbacks=[StateStyle()], verbose=0)
    assert epochs == [1, 2]


# --- sample_weight and class_weight ---------------------------------------------------------


def test_evaluate_weighs_each_rows_loss_and_divides_by_the_row_count_as_keras() -> None:
    x, y = _blobs(50)
    weight = np.random.default_rng(1).uniform(0.0, 3.0, size=len(y))
    model = _model()
    expected = np.mean(weight * _row_cross_entropy(predict(model, x), y))
    got = evaluate(model, "cross_entropy", x, y, sample_weight=weight, batch_size=16)["loss"]
    assert got == pytest.approx(expected, rel=1e-5)
    plain = evaluate(model, "cross_entropy", x, y)["loss"]
    assert plain == pytest.approx(np.mean(_row_cross_entropy(predict(model, x), y)), rel=1e-5)


def test_class_weight_step_matches_pytorchs_weighted_loss() -> None:
    torch = pytest.importorskip("torch")
    x, y = _blobs(30)
    class_weight = {0: 1.0, 1: 3.0}  # class 2 not named: weight 1, as in Keras
    model = _model()
    w0, b0 = model[0].weight.data.astype(np.float64), model[0].bias.data.astype(np.float64)
    history = fit(
        model,
        "cross_entropy",
        optim.SGD(model.parameters(), lr=0.5),
        x,
        y,
        epochs=1,
        batch_size=len(y),
        class_weight=class_weight,
        verbose=0,
    )

    tw = torch.tensor(w0, requires_grad=True)
    tb = torch.tensor(b0, requires_grad=True)
    rows = torch.nn.functional.cross_entropy(
        torch.tensor(x, dtype=torch.float64) @ tw.T + tb, torch.tensor(y), reduction="none"
    )
    sample = torch.tensor([class_weight.get(int(c), 1.0) for c in y], dtype=torch.float64)
    loss = (rows * sample).mean()
    loss.backward()
    assert history["loss"][0] == pytest.approx(loss.item(), rel=1e-5)
    np.testing.assert_allclose(model[0].weight.data, (tw - 0.5 * tw.grad).detach(), atol=1e-5)
    np.testing.assert_allclose(model[0].bias.data, (tb - 0.5 * tb.grad).detach(), atol=1e-5)


def test_class_weight_reads_one_hot_targets_and_leaves_val_loss_unweighted() -> None:
    x, y = _blobs(30)
    one_hot = np.eye(3, dtype=np.float32)[y]
    xv, yv = _blobs(21, seed=5)
    # a loss of probabilities, so a model that ends in a softmax (raw scores are refused)
    model = nn.Sequential(_model(3)[0], nn.Softmax(dim=1))
    history = fit(
        model,
        "categorical_crossentropy",
        "sgd",
        x,
        one_hot,
        epochs=1,
        batch_size=len(y),
        class_weight={2: 0.0},
        verbose=0,
        validation_data=(xv, np.eye(3, dtype=np.float32)[yv]),
    )
    # Class weights are for training: val_loss is the plain mean after the step.
    proba = predict(model, xv).astype(np.float64)
    proba /= proba.sum(1, keepdims=True)
    expected = -np.mean(np.log(np.clip(proba[np.arange(len(yv)), yv], 1e-7, 1 - 1e-7)))
    assert history["val_loss"][0] == pytest.approx(expected, rel=1e-5)


def test_zero_class_weight_halves_the_loss_of_a_model_that_cannot_tell_classes_apart() -> None:
    x, y = _blobs(30, classes=2)
    model = _model(2)
    model[0].weight.data[...] = 0.0  # equal logits: every row's loss is log 2
    model[0].bias.data[...] = 0.0
    history = fit(
        model,
        "cross_entropy",
        optim.SGD(model.parameters(), lr=0.0),
        x,
        y,
        epochs=1,
        batch_size=10,
        class_weight={0: 0.0, 1: 1.0},
        verbose=0,
        shuffle=False,
    )
    assert history["loss"][0] == pytest.approx(np.log(2) / 2, rel=1e-6)


def test_validation_data_with_sample_weights_weighs_val_loss() -> None:
    x, y = _blobs(30)
    xv, yv = _blobs(20, seed=3)
    wv = np.linspace(0.0, 2.0, len(yv))
    model = _model()
    history = fit(
        model,
        "cross_entropy",
        "sgd",
        x,
        y,
        epochs=1,
        verbose=0,
        validation_data=(xv, yv, wv),
        metrics=["accuracy"],
    )
    rows = _row_cross_entropy(predict(model, xv), yv)
    assert history["val_loss"][0] == pytest.approx(np.mean(wv * rows), rel=1e-5)
    # Metrics are Keras's `metrics`, not `weighted_metrics`: unweighted.
    accuracy = np.mean(predict(model, xv).argmax(1) == yv)
    assert history["val_accuracy"][0] == pytest.approx(accuracy)


def test_sample_weight_for_a_regression_target_of_shape_n() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    target = x @ np.array([1.0, -2.0, 0.5, 0.0], dtype=np.float32)
    weight = rng.uniform(0.5, 2.0, size=40)
    model = _model(1)
    history = fit(
        model,
        "mse",
        optim.SGD(model.parameters(), lr=0.0),
        x,
        target,
        epochs=1,
        batch_size=40,
        sample_weight=weight,
        verbose=0,
    )
    residual = predict(model, x)[:, 0].astype(np.float64) - target
    assert history["loss"][0] == pytest.approx(np.mean(weight * residual**2), rel=1e-5)


def test_sample_weight_keeps_a_summed_losss_reduction() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    target = rng.normal(size=(40, 1)).astype(np.float32)
    weight = rng.uniform(0.5, 2.0, size=40)
    model = _model(1)
    history = fit(
        model,
        nn.MSELoss(reduction="sum"),
        optim.SGD(model.parameters(), lr=0.0),
        x,
        target,
        epochs=1,
        batch_size=40,
        shuffle=False,
        sample_weight=weight,
        verbose=0,
    )
    residual = predict(model, x).astype(np.float64) - target
    # one batch: the epoch's loss is the batch's, a weighted sum as the loss's reduction says
    expected = np.sum(weight * residual[:, 0] ** 2)
    assert history["loss"][0] == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="reduced by 'mean' or 'sum', got reduction='none'"):
        fit(model, nn.MSELoss(reduction="none"), "sgd", x, target, sample_weight=weight, verbose=0)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"sample_weight": np.ones(7)}, ValueError, r"sample_weight of shape \(30,\).*\(7,\)"),
        ({"sample_weight": np.ones(30), "class_weight": {0: 1.0}}, ValueError, "not both"),
        ({"class_weight": [1.0, 2.0, 3.0]}, TypeError, "class_weight as a dict.*got list"),
        ({"sample_weight": np.full(30, np.nan)}, ValueError, "finite"),
    ],
)
def test_bad_weights_say_what_was_expected(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    x, y = _blobs(30)
    with pytest.raises(error, match=match):
        fit(_model(), "cross_entropy", "sgd", x, y, epochs=1, verbose=0, **options)


def test_sample_weight_with_a_loss_without_per_sample_values_is_refused() -> None:
    x, y = _blobs(30)

    def my_loss(output: Any, target: Any) -> Any:
        return nn.functional.cross_entropy(output, target)

    with pytest.raises(TypeError, match=r"loss of each sample.*my_loss"):
        fit(_model(), my_loss, "sgd", x, y, epochs=1, verbose=0, sample_weight=np.ones(30))


# --- ModelCheckpoint with Keras's arguments --------------------------------------------------


def test_checkpoint_by_filepath_best_only_weights_only_holds_the_best_epochs_weights(
    tmp_path: Path,
) -> None:
    x, y = _blobs(60)
    xv, yv = _blobs(30, seed=7)
    per_epoch: list[dict[str, np.ndarray]] = []

    class Snapshot(Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            per_epoch.append(_weights(self.model))

    model = _model()
    checkpoint = ModelCheckpoint(
        filepath=str(tmp_path / "w-{epoch:02d}-{val_loss:.2f}.st"),
        save_best_only=True,
        save_weights_only=True,
    )
    history = fit(
        model,
        "cross_entropy",
        optim.SGD(model.parameters(), lr=2.0),
        x,
        y,
        epochs=6,
        batch_size=8,
        validation_data=(xv, yv),
        seed=0,
        verbose=0,
        callbacks=[Snapshot(), checkpoint],
    )
    losses = history["val_loss"]
    improved = [e for e in range(6) if losses[e] < min(losses[:e], default=np.inf)]
    expected = sorted(f"w-{e + 1:02d}-{losses[e]:.2f}.st" for e in improved)
    assert sorted(p.name for p in tmp_path.iterdir()) == expected
    best = int(np.argmin(losses))
    restored = load_state_dict_file(_model(seed=1), tmp_path / expected[-1])
    for name, value in _weights(restored).items():
        np.testing.assert_array_equal(value, per_epoch[best][name])


def test_checkpoint_needs_one_file_name() -> None:
    with pytest.raises(TypeError, match=r"path or filepath.*exactly one"):
        ModelCheckpoint()
    with pytest.raises(ValueError, match=r"every_n_epochs must be a positive integer.*'val_acc'"):
        ModelCheckpoint("model.ckpt", "val_acc")  # type: ignore[arg-type]


# --- verbose messages, as Keras's callbacks print them ---------------------------------------


def test_callbacks_verbose_say_what_they_did_and_are_silent_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x, y = _blobs(30)

    def run(verbose: int) -> None:
        model = _model()
        # lr 1e-9 from epoch 2: the loss stops improving by min_delta, so plateau (which
        # has a rate above min_lr to cut) and early stopping act.
        fit(
            model,
            "cross_entropy",
            optim.SGD(model.parameters(), lr=0.1),
            x,
            y,
            epochs=6,
            verbose=0,
            seed=0,
            callbacks=[
                LearningRateScheduler(
                    lambda epoch, lr: lr if epoch == 0 else 1e-9, verbose=verbose
                ),
                ReduceLROnPlateau("loss", patience=1, min_delta=1e-3, verbose=verbose),
                EarlyStopping(
                    "loss", patience=2, min_delta=1e-3, restore_best_weights=True, verbose=verbose
                ),
                ModelCheckpoint(tmp_path / "m.ckpt", monitor="loss", verbose=verbose),
            ],
        )

    run(0)
    assert capsys.readouterr() == ("", "")
    run(1)
    out, err = capsys.readouterr()
    assert out == ""
    assert "Epoch 1: LearningRateScheduler setting learning rate to 0.1" in err
    assert "ReduceLROnPlateau reducing learning rate" in err
    assert "early stopping" in err
    assert "Restoring model weights from the end of the best epoch" in err
    assert f"saving model to {tmp_path / 'm.ckpt'}" in err


def test_csv_logger_takes_kerass_separator(tmp_path: Path) -> None:
    x, y = _blobs(30)
    path = tmp_path / "log.csv"
    history = fit(
        _model(),
        "cross_entropy",
        "sgd",
        x,
        y,
        epochs=2,
        verbose=0,
        callbacks=[CSVLogger(path, separator=";")],
    )
    with path.open() as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert [float(r["loss"]) for r in rows] == pytest.approx(history["loss"])


# --- ReduceLROnPlateau and EarlyStopping against Keras's documented rules --------------------

_SCORES = [1.0, 0.9, 0.95, 0.9, 0.91, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]


class _Scores(Callback):
    """Puts a scripted ``score`` into the logs, for the callbacks after it to monitor."""

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        logs["score"] = _SCORES[epoch]


def _keras_plateau_lrs(
    lr: float, factor: float, patience: int, cooldown: int, min_lr: float, min_delta: float
) -> list[float]:
    """Keras 3's ReduceLROnPlateau.on_epoch_end, written out: the lr of each next epoch."""
    best, wait, cooldown_counter, lrs = np.inf, 0, 0, []
    for current in _SCORES:
        if cooldown_counter > 0:
            cooldown_counter -= 1
            wait = 0
        if current < best - min_delta:
            best, wait = current, 0
        elif cooldown_counter <= 0:
            wait += 1
            if wait >= patience and lr > min_lr:
                lr = max(lr * factor, min_lr)
                cooldown_counter, wait = cooldown, 0
        lrs.append(lr)
    return lrs


@pytest.mark.parametrize(("patience", "cooldown"), [(1, 0), (2, 1), (1, 2)])
def test_reduce_lr_on_plateau_follows_kerass_rule(patience: int, cooldown: int) -> None:
    x, y = _blobs(20)
    model = _model()
    plateau = ReduceLROnPlateau(
        "score",
        mode="min",
        factor=0.5,
        patience=patience,
        cooldown=cooldown,
        min_lr=0.02,
        min_delta=0.01,
    )
    history = fit(
        model,
        "cross_entropy",
        optim.SGD(model.parameters(), lr=0.1),
        x,
        y,
        epochs=len(_SCORES),
        verbose=0,
        callbacks=[_Scores(), plateau],
    )
    expected = _keras_plateau_lrs(0.1, 0.5, patience, cooldown, 0.02, 0.01)
    # history['lr'] is each epoch's rate: the first, then the rule's after each epoch.
    assert history["lr"] == pytest.approx([0.1, *expected[:-1]])


def test_early_stopping_stops_after_patience_and_restores_the_best_epochs_weights() -> None:
    x, y = _blobs(20)
    snapshots: list[dict[str, np.ndarray]] = []

    class Snapshot(Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            snapshots.append(_weights(self.model))

    model = _model()
    stopper = EarlyStopping(
        "score", patience=3, min_delta=0.05, mode="min", restore_best_weights=True
    )
    history = fit(
        model,
        "cross_entropy",
        optim.SGD(model.parameters(), lr=0.1),
        x,
        y,
        epochs=len(_SCORES),
        verbose=0,
        callbacks=[_Scores(), Snapshot(), stopper],
    )
    # Improvements by more than 0.05: epochs 1 (1.0) and 2 (0.9); epochs 3, 4 and 5 do not
    # improve on 0.9 by that much, so training stops after epoch 5 with epoch 2's weights.
    assert history.epoch == [1, 2, 3, 4, 5]
    for name, value in _weights(model).items():
        np.testing.assert_array_equal(value, snapshots[1][name])
