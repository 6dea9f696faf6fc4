"""fit, evaluate and predict on streams (``IterableDataset``, a DataLoader over one, or a
DataLoader with ``batch_size=None``): the same training as on the arrays in that order and
as a PyTorch loop, epochs of unknown length shown and passed on as such, validation on a
stream, a stream that runs dry, what cannot apply to a stream refused by name, and a
sampler's ``set_epoch`` called every epoch (``DistributedSampler``, refused under MPI)."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, DistributedSampler, IterableDataset, TensorDataset
from chainrule.train import Callback, ProgressBar
from chainrule.train.loop import FitState


def blobs(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    x = (rng.normal(size=(n, 4)) + 2.0 * np.eye(3, 4)[y]).astype(np.float32)
    return x, y


class Rows(IterableDataset):
    """The rows of (x, y) in order; a length only when ``sized``."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y

    def __iter__(self) -> Iterator[tuple[np.ndarray, Any]]:
        return zip(self.x, self.y, strict=True)


class SizedRows(Rows):
    def __len__(self) -> int:
        return len(self.x)


def _model() -> nn.Module:
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def _weights(model: nn.Module) -> list[np.ndarray]:
    return [p.data.copy() for p in model.parameters()]


@pytest.mark.parametrize(
    "stream",
    [
        lambda x, y: Rows(x, y),
        lambda x, y: DataLoader(Rows(x, y), batch_size=16),
        lambda x, y: DataLoader(SizedRows(x, y), batch_size=16),
    ],
)
def test_a_stream_trains_as_its_arrays_in_order(stream: Any) -> None:
    x, y = blobs()
    options = {"epochs": 3, "batch_size": 16, "metrics": ["accuracy"], "verbose": 0}
    on_arrays, on_stream = _model(), _model()
    expected = cr.fit(on_arrays, "cross_entropy", "adam", x, y, shuffle=False, **options)
    history = cr.fit(on_stream, "cross_entropy", "adam", stream(x, y), **options)
    for ours, theirs in zip(_weights(on_stream), _weights(on_arrays), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert history["loss"] == expected["loss"]
    assert history["accuracy"] == expected["accuracy"]
    assert len(history.step_loss) == 12


def test_a_stream_trains_as_a_pytorch_loop_over_the_same_stream() -> None:
    torch = pytest.importorskip("torch")
    x, y = blobs()
    ours = nn.Linear(4, 3)
    theirs = torch.nn.Linear(4, 3)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))

    class TorchRows(torch.utils.data.IterableDataset):  # type: ignore[misc]
        def __iter__(self) -> Iterator[Any]:
            return zip(x, y, strict=True)

    optimizer = torch.optim.SGD(theirs.parameters(), lr=0.1)
    for _ in range(2):
        for xb, yb in torch.utils.data.DataLoader(TorchRows(), batch_size=16, drop_last=True):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(theirs(xb), yb).backward()
            optimizer.step()
    loader = DataLoader(Rows(x, y), batch_size=16, drop_last=True)
    cr.fit(ours, "cross_entropy", optim.SGD(ours.parameters(), lr=0.1), loader, epochs=2, verbose=0)
    np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(ours.bias.data, theirs.bias.detach().numpy(), atol=1e-6)


class Steps(Callback):
    """What a callback sees of the epoch's length, chainrule's way and Keras's."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def on_train_begin(self, state: FitState) -> None:
        assert self.params is not None
        self.seen += [state.steps_per_epoch, self.params["steps"]]


def test_an_epoch_of_unknown_length_is_counted_without_a_total() -> None:
    x, y = blobs()
    unknown, known, shown = Steps(), Steps(), io.StringIO()
    bar = ProgressBar(stream=shown, force_bar=True)
    cr.fit(_model(), "cross_entropy", "sgd", Rows(x, y), epochs=2, callbacks=[unknown, bar])
    cr.fit(_model(), "cross_entropy", "sgd", SizedRows(x, y), batch_size=16, callbacks=[known])
    assert unknown.seen == [None, None] and known.seen == [4, 4]
    text = shown.getvalue()
    assert "epoch 2/2: 2step" in text and "/2 [" not in text  # 60 rows in batches of 32
    lines = io.StringIO()
    cr.fit(_model(), "cross_entropy", "sgd", Rows(x, y), callbacks=[ProgressBar(stream=lines)])
    assert lines.getvalue().count("epoch ") == 10  # one line per epoch without a terminal


def test_validation_on_a_stream_matches_validation_on_its_arrays() -> None:
    x, y = blobs()
    held_x, held_y = blobs(30)
    options = {"epochs": 2, "metrics": ["accuracy"], "verbose": 0, "shuffle": False}
    held = (held_x, held_y)
    expected = cr.fit(_model(), "cross_entropy", "adam", x, y, validation_data=held, **options)
    for validation in (
        Rows(held_x, held_y),
        DataLoader(Rows(held_x, held_y), batch_size=7),
        DataLoader([(held_x[:20], held_y[:20]), (held_x[20:], held_y[20:])], batch_size=None),
    ):
        history = cr.fit(
            _model(), "cross_entropy", "adam", Rows(x, y), validation_data=validation, **options
        )
        np.testing.assert_allclose(history["val_loss"], expected["val_loss"], rtol=1e-6)
        assert history["val_accuracy"] == expected["val_accuracy"]


def test_a_scheduler_and_compiled_steps_work_on_a_stream() -> None:
    x, y = blobs()
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    scheduler = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = cr.fit(
        model, "cross_entropy", opt, Rows(x, y), epochs=3, scheduler=scheduler, compiled=True,
        verbose=0,
    )  # fmt: skip
    assert history["lr"] == [0.1, 0.05, 0.025]  # each epoch's rate


def test_evaluate_and_predict_take_a_stream() -> None:
    x, y = blobs()
    model = _model()
    expected = cr.evaluate(model, "cross_entropy", x, y, metrics=["accuracy"])
    outputs = cr.predict(model, x)
    for stream in (Rows(x, y), DataLoader(Rows(x, y), batch_size=7)):
        logs = cr.evaluate(model, "cross_entropy", stream, metrics=["accuracy"], batch_size=9)
        assert logs["accuracy"] == expected["accuracy"]
        np.testing.assert_allclose(logs["loss"], expected["loss"], rtol=1e-6)
        np.testing.assert_allclose(cr.predict(model, stream, batch_size=9), outputs, rtol=1e-6)

    class Batches(IterableDataset):
        """A stream of whole batches, for a loader with batch_size=None."""

        def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
            return ((x[i : i + 25], y[i : i + 25]) for i in range(0, len(x), 25))

    batches = DataLoader(Batches(), batch_size=None)
    np.testing.assert_allclose(cr.predict(model, batches), outputs, rtol=1e-6)
    np.testing.assert_allclose(
        cr.evaluate(model, "cross_entropy", batches)["loss"], expected["loss"], rtol=1e-6
    )


def test_an_empty_stream_is_an_error_named_by_where_it_came() -> None:
    x, y = blobs()
    empty = Rows(x[:0], y[:0])
    with pytest.raises(ValueError, match="fit: train_data gave no batches in epoch 1"):
        cr.fit(_model(), "cross_entropy", "sgd", empty, verbose=0)
    with pytest.raises(ValueError, match="shorter than one batch with drop_last=True"):
        cr.fit(_model(), "cross_entropy", "sgd", DataLoader(Rows(x, y), 64, drop_last=True))
    with pytest.raises(ValueError, match="fit: validation_data gave no batches"):
        cr.fit(_model(), "cross_entropy", "sgd", Rows(x, y), validation_data=empty, verbose=0)
    with pytest.raises(ValueError, match="evaluate: data gave no batches"):
        cr.evaluate(_model(), "cross_entropy", empty)
    with pytest.raises(ValueError, match="predict: x is empty"):
        cr.predict(_model(), empty)


def test_a_stream_that_does_not_start_over_stops_training_with_a_warning() -> None:
    x, y = blobs()

    class Once(IterableDataset):
        def __init__(self) -> None:
            self.rows = zip(x, y, strict=True)  # one generator: used up by the first epoch

        def __iter__(self) -> Iterator[Any]:
            return self.rows

    with pytest.warns(RuntimeWarning, match="gave no batches in epoch 2, so training stopped"):
        history = cr.fit(_model(), "cross_entropy", "sgd", Once(), epochs=5, verbose=0)
    assert len(history["loss"]) == 1
    assert "must start over at each iter()" in (history.stop_reason or "")


def test_what_a_stream_cannot_do_is_refused_by_name() -> None:
    x, y = blobs()
    with pytest.raises(ValueError, match=r"validation_split .* come as a stream"):
        cr.fit(_model(), "cross_entropy", "sgd", Rows(x, y), validation_split=0.2)
    with pytest.raises(TypeError, match=r"need the data as arrays.* got a Rows"):
        cr.fit(_model(), "cross_entropy", "sgd", Rows(x, y), sample_weight=np.ones(60))
    with pytest.raises(TypeError, match=r"need the data as arrays.* got a Rows"):
        cr.fit(_model(), "cross_entropy", "sgd", Rows(x, y), class_weight={0: 2.0})
    with pytest.raises(TypeError, match=r"need the data as arrays.* got a Rows"):
        cr.evaluate(_model(), "cross_entropy", Rows(x, y), sample_weight=np.ones(60))
    unbatched = DataLoader(TensorDataset(x, y), batch_size=None)
    with pytest.raises(TypeError, match=r"evaluate\(model, loss, x, y\), got a DataLoader"):
        cr.evaluate(_model(), "cross_entropy", unbatched, sample_weight=np.ones(60))
    with pytest.raises(TypeError, match=r"fit\(model, loss, optimizer, x, y\), got a DataLoader"):
        cr.fit(_model(), "cross_entropy", "sgd", unbatched, sample_weight=np.ones(60))
    with pytest.raises(TypeError, match="y is given, so train_data must be the inputs x"):
        cr.fit(_model(), "cross_entropy", "sgd", Rows(x, y), y)


class FakeMPI:
    """Enough of an MPIContext for fit to reach its checks of the data."""

    def forward_backward(self, *args: Any) -> None:  # pragma: no cover - never reached
        raise AssertionError

    def common_seed(self, seed: int | None, resume_from: Any = None) -> int:
        return 0


def test_mpi_refuses_a_stream_and_a_distributed_sampler() -> None:
    x, y = blobs()
    with pytest.raises(ValueError, match=r"IterableDataset .* is not supported with MPI"):
        cr.fit(_model(), "cross_entropy", "sgd", Rows(x, y), distributed=FakeMPI())
    with pytest.raises(ValueError, match=r"IterableDataset .* is not supported with MPI"):
        mpi, stream = FakeMPI(), Rows(x, y)
        cr.fit(_model(), "cross_entropy", "sgd", x, y, validation_data=stream, distributed=mpi)
    sampler = DistributedSampler(x, num_replicas=2, rank=0)
    loader = DataLoader(TensorDataset(x, y), batch_size=8, sampler=sampler)
    with pytest.raises(ValueError, match="DistributedSampler would split the data a second"):
        cr.fit(_model(), "cross_entropy", "sgd", loader, distributed=FakeMPI())


def test_fit_tells_a_sampler_each_epoch() -> None:
    x, y = blobs(12)
    seen: list[list[int]] = []

    class Recorded(TensorDataset):
        def __getitem__(self, index: int) -> Any:
            seen[-1].append(int(index))
            return super().__getitem__(index)

    class NewEpoch(Callback):
        def on_epoch_begin(self, state: FitState) -> None:
            seen.append([])

    sampler = DistributedSampler(x, num_replicas=2, rank=1, seed=4)
    loader = DataLoader(Recorded(x, y), batch_size=4, sampler=sampler)
    cr.fit(_model(), "cross_entropy", "sgd", loader, epochs=3, callbacks=[NewEpoch()], verbose=0)
    assert sampler.epoch == 2
    expected = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        expected.append(list(sampler))
    assert seen == expected and seen[0] != seen[1]


def test_an_unbatched_loader_over_a_dataset_is_taken_as_it_comes() -> None:
    x, y = blobs()
    batches = [(x[i : i + 20], y[i : i + 20]) for i in range(0, 60, 20)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = cr.fit(
            _model(), "cross_entropy", "sgd", DataLoader(batches, batch_size=None), epochs=2,
            verbose=0,
        )  # fmt: skip
    assert len(history.step_loss) == 6 and history.params["steps"] == 3


def test_a_sampler_without_a_length_gives_epochs_of_unknown_length() -> None:
    x, y = blobs(12)

    class EvenRows:
        """A sampler with no __len__: fit no longer needs one."""

        def __iter__(self) -> Iterator[int]:
            return iter(range(0, 12, 2))

    steps = Steps()
    loader = DataLoader(TensorDataset(x, y), batch_size=4, sampler=EvenRows())
    history = cr.fit(_model(), "cross_entropy", "sgd", loader, epochs=2, callbacks=[steps])
    assert steps.seen == [None, None] and len(history.step_loss) == 4
