"""Metrics of models that score each position of a sample, (N, C, H, W) or (N, C, L) as a
segmentation or sequence model gives them: each position is scored as a sample, as
scikit-learn scores the flattened labels. Positions labelled ``ignore_index`` are left out,
as the loss leaves them out; one-hot targets per position are read by their argmax; the
metrics of probabilities work; one logit per position under a binary loss is a model of
two classes (class 1's precision, as for one output column)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

sklearn_metrics = pytest.importorskip("sklearn.metrics")

IGNORED = -100


def _images(classes: int, rows: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2, 5, 5)).astype(np.float32)
    y = rng.integers(0, classes, size=(rows, 5, 5))
    return x, y


def _conv(out_channels: int, dims: int = 2) -> nn.Module:
    cr.manual_seed(0)
    if dims == 1:
        return nn.Conv1d(2, out_channels, 3, padding=1)
    return nn.Conv2d(2, out_channels, 3, padding=1)


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    result: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return result


@pytest.mark.parametrize("classes", [2, 3])
def test_pixels_labelled_ignore_index_are_left_out_of_every_metric(classes: int) -> None:
    x, y = _images(classes)
    y[:2] = IGNORED  # whole images unlabelled
    y[3, 0, :] = IGNORED  # a row of padding
    model = _conv(classes)
    names = ["accuracy", "precision", "recall", "f1", "f1_macro"]
    scores = cr.evaluate(model, "cross_entropy", x, y, metrics=names)
    predicted = cr.predict(model, x).argmax(axis=1)
    kept = y != IGNORED
    truth, guess = y[kept], predicted[kept]
    average = "binary" if classes == 2 else "macro"
    expected = {
        "accuracy": sklearn_metrics.accuracy_score(truth, guess),
        "precision": sklearn_metrics.precision_score(
            truth, guess, average=average, zero_division=0
        ),
        "recall": sklearn_metrics.recall_score(truth, guess, average=average, zero_division=0),
        "f1": sklearn_metrics.f1_score(truth, guess, average=average, zero_division=0),
        "f1_macro": sklearn_metrics.f1_score(truth, guess, average="macro", zero_division=0),
    }
    for name, value in expected.items():
        assert scores[name] == pytest.approx(value), name


def test_fit_reports_per_pixel_scores_over_the_labelled_pixels() -> None:
    x, y = _images(3)
    y[0] = IGNORED
    model = _conv(3)
    history = cr.fit(
        model,
        "cross_entropy",
        cr.optim.SGD(model.parameters(), lr=0.0),  # the weights stay those predicted with
        x,
        y,
        epochs=1,
        batch_size=4,
        metrics=["accuracy"],
        validation_data=(x, y),
        verbose=0,
    )
    predicted = cr.predict(model, x).argmax(axis=1)
    kept = y != IGNORED
    expected = sklearn_metrics.accuracy_score(y[kept], predicted[kept])
    assert history["accuracy"][0] == pytest.approx(expected)
    assert history["val_accuracy"][0] == pytest.approx(expected)


@pytest.mark.parametrize("dims", [1, 2])
def test_one_hot_targets_per_position_score_as_their_labels(dims: int) -> None:
    rng = np.random.default_rng(1)
    spatial = (7,) if dims == 1 else (4, 4)
    x = rng.normal(size=(5, 2, *spatial)).astype(np.float32)
    labels = rng.integers(0, 3, size=(5, *spatial))
    one_hot = np.moveaxis(np.eye(3, dtype=np.float32)[labels], -1, 1)  # (N, C, ...)
    model = _conv(3, dims)
    names = ["accuracy", "f1", "log_loss", "top_3_accuracy"]
    from_one_hot = cr.evaluate(model, "cross_entropy", x, one_hot, metrics=names)
    from_labels = cr.evaluate(model, "cross_entropy", x, labels, metrics=names)
    assert from_one_hot == pytest.approx(from_labels)
    predicted = cr.predict(model, x).argmax(axis=1)
    assert from_one_hot["accuracy"] == pytest.approx(
        sklearn_metrics.accuracy_score(labels.reshape(-1), predicted.reshape(-1))
    )


def test_fit_with_one_hot_targets_per_pixel_scores_each_epoch() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 2, 4, 4)).astype(np.float32)
    labels = rng.integers(0, 3, size=(6, 4, 4))
    one_hot = np.moveaxis(np.eye(3, dtype=np.float32)[labels], -1, 1)
    history = cr.fit(
        _conv(3), "cross_entropy", "adam", x, one_hot, epochs=2, metrics=["accuracy"], verbose=0
    )
    assert len(history["accuracy"]) == 2
    assert all(0.0 <= value <= 1.0 for value in history["accuracy"])


def test_log_loss_and_top_k_of_per_pixel_outputs_match_scikit_learn() -> None:
    x, y = _images(4)
    y[1, :, :2] = IGNORED
    model = _conv(4)
    scores = cr.evaluate(
        model, "cross_entropy", x, y, metrics=["log_loss", "top_3_accuracy", "top_5_accuracy"]
    )
    proba = np.moveaxis(_softmax(cr.predict(model, x).astype(np.float64)), 1, -1).reshape(-1, 4)
    flat = y.reshape(-1)
    kept = flat != IGNORED
    labels = [0, 1, 2, 3]
    assert scores["log_loss"] == pytest.approx(
        sklearn_metrics.log_loss(flat[kept], proba[kept], labels=labels), rel=1e-5
    )
    assert scores["top_3_accuracy"] == pytest.approx(
        sklearn_metrics.top_k_accuracy_score(flat[kept], proba[kept], k=3, labels=labels)
    )
    assert scores["top_5_accuracy"] == 1.0  # every one of 4 classes is among the top 5


def test_fit_scores_log_loss_of_per_pixel_outputs_at_each_epoch() -> None:
    x, y = _images(3)
    history = cr.fit(
        _conv(3),
        "cross_entropy",
        "sgd",
        x,
        y,
        epochs=2,
        metrics=["log_loss", "top_3_accuracy"],
        validation_data=(x, y),
        verbose=0,
    )
    assert np.isfinite(history["val_log_loss"]).all()
    assert history["val_top_3_accuracy"] == [1.0, 1.0]


@pytest.mark.parametrize("channel", [True, False])
def test_one_logit_per_pixel_is_scored_as_two_classes(channel: bool) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 2, 5, 5)).astype(np.float32)
    mask = (rng.random((6, 1, 5, 5)) < 0.3).astype(np.float32)
    model = _conv(1)
    names = ["accuracy", "precision", "recall", "f1", "log_loss"]
    targets: Any = mask if channel else mask[:, 0]
    if channel:
        scores = cr.evaluate(model, "bce_with_logits", x, targets, metrics=names)
    else:  # targets (N, H, W): the loss needs the channel, a metric of the scores does not
        scores = cr.evaluate(model, _ChannelBCE(), x, targets, metrics=names)
    logits = cr.predict(model, x).astype(np.float64).reshape(-1)
    positive = 1 / (1 + np.exp(-logits))
    truth, guess = mask.reshape(-1).astype(int), (positive > 0.5).astype(int)
    # Class 1's scores, scikit-learn's default pos_label=1, as for one output column.
    assert scores["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(truth, guess))
    assert scores["precision"] == pytest.approx(sklearn_metrics.precision_score(truth, guess))
    assert scores["recall"] == pytest.approx(sklearn_metrics.recall_score(truth, guess))
    assert scores["f1"] == pytest.approx(sklearn_metrics.f1_score(truth, guess))
    assert scores["log_loss"] == pytest.approx(sklearn_metrics.log_loss(truth, positive), rel=1e-5)


class _ChannelBCE(nn.BCEWithLogitsLoss):
    """Binary cross-entropy of (N, 1, H, W) logits and (N, H, W) targets."""

    def forward(self, input: Any, target: Any) -> Any:
        return super().forward(input, target.unsqueeze(1))
