"""The training workflow as PyTorch, Keras and scikit-learn users try it, second round:
loaders over datasets of any sample shape (against torch's DataLoader), fit's ways of taking
data, Keras's callback and verbose conventions, evaluate/predict helpers, metrics against
scikit-learn, and History.plot in a session that has its own matplotlib backend."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainrule import nn
from chainrule.data import DataLoader, Dataset, TensorDataset, random_split
from chainrule.optim import SGD
from chainrule.train import (
    Callback,
    EarlyStopping,
    FitState,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    evaluate,
    fit,
    metrics,
    predict,
)


def _toy(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64)


def _linear(n_out: int = 2, head: tuple[nn.Module, ...] = ()) -> nn.Sequential:
    model = nn.Sequential(nn.Linear(4, n_out), *head)
    model.reset_parameters(0)
    return model


class _Records(Dataset):
    """A PyTorch-style dataset: a subclass with __len__ and __getitem__, returning dicts."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"x": np.array([i, -i], dtype=np.float32), "y": i % 3, "pair": (i, float(i))}


class _Images:
    """Samples that are lone arrays (no label), as an unlabelled image folder gives."""

    def __len__(self) -> int:
        return 7

    def __getitem__(self, i: int) -> np.ndarray:
        return np.full((2, 3), i, dtype=np.float32)


# --- DataLoader against torch.utils.data.DataLoader --------------------------------------


def test_loader_collates_dict_and_nested_samples_as_torch_does() -> None:
    torch = pytest.importorskip("torch")
    ours = list(DataLoader(_Records(5), batch_size=2))
    theirs = list(torch.utils.data.DataLoader(_Records(5), batch_size=2))
    assert len(ours) == len(theirs) == 3
    for mine, reference in zip(ours, theirs, strict=True):
        assert isinstance(mine, dict) and set(mine) == set(reference)
        assert np.array_equal(mine["x"].numpy(), reference["x"].numpy())
        assert np.array_equal(mine["y"].numpy(), reference["y"].numpy())
        assert mine["y"].numpy().dtype == np.int64
        for field, expected in zip(mine["pair"], reference["pair"], strict=True):
            assert np.array_equal(field.numpy(), expected.numpy())
            assert field.numpy().dtype == np.dtype(str(expected.dtype).removeprefix("torch."))


def test_loader_yields_one_tensor_for_samples_that_are_lone_arrays() -> None:
    torch = pytest.importorskip("torch")
    ours = list(DataLoader(_Images(), batch_size=3))
    theirs = list(torch.utils.data.DataLoader(_Images(), batch_size=3))
    assert [tuple(b.shape) for b in ours] == [tuple(b.shape) for b in theirs]
    for mine, reference in zip(ours, theirs, strict=True):
        assert np.array_equal(mine.numpy(), reference.numpy())
    # A plain array is a dataset too, in both.
    plain = np.arange(5.0)
    first = next(iter(DataLoader(plain, batch_size=4)))
    assert np.array_equal(first.numpy(), next(iter(torch.utils.data.DataLoader(plain, 4))))


def test_loader_names_the_shapes_of_samples_that_cannot_be_stacked() -> None:
    class Ragged:
        def __len__(self) -> int:
            return 3

        def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
            return np.zeros(i + 1), i

    with pytest.raises(ValueError, match=r"samples of one shape.*\(1,\), \(2,\)"):
        next(iter(DataLoader(Ragged(), batch_size=2)))


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize(("n", "batch_size"), [(10, 3), (9, 3), (2, 5), (1, 1)])
def test_loader_batches_match_torch(n: int, batch_size: int, drop_last: bool) -> None:
    torch = pytest.importorskip("torch")
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    ours = DataLoader(TensorDataset(x, y), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
        batch_size=batch_size,
        drop_last=drop_last,
    )
    assert len(ours) == len(theirs)
    for _ in range(2):  # a loader is iterated again every epoch
        got = [(bx.numpy(), by.numpy()) for bx, by in ours]
        want = [(bx.numpy(), by.numpy()) for bx, by in theirs]
        assert len(got) == len(want)
        for (gx, gy), (wx, wy) in zip(got, want, strict=True):
            assert np.array_equal(gx, wx) and np.array_equal(gy, wy)


def test_shuffled_loader_covers_every_sample_and_repeats_from_a_seed() -> None:
    data = TensorDataset(np.arange(23.0), np.arange(23))

    def epochs(loader: DataLoader) -> list[list[int]]:
        return [[int(v) for _, by in loader for v in by.numpy()] for _ in range(3)]

    first, again = (
        epochs(DataLoader(data, 5, shuffle=True, generator=42)),
        epochs(DataLoader(data, 5, shuffle=True, generator=np.random.default_rng(42))),
    )
    assert first == again
    assert all(sorted(order) == list(range(23)) for order in first)
    assert first[0] != first[1]  # a new order every epoch


def test_random_split_sizes_match_torch() -> None:
    torch = pytest.importorskip("torch")
    for n, lengths in ((10, [0.7, 0.2, 0.1]), (11, [0.5, 0.5]), (7, [0.3, 0.3, 0.4]), (5, [2, 3])):
        ours = random_split(TensorDataset(np.arange(float(n))), lengths, generator=0)
        theirs = torch.utils.data.random_split(range(n), lengths)
        assert [len(s) for s in ours] == [len(s) for s in theirs], (n, lengths)
        assert sorted(int(i) for s in ours for i in s.indices) == list(range(n))


# --- fit with the ways of giving data ------------------------------------------------------


def test_fit_on_a_dataset_subclass_of_float64_rows_equals_fit_on_arrays() -> None:
    x, y = _toy()

    class Rows(Dataset):
        def __len__(self) -> int:
            return len(y)

        def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
            return x[i].astype(np.float64), int(y[i])

    runs = []
    for data in (Rows(), (x, y)):
        model = _linear()
        history = fit(
            model, "cross_entropy", SGD(model.parameters(), lr=0.1), data, epochs=3,
            batch_size=16, metrics=["accuracy"], seed=3, verbose=0,
        )  # fmt: skip
        assert model[0].weight.dtype == np.float32
        runs.append((history["loss"], history["accuracy"]))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-6)
    assert runs[0][1] == runs[1][1]


def test_fit_refuses_samples_that_are_not_x_y_pairs_before_a_step() -> None:
    for dataset in (_Records(6), _Images()):
        with pytest.raises(ValueError, match=r"fit: expected samples of two fields \(x, y\)"):
            fit(_linear(), "cross_entropy", "sgd", dataset, epochs=1, verbose=0)


def test_empty_validation_or_evaluation_data_is_refused() -> None:
    x, y = _toy()
    empty = (x[:0], y[:0])
    with pytest.raises(ValueError, match="evaluate: data is empty"):
        evaluate(_linear(), "cross_entropy", empty)
    model = _linear()
    before = model[0].weight.numpy().copy()
    with pytest.raises(ValueError, match="fit: validation_data is empty"):
        fit(model, "cross_entropy", "sgd", (x, y), validation_data=empty, verbose=0)
    assert np.array_equal(model[0].weight.numpy(), before)  # refused before training


def test_predict_takes_a_dataset_or_a_loader_like_arrays() -> None:
    x, y = _toy()
    model = _linear()
    expected = predict(model, x, batch_size=7)
    for data in (TensorDataset(x, y), DataLoader(TensorDataset(x, y), batch_size=5)):
        np.testing.assert_array_equal(predict(model, data, batch_size=7), expected)
    np.testing.assert_array_equal(predict(model, x.astype(np.float64)), expected)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="predict: batch_size must be a positive integer"):
            predict(model, x, batch_size=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="evaluate: batch_size must be a positive integer"):
        evaluate(model, "cross_entropy", (x, y), batch_size=0)


# --- callbacks, as in Keras ------------------------------------------------------------------


def test_learning_rate_scheduler_takes_a_function_of_the_epoch_alone() -> None:
    # Keras accepts schedule(epoch) as well as schedule(epoch, lr); epochs count from 0.
    x, y = _toy()
    model = _linear()
    history = fit(
        model, "cross_entropy", SGD(model.parameters(), lr=1.0), (x, y), epochs=3,
        callbacks=[LearningRateScheduler(lambda epoch: 0.1 * 0.5**epoch)], verbose=0, seed=0,
    )  # fmt: skip
    np.testing.assert_allclose(history["lr"], [0.1, 0.05, 0.025])
    history = fit(
        model, "cross_entropy", SGD(model.parameters(), lr=1.0), (x, y), epochs=3,
        callbacks=[LearningRateScheduler(lambda epoch, lr: lr / 2)], verbose=0, seed=0,
    )  # fmt: skip
    np.testing.assert_allclose(history["lr"], [0.5, 0.25, 0.125])


def test_early_stopping_min_delta_in_max_mode_as_keras_counts_it() -> None:
    # Keras: an improvement is value > best + min_delta; patience 2 stops at the second
    # epoch in a row without one. 0.5; 0.55 (+0.05 < 0.1: no); 0.7 (yes); 0.75 (no);
    # 0.79 (no): stops at 5, although every epoch beat the one before.
    scores = [0.5, 0.55, 0.7, 0.75, 0.79, 0.95]

    class Score(Callback):
        def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
            logs["val_score"] = scores[state.epoch - 1]

    stopper = EarlyStopping(monitor="val_score", patience=2, min_delta=0.1, mode="max")
    x, y = _toy()
    history = fit(
        _linear(), "cross_entropy", "sgd", (x, y), epochs=6, callbacks=[Score(), stopper],
        verbose=0, seed=0,
    )  # fmt: skip
    assert history.epoch == [1, 2, 3, 4, 5]
    assert stopper.best == 0.7 and stopper.best_epoch == 3


def test_model_checkpoint_save_best_only_writes_each_improvement(tmp_path: Path) -> None:
    x, y = _toy(200)
    x_val, y_val = _toy(40, seed=1)
    model = _linear()
    checkpoint = ModelCheckpoint(
        tmp_path / "best-{epoch:02d}.ckpt", save_best_only=True, monitor="val_accuracy"
    )
    history = fit(
        model, "cross_entropy", SGD(model.parameters(), lr=0.05), (x, y), epochs=6,
        batch_size=20, validation_data=(x_val, y_val), metrics=["accuracy"],
        callbacks=[checkpoint], verbose=0, seed=0,
    )  # fmt: skip
    best, improved = -1.0, []
    for epoch, value in zip(history.epoch, history["val_accuracy"], strict=True):
        if value > best:
            best, improved = value, [*improved, epoch]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"best-{e:02d}.ckpt" for e in improved]


# --- progress, as Keras's verbose levels ----------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _fit_printing(verbose: Any, callbacks: list[Callback], monkeypatch: Any) -> str:
    screen = _Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    x, y = _toy()
    fit(
        _linear(), "cross_entropy", "sgd", (x, y), epochs=2, batch_size=20,
        callbacks=callbacks, verbose=verbose, seed=0,
    )  # fmt: skip
    return screen.getvalue()


def test_verbose_2_prints_one_line_per_epoch_even_on_a_terminal(monkeypatch: Any) -> None:
    text = _fit_printing(2, [], monkeypatch)
    lines = text.splitlines()
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"]
    assert "\r" not in text and "step" not in text  # no bar
    assert "3/3" in _fit_printing(1, [], monkeypatch)  # verbose 1 on a terminal: the bar


def test_a_progress_bar_among_the_callbacks_replaces_fits_own(monkeypatch: Any) -> None:
    text = _fit_printing(1, [ProgressBar(force_bar=False)], monkeypatch)
    assert [line.split()[1] for line in text.splitlines()] == ["1/2", "2/2"]


def test_verbose_levels_other_than_keras_ones_are_refused() -> None:
    x, y = _toy()
    for bad in (3, "loud", -1):
        with pytest.raises(ValueError, match=r"fit: verbose must be 'auto', 0, 1 or 2"):
            fit(_linear(), "cross_entropy", "sgd", (x, y), verbose=bad)


# --- metrics against scikit-learn -----------------------------------------------------------


@pytest.mark.parametrize("loss", ["bce_with_logits", "bce"])
def test_binary_metrics_from_sigmoid_or_logits_match_scikit_learn(loss: str) -> None:
    skm = pytest.importorskip("sklearn.metrics")
    x, y = _toy(120)
    model = _linear(1, (nn.Sigmoid(),) if loss == "bce" else ())
    fit(model, loss, "adam", (x, y.astype(np.float32)), epochs=2, verbose=0, seed=0)
    names = ["accuracy", "precision", "recall", "f1", "log_loss"]
    scores = evaluate(model, loss, (x, y.astype(np.float32)), metrics=names)
    out = predict(model, x)[:, 0].astype(np.float64)
    proba = 1 / (1 + np.exp(-out)) if loss == "bce_with_logits" else out
    labels = (proba > 0.5).astype(np.int64)
    assert scores["accuracy"] == pytest.approx(skm.accuracy_score(y, labels))
    # One output column: the positive class's scores, scikit-learn's default (and Keras's).
    assert scores["precision"] == pytest.approx(skm.precision_score(y, labels))
    assert scores["recall"] == pytest.approx(skm.recall_score(y, labels))
    assert scores["f1"] == pytest.approx(skm.f1_score(y, labels))
    assert scores["log_loss"] == pytest.approx(skm.log_loss(y, proba), rel=1e-5)


def test_r2_of_a_constant_target_matches_scikit_learn() -> None:
    skm = pytest.importorskip("sklearn.metrics")
    target = np.full(5, 3.0)
    for prediction in (target.copy(), target + np.arange(5.0)):
        assert metrics.r2_score(target, prediction) == skm.r2_score(target, prediction)
    two = np.stack([target, np.arange(5.0)], axis=1)
    guess = two + np.array([0.0, 0.5])
    assert metrics.r2_score(two, guess) == pytest.approx(skm.r2_score(two, guess))


# --- History.plot ----------------------------------------------------------------------------


def _history() -> History:
    history = History()
    for epoch, (loss, val) in enumerate([(1.0, 1.2), (0.6, 0.9), (0.4, 0.8)], start=1):
        history.record(epoch, {"loss": loss, "val_loss": val, "accuracy": epoch / 4})
    return history


def test_history_plot_leaves_the_sessions_matplotlib_backend_alone(tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    previous = matplotlib.get_backend()
    matplotlib.use("svg")  # as a notebook or GUI session has a backend of its own
    try:
        _history().plot(tmp_path / "curves.png")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(previous)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_history_plot_writes_the_format_its_suffix_names(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    history = _history()
    assert history.plot(tmp_path / "curves.pdf").read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in history.plot(tmp_path / "curves.svg").read_bytes()[:2000]
    for other in ("curves", "curves.v2"):  # no suffix matplotlib knows: PNG
        assert history.plot(tmp_path / other).read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match=r"History.plot: keys \['acc'\] are not recorded"):
        history.plot(tmp_path / "x.png", keys=["acc"])
