"""Metrics: functions of true targets and predictions, each returning a float.

Classification metrics take class labels (``accuracy``, ``precision``...) or class
probabilities (``log_loss``, ``top_k_accuracy``); regression metrics take predicted values.
``METRICS`` names each one with what it needs, so that ``fit`` can pass the right form. The
top-k accuracies and AUC only rank the probabilities: a model trained with a margin loss
(``'categorical_hinge'``, ``'multi_margin'``) reports them of its class scores.

``precision``, ``recall`` and ``f1`` follow scikit-learn's scorers of those names: for a
model of two classes (one output column under a binary loss, or two class scores under a
cross-entropy) they are of class 1 alone, scikit-learn's default ``average='binary'`` with
``pos_label=1``; for more classes, which have no positive one, they are the macro average
over classes. ``precision_macro``, ``recall_macro`` and ``f1_macro`` are always the macro
average (scikit-learn's scorers ``'f1_macro'``...), and ``*_weighted`` the weighted one.

A multi-label model (several output columns under a binary loss, ``'bce_with_logits'`` or
``'binary_crossentropy'``, each column a yes/no label) is scored label by label:
``accuracy`` is the share of the 0/1 entries predicted right (Keras's
``binary_accuracy``); ``precision``, ``recall`` and ``f1`` are each label's as a binary
problem, averaged over the labels as scikit-learn's ``average='macro'`` does (``_weighted``:
weighted by each label's positives, scikit-learn's ``average='weighted'``); ``log_loss`` is
the binary cross-entropy averaged over every entry (Keras's ``binary_crossentropy``). The
top-k accuracies, which rank classes of which one is true, are refused; ``auc`` is the
mean over the labels of each one's ROC AUC.

Keras's names: ``top_k_categorical_accuracy`` and ``sparse_top_k_categorical_accuracy``
(k = 5, Keras's default; ``functools.partial(top_k_categorical_accuracy, k=3)`` for another
k) and ``auc``, the area under the ROC curve of the epoch's outputs, computed exactly as
scikit-learn's ``roc_auc_score`` (for more than two classes, the macro average of each class
against the rest), where Keras's ``AUC`` approximates it with 200 thresholds.

A model that scores each position of a sample, (N, C, H, W) class scores of a segmentation
network or (N, C, L) of a sequence, is scored by ``fit`` and ``evaluate`` position by
position, each a sample (positions labelled ``ignore_index`` left out). Under a binary loss
the C channels of each position are C labels, a multi-label model of M = N * H * W rows;
one channel (N, 1, H, W) is a model of two classes (a mask without its channel axis,
(N, H, W), reads as H labels at W positions).

A model of two classes may be trained on soft targets (label-smoothed 0.95/0.05 under
``BCEWithLogitsLoss``): its ``log_loss`` is the binary cross-entropy of those targets, which
for labels 0/1 is scikit-learn's ``log_loss``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from chainrule.backend import Array, np
from chainrule.train._keras_losses import EPSILON


def _labels(y: Any) -> Array:
    return np.asarray(y).reshape(-1)


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Share of predictions equal to the true label."""
    t, p = _labels(y_true), _labels(y_pred)
    return float(np.mean(t == p)) if t.size else float("nan")


def top_k_accuracy(y_true: Any, y_proba: Any, k: int = 5) -> float:
    """Share of samples whose true class is among the ``k`` most probable (classes 0..C-1).

    Classes of equal probability rank by index, the higher first, as scikit-learn's
    ``top_k_accuracy_score`` ranks them: of ``[0.5, 0.5, 0, 0]`` the top one is class 1.

    Raises
    ------
    ValueError
        As scikit-learn: if ``k`` is not an integer >= 1, a score is NaN or infinite, a
        label is not a class 0..C-1, or the shapes disagree.

    Examples
    --------
    >>> top_k_accuracy([3, 1], [[0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0, 0]], k=1)
    1.0
    """
    return _top_k("top_k_accuracy", _labels(y_true), y_proba, k)


def _top_k(name: str, t: Array, y_proba: Any, k: int) -> float:
    """``top_k_accuracy`` of labels ``t``, its messages naming ``name``."""
    proba = np.asarray(y_proba)
    if proba.ndim != 2 or proba.shape[0] != t.size:
        raise ValueError(
            f"{name}: expected scores of shape ({t.size}, classes) for {t.size} "
            f"labels, got shape {proba.shape}"
        )
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"{name}: k must be an integer >= 1, got {k!r}")
    if not np.isfinite(proba).all():
        bad = proba[~np.isfinite(proba)][0].tolist()
        raise ValueError(f"{name}: expected finite scores, got {bad!r}")
    known = np.isin(t, np.arange(proba.shape[1]))
    if not known.all():
        raise ValueError(
            f"{name}: expected labels 0..{proba.shape[1] - 1} for scores of "
            f"{proba.shape[1]} classes, got {t[~known][0].tolist()!r}"
        )
    # A stable ascending sort, reversed: ties come out highest index first (scikit-learn's).
    top = np.argsort(proba, axis=1, kind="stable")[:, ::-1][:, :k]
    return float(np.mean((top == t[:, None]).any(axis=1))) if t.size else float("nan")


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> float:
    """Keras's ``top_k_categorical_accuracy``: the share of samples whose true class is
    among the ``k`` highest scores, for one-hot targets.

    Parameters
    ----------
    y_true : array of shape (N, C), one-hot (or probabilities), or (N,) of class labels
        A row's true class is its largest entry (Keras's argmax); ``fit`` passes class
        labels, having read one-hot targets so.
    y_pred : array of shape (N, C)
        Class probabilities or scores; only their order within a row counts.
    k : int, default=5
        Keras's default; ``functools.partial(top_k_categorical_accuracy, k=3)`` in ``fit``'s
        metrics gives another.

    Returns
    -------
    float
        mean over samples of [rank of the true class's score <= k]. Classes of equal score
        rank as in ``top_k_accuracy`` (scikit-learn's order), where Keras's TensorFlow
        backend counts every class tied at the k-th score as in the top k.

    Raises
    ------
    ValueError
        As ``top_k_accuracy``, naming this function.

    Examples
    --------
    >>> top_k_categorical_accuracy([[0, 0, 1], [0, 1, 0]], [[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]], k=2)
    0.5
    """
    t, scores = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim == 2 and t.shape == scores.shape:
        t = t.argmax(axis=1)
    return _top_k("top_k_categorical_accuracy", t.reshape(-1), scores, k)


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> float:
    """Keras's ``sparse_top_k_categorical_accuracy``: ``top_k_categorical_accuracy`` of
    class labels 0..C-1, of shape (N,) or (N, 1); ``k`` defaults to 5, as in Keras.

    Examples
    --------
    >>> sparse_top_k_categorical_accuracy([2, 1], [[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]], k=2)
    0.5
    """
    return _top_k("sparse_top_k_categorical_accuracy", _labels(y_true), y_pred, k)


def _midranks(score: Array) -> Array:
    """Ranks 1..n of ``score``, each run of equal values given the mean of its ranks."""
    order = np.argsort(score, kind="stable")
    ordered = score[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    first = np.flatnonzero(starts)
    counts = np.diff(np.r_[first, ordered.size])
    ranks = np.empty(ordered.size)
    ranks[order] = (first + (counts + 1) / 2)[np.cumsum(starts) - 1]
    return ranks


def _binary_auc(positive: Array, score: Array) -> float:
    """The area under the ROC curve of scores ``score`` for the 0/1 (bool) ``positive``:
    the chance that a positive outscores a negative, a tie counting one half (the
    Mann-Whitney statistic); NaN without both positives and negatives."""
    n_positive = int(np.count_nonzero(positive))
    n_negative = positive.size - n_positive
    if n_positive == 0 or n_negative == 0:
        return float("nan")
    rank_sum = float(_midranks(score)[positive].sum())
    return (rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative)


def roc_auc_score(y_true: Any, y_score: Any) -> float:
    """The area under the ROC curve, computed exactly, as scikit-learn's ``roc_auc_score``
    (``average='macro'``, ``multi_class='ovr'``); ``fit``'s metric ``'auc'``.

    Parameters
    ----------
    y_true : array of shape (N,) of labels, or (N, L) of 0/1
        Binary labels 0/1 (of two classes, the larger is the positive one), class labels
        0..C-1, or a multi-label (or one-hot) indicator matrix of ``y_score``'s shape.
    y_score : array of shape (N,), (N, 1), (N, 2) or (N, C), or (N, L)
        Scores of class 1 ((N, 2): the second column), of each class, or of each label;
        only their order counts.

    Returns
    -------
    float
        For two classes, AUC = P(s+ > s-) + P(s+ = s-) / 2 over pairs of a positive and a
        negative sample, which is the trapezoidal area under the ROC curve. For C classes
        (or L labels) the mean over classes of the AUC of class c against the rest,
        AUC(y == c, score[:, c]). NaN where a class has no positive or no negative sample
        (scikit-learn warns and gives NaN too); Keras's ``AUC`` metric approximates the
        area with 200 thresholds, which this computes exactly.

    Raises
    ------
    ValueError
        If the shapes disagree, a score is NaN or infinite, a label is not a class of
        ``y_score``'s columns, or binary labels are of more than two values.

    Examples
    --------
    >>> roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> roc_auc_score([0, 1, 2], [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.2, 0.3, 0.5]])
    1.0
    """
    t, scores = np.asarray(y_true), np.asarray(y_score, dtype=np.float64)
    if not np.isfinite(scores).all():
        bad = scores[~np.isfinite(scores)][0].tolist()
        raise ValueError(f"roc_auc_score: expected finite scores, got {bad!r}")
    if t.ndim == 2 and t.shape == scores.shape and t.shape[1] > 1:
        indicator = t.astype(np.float64)
        if not ((indicator == 0) | (indicator == 1)).all():
            bad = indicator[(indicator != 0) & (indicator != 1)][0].tolist()
            raise ValueError(
                f"roc_auc_score: expected a multi-label (indicator) y_true of 0s and 1s of "
                f"the scores' shape {scores.shape}, got {bad!r}"
            )
        columns = range(t.shape[1])
        return float(np.mean([_binary_auc(indicator[:, c] == 1, scores[:, c]) for c in columns]))
    t = t.reshape(-1)
    if scores.ndim == 2 and scores.shape[1] == 2:
        scores = scores[:, 1]  # of a model of two classes, the score of class 1
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if scores.shape[0:1] != (t.size,) or scores.ndim > 2:
        raise ValueError(
            f"roc_auc_score: expected scores of shape ({t.size},) or ({t.size}, classes) for "
            f"{t.size} labels, got shape {np.shape(y_score)}"
        )
    if scores.ndim == 1:
        present = np.unique(t)
        if present.size > 2:
            raise ValueError(
                f"roc_auc_score: expected labels of two classes for one score per sample, got "
                f"{present.size} ({present.tolist()!r}); give a score per class, (N, classes)"
            )
        return _binary_auc(t == present.max(), scores) if t.size else float("nan")
    classes = scores.shape[1]
    known = np.isin(t, np.arange(classes))
    if not known.all():
        raise ValueError(
            f"roc_auc_score: expected labels 0..{classes - 1} for scores of {classes} "
            f"classes, got {t[~known][0].tolist()!r}"
        )
    return float(np.mean([_binary_auc(t == c, scores[:, c]) for c in range(classes)]))


_PROBABILITY_FUNCTIONS = (
    top_k_accuracy,
    top_k_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    roc_auc_score,
)
"""Functions that ``get_metric`` hands class probabilities (or a ``functools.partial`` of
them, with its own ``k``) rather than predicted labels."""


def confusion_matrix(y_true: Any, y_pred: Any, labels: Any = None) -> Array:
    """Counts C[i, j] of samples of true class ``labels[i]`` predicted as ``labels[j]``.

    ``labels`` defaults to the sorted labels of ``y_true`` and ``y_pred`` together; a
    sample whose true or predicted label is not among them (or is NaN) is not counted.
    """
    t, p = _labels(y_true), _labels(y_pred)
    if t.shape != p.shape:
        raise ValueError(
            f"confusion_matrix: expected y_true and y_pred of the same length, got {t.size} "
            f"and {p.size}"
        )
    listed = None if labels is None else np.asarray(labels)
    found = _class_positions(listed, t, p)
    if found is None:  # labels numpy cannot sort together: compare them one by one
        classes = np.unique(np.concatenate([t, p])) if listed is None else listed
        index = {c: i for i, c in enumerate(classes.tolist())}
        matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
        for a, b in zip(t.tolist(), p.tolist(), strict=True):
            if a in index and b in index:
                matrix[index[a], index[b]] += 1
        return matrix
    size, true_at, pred_at = found
    counted = (true_at >= 0) & (pred_at >= 0)
    pairs = true_at[counted] * size + pred_at[counted]
    return (
        np.bincount(pairs, minlength=size * size).astype(np.int64, copy=False).reshape(size, size)
    )


def _class_positions(listed: Array | None, t: Array, p: Array) -> tuple[int, Array, Array] | None:
    """The number of classes (``listed``, or the sorted labels of ``t`` and ``p``) and each
    label's position among them (-1 where it is not there, or is NaN), for the true and the
    predicted labels; None for labels whose comparison numpy would change (numbers among
    strings, which numpy would turn into strings) or cannot sort."""
    given: list[Array] = [] if listed is None else [listed.reshape(-1)]
    kinds = {a.dtype.kind for a in (*given, t, p)}
    if not (kinds <= set("biufO") or kinds <= set("UO") or kinds <= set("SO")):
        return None
    values = np.concatenate([*given, t, p])
    if values.dtype.kind == "O" and (values != values).any():
        return None  # a NaN object matches itself in the one-by-one comparison
    try:
        uniques, codes = np.unique(values, return_inverse=True)
    except TypeError:  # objects of types that do not compare (str and int)
        return None
    codes = codes.reshape(-1)
    if listed is None:
        size, lookup = len(uniques), np.arange(len(uniques))
    else:
        size, lookup = len(given[0]), np.full(len(uniques), -1, dtype=np.int64)
        for position, code in enumerate(codes[:size].tolist()):
            lookup[code] = position  # of a label listed twice, its last position, as a dict's
        codes = codes[size:]
    if values.dtype.kind == "f":
        lookup[np.isnan(uniques)] = -1  # NaN equals no label, itself included
    return size, lookup[codes[: t.size]], lookup[codes[t.size :]]


def _per_class(y_true: Any, y_pred: Any) -> tuple[Array, Array, Array, Array]:
    """True positives, predicted counts, actual counts and supports per class."""
    matrix = confusion_matrix(y_true, y_pred)
    tp = np.diag(matrix).astype(np.float64)
    return (
        tp,
        matrix.sum(axis=0).astype(np.float64),
        matrix.sum(axis=1).astype(np.float64),
        matrix.sum(axis=1),
    )


def _average(values: Array, support: Array, average: str) -> float:
    if average in ("macro", "binary"):
        return float(values.mean()) if values.size else float("nan")
    if average == "weighted":
        if not values.size:
            return float("nan")
        # No positives at all (multi-label data of 0s): 0, scikit-learn's zero_division.
        return float((values * support).sum() / support.sum()) if support.sum() else 0.0
    raise ValueError(f"metrics: average must be 'macro', 'weighted' or 'binary', got {average!r}")


def _ratio(a: Array, b: Array) -> Array:
    # An empty denominator scores 0, as scikit-learn does (with a warning there).
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def _positive_class(y_true: Any, y_pred: Any) -> tuple[Array, Array, Array, Array]:
    """``_per_class``'s counts for class 1 alone, as one-element arrays."""
    t, p = _labels(y_true), _labels(y_pred)
    counts = [np.count_nonzero((t == 1) & (p == 1)), np.count_nonzero(p == 1)]
    counts += [np.count_nonzero(t == 1)] * 2
    tp, predicted, actual, support = (np.array([c], dtype=np.float64) for c in counts)
    return tp, predicted, actual, support


def _check_binary(y_true: Any, y_pred: Any) -> None:
    """Refuse, as scikit-learn's ``average='binary'`` (with ``pos_label=1``) does, labels of
    more than two classes, and two classes of which none is 1."""
    present = np.unique(np.concatenate([_labels(y_true), _labels(y_pred)]))
    if present.size > 2:
        raise ValueError(
            f"metrics: average='binary' needs labels of two classes, got {present.size} "
            f"({present.tolist()!r}); use average='macro' or 'weighted'"
        )
    if present.size == 2 and not (present == 1).any():
        raise ValueError(
            f"metrics: average='binary' scores class 1, which is not one of the labels "
            f"{present.tolist()!r}; encode the positive class as 1, or use average='macro'"
        )


def _class_one(score: str) -> Callable[[Any, Any], float]:
    """``precision``, ``recall`` or ``f1`` of class 1, for ``fit``'s models of two classes,
    without ``average='binary'``'s checks: targets there may hold an ignored label (-100
    per pixel) or soft values (0.95), which are simply not class 1."""

    def fn(y_true: Any, y_pred: Any) -> float:
        tp, predicted, actual, _ = _positive_class(y_true, y_pred)
        p, r = _ratio(tp, predicted), _ratio(tp, actual)
        return float({"precision": p, "recall": r, "f1": _ratio(2 * p * r, p + r)}[score][0])

    return fn


def _multilabel(y_true: Any, y_pred: Any) -> bool:
    """Whether both are 0/1 matrices of shape (N, labels), labels > 1: multi-label data."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    return t.ndim == 2 and t.shape == p.shape and t.shape[1] > 1


def _per_label(y_true: Any, y_pred: Any) -> tuple[Array, Array, Array, Array]:
    """``_per_class``'s counts for each label (column) of multi-label data, 1 the positive."""
    t, p = np.asarray(y_true) == 1, np.asarray(y_pred) == 1
    tp = np.count_nonzero(t & p, axis=0).astype(np.float64)
    predicted = np.count_nonzero(p, axis=0).astype(np.float64)
    actual = np.count_nonzero(t, axis=0).astype(np.float64)
    return tp, predicted, actual, actual


def _counts(y_true: Any, y_pred: Any, average: str) -> tuple[Array, Array, Array, Array]:
    if _multilabel(y_true, y_pred):
        if average == "binary":
            raise ValueError(
                f"metrics: average='binary' needs one column of labels, got multi-label data "
                f"of shape {np.shape(y_true)}; use average='macro' or 'weighted'"
            )
        return _per_label(y_true, y_pred)
    if average == "binary":
        _check_binary(y_true, y_pred)
        return _positive_class(y_true, y_pred)
    return _per_class(y_true, y_pred)


def precision(y_true: Any, y_pred: Any, average: str = "macro") -> float:
    """Of the samples predicted as a class, the share that belong to it; averaged over
    classes (``'macro'``), weighted by class size (``'weighted'``), or of class 1 alone
    (``'binary'``, scikit-learn's default and what ``fit`` reports for two classes).

    For multi-label data (0/1 matrices of shape (N, labels), as scikit-learn's
    label-indicator format) each label is a binary problem, its class 1 the positive one,
    averaged over labels (``'macro'``) or weighted by their positives (``'weighted'``).

    Raises
    ------
    ValueError
        With ``average='binary'``, as scikit-learn: if the labels are of more than two
        classes, or of two of which none is 1; or if ``average`` is unknown.

    Examples
    --------
    >>> round(precision([[1, 0], [1, 1], [0, 1]], [[1, 1], [0, 1], [0, 1]]), 4)
    0.8333
    """
    tp, predicted, _, support = _counts(y_true, y_pred, average)
    return _average(_ratio(tp, predicted), support, average)


def recall(y_true: Any, y_pred: Any, average: str = "macro") -> float:
    """Of the samples of a class, the share predicted as it; averaged like ``precision``."""
    tp, _, actual, support = _counts(y_true, y_pred, average)
    return _average(_ratio(tp, actual), support, average)


def f1_score(y_true: Any, y_pred: Any, average: str = "macro") -> float:
    """Harmonic mean of precision and recall per class, averaged like ``precision``."""
    tp, predicted, actual, support = _counts(y_true, y_pred, average)
    p, r = _ratio(tp, predicted), _ratio(tp, actual)
    return _average(_ratio(2 * p * r, p + r), support, average)


def _probabilities(y_proba: Any) -> tuple[Array, Array]:
    """``y_proba`` as given and as floats (its own float dtype kept), checked to lie in
    [0, 1], as scikit-learn's ``log_loss`` checks before it clips."""
    raw = np.asarray(y_proba)
    dtype = raw.dtype if raw.dtype in (np.float16, np.float32, np.float64) else np.float64
    proba = raw.astype(dtype)
    outside = ~((proba >= 0) & (proba <= 1))  # NaN among them
    if outside.any():
        raise ValueError(
            f"log_loss: expected probabilities in [0, 1], got {proba[outside][0].tolist()!r}"
        )
    return raw, proba


def log_loss(y_true: Any, y_proba: Any, eps: float | None = None) -> float:
    """Mean negative log-probability of the true class, as scikit-learn's ``log_loss``.

    Parameters
    ----------
    y_true : array of shape (N,), or (N, C) of 0s and 1s
        Class labels 0..C-1, or their indicator (one-hot) matrix of ``y_proba``'s shape,
        which scikit-learn also takes (a row's loss is then ``-sum(y_true * log(p))``).
    y_proba : array of shape (N, C), or (N,) or (N, 1) for two classes
        Class probabilities, each in [0, 1]; one column is the probability of class 1
        (scikit-learn's form for binary labels). Rows are taken as they are, not
        renormalized (as scikit-learn since 1.5).
    eps : float, optional
        Probabilities are clipped to ``[eps, 1 - eps]``; by default ``eps`` is the machine
        epsilon of ``y_proba``'s dtype (2.2e-16 for float64, 1.2e-7 for float32), as in
        scikit-learn, so a probability of 0 for the true class costs ``-log(eps)``.

    Raises
    ------
    ValueError
        If the shapes disagree, a label is not a class of ``y_proba``, an indicator entry is
        not 0 or 1, or a probability is outside [0, 1] or NaN (as scikit-learn refuses them).

    Examples
    --------
    >>> round(log_loss([0, 1, 1], [0.1, 0.8, 0.4]), 4)  # P(class 1) of each row
    0.4149
    >>> round(log_loss([[1, 0], [0, 1]], [[0.9, 0.1], [0.2, 0.8]]), 4)  # one-hot labels
    0.1643
    """
    raw, proba = _probabilities(y_proba)
    dtype = proba.dtype
    indicator = np.asarray(y_true)
    if indicator.ndim == 2 and indicator.shape[1] > 1 and indicator.shape == proba.shape:
        values = indicator.astype(np.float64)
        if not ((values == 0) | (values == 1)).all():
            bad = values[(values != 0) & (values != 1)][0].tolist()
            raise ValueError(
                f"log_loss: expected a one-hot (indicator) y_true of 0s and 1s of the "
                f"probabilities' shape {proba.shape}, got {bad!r}"
            )
        if not values.size:
            return float("nan")
        if eps is None:
            eps = float(np.finfo(dtype).eps)
        clipped = np.clip(proba, eps, 1 - eps).astype(np.float64)
        return float(-np.mean((values * np.log(clipped)).sum(axis=1)))
    t = _labels(y_true)
    if proba.ndim == 1 or (proba.ndim == 2 and proba.shape[1] == 1):
        positive = proba.reshape(-1)
        proba = np.stack([1 - positive, positive], axis=1)
    if proba.ndim != 2 or proba.shape[0] != t.size:
        raise ValueError(
            f"log_loss: expected probabilities of shape ({t.size}, classes), or ({t.size},) "
            f"of class 1, for {t.size} labels (or one-hot labels of that shape), got shape "
            f"{raw.shape}"
        )
    if not t.size:
        return float("nan")
    classes = proba.shape[1]
    known = np.isin(t, np.arange(classes))
    if not known.all():
        raise ValueError(
            f"log_loss: expected labels 0..{classes - 1} for probabilities of {classes} "
            f"classes, got {t[~known][0].tolist()!r}"
        )
    if eps is None:
        eps = float(np.finfo(dtype).eps)
    proba = np.clip(proba, eps, 1 - eps).astype(np.float64)
    return float(-np.mean(np.log(proba[np.arange(t.size), t.astype(np.int64)])))


def _binary_log_loss(y_true: Any, y_proba: Any) -> float:
    """``log_loss`` of a model of two classes, whose targets may be soft: the binary
    cross-entropy ``-mean(t * log(p1) + (1 - t) * log(p0))`` of targets ``t`` in [0, 1] (labels
    0/1, or label-smoothed ones such as 0.95/0.05, as ``BCEWithLogitsLoss`` trains on), Keras's
    ``binary_crossentropy``. For labels 0/1 it is ``log_loss`` itself, clipped alike.

    ``y_proba`` is of shape (N, 2), or (N,) or (N, 1) of class 1, as ``log_loss`` takes it."""
    raw = np.asarray(y_proba)
    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    if t.size and not ((t >= 0) & (t <= 1)).all():
        bad = t[~((t >= 0) & (t <= 1))][0].tolist()
        raise ValueError(
            f"log_loss: expected targets in [0, 1] for a model of two classes, got {bad!r}"
        )
    if (t == np.round(t)).all():
        return log_loss(t.astype(np.int64), raw)  # labels: scikit-learn's log_loss, checks
    raw, proba = _probabilities(raw)
    dtype = proba.dtype
    if proba.ndim == 1 or (proba.ndim == 2 and proba.shape[1] == 1):
        positive = proba.reshape(-1)
        proba = np.stack([1 - positive, positive], axis=1)
    if proba.shape != (t.size, 2):
        raise ValueError(
            f"log_loss: expected probabilities of shape ({t.size}, 2), or ({t.size},) of "
            f"class 1, for {t.size} targets of a model of two classes, got shape {raw.shape}"
        )
    eps = float(np.finfo(dtype).eps)
    proba = np.clip(proba, eps, 1 - eps).astype(np.float64)
    return float(-np.mean(t * np.log(proba[:, 1]) + (1 - t) * np.log(proba[:, 0])))


def _multilabel_log_loss(y_true: Any, y_proba: Any, eps: float = 1e-15) -> float:
    """Binary cross-entropy averaged over every entry of multi-label data: ``y_proba`` of
    shape (N, labels) the probabilities of 1, ``y_true`` the 0/1 targets of that shape."""
    proba = np.clip(np.asarray(y_proba, dtype=np.float64), eps, 1 - eps)
    t = np.asarray(y_true, dtype=np.float64).reshape(proba.shape)
    return float(-np.mean(t * np.log(proba) + (1 - t) * np.log1p(-proba)))


def _values(y_true: Any, y_pred: Any) -> tuple[Array, Array]:
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64).reshape(t.shape)
    return t, p


def mean_squared_error(y_true: Any, y_pred: Any) -> float:
    """Mean of the squared differences between targets and predictions."""
    t, p = _values(y_true, y_pred)
    return float(np.mean((t - p) ** 2))


_SQUARE_SAFE = 1e150
"""Differences up to this size have squares (about 1e300) that float64 holds."""


def root_mean_squared_error(y_true: Any, y_pred: Any) -> float:
    """Square root of the mean squared error, in the targets' units (finite for any finite
    values: differences beyond about 1e154, whose squares would overflow, are scaled)."""
    t, p = _values(y_true, y_pred)
    diff = t - p
    scale = float(np.abs(diff).max()) if diff.size else 0.0
    if scale < _SQUARE_SAFE or not math.isfinite(scale):
        return float(np.sqrt(np.mean(diff**2)))
    return scale * float(np.sqrt(np.mean((diff / scale) ** 2)))


def mean_absolute_error(y_true: Any, y_pred: Any) -> float:
    """Mean of the absolute differences between targets and predictions."""
    t, p = _values(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> float:
    """Mean of ``|y_true - y_pred| / |y_true|``, in percent, as Keras reports it (its
    ``'mape'``; a target of 0 divides by 1e-7 instead). scikit-learn's is the same as a
    fraction, not a percentage."""
    t, p = _values(y_true, y_pred)
    return float(100 * np.mean(np.abs(t - p) / np.maximum(np.abs(t), EPSILON)))


def mean_squared_log_error(y_true: Any, y_pred: Any) -> float:
    """Mean of ``(log(1 + y_pred) - log(1 + y_true))**2``, as Keras's ``'msle'`` (values
    below 1e-7 taken as 1e-7, where scikit-learn refuses negative ones)."""
    t, p = _values(y_true, y_pred)
    t, p = np.maximum(t, EPSILON), np.maximum(p, EPSILON)
    return float(np.mean((np.log1p(p) - np.log1p(t)) ** 2))


def r2_score(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination, 1 - SS_res / SS_tot (averaged over output columns).

    A constant target (SS_tot = 0) scores 1 when predicted exactly and 0 otherwise, as in
    scikit-learn. Fewer than two samples score NaN: their SS_tot is 0 whatever they are,
    and scikit-learn calls R² undefined for them.

    Examples
    --------
    >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    0.5
    >>> r2_score([1.0], [1.0])
    nan
    """
    t, p = _values(y_true, y_pred)
    if t.ndim == 0 or t.shape[0] < 2:
        return float("nan")
    scale = max(float(np.abs(t).max()), float(np.abs(p).max())) if t.size else 0.0
    if _SQUARE_SAFE <= scale < math.inf:  # a ratio of squares: the same for scaled values
        t, p = t / scale, p / scale
    t2, p2 = t.reshape(t.shape[0], -1), p.reshape(p.shape[0], -1)
    ss_res = ((t2 - p2) ** 2).sum(axis=0)
    ss_tot = ((t2 - t2.mean(axis=0)) ** 2).sum(axis=0)
    constant = np.where(ss_res == 0, 1.0, 0.0)
    scores = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), constant)
    return float(scores.mean())


@dataclass(frozen=True)
class Metric:
    """A named metric: ``fn(y_true, y)`` where ``y`` is what ``needs`` says.

    needs : ``"labels"`` (predicted classes), ``"proba"`` (class probabilities, (N, C)) or
        ``"values"`` (regression outputs).
    """

    name: str
    fn: Callable[[Any, Any], float]
    needs: str
    greater_is_better: bool | None = True
    """Whether a larger value is better; None where unknown (a plain function's), in which
    case callbacks with ``mode='auto'`` read the direction from the name."""
    binary: Callable[[Any, Any], float] | None = None
    """What the metric is for a model of two classes (one output column under a binary
    loss, or two class scores), where it differs (precision, recall, F1: of class 1, as
    scikit-learn's default ``pos_label=1``; log loss: the binary cross-entropy, which takes
    soft targets such as label-smoothed 0.95/0.05)."""
    multilabel: Callable[[Any, Any], float] | None = None
    """What a metric that needs ``"proba"`` is for a multi-label model (several output
    columns under a binary loss), given each entry's probability of 1; without one, such a
    metric is refused there. Metrics of labels take the 0/1 matrices as they are."""
    ranks_only: bool = False
    """Whether a metric that needs ``"proba"`` depends only on the order of each row's
    values (top-k accuracies, AUC): such a metric takes the class scores of a model whose
    loss gives no probabilities (``'categorical_hinge'``, ``'multi_margin'``) as they are,
    as Keras computes it for them."""

    def __call__(self, y_true: Any, y: Any) -> float:
        return self.fn(y_true, y)


def _fixed(fn: Callable[..., float], **options: Any) -> Callable[[Any, Any], float]:
    def bound(y_true: Any, y: Any) -> float:
        return fn(y_true, y, **options)

    return bound


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("accuracy", accuracy, "labels"),
        Metric("top_5_accuracy", _fixed(top_k_accuracy, k=5), "proba", ranks_only=True),
        Metric("top_3_accuracy", _fixed(top_k_accuracy, k=3), "proba", ranks_only=True),
        Metric("top_k_categorical_accuracy", top_k_categorical_accuracy, "proba", ranks_only=True),
        Metric(
            "sparse_top_k_categorical_accuracy",
            sparse_top_k_categorical_accuracy,
            "proba",
            ranks_only=True,
        ),
        Metric("auc", roc_auc_score, "proba", multilabel=roc_auc_score, ranks_only=True),
        Metric("precision", precision, "labels", binary=_class_one("precision")),
        Metric("recall", recall, "labels", binary=_class_one("recall")),
        Metric("f1", f1_score, "labels", binary=_class_one("f1")),
        Metric("precision_macro", precision, "labels"),
        Metric("recall_macro", recall, "labels"),
        Metric("f1_macro", f1_score, "labels"),
        Metric("precision_weighted", _fixed(precision, average="weighted"), "labels"),
        Metric("recall_weighted", _fixed(recall, average="weighted"), "labels"),
        Metric("f1_weighted", _fixed(f1_score, average="weighted"), "labels"),
        Metric(
            "log_loss",
            log_loss,
            "proba",
            greater_is_better=False,
            binary=_binary_log_loss,
            multilabel=_multilabel_log_loss,
        ),
        Metric("mse", mean_squared_error, "values", greater_is_better=False),
        Metric("rmse", root_mean_squared_error, "values", greater_is_better=False),
        Metric("mae", mean_absolute_error, "values", greater_is_better=False),
        Metric("mape", mean_absolute_percentage_error, "values", greater_is_better=False),
        Metric("msle", mean_squared_log_error, "values", greater_is_better=False),
        Metric("r2", r2_score, "values"),
    ]
}
"""Metrics by the names that ``fit(metrics=[...])`` accepts."""

ALIASES: dict[str, str] = {
    "acc": "accuracy",
    "binary_accuracy": "accuracy",
    "categorical_accuracy": "accuracy",
    "sparse_categorical_accuracy": "accuracy",
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
    "root_mean_squared_error": "rmse",
    "mean_absolute_percentage_error": "mape",
    "mean_squared_logarithmic_error": "msle",
    "r2_score": "r2",
    # scikit-learn's function names, which Keras and scikit-learn users write
    "accuracy_score": "accuracy",
    "precision_score": "precision",
    "recall_score": "recall",
    "f1_score": "f1",
}
"""Keras's and scikit-learn's names for metrics of ``METRICS`` (``'acc'``,
``'mean_squared_error'``, scikit-learn's functions ``'accuracy_score'``,
``'precision_score'``, ``'recall_score'``, ``'f1_score'`` and ``'r2_score'``, which score as
the metric they name: ``'f1_score'`` as ``'f1'``); the logs keep the name given, as Keras's
do (``metrics=['mean_squared_error']`` logs ``mean_squared_error`` and
``val_mean_squared_error``)."""


def get_metric(metric: str | Metric | Callable[[Any, Any], float]) -> Metric:
    """A ``Metric`` from its name, itself, or a plain function ``fn(y_true, y_pred)`` (which
    receives predicted labels for classification and values for regression, the latter in
    the targets' shape where they have as many entries, as Keras matches ranks: a
    one-column output (N, 1) against targets (N,) arrives as (N,)).

    A plain function's direction is unknown (``greater_is_better=None``): callbacks with
    ``mode='auto'`` read it from its name, as Keras does (``'my_error'`` falls,
    ``'my_accuracy'`` rises). Wrap it in a ``Metric`` to say it outright. A
    ``functools.partial`` is named after the function it binds; the logs key each metric by
    its name, so ``fit`` and ``evaluate`` refuse two of one name: give each a ``Metric`` of
    its own name, ``Metric("precision_weighted", fn, "predictions")``. The top-k
    accuracies and ``roc_auc_score`` (and a ``functools.partial`` of them, such as
    ``partial(top_k_categorical_accuracy, k=3)``) receive class probabilities instead."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        if metric in ALIASES:
            return replace(METRICS[ALIASES[metric]], name=metric)
        if metric not in METRICS:
            raise ValueError(
                f"metrics: unknown metric {metric!r}; expected one of "
                f"{sorted([*METRICS, *ALIASES])}"
            )
        return METRICS[metric]
    if callable(metric):
        # Nothing says which way a plain function improves: callbacks read it from its name.
        # A functools.partial has no name of its own: that of the function it binds.
        named = metric.func if isinstance(metric, functools.partial) else metric
        name = getattr(named, "__name__", "metric")
        if named in _PROBABILITY_FUNCTIONS:  # top-k and AUC rank the class probabilities
            multilabel = metric if named is roc_auc_score else None
            return Metric(name, metric, "proba", multilabel=multilabel, ranks_only=True)
        return Metric(name, metric, "predictions", greater_is_better=None)
    raise TypeError(f"metrics: expected a metric name or a function, got {type(metric).__name__}")
