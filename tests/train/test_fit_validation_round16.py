"""fit's validation pass: a validation DataLoader's batches are made by its own collate_fn
(not the training loader's, which may augment), and validation_split does not stratify the
integer targets of a regression as if they were classes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.data import DataLoader, default_collate
from chainrule.train import evaluate, fit

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3)).astype(np.float32)
LABELS = (X[:, 0] > 0).astype(np.int64)


class Records:
    """Samples as dicts, as many PyTorch datasets give them."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"features": self.x[i], "label": self.y[i]}


def _pairs(samples: list[dict[str, Any]]) -> tuple[Any, Any]:
    batch = default_collate(samples)
    return batch["features"], batch["label"]


def _augmented(samples: list[dict[str, Any]]) -> tuple[Any, Any]:
    x, y = _pairs(samples)
    return x * 0 + 100.0, y  # an augmentation meant for training only


def test_validation_loader_batches_by_its_own_collate_fn() -> None:
    cr.manual_seed(0)
    model = nn.Linear(3, 2)
    train = DataLoader(Records(X[:30], LABELS[:30]), batch_size=10, collate_fn=_augmented)
    val = DataLoader(Records(X[30:], LABELS[30:]), batch_size=10, collate_fn=_pairs)
    frozen = cr.optim.SGD(model.parameters(), lr=0.0)  # the weights stay as evaluate sees them
    history = fit(model, "cross_entropy", frozen, train, epochs=1, validation_data=val, verbose=0)
    expected = evaluate(model, "cross_entropy", val)["loss"]
    assert history["val_loss"][-1] == pytest.approx(expected, rel=1e-6)


def test_arrays_with_a_dict_collating_validation_loader() -> None:
    cr.manual_seed(0)
    model = nn.Linear(3, 2)
    val = DataLoader(Records(X[30:], LABELS[30:]), batch_size=4, collate_fn=_pairs)
    history = fit(
        model,
        "cross_entropy",
        "sgd",
        X[:30],
        LABELS[:30],
        epochs=2,
        validation_data=val,
        verbose=0,
    )
    assert history["val_loss"][-1] == pytest.approx(
        evaluate(model, "cross_entropy", X[30:], LABELS[30:])["loss"], rel=1e-6
    )


def test_validation_split_rows_still_batched_by_the_training_collate_fn() -> None:
    calls: list[int] = []

    def pairs(samples: list[dict[str, Any]]) -> tuple[Any, Any]:
        calls.append(len(samples))
        return _pairs(samples)

    cr.manual_seed(0)
    loader = DataLoader(Records(X, LABELS), batch_size=8, collate_fn=pairs)
    fit(
        nn.Linear(3, 2),
        "cross_entropy",
        "sgd",
        loader,
        epochs=1,
        validation_split=0.25,
        seed=0,
        verbose=0,
    )
    assert sum(calls) == 40  # 30 training rows and the 10 held out


def test_a_dict_dataset_as_validation_data_says_what_to_do() -> None:
    train = DataLoader(Records(X[:30], LABELS[:30]), batch_size=10, collate_fn=_pairs)
    with pytest.raises(
        ValueError,
        match=r"fit: validation_data: expected samples of two "
        r"fields \(x, y\).*collated into a dict; a DataLoader whose collate_fn "
        r"makes \(x, y\) pairs",
    ):
        fit(
            nn.Linear(3, 2),
            "cross_entropy",
            "sgd",
            train,
            epochs=1,
            validation_data=Records(X[30:], LABELS[30:]),
            verbose=0,
        )


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_integer_regression_targets_are_not_stratified(loss: str) -> None:
    x = RNG.normal(size=(500, 3)).astype(np.float32)
    y = RNG.permutation(500)  # counts, prices in cents: every value distinct
    cr.manual_seed(0)
    history = fit(
        nn.Linear(3, 1), loss, "adam", x, y, epochs=1, validation_split=0.2, seed=0, verbose=0
    )
    assert history.params["steps"] == int(np.ceil(400 / 32))  # 100 rows held out, as asked


def test_class_labels_are_still_stratified() -> None:
    y = np.array([0] * 90 + [1] * 10)
    x = RNG.normal(size=(100, 3)).astype(np.float32)
    model = nn.Linear(3, 2)
    model.weight.data[:] = 0
    model.bias.data[:] = [1.0, 0.0]  # predicts class 0 for every row
    frozen = cr.optim.SGD(model.parameters(), lr=0.0)
    history = fit(
        model,
        "cross_entropy",
        frozen,
        x,
        y,
        epochs=1,
        validation_split=0.2,
        seed=0,
        verbose=0,
        metrics=["accuracy"],
    )
    assert history["val_accuracy"] == [0.9]  # 18 rows of class 0 and 2 of class 1 held out
