"""scikit-learn's metric function names (``'f1_score'``, ``'precision_score'``,
``'recall_score'``, ``'accuracy_score'``) are accepted where ``'f1'``, ``'precision'``...
are, as Keras and scikit-learn users write them, and score as scikit-learn's functions do;
``'f1_score'`` used to be refused as an unknown metric."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

metrics = pytest.importorskip("sklearn.metrics")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 4)).astype(np.float32)
Y = (X[:, 0] + 0.5 * RNG.normal(size=60) > 0).astype(np.int64)
NAMES = ["accuracy_score", "precision_score", "recall_score", "f1_score"]


def test_evaluate_scores_by_scikit_learns_names() -> None:
    model = nn.Linear(4, 2, generator=0)
    result = cr.evaluate(model, "cross_entropy", (X, Y), metrics=NAMES)
    predicted = model(cr.tensor(X)).numpy().argmax(axis=1)
    for name in NAMES:
        assert result[name] == pytest.approx(getattr(metrics, name)(Y, predicted)), name


def test_fit_logs_each_under_the_name_given() -> None:
    history = cr.fit(
        nn.Linear(4, 2, generator=0),
        "cross_entropy",
        "adam",
        (X, Y),
        epochs=2,
        validation_split=0.25,
        metrics=["f1_score"],
        verbose=0,
        seed=0,
    )
    assert {"f1_score", "val_f1_score"} <= set(history.history)


def test_early_stopping_on_f1_score_maximizes_it() -> None:
    stop = cr.train.callbacks.EarlyStopping(monitor="val_f1_score", mode="auto")
    cr.fit(
        nn.Linear(4, 2, generator=0),
        "cross_entropy",
        "adam",
        (X, Y),
        epochs=1,
        validation_split=0.25,
        metrics=["f1_score"],
        callbacks=[stop],
        verbose=0,
        seed=0,
    )
    assert stop.mode == "max"
