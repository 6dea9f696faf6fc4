"""Keras's metric names in fit(metrics=[...]): 'top_k_categorical_accuracy' and
'sparse_top_k_categorical_accuracy' (k=5, or a partial with its own k), and 'auc', the exact
ROC AUC of the epoch's outputs, checked against scikit-learn."""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import metrics as M

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _classes(n: int = 90, classes: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4))
    return x, (np.abs(x[:, 0] * 3 + x[:, 1]).astype(np.int64) + rng.integers(0, 2, n)) % classes


@pytest.mark.parametrize("k", [1, 2, 5, 7, 9])
def test_top_k_functions_are_scikit_learn_top_k_accuracy(k: int) -> None:
    rng = np.random.default_rng(k)
    labels = rng.integers(0, 7, 50)
    labels[:7] = np.arange(7)
    proba = _softmax(rng.normal(size=(50, 7)))
    proba[3] = 1 / 7  # a row of ties: ranked as scikit-learn ranks them
    if k < 7:
        expected = sklearn_metrics.top_k_accuracy_score(labels, proba, k=k, labels=np.arange(7))
    else:
        expected = 1.0  # every class is in the top k (scikit-learn warns, Keras does not)
    one_hot = np.eye(7)[labels]
    assert M.top_k_categorical_accuracy(one_hot, proba, k=k) == expected
    assert M.top_k_categorical_accuracy(labels, proba, k=k) == expected
    assert M.sparse_top_k_categorical_accuracy(labels, proba, k=k) == expected
    assert M.sparse_top_k_categorical_accuracy(labels[:, None], proba, k=k) == expected
    if k == 5:
        assert M.top_k_categorical_accuracy(one_hot, proba) == expected  # Keras's default


@pytest.mark.parametrize(
    ("metric", "name", "k"),
    [
        ("top_k_categorical_accuracy", "top_k_categorical_accuracy", 5),
        ("sparse_top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", 5),
        (functools.partial(M.top_k_categorical_accuracy, k=3), "top_k_categorical_accuracy", 3),
        (
            functools.partial(M.sparse_top_k_categorical_accuracy, k=2),
            "sparse_top_k_categorical_accuracy",
            2,
        ),
        (M.sparse_top_k_categorical_accuracy, "sparse_top_k_categorical_accuracy", 5),
    ],
)
@pytest.mark.parametrize("one_hot", [False, True])
def test_fit_reports_top_k_of_the_epoch_outputs(
    metric: object, name: str, k: int, one_hot: bool
) -> None:
    x, labels = _classes()
    model = nn.Linear(4, 7, generator=0, dtype=np.float64)
    with cr.no_grad():
        logits = model(cr.tensor(x)).data
    if one_hot:
        loss, y = "categorical_crossentropy", np.eye(7)[labels]
        model = nn.Sequential(model, nn.Softmax(dim=1))
    else:
        loss, y = "cross_entropy", labels
    history = cr.fit(
        model,
        loss,
        cr.optim.SGD(model.parameters(), lr=0.0),
        x,
        y,
        epochs=1,
        validation_data=(x, y),
        metrics=[metric],
        verbose=0,
    )
    expected = sklearn_metrics.top_k_accuracy_score(labels, _softmax(logits), k=k)
    assert history.history[name] == [pytest.approx(expected, abs=1e-15)]
    assert history.history["val_" + name] == [pytest.approx(expected, abs=1e-15)]


def test_binary_auc_is_scikit_learn_roc_auc_score_ties_included() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.uniform(size=200) + labels * 0.3, 1)  # many ties
    expected = sklearn_metrics.roc_auc_score(labels, scores)
    assert M.roc_auc_score(labels, scores) == pytest.approx(expected, rel=1e-13)
    assert M.roc_auc_score(labels, scores[:, None]) == pytest.approx(expected, rel=1e-13)
    two = np.stack([1 - scores, scores], axis=1)
    assert M.roc_auc_score(labels, two) == pytest.approx(expected, rel=1e-13)
    words = np.where(labels == 1, 3, -1)  # two classes, the larger one positive
    assert M.roc_auc_score(words, scores) == pytest.approx(expected, rel=1e-13)


def test_multiclass_auc_is_macro_one_vs_rest() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 5, 120)
    proba = _softmax(rng.normal(size=(120, 5)) + np.eye(5)[labels])
    expected = sklearn_metrics.roc_auc_score(labels, proba, average="macro", multi_class="ovr")
    assert M.roc_auc_score(labels, proba) == pytest.approx(expected, rel=1e-13)
    assert M.roc_auc_score(np.eye(5)[labels], proba) == pytest.approx(expected, rel=1e-13)


def test_multilabel_auc_is_the_macro_average_over_labels() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, size=(80, 3))
    scores = rng.uniform(size=(80, 3)) + 0.4 * y
    expected = sklearn_metrics.roc_auc_score(y, scores, average="macro")
    assert M.roc_auc_score(y, scores) == pytest.approx(expected, rel=1e-13)


def test_auc_of_a_single_class_is_nan_as_scikit_learn_gives() -> None:
    assert np.isnan(M.roc_auc_score([1, 1, 1], [0.2, 0.4, 0.9]))
    # A class absent from the labels: its AUC, and so the macro mean, is undefined.
    assert np.isnan(M.roc_auc_score([0, 1, 0], np.full((3, 3), 1 / 3)))


@pytest.mark.parametrize("loss", ["bce_with_logits", "binary_crossentropy", "cross_entropy"])
def test_fit_reports_auc_of_a_binary_model(loss: str) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(70, 3))
    labels = (x[:, 0] + rng.normal(size=70) > 0).astype(np.int64)
    columns = 2 if loss == "cross_entropy" else 1
    model: nn.Module = nn.Linear(3, columns, generator=3, dtype=np.float64)
    with cr.no_grad():
        out = model(cr.tensor(x)).data
    score = out[:, 1] - out[:, 0] if columns == 2 else out[:, 0]
    if loss == "binary_crossentropy":
        model = nn.Sequential(model, nn.Sigmoid())
    y = labels if loss == "cross_entropy" else labels.astype(np.float64)
    history = cr.fit(
        model,
        loss,
        cr.optim.SGD(model.parameters(), lr=0.0),
        x,
        y,
        epochs=1,
        batch_size=16,
        metrics=["auc"],
        verbose=0,
    )
    expected = sklearn_metrics.roc_auc_score(labels, score)
    assert history.history["auc"] == [pytest.approx(expected, rel=1e-12)]


def test_fit_reports_macro_auc_of_multiclass_and_multilabel_models() -> None:
    x, labels = _classes()
    model = nn.Linear(4, 7, generator=4, dtype=np.float64)
    with cr.no_grad():
        proba = _softmax(model(cr.tensor(x)).data)
    history = cr.fit(
        model,
        "cross_entropy",
        cr.optim.SGD(model.parameters(), lr=0.0),
        x,
        labels,
        epochs=1,
        metrics=["auc", M.roc_auc_score],
        verbose=0,
    )
    expected = sklearn_metrics.roc_auc_score(labels, proba, multi_class="ovr")
    assert history.history["auc"] == [pytest.approx(expected, rel=1e-12)]
    assert history.history["roc_auc_score"] == [pytest.approx(expected, rel=1e-12)]
    targets = (x[:, :3] > 0).astype(np.float64)
    tagger = nn.Linear(4, 3, generator=5, dtype=np.float64)
    with cr.no_grad():
        scores = tagger(cr.tensor(x)).data
    history = cr.fit(
        tagger,
        "bce_with_logits",
        cr.optim.SGD(tagger.parameters(), lr=0.0),
        x,
        targets,
        epochs=1,
        metrics=["auc"],
        verbose=0,
    )
    expected = sklearn_metrics.roc_auc_score(targets, scores, average="macro")
    assert history.history["auc"] == [pytest.approx(expected, rel=1e-12)]


def test_auc_rises_as_a_model_learns() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(100, 2))
    y = (x[:, 0] - x[:, 1] > 0).astype(np.float64)
    model = nn.Linear(2, 1, generator=1)
    optimizer = cr.optim.SGD(model.parameters(), lr=1.0)
    history = cr.fit(
        model, "bce_with_logits", optimizer, x, y, epochs=5, metrics=["auc"], seed=0, verbose=0
    )
    assert history.history["auc"][-1] > 0.95


def test_bad_inputs_are_named() -> None:
    with pytest.raises(
        ValueError, match=r"top_k_categorical_accuracy: k must be an integer >= 1, got 0"
    ):
        M.top_k_categorical_accuracy([[1, 0]], [[0.6, 0.4]], k=0)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "sparse_top_k_categorical_accuracy: expected labels 0..1 for scores of 2 classes, got 2"
        ),
    ):
        M.sparse_top_k_categorical_accuracy([2], [[0.6, 0.4]])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "roc_auc_score: expected labels of two classes for one score per sample, got 3 "
            "([0, 1, 2]); give a score per class, (N, classes)"
        ),
    ):
        M.roc_auc_score([0, 1, 2], [0.1, 0.5, 0.9])
    with pytest.raises(
        ValueError,
        match=re.escape("roc_auc_score: expected labels 0..2 for scores of 3 classes, got 5"),
    ):
        M.roc_auc_score([0, 5], np.full((2, 3), 1 / 3))
    with pytest.raises(
        ValueError,
        match=re.escape("roc_auc_score: expected scores of shape (3,) or (3, classes) for 3 "),
    ):
        M.roc_auc_score([0, 1, 1], [0.1, 0.5])
    with pytest.raises(ValueError, match=r"roc_auc_score: expected finite scores, got nan"):
        M.roc_auc_score([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match=r"roc_auc_score: expected a multi-label .* got 0\.5"):
        M.roc_auc_score([[0.5, 1.0], [0.0, 1.0]], [[0.1, 0.2], [0.3, 0.4]])


def test_auc_is_refused_for_a_regression_model() -> None:
    x = np.zeros((4, 2))
    with pytest.raises(
        ValueError,
        match=r"fit: metric 'auc' needs proba, which a model trained with this loss does not",
    ):
        cr.fit(nn.Linear(2, 1), "mse", "sgd", x, np.zeros(4), metrics=["auc"], verbose=0)
