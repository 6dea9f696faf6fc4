"""fit, evaluate and predict with a PyTorch user's DataLoader (a sampler over the training
indices, another over the validation ones), Keras's ReduceLROnPlateau reused across runs,
and the callbacks' counts checked (acceptance round 11)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.data import (
    BatchSampler,
    DataLoader,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)
from chainrule.train import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
    ReduceLROnPlateau,
    evaluate,
    fit,
    predict,
)


def _blobs(n: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, 3)) + 1.5 * np.eye(2, 3)[y]
    return x.astype(np.float32), y.astype(np.int64)


def _model(seed: int = 0) -> nn.Sequential:
    model = nn.Sequential(nn.Linear(3, 2))
    model.reset_parameters(seed)
    return model


def test_fit_trains_on_the_samplers_indices_only() -> None:
    # Rows 80..99 are NaN: a loop that reads them diverges. A sampler over rows 0..79
    # (PyTorch's SubsetRandomSampler recipe for a train/validation split) never does.
    x, y = _blobs()
    x[80:] = np.nan
    loader = DataLoader(
        TensorDataset(x, y), batch_size=16, sampler=SubsetRandomSampler(range(80), generator=0)
    )
    history = fit(_model(), "cross_entropy", "sgd", loader, epochs=3, verbose=0)
    assert history.params["steps"] == 5
    assert len(history["loss"]) == 3 and np.isfinite(history["loss"]).all()


def test_fit_steps_follow_the_samplers_draws() -> None:
    x, y = _blobs()
    weights = np.where(y == 1, 1.0, 0.0)  # only class 1 is ever drawn
    sampler = WeightedRandomSampler(weights, num_samples=40, generator=0)
    seen: list[np.ndarray] = []

    def collate(samples: list[tuple]) -> tuple:
        xs = np.stack([s[0].numpy() for s in samples])
        ys = np.array([int(s[1].item()) for s in samples])
        seen.append(ys)
        return TensorDataset(xs, ys).batch(slice(None))

    loader = DataLoader(TensorDataset(x, y), batch_size=10, sampler=sampler, collate_fn=collate)
    history = fit(_model(), "cross_entropy", "sgd", loader, epochs=2, verbose=0)
    assert history.params["steps"] == 4
    assert len(seen) == 8 and all(len(b) == 10 for b in seen)
    assert set(np.concatenate(seen).tolist()) == {1}


def test_a_batch_sampler_decides_fits_batches() -> None:
    x, y = _blobs(12)
    batches = [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9, 10, 11]]
    sizes: list[int] = []
    model = _model()
    model.register_forward_hook(lambda module, inputs, output: sizes.append(len(inputs[0])))
    history = fit(
        model,
        "cross_entropy",
        "sgd",
        DataLoader(TensorDataset(x, y), batch_sampler=batches),
        epochs=1,
        verbose=0,
    )
    assert history.params["steps"] == 2
    assert sizes == [5, 7]


def test_validation_and_evaluate_read_only_the_validation_samplers_rows() -> None:
    x, y = _blobs()
    full = TensorDataset(x, y)
    train = DataLoader(full, batch_size=16, sampler=SubsetRandomSampler(range(80), generator=0))
    held = DataLoader(full, batch_size=16, sampler=SubsetRandomSampler(range(80, 100), generator=1))
    model = _model()
    history = fit(
        model,
        "cross_entropy",
        "adam",
        train,
        epochs=2,
        validation_data=held,
        verbose=0,
        metrics=["accuracy"],
    )
    on_rows = evaluate(model, "cross_entropy", x[80:], y[80:], metrics=["accuracy"])
    assert history["val_loss"][-1] == pytest.approx(on_rows["loss"], rel=1e-6)
    assert history["val_accuracy"][-1] == pytest.approx(on_rows["accuracy"])
    on_loader = evaluate(model, "cross_entropy", held, metrics=["accuracy"])
    assert on_loader["loss"] == pytest.approx(on_rows["loss"], rel=1e-6)
    # predict gives one row per index the loader visits, in its order
    order = list(SubsetRandomSampler(range(80, 100), generator=5))
    outputs = predict(model, DataLoader(full, batch_size=7, sampler=order))
    np.testing.assert_allclose(outputs, predict(model, x[order]), rtol=1e-6)


def test_predict_with_a_batch_sampler_loader() -> None:
    x, y = _blobs(10)
    loader = DataLoader(TensorDataset(x, y), batch_sampler=BatchSampler([9, 0, 4], 2, False))
    # The loader's own batches of 2 and 1 rows: equal up to the rounding of the products.
    expected = predict(_model(), x[[9, 0, 4]])
    np.testing.assert_allclose(predict(_model(), loader), expected, rtol=1e-6)


def test_a_sampler_loader_refuses_validation_split_and_a_separate_y() -> None:
    x, y = _blobs()
    loader = DataLoader(TensorDataset(x, y), batch_size=8, sampler=list(range(50)))
    with pytest.raises(ValueError, match=r"validation_split.*sampler picks its own indices"):
        fit(_model(), "cross_entropy", "sgd", loader, epochs=1, validation_split=0.2, verbose=0)
    with pytest.raises(TypeError, match="y is given, so train_data must be the inputs"):
        fit(_model(), "cross_entropy", "sgd", loader, y, epochs=1, verbose=0)


def test_a_resumed_run_continues_the_samplers_draws(tmp_path: Path) -> None:
    # Two epochs, then one more from the checkpoint: the same weights as three at once.
    x, y = _blobs()

    def loader() -> DataLoader:
        sampler = SubsetRandomSampler(range(80), generator=3)
        return DataLoader(TensorDataset(x, y), batch_size=16, sampler=sampler)

    straight = _model()
    fit(
        straight,
        "cross_entropy",
        optim.SGD(straight.parameters(), lr=0.1),
        loader(),
        epochs=3,
        verbose=0,
    )
    first = _model()
    path = tmp_path / "run.ckpt"
    fit(
        first,
        "cross_entropy",
        optim.SGD(first.parameters(), lr=0.1),
        loader(),
        epochs=2,
        verbose=0,
        callbacks=[ModelCheckpoint(path, monitor="loss")],
    )
    resumed = _model()
    fit(
        resumed,
        "cross_entropy",
        optim.SGD(resumed.parameters(), lr=0.1),
        loader(),
        epochs=3,
        verbose=0,
        resume_from=path,
    )
    for name, value in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[name].numpy(), value.numpy())


def test_reduce_lr_on_plateau_starts_afresh_in_each_fit() -> None:
    # Keras resets the callback when training begins: the best loss of an earlier run (of
    # a well-trained model) must not make a fresh model's first epochs look like a plateau.
    x, y = _blobs()
    reduce = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=0.0)
    trained = _model()
    fit(
        trained,
        "cross_entropy",
        optim.SGD(trained.parameters(), lr=0.5),
        x,
        y,
        epochs=30,
        verbose=0,
        callbacks=[reduce],
        seed=0,
    )
    fresh = _model(seed=1)
    opt = optim.SGD(fresh.parameters(), lr=0.05)
    history = fit(
        fresh, "cross_entropy", opt, x, y, epochs=3, verbose=0, callbacks=[reduce], seed=0
    )
    assert np.all(np.diff(history["loss"]) < 0)  # improving every epoch
    assert opt.param_groups[0]["lr"] == 0.05


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: EarlyStopping(patience="3"),
            "EarlyStopping: patience must be an integer >= 0, got '3'",
        ),
        (
            lambda: EarlyStopping(patience=-1),
            "EarlyStopping: patience must be an integer >= 0, got -1",
        ),
        (
            lambda: EarlyStopping(start_from_epoch=1.5),
            "start_from_epoch must be an integer >= 0, got 1.5",
        ),
        (
            lambda: ReduceLROnPlateau(patience=-2),
            "ReduceLROnPlateau: patience must be an integer >= 0, got -2",
        ),
        (lambda: ReduceLROnPlateau(cooldown="1"), "cooldown must be an integer >= 0, got '1'"),
        (
            lambda: ReduceLROnPlateau(min_lr=-0.1),
            "ReduceLROnPlateau: min_lr must be >= 0, got -0.1",
        ),
    ],
)
def test_callbacks_refuse_counts_that_are_not_counts(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_reduce_lr_on_plateau_leaves_a_rate_at_min_lr_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Keras acts only on a rate above min_lr: no cut, no message, once there."""
    x, y = _blobs(32)
    model = nn.Sequential(nn.Linear(3, 2))
    optimizer = optim.SGD(model.parameters(), lr=0.0)
    fit(
        model,
        "cross_entropy",
        optimizer,
        x,
        y,
        epochs=5,
        verbose=0,
        seed=0,
        callbacks=[ReduceLROnPlateau("loss", patience=1, min_lr=0.0, verbose=1)],
    )
    assert optimizer.param_groups[0]["lr"] == 0.0
    assert "reducing learning rate" not in capsys.readouterr().err


def test_keras_batch_begin_hooks_are_called_before_each_step() -> None:
    """Keras calls on_train_batch_begin (and the older on_batch_begin) with the batch index
    counted from 0 in each epoch, before the step; chainrule's on_batch_begin gets the state."""
    x, y = _blobs(40)
    seen: list[tuple[str, int, int]] = []

    class KerasStyle:
        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            seen.append(("train_batch_begin", batch, len(history_steps)))

        def on_batch_begin(self, batch: int, logs: Any = None) -> None:
            seen.append(("batch_begin", batch, len(history_steps)))

    class ChainruleStyle(Callback):
        def on_batch_begin(self, state: Any) -> None:
            seen.append(("state", state.step, len(history_steps)))

        def on_batch_end(self, state: Any, logs: Any) -> None:
            history_steps.append(state.step)

    history_steps: list[int] = []
    fit(
        nn.Sequential(nn.Linear(3, 2)),
        "cross_entropy",
        "sgd",
        x,
        y,
        epochs=2,
        batch_size=16,
        verbose=0,
        seed=0,
        callbacks=[KerasStyle(), ChainruleStyle()],
    )
    steps = 3  # 40 rows in batches of 16
    expected: list[tuple[str, int, int]] = []
    for epoch in range(2):
        for batch in range(steps):
            done = epoch * steps + batch  # steps finished before this one
            expected += [("batch_begin", batch, done), ("train_batch_begin", batch, done)]
            expected.append(("state", done, done))
    assert seen == expected


def test_validation_batch_size_sets_the_validation_batches() -> None:
    x, y = _blobs(100)
    sizes: list[int] = []

    class Sizes(nn.Module):
        def forward(self, inputs: Any) -> Any:
            if not self.training:
                sizes.append(inputs.shape[0])
            return inputs

    model = nn.Sequential(Sizes(), nn.Linear(3, 2))
    common = dict(epochs=1, batch_size=10, validation_split=0.3, verbose=0, seed=0)
    fit(model, "cross_entropy", "sgd", x, y, validation_batch_size=7, **common)
    assert sizes == [7, 7, 7, 7, 2]  # 30 validation rows
    sizes.clear()
    fit(model, "cross_entropy", "sgd", x, y, **common)
    assert sizes == [30]  # the default: max(batch_size, 256) rows at a time
    with pytest.raises(ValueError, match="validation_batch_size"):
        fit(model, "cross_entropy", "sgd", x, y, validation_batch_size=0, **common)
