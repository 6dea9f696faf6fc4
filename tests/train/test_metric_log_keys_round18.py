"""A metric is logged under its name, beside fit's own quantities (loss, lr, time, the
epoch of CSVLogger's rows) and each metric's ``val_`` twin: a metric named after one of
these would overwrite the training loss, or hide val_loss from EarlyStopping and
checkpoints. Such names are refused before any training, as two metrics of one name are."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train.metrics import Metric


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(20, 3)).astype(np.float32), rng.normal(size=(20, 1)).astype(np.float32)


@pytest.mark.parametrize("name", ["loss", "lr", "time", "epoch", "val_loss", "val_mae"])
def test_a_metric_named_as_a_log_key_is_refused_before_training(name: str) -> None:
    x, y = _data()
    model = nn.Linear(3, 1)
    before = model.weight.data.copy()
    metric = Metric(name, lambda t, p: 9.0, "predictions")
    with pytest.raises(
        ValueError, match=f"metric names other than those fit logs.*got '{name}'.*Metric"
    ):
        cr.fit(model, "mse", "sgd", x, y, epochs=1, metrics=[metric], verbose=0)
    np.testing.assert_array_equal(model.weight.data, before)


def test_a_plain_function_named_loss_is_refused_by_evaluate_too() -> None:
    x, y = _data()

    def loss(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return 0.0

    with pytest.raises(ValueError, match="got 'loss'"):
        cr.evaluate(nn.Linear(3, 1), "mse", x, y, metrics=[loss])


def test_metrics_of_other_names_keep_the_loss_and_val_loss() -> None:
    x, y = _data()
    metric = Metric("constant", lambda t, p: 9.0, "predictions")
    history = cr.fit(
        nn.Linear(3, 1),
        "mse",
        "sgd",
        x,
        y,
        epochs=1,
        metrics=[metric],
        validation_split=0.25,
        verbose=0,
    )
    assert history["constant"] == [9.0] and history["val_constant"] == [9.0]
    assert history["loss"][0] != 9.0 and history["val_loss"][0] != 9.0
