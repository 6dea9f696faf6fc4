"""Round 17: the CLI's scores of a two-class model keep working now that
``f1_score(average='binary')`` and ``log_loss`` refuse what scikit-learn refuses: a label
unseen in training (-1) counts as an error, and NaN outputs score NaN, not a traceback."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.cli.bundle import scores
from chainrule.data.tabular import TargetEncoder

sk = pytest.importorskip("sklearn.metrics")


def test_two_class_scores_count_an_unknown_label_as_an_error() -> None:
    target = TargetEncoder().fit(np.array(["a", "b", "a", "b"]))
    outputs = np.array([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0], [2.0, 0.0]])
    y = np.array([0, 1, -1, 0])  # the third row's label was not seen in training
    found = scores(target, outputs, y)
    assert found["accuracy"] == pytest.approx(0.75)
    assert found["f1"] == pytest.approx(sk.f1_score(y, [0, 1, 1, 0], labels=[1], average="macro"))


def test_two_class_scores_of_nan_outputs_are_nan() -> None:
    target = TargetEncoder().fit(np.array(["a", "b"]))
    outputs = np.array([[np.nan, 0.0], [0.0, 2.0]])
    assert np.isnan(scores(target, outputs, np.array([0, 1]))["log_loss"])
