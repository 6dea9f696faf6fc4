"""Metrics of sequences padded batch by batch: each batch of a DataLoader pads its
sequences to its own longest, with the loss's ignore_index, so batches have lengths of
their own. fit and evaluate score every labelled position, as scikit-learn scores the
flattened labels, instead of failing to join the batches."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.data import DataLoader

sklearn_metrics = pytest.importorskip("sklearn.metrics")

IGNORED = -100
CLASSES = 3


class Sequences:
    """Sequences of lengths 3 to 8, two features per step, a class per step."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        lengths = [3, 5, 8, 4, 6, 7, 3, 5]
        self.x = [rng.normal(size=(2, n)).astype(np.float32) for n in lengths]
        self.y = [rng.integers(0, CLASSES, size=n) for n in lengths]

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.x[i], self.y[i]


def _padded(samples: list[tuple[np.ndarray, np.ndarray]]) -> tuple[cr.Tensor, cr.Tensor]:
    longest = max(len(y) for _, y in samples)
    x = np.zeros((len(samples), 2, longest), dtype=np.float32)
    y = np.full((len(samples), longest), IGNORED, dtype=np.int64)
    for row, (features, labels) in enumerate(samples):
        x[row, :, : len(labels)] = features
        y[row, : len(labels)] = labels
    return cr.tensor(x), cr.tensor(y)


def _model() -> nn.Module:
    cr.manual_seed(0)
    return nn.Conv1d(2, CLASSES, 3, padding=1)


def _expected(model: nn.Module, data: Sequences) -> dict[str, float]:
    truth, guess = [], []
    for features, labels in zip(data.x, data.y, strict=True):
        scores = cr.predict(model, features[None])[0]  # (classes, length)
        truth.append(labels)
        guess.append(scores.argmax(axis=0))
    t, g = np.concatenate(truth), np.concatenate(guess)
    return {
        "accuracy": sklearn_metrics.accuracy_score(t, g),
        "f1_macro": sklearn_metrics.f1_score(t, g, average="macro", zero_division=0),
    }


def test_evaluate_scores_batches_padded_to_lengths_of_their_own() -> None:
    data = Sequences()
    loader = DataLoader(data, batch_size=3, collate_fn=_padded)
    model = _model()
    scores = cr.evaluate(model, "cross_entropy", loader, metrics=["accuracy", "f1_macro"])
    for name, value in _expected(model, data).items():
        assert scores[name] == pytest.approx(value), name


def test_fit_scores_each_epoch_of_batches_padded_to_lengths_of_their_own() -> None:
    data = Sequences()
    loader = DataLoader(data, batch_size=3, collate_fn=_padded)
    model = _model()
    history = cr.fit(
        model,
        "cross_entropy",
        cr.optim.SGD(model.parameters(), lr=0.0),  # the weights stay those predicted with
        loader,
        epochs=1,
        metrics=["accuracy", "f1_macro"],
        validation_data=loader,
        verbose=0,
    )
    expected = _expected(model, data)
    for name, value in expected.items():
        assert history[name][0] == pytest.approx(value), name
        assert history["val_" + name][0] == pytest.approx(value), name


def _per_pixel_labels(
    model: nn.Module, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel a row of its channels' 0/1 labels, (N * H * W, K)."""
    predicted = (cr.predict(model, x) > 0).astype(np.int64)
    channels = y.shape[1]
    rows = np.moveaxis(predicted, 1, -1).reshape(-1, channels)
    return np.moveaxis(y, 1, -1).reshape(-1, channels).astype(np.int64), rows


def test_several_channels_under_a_binary_loss_are_labels_of_each_pixel() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 2, 5, 5)).astype(np.float32)
    y = rng.integers(0, 2, size=(6, 3, 5, 5)).astype(np.float32)
    cr.manual_seed(0)
    model = nn.Conv2d(2, 3, 3, padding=1)
    names = ["accuracy", "precision", "recall", "f1"]
    scores = cr.evaluate(model, "bce_with_logits", x, y, metrics=names)
    truth, guess = _per_pixel_labels(model, x, y)
    # scikit-learn's multi-label scores: each of the 3 labels over every pixel, averaged.
    expected: dict[str, Any] = {
        "accuracy": np.mean(truth == guess),
        "precision": sklearn_metrics.precision_score(
            truth, guess, average="macro", zero_division=0
        ),
        "recall": sklearn_metrics.recall_score(truth, guess, average="macro", zero_division=0),
        "f1": sklearn_metrics.f1_score(truth, guess, average="macro", zero_division=0),
    }
    for name, value in expected.items():
        assert scores[name] == pytest.approx(value), name


def test_one_channel_of_a_binary_loss_is_a_model_of_two_classes_per_pixel() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 2, 5, 5)).astype(np.float32)
    y = rng.integers(0, 2, size=(6, 1, 5, 5)).astype(np.float32)
    cr.manual_seed(0)
    model = nn.Conv2d(2, 1, 3, padding=1)
    scores = cr.evaluate(model, "bce_with_logits", x, y, metrics=["precision", "f1"])
    truth, guess = _per_pixel_labels(model, x, y)
    assert scores["precision"] == pytest.approx(
        sklearn_metrics.precision_score(truth[:, 0], guess[:, 0], zero_division=0)
    )
    assert scores["f1"] == pytest.approx(
        sklearn_metrics.f1_score(truth[:, 0], guess[:, 0], zero_division=0)
    )
