"""Top-k accuracies and AUC depend only on the order of the class scores: a model trained
with a margin loss ('categorical_hinge', 'multi_margin'), whose outputs are scores rather
than probabilities, reports them, as Keras does for 'categorical_hinge'."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import metrics as M


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 4))
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5).astype(np.int64) * 2
    return x, y % 4


def test_categorical_hinge_reports_top_k_and_auc_of_its_scores() -> None:
    x, y = _data()
    one_hot = np.eye(4)[y]
    cr.manual_seed(0)
    model = nn.Linear(4, 4)
    names = ["top_k_categorical_accuracy", "top_3_accuracy", "auc"]
    history = cr.fit(model, "categorical_hinge", "sgd", x, one_hot, metrics=names, verbose=0)
    assert all(np.isfinite(history[name]).all() and len(history[name]) for name in names)
    scores = cr.predict(model, x)
    got = cr.evaluate(model, "categorical_hinge", x, one_hot, metrics=names)
    assert got["top_k_categorical_accuracy"] == M.top_k_categorical_accuracy(one_hot, scores)
    assert got["top_3_accuracy"] == M.top_k_accuracy(y, scores, k=3)
    assert got["auc"] == M.roc_auc_score(one_hot, scores)


def test_multi_margin_reports_sparse_top_k_and_a_partial_of_top_k() -> None:
    x, y = _data()
    cr.manual_seed(0)
    model = nn.Linear(4, 4)
    top_2 = functools.partial(M.top_k_accuracy, k=2)
    names = ["sparse_top_k_categorical_accuracy", "top_5_accuracy", top_2]
    got = cr.evaluate(model, "multi_margin", x, y, metrics=names)
    scores = cr.predict(model, x)
    assert got["sparse_top_k_categorical_accuracy"] == 1.0  # 4 classes: all in the top 5
    assert got["top_k_accuracy"] == M.top_k_accuracy(y, scores, k=2)


def test_metrics_that_need_probabilities_are_still_refused_for_scores() -> None:
    x, y = _data()
    with pytest.raises(ValueError, match="metric 'log_loss' needs proba, which a model trained"):
        cr.evaluate(nn.Linear(4, 4), "multi_margin", x, y, metrics=["log_loss"])
