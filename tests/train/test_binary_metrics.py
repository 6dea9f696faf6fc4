"""Precision, recall and F1 of a binary model score its positive class, as Keras's metrics
and scikit-learn's defaults do; models with several classes keep the macro average."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

import chainrule as cr
from chainrule import nn
from chainrule.train.metrics import f1_score as cr_f1
from chainrule.train.metrics import precision as cr_precision
from chainrule.train.metrics import recall as cr_recall


def _binary_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    y = (x[:, 0] + 0.8 * rng.normal(size=60) > 0.3).astype(np.float32)
    return x, y


@pytest.mark.parametrize(
    ("loss", "head"),
    [
        (nn.BCEWithLogitsLoss(), nn.Identity()),
        ("binary_crossentropy", nn.Sigmoid()),
        (nn.BCELoss(), nn.Sigmoid()),
    ],
)
def test_binary_models_report_the_positive_class(loss: object, head: nn.Module) -> None:
    x, y = _binary_data()
    cr.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 1), head)
    logs = cr.evaluate(model, loss, (x, y[:, None]), metrics=["precision", "recall", "f1"])
    with cr.no_grad():
        out = model(cr.tensor(x)).data[:, 0]
    predicted = (out > (0.0 if isinstance(head, nn.Identity) else 0.5)).astype(int)
    assert 0 < predicted.sum() < len(predicted)  # both classes predicted: a real check
    assert logs["precision"] == pytest.approx(precision_score(y, predicted))
    assert logs["recall"] == pytest.approx(recall_score(y, predicted))
    assert logs["f1"] == pytest.approx(f1_score(y, predicted))


def test_models_with_several_classes_keep_the_macro_average() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(50, 3)).astype(np.float32)
    y = rng.integers(0, 3, size=50)
    cr.manual_seed(2)
    model = nn.Linear(3, 3)
    logs = cr.evaluate(model, "cross_entropy", (x, y), metrics=["precision", "recall", "f1"])
    with cr.no_grad():
        predicted = model(cr.tensor(x)).data.argmax(1)
    assert logs["precision"] == pytest.approx(precision_score(y, predicted, average="macro"))
    assert logs["recall"] == pytest.approx(recall_score(y, predicted, average="macro"))
    assert logs["f1"] == pytest.approx(f1_score(y, predicted, average="macro"))


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(cr_precision, precision_score), (cr_recall, recall_score), (cr_f1, f1_score)],
)
def test_average_binary_matches_scikit_learn(ours: object, theirs: object) -> None:
    y_true = np.array([0, 1, 1, 0, 1, 1, 0, 0, 1])
    y_pred = np.array([0, 1, 0, 1, 1, 1, 0, 1, 0])
    expected = theirs(y_true, y_pred)  # type: ignore[operator]
    assert ours(y_true, y_pred, average="binary") == pytest.approx(expected)  # type: ignore[operator]
    assert ours(y_true, np.zeros(9, int), average="binary") == 0.0  # type: ignore[operator]
