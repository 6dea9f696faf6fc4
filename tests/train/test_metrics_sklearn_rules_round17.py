"""Round 17, metrics a scikit-learn user checks against ``sklearn.metrics``: F1, precision
and recall of class 1 for a two-class softmax model (as for one logit), under the name
scikit-learn's scorer gives them, with ``*_macro`` for the macro average; ``log_loss`` of
one column of P(class 1) and clipped at the dtype's epsilon; ``top_k_accuracy``'s ties."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import metrics

sk = pytest.importorskip("sklearn.metrics")


def _data(classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.8, size=120) > 0).astype(np.int64)
    if classes == 3:
        y = y + (x[:, 2] > 0.8)
    return x, y


def _predicted(model: nn.Module, x: np.ndarray) -> np.ndarray:
    return np.asarray(cr.predict(model, x)).argmax(axis=1)


def test_two_class_softmax_scores_class_one_as_scikit_learn_does() -> None:
    x, y = _data(2)
    model = nn.Linear(4, 2)
    model.reset_parameters(generator=3)
    names = ["precision", "recall", "f1", "precision_macro", "recall_macro", "f1_macro"]
    scores = cr.evaluate(model, "cross_entropy", (x, y), metrics=names)
    predicted = _predicted(model, x)
    assert 0 < predicted.sum() < len(predicted)
    assert sk.f1_score(y, predicted) != pytest.approx(sk.f1_score(y, predicted, average="macro"))
    for name, fn in [
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1", sk.f1_score),
    ]:
        assert scores[name] == pytest.approx(fn(y, predicted)), name  # pos_label=1
        assert scores[f"{name}_macro"] == pytest.approx(fn(y, predicted, average="macro")), name


def test_fit_logs_the_binary_f1_for_two_class_scores_and_one_hot_targets() -> None:
    x, y = _data(2)
    model = nn.Linear(4, 2)
    model.reset_parameters(generator=0)
    history = cr.fit(
        model, "cross_entropy", "adam", (x, np.eye(2, dtype=np.float32)[y]), epochs=1,
        validation_data=(x, y), metrics=["f1"], seed=0, verbose=0,
    )  # fmt: skip
    assert history["val_f1"][-1] == pytest.approx(sk.f1_score(y, _predicted(model, x)))


def test_more_classes_keep_the_macro_average_under_both_names() -> None:
    x, y = _data(3)
    model = nn.Linear(4, 3)
    model.reset_parameters(generator=1)
    scores = cr.evaluate(model, "cross_entropy", (x, y), metrics=["f1", "f1_macro"])
    expected = sk.f1_score(y, _predicted(model, x), average="macro", zero_division=0)
    assert scores["f1"] == pytest.approx(expected)
    assert scores["f1_macro"] == pytest.approx(expected)


@pytest.mark.parametrize("shape", [(4,), (4, 1)])
def test_log_loss_takes_one_column_as_the_probability_of_class_one(shape) -> None:
    y, p = np.array([0, 1, 1, 0]), np.array([0.1, 0.8, 0.3, 0.4])
    assert metrics.log_loss(y, p.reshape(shape)) == pytest.approx(sk.log_loss(y, p))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_loss_clips_at_the_machine_epsilon_of_the_dtype(dtype) -> None:
    y = np.array([0, 1, 2, 2])
    proba = np.array([[0, 1, 0], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]], dtype=dtype)
    assert metrics.log_loss(y, proba) == pytest.approx(sk.log_loss(y, proba), rel=1e-6)


def test_log_loss_refuses_shapes_and_labels_that_do_not_fit() -> None:
    with pytest.raises(
        ValueError, match=r"expected probabilities of shape \(3, classes\).*got shape \(2, 2\)"
    ):
        metrics.log_loss([0, 1, 1], [[0.5, 0.5], [0.1, 0.9]])
    with pytest.raises(
        ValueError, match=r"expected labels 0\.\.1 for probabilities of 2 classes, got 2"
    ):
        metrics.log_loss([0, 2], [0.3, 0.6])


def test_top_k_accuracy_breaks_ties_as_scikit_learn_does() -> None:
    y = np.array([3, 1])
    proba = np.array([[0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0, 0]])
    for k in (1, 2, 3):
        assert metrics.top_k_accuracy(y, proba, k=k) == sk.top_k_accuracy_score(
            y, proba, k=k, labels=[0, 1, 2, 3]
        )
    with pytest.raises(
        ValueError, match=r"expected scores of shape \(2, classes\).*got shape \(2,\)"
    ):
        metrics.top_k_accuracy(y, [0.5, 0.5])
