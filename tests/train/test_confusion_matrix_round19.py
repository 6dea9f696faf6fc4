"""confusion_matrix (behind precision, recall and f1) counts with numpy rather than a
Python loop over the samples, with the same counts as scikit-learn's: random labels,
labels found only among the predictions, strings, labels given in any order or absent."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.train import metrics

sk = pytest.importorskip("sklearn.metrics")


def _check(y_true: object, y_pred: object, labels: object = None) -> None:
    ours = metrics.confusion_matrix(y_true, y_pred, labels)
    theirs = sk.confusion_matrix(y_true, y_pred, labels=labels)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("seed", range(20))
def test_random_labels_match_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, classes = int(rng.integers(20, 300)), int(rng.integers(2, 8))
    y_true = rng.integers(0, classes, n)
    y_pred = rng.integers(0, classes + 2, n)  # some labels only among the predictions
    _check(y_true, y_pred)
    _check(y_true.astype(np.float64), y_pred)
    _check(y_true.astype(str), y_pred.astype(str))
    _check(y_true.astype(str).astype(object), y_pred.astype(str).astype(object))
    chosen = rng.permutation(classes + 3)[: int(rng.integers(1, classes + 3))]
    labels = rng.permutation(np.union1d(chosen, y_true[:1]))  # scikit-learn wants one true
    _check(y_true, y_pred, labels)  # any order, some absent, some left out


def test_string_labels_and_labels_given() -> None:
    y_true = ["cat", "dog", "bird", "dog", "cat"]
    y_pred = ["dog", "dog", "cat", "fish", "cat"]
    _check(y_true, y_pred)
    _check(y_true, y_pred, ["dog", "cat", "owl"])


def test_samples_outside_the_labels_are_not_counted() -> None:
    matrix = metrics.confusion_matrix([1, 2, 3, 2], [1, 3, 3, 2], labels=[2, 1])
    np.testing.assert_array_equal(matrix, [[1, 0], [0, 1]])


def test_nan_labels_are_not_counted() -> None:
    y_true = np.array([0.0, np.nan, 1.0, 1.0])
    y_pred = np.array([0.0, 0.0, np.nan, 1.0])
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y_true, y_pred), [[1, 0, 0], [0, 1, 0], [0, 0, 0]]
    )


def test_numbers_and_strings_do_not_match() -> None:
    np.testing.assert_array_equal(
        metrics.confusion_matrix(
            np.array(["1", "2"]), np.array([1, 2]), labels=np.array(["1", 1], dtype=object)
        ),
        [[0, 1], [0, 0]],
    )


def test_precision_recall_f1_of_many_samples_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 10, 200_000), rng.integers(0, 10, 200_000)
    for ours, theirs in [
        (metrics.precision, sk.precision_score),
        (metrics.recall, sk.recall_score),
        (metrics.f1_score, sk.f1_score),
    ]:
        assert ours(y_true, y_pred, "macro") == pytest.approx(
            theirs(y_true, y_pred, average="macro"), rel=1e-12
        )


def test_lengths_that_differ_are_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r"confusion_matrix: expected y_true and y_pred of the same length, "
        r"got 3 and 2",
    ):
        metrics.confusion_matrix([0, 1, 1], [0, 1])
