"""Round 14: ``load_state_dict`` refuses values that hold no numbers, and a refused load
changes nothing, however far into the dict the bad value sits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from chainrule import nn


def model() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.BatchNorm1d(2))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "1.weight",
            np.array([["a", "b"], ["c", "d"]]),
            "'1.weight' expected numbers, got ndarray",
        ),
        (
            "1.bias",
            np.array([None, None]),
            "'1.bias' expected numbers, got ndarray of dtype object",
        ),
        ("2.weight", None, "'2.weight' expected numbers, got None"),
        ("2.num_batches_tracked", np.array(2**70, dtype=object), "'2.num_batches_tracked'"),
    ],
)
def test_values_without_numbers_are_refused_and_nothing_changes(
    key: str, value: Any, message: str
) -> None:
    net = model()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    state: dict[str, Any] = {k: np.ones_like(v) for k, v in before.items()}
    state[key] = value
    with pytest.raises(RuntimeError, match=message):
        net.load_state_dict(state)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_numbers_of_another_dtype_are_converted() -> None:
    net = model()
    state = {k: v.numpy().astype(np.float64) + 1 for k, v in net.state_dict().items()}
    net.load_state_dict(state)
    assert net[0].weight.dtype == np.float32
    np.testing.assert_allclose(net[0].weight.numpy(), state["0.weight"], rtol=1e-6)
