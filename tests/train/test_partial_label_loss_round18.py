"""A cross-entropy or NLL loss given as ``functools.partial`` (class weights or
``ignore_index`` bound) trains, and reports its loss and metrics, as the loss module with
the same settings: the epoch's loss is the mean over the counted labels' weight."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

WEIGHT = np.array([1.0, 5.0, 0.2])


def _run(loss: Any, log_proba: bool = False) -> tuple[dict[str, list[float]], np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5))
    y = rng.integers(0, 3, 64)
    model = nn.Sequential(nn.Linear(5, 3)).to(np.float64)
    model.reset_parameters(generator=0)
    if log_proba:
        model.append(nn.LogSoftmax(dim=1))
    history = cr.fit(
        model,
        loss,
        "sgd",
        (x, y),
        epochs=2,
        batch_size=24,  # batches of 24, 24 and 16: their counted weights differ
        seed=0,
        verbose=0,
        shuffle=False,
        validation_data=(x[:20], y[:20]),
        validation_batch_size=7,
        distributed=None,
    )
    return history.history, model[0].weight.numpy()


@pytest.mark.parametrize(
    ("module", "function", "settings"),
    [
        (nn.CrossEntropyLoss, F.cross_entropy, {"weight": cr.tensor(WEIGHT)}),
        (nn.CrossEntropyLoss, F.cross_entropy, {"ignore_index": 1}),
        (nn.CrossEntropyLoss, F.cross_entropy, {"weight": WEIGHT, "ignore_index": 2}),
        (nn.NLLLoss, F.nll_loss, {"weight": cr.tensor(WEIGHT)}),
        (nn.NLLLoss, F.nll_loss, {"ignore_index": 0}),
    ],
)
def test_a_partial_label_loss_trains_and_reports_as_its_module(
    module: Any, function: Any, settings: dict[str, Any]
) -> None:
    log_proba = function is F.nll_loss
    as_module = {**settings}
    if isinstance(as_module.get("weight"), np.ndarray):
        as_module["weight"] = cr.tensor(as_module["weight"])
    expected, expected_weights = _run(module(**as_module), log_proba)
    got, weights = _run(functools.partial(function, **settings), log_proba)
    assert got.keys() == expected.keys()
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-12, err_msg=key)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-12)
