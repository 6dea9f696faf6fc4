"""fit's sample and class weights meet validation as Keras's do: training weights with
validation data given without weights (``(x, y)``, ``(x, y, None)``, a dataset, a
DataLoader) leave ``val_loss`` unweighted, and ``class_weight='balanced'`` counts the
training rows that ``validation_split`` leaves, as its docstring says."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim

torch = pytest.importorskip("torch")
class_weight_module = pytest.importorskip("sklearn.utils.class_weight")


def _torch_cross_entropy(logits: np.ndarray, labels: np.ndarray, weight: Any = None) -> float:
    rows = torch.nn.functional.cross_entropy(
        torch.tensor(logits, dtype=torch.float64), torch.tensor(labels), reduction="none"
    ).numpy()
    return float(np.mean(rows if weight is None else rows * weight))


def _validation_kinds(x: np.ndarray, y: np.ndarray) -> list[Any]:
    dataset = cr.data.TensorDataset(x, y)
    return [(x, y), (x, y, None), dataset, cr.data.DataLoader(dataset, batch_size=8)]


@pytest.mark.parametrize("kind", range(4))
def test_sample_weights_with_unweighted_validation_data_give_plain_val_loss(kind: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    x_val = rng.normal(size=(20, 3)).astype(np.float32)
    y_val = (x_val[:, 1] > 0).astype(np.int64)
    model = nn.Linear(3, 2, generator=0)
    history = cr.fit(
        model,
        "cross_entropy",
        optim.SGD(model.parameters(), lr=0.0),  # the model stays as it is
        x,
        y,
        epochs=2,
        sample_weight=rng.uniform(0.5, 3.0, size=40),
        validation_data=_validation_kinds(x_val, y_val)[kind],
        verbose=0,
    )
    expected = _torch_cross_entropy(model(cr.tensor(x_val)).numpy(), y_val)
    assert history["val_loss"] == pytest.approx([expected, expected], rel=1e-6)


def test_class_weight_with_unweighted_validation_data_gives_plain_val_loss() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 3)).astype(np.float32)
    y = rng.integers(0, 3, 30)
    model = nn.Linear(3, 3, generator=0)
    history = cr.fit(
        model,
        "cross_entropy",
        optim.SGD(model.parameters(), lr=0.0),
        x,
        y,
        epochs=1,
        class_weight={0: 5.0},
        validation_data=(x, y),
        verbose=0,
    )
    assert history["val_loss"][0] == pytest.approx(
        _torch_cross_entropy(model(cr.tensor(x)).numpy(), y), rel=1e-6
    )


def test_weighted_validation_triple_still_weighs_val_loss() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    y = rng.integers(0, 2, 20)
    w = rng.uniform(0.5, 3.0, size=20)
    model = nn.Linear(3, 2, generator=0)
    history = cr.fit(
        model,
        "cross_entropy",
        optim.SGD(model.parameters(), lr=0.0),
        x,
        y,
        epochs=1,
        sample_weight=np.ones(20),
        validation_data=(x, y, w),
        verbose=0,
    )
    assert history["val_loss"][0] == pytest.approx(
        _torch_cross_entropy(model(cr.tensor(x)).numpy(), y, w), rel=1e-6
    )


class _Recorder(nn.Module):
    """A linear model of columns 1: that records column 0 (the row's number) of what it
    is evaluated on, so that the test learns which rows validation_split held out."""

    def __init__(self, weight: np.ndarray) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 3)
        self.linear.weight.data[...] = weight
        self.linear.bias.data[...] = 0
        self.seen: list[np.ndarray] = []

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        if not self.training:
            self.seen.append(x.numpy()[:, 0].copy())
        return self.linear(x[:, 1:])


def test_balanced_class_weight_counts_the_training_rows_only() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [50, 7, 3])
    x = np.c_[np.arange(len(y)), rng.normal(size=(len(y), 3))].astype(np.float32)
    weight = rng.normal(size=(3, 3)).astype(np.float32)
    model = _Recorder(weight)
    history = cr.fit(
        model,
        "cross_entropy",
        optim.SGD(model.parameters(), lr=0.0),
        x,
        y,
        epochs=1,
        batch_size=16,
        validation_split=0.25,
        class_weight="balanced",
        seed=3,
        verbose=0,
    )
    held = np.concatenate(model.seen).astype(np.int64)
    kept = np.setdiff1d(np.arange(len(y)), held)
    shares = class_weight_module.compute_class_weight("balanced", classes=np.arange(3), y=y[kept])
    expected = _torch_cross_entropy(x[kept, 1:] @ weight.T, y[kept], shares[y[kept]])
    assert history["loss"][0] == pytest.approx(expected, rel=1e-5)
    # val_loss stays unweighted under class weights, as in Keras.
    assert history["val_loss"][0] == pytest.approx(
        _torch_cross_entropy(x[held, 1:] @ weight.T, y[held]), rel=1e-5
    )
