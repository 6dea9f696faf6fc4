"""Metrics of a multi-label model (several output columns under a binary loss): precision,
recall and F1 per label averaged as scikit-learn's average='macro' (and 'weighted'), log_loss
the mean binary cross-entropy of every entry, accuracy the share of entries right (Keras's
binary_accuracy); the top-k accuracies are refused before training."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import evaluate, fit, metrics

sk = pytest.importorskip("sklearn.metrics")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3)).astype(np.float32)
Y = (X[:, :3] + 0.3 * RNG.normal(size=(40, 3)) > 0).astype(np.float32)  # three labels a row


def _model() -> nn.Module:
    cr.manual_seed(0)
    return nn.Linear(3, 3)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


NAMES = [
    "accuracy",
    "precision",
    "recall",
    "f1",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "log_loss",
]


@pytest.mark.parametrize("loss", ["bce_with_logits", "binary_crossentropy"])
def test_evaluate_scores_each_label_as_scikit_learn_does(loss: str) -> None:
    model = _model() if loss == "bce_with_logits" else nn.Sequential(_model(), nn.Sigmoid())
    scores = evaluate(model, loss, X, Y, metrics=NAMES)
    proba = cr.predict(model, X)
    if loss == "bce_with_logits":
        proba = _sigmoid(proba)
    predicted = (proba > 0.5).astype(int)
    truth = Y.astype(int)
    assert scores["accuracy"] == pytest.approx(np.mean(predicted == truth))
    for name, fn in [
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1", sk.f1_score),
    ]:
        assert scores[name] == pytest.approx(fn(truth, predicted, average="macro", zero_division=0))
        assert scores[f"{name}_weighted"] == pytest.approx(
            fn(truth, predicted, average="weighted", zero_division=0)
        )
    p = np.clip(proba.astype(np.float64), 1e-15, 1 - 1e-15)
    bce = -np.mean(Y * np.log(p) + (1 - Y) * np.log(1 - p))
    assert scores["log_loss"] == pytest.approx(bce, rel=1e-5)
    assert scores["log_loss"] == pytest.approx(scores["loss"], rel=1e-4)  # the loss itself


def test_fit_logs_the_same_scores_for_the_validation_data() -> None:
    model = _model()
    history = fit(
        model,
        "bce_with_logits",
        "adam",
        X,
        Y,
        epochs=2,
        validation_data=(X, Y),
        metrics=NAMES,
        verbose=0,
    )
    final = evaluate(model, "bce_with_logits", X, Y, metrics=NAMES)
    for name in NAMES:
        assert history[f"val_{name}"][-1] == pytest.approx(final[name], rel=1e-5), name


@pytest.mark.parametrize("name", ["top_3_accuracy", "top_5_accuracy"])
def test_top_k_is_refused_for_a_multilabel_model_before_training(name: str) -> None:
    model = _model()
    before = model.weight.data.copy()
    with pytest.raises(
        ValueError,
        match=rf"fit: metric '{name}' needs one true class per row, "
        r"got a multi-label model \(3 columns under a binary loss",
    ):
        fit(model, "bce_with_logits", "adam", X, Y, epochs=1, metrics=[name], verbose=0)
    assert np.array_equal(model.weight.data, before)  # refused up front: nothing trained
    with pytest.raises(ValueError, match=rf"evaluate: metric '{name}' needs one true class"):
        evaluate(model, "bce_with_logits", X, Y, metrics=[name])


def test_top_k_is_refused_for_a_multilabel_loader_too() -> None:
    loader = DataLoader(TensorDataset(X, Y), batch_size=8)
    with pytest.raises(ValueError, match=r"metric 'top_3_accuracy' needs one true class per row"):
        evaluate(_model(), "bce_with_logits", loader, metrics=["top_3_accuracy"])


def test_one_output_column_keeps_the_positive_class_scores() -> None:
    y = Y[:, 0]
    cr.manual_seed(0)
    model = nn.Linear(3, 1)
    scores = evaluate(model, "bce_with_logits", X, y, metrics=["precision", "log_loss"])
    proba = _sigmoid(cr.predict(model, X)[:, 0])
    assert scores["precision"] == pytest.approx(
        sk.precision_score(y.astype(int), (proba > 0.5).astype(int), zero_division=0)
    )
    assert scores["log_loss"] == pytest.approx(sk.log_loss(y, proba), rel=1e-5)


def test_the_metric_functions_read_label_indicator_matrices() -> None:
    truth = [[1, 0, 1], [1, 1, 0], [0, 1, 1], [0, 0, 1]]
    predicted = [[1, 1, 1], [0, 1, 0], [0, 1, 0], [0, 0, 1]]
    for fn, reference in [
        (metrics.precision, sk.precision_score),
        (metrics.recall, sk.recall_score),
        (metrics.f1_score, sk.f1_score),
    ]:
        for average in ("macro", "weighted"):
            assert fn(truth, predicted, average=average) == pytest.approx(
                reference(truth, predicted, average=average, zero_division=0)
            )
    with pytest.raises(
        ValueError,
        match=r"average='binary' needs one column of labels, got "
        r"multi-label data of shape \(4, 3\)",
    ):
        metrics.precision(truth, predicted, average="binary")
