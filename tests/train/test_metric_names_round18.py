"""Each metric is a column of the logs and the history, keyed by its name: a
functools.partial is named after the function it binds, and two metrics of one name are
refused before any training (one would overwrite the other)."""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import metrics as M


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(20, 3)).astype(np.float32), rng.integers(0, 4, 20)


def test_a_partial_is_named_after_the_function_it_binds() -> None:
    metric = M.get_metric(functools.partial(M.precision, average="weighted"))
    assert metric.name == "precision"
    x, y = _data()
    history = cr.fit(
        nn.Linear(3, 4),
        "cross_entropy",
        "sgd",
        x,
        y,
        epochs=1,
        metrics=[functools.partial(M.recall, average="weighted")],
        verbose=0,
    )
    assert "recall" in history.history


class _Calls:
    def __call__(self, y_true: object, y_pred: object) -> float:
        return 0.0


@pytest.mark.parametrize(
    ("given", "name"),
    [
        (["accuracy", "accuracy"], "accuracy"),
        (
            [
                functools.partial(M.precision, average="macro"),
                functools.partial(M.precision, average="weighted"),
            ],
            "precision",
        ),
        ([lambda t, p: 0.0, lambda t, p: 1.0], "<lambda>"),
        ([_Calls(), _Calls()], "metric"),
    ],
)
def test_fit_refuses_two_metrics_of_one_name_before_training(given: list, name: str) -> None:
    x, y = _data()
    model = nn.Linear(3, 4)
    before = model.weight.data.copy()
    message = (
        f"fit: expected metrics of distinct names (the logs key each by its name), got "
        f"{name!r} 2 times"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        cr.fit(model, "cross_entropy", "sgd", x, y, epochs=1, metrics=given, verbose=0)
    np.testing.assert_array_equal(model.weight.data, before)  # no step was taken


def test_evaluate_refuses_two_metrics_of_one_name() -> None:
    x, y = _data()
    with pytest.raises(ValueError, match=r"evaluate: expected metrics of distinct names"):
        cr.evaluate(nn.Linear(3, 4), "cross_entropy", x, y, metrics=["f1", "f1"])


def test_aliases_and_metrics_named_apart_are_all_kept() -> None:
    x, y = _data()
    precision_weighted = M.Metric(
        "precision_w", functools.partial(M.precision, average="weighted"), "predictions"
    )
    history = cr.fit(
        nn.Linear(3, 4),
        "cross_entropy",
        "sgd",
        x,
        y,
        epochs=1,
        metrics=["accuracy", "acc", functools.partial(M.precision), precision_weighted],
        verbose=0,
    )
    assert {"accuracy", "acc", "precision", "precision_w"} <= set(history.history)
