"""float16 sums add up in float32 and round once at the end, as PyTorch accumulates them:
a float16 running sum of a few thousand terms is off by a percent or more."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

X = np.random.default_rng(0).random((4000, 64)).astype(np.float16)


def relative_error(value: np.ndarray) -> float:
    exact = X.astype(np.float64).sum(0)
    return float(np.abs(value.astype(np.float64) - exact).max() / exact.max())


def test_float16_sum_along_an_axis_is_as_accurate_as_torch() -> None:
    ours = cr.tensor(X).sum(0)
    assert ours.dtype == cr.float16
    np.testing.assert_array_equal(ours.numpy(), torch.tensor(X).sum(0).numpy())
    assert relative_error(ours.numpy()) < 1e-3


def test_float16_linear_bias_gradient_is_as_accurate_as_torch() -> None:
    layer = cr.nn.Linear(8, 64).to(cr.float16)
    layer(cr.tensor(np.zeros((4000, 8), np.float16))).backward(cr.tensor(X))
    reference = torch.nn.Linear(8, 64).half()
    reference(torch.zeros(4000, 8, dtype=torch.float16)).backward(torch.tensor(X))
    assert layer.bias.grad.dtype == cr.float16
    np.testing.assert_array_equal(layer.bias.grad.numpy(), reference.bias.grad.numpy())


def test_float16_broadcast_add_gradient_is_summed_in_float32() -> None:
    bias = cr.zeros(64, dtype=cr.float16, requires_grad=True)
    (cr.tensor(np.zeros_like(X)) + bias).backward(cr.tensor(X))
    assert bias.grad.dtype == cr.float16
    assert relative_error(bias.grad.numpy()) < 1e-3


def test_float32_sum_is_unchanged() -> None:
    x = X.astype(np.float32)
    np.testing.assert_array_equal(cr.tensor(x).sum(0).numpy(), np.add.reduce(x, axis=0))
