"""Round 17, an outside-in hunt of the metrics: ``log_loss`` of a one-logit model trained on
soft (label-smoothed) targets, scores of two-class per-pixel models, and the inputs that
scikit-learn refuses (probabilities outside [0, 1], NaN, ``average='binary'`` without two
classes, top-k's ``k`` and labels), each refused here too with a message."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import evaluate, fit, metrics

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


@pytest.mark.parametrize(
    ("proba", "shown"),
    [
        ([[1.2, -0.2], [0.2, 0.8]], "1.2"),
        ([[0.8, 0.2], [-0.1, 1.0]], "-0.1"),
        ([[np.nan, 0.5], [0.2, 0.8]], "nan"),
        ([0.5, 1.5], "1.5"),
    ],
)
def test_log_loss_refuses_probabilities_outside_zero_one_as_scikit_learn(
    proba: list, shown: str
) -> None:
    with pytest.raises(ValueError):
        sk.log_loss([0, 1], proba)
    with pytest.raises(
        ValueError, match=rf"log_loss: expected probabilities in \[0, 1\], got {shown}"
    ):
        metrics.log_loss([0, 1], proba)


def test_log_loss_takes_one_hot_labels_as_scikit_learn() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    for y in (np.eye(3), np.eye(3)[[0, 1, 0]], np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]])):
        assert metrics.log_loss(y, proba) == pytest.approx(sk.log_loss(y, proba))
        if (y.sum(axis=1) == 1).all():
            labels = y.argmax(axis=1)
            assert metrics.log_loss(y, proba) == pytest.approx(metrics.log_loss(labels, proba))
    with pytest.raises(ValueError, match=r"expected a one-hot \(indicator\) y_true.*got 0\.5"):
        metrics.log_loss([[0.5, 0.5, 0], [0, 1, 0], [0, 0, 1]], proba)


def test_evaluate_scores_nan_outputs_as_nan_not_an_error() -> None:
    x = np.ones((4, 3), dtype=np.float32)
    x[0, 0] = np.nan
    model = nn.Linear(3, 2)
    scores = evaluate(
        model, nn.CrossEntropyLoss(), (x, np.array([0, 1, 0, 1])), metrics=["log_loss"]
    )
    assert np.isnan(scores["log_loss"])


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        (
            [0, 1, 2],
            [0, 1, 1],
            r"average='binary' needs labels of two classes, got 3 \(\[0, 1, 2\]\)",
        ),
        (["a", "b"], ["a", "b"], r"average='binary' scores class 1.*\['a', 'b'\]"),
        ([0, 2, 2], [0, 2, 0], r"average='binary' scores class 1.*\[0, 2\]"),
    ],
)
def test_binary_average_refuses_what_scikit_learn_refuses(
    y_true: list, y_pred: list, message: str
) -> None:
    for fn, theirs in [
        (metrics.precision, sk.precision_score),
        (metrics.recall, sk.recall_score),
        (metrics.f1_score, sk.f1_score),
    ]:
        with pytest.raises(ValueError):
            theirs(y_true, y_pred)
        with pytest.raises(ValueError, match=message):
            fn(y_true, y_pred, average="binary")


def test_binary_average_keeps_scikit_learns_values_for_two_classes() -> None:
    for y_true, y_pred in [([0, 1, 1, 0], [0, 1, 0, 0]), ([0, 0], [0, 0]), ([1, 2, 2], [1, 1, 2])]:
        assert metrics.f1_score(y_true, y_pred, average="binary") == pytest.approx(
            sk.f1_score(y_true, y_pred, zero_division=0)
        )


def test_fit_scores_class_one_of_per_pixel_labels_with_ignored_pixels() -> None:
    x = np.random.RandomState(1).randn(8, 1, 4, 4).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    y[:, 0, 0] = -100  # ignore_index: not a class, and not refused
    cr.manual_seed(0)
    model = nn.Conv2d(1, 2, 3, padding=1)
    scores = evaluate(model, nn.CrossEntropyLoss(), (x, y), metrics=["f1", "precision"])
    predicted = np.asarray(cr.predict(model, x)).argmax(axis=1).ravel()
    truth = y.ravel()
    kept = truth != -100  # the ignored pixels are left out, as the loss leaves them out
    assert scores["f1"] == pytest.approx(sk.f1_score(truth[kept], predicted[kept]))
    assert scores["precision"] == pytest.approx(sk.precision_score(truth[kept], predicted[kept]))


_PROBA = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])


@pytest.mark.parametrize(
    ("y_true", "scores", "k", "message"),
    [
        ([0, 1], [[np.nan, 0.5], [0.2, 0.8]], 1, r"expected finite scores, got nan"),
        ([0, 1, 2], _PROBA, 0, r"k must be an integer >= 1, got 0"),
        ([0, 1, 2], _PROBA, 1.5, r"k must be an integer >= 1, got 1\.5"),
        ([0, 1, 5], _PROBA, 2, r"expected labels 0\.\.2 for scores of 3 classes, got 5"),
        ([0, -1, 2], _PROBA, 2, r"expected labels 0\.\.2 for scores of 3 classes, got -1"),
    ],
)
def test_top_k_accuracy_refuses_what_scikit_learn_refuses(
    y_true: list, scores: object, k: object, message: str
) -> None:
    with pytest.raises(ValueError):
        sk.top_k_accuracy_score(y_true, scores, k=k, labels=list(range(np.shape(scores)[1])))
    with pytest.raises(ValueError, match="top_k_accuracy: " + message):
        metrics.top_k_accuracy(y_true, scores, k=k)  # type: ignore[arg-type]


def test_top_k_accuracy_keeps_scikit_learns_values() -> None:
    y = [0, 2, 1]
    for k in (1, 2):
        expected = sk.top_k_accuracy_score(y, _PROBA[[0, 0, 2]], k=k, labels=[0, 1, 2])
        assert metrics.top_k_accuracy(y, _PROBA[[0, 0, 2]], k=k) == pytest.approx(expected)
    assert metrics.top_k_accuracy(y, _PROBA, k=5) == 1.0  # k beyond the classes: all hit


def test_weighted_scores_of_multilabel_data_without_positives_are_zero() -> None:
    none = np.zeros((2, 2), dtype=int)
    for fn, theirs in [
        (metrics.precision, sk.precision_score),
        (metrics.recall, sk.recall_score),
        (metrics.f1_score, sk.f1_score),
    ]:
        expected = theirs(none, np.eye(2, dtype=int), average="weighted", zero_division=0)
        assert fn(none, np.eye(2, dtype=int), average="weighted") == expected == 0.0
