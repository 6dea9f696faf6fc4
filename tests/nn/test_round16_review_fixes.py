"""Round 16's new code, tested again from the outside: float16 adaptive average pooling
over 65536 positions had zero gradients (its divisor overflowed in float16), pooling layers
given NumPy integers failed in forward, InstanceNorm's running statistics turned NaN on an
empty batch, and dropout on integer tensors silently skipped its 1 / (1 - p) scaling."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def test_float16_global_average_pooling_over_65536_positions_has_its_gradient() -> None:
    x = cr.tensor(np.ones((1, 2, 256, 256), np.float16), requires_grad=True)
    nn.AdaptiveAvgPool2d(1)(x).sum().backward()
    theirs = torch.ones(1, 2, 256, 256, dtype=torch.float16, requires_grad=True)
    torch.nn.AdaptiveAvgPool2d(1)(theirs).sum().backward()
    assert x.grad is not None and theirs.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), theirs.grad.numpy())
    assert float(x.grad.numpy()[0, 0, 0, 0]) == pytest.approx(1 / 65536)


@pytest.mark.parametrize(
    ("make", "twin"),
    [
        (lambda: nn.MaxPool2d(np.int64(3)), torch.nn.MaxPool2d(3)),
        (lambda: nn.AvgPool2d(np.int32(3)), torch.nn.AvgPool2d(3)),
        (lambda: nn.MaxPool2d(2, stride=np.int64(1)), torch.nn.MaxPool2d(2, stride=1)),
        (lambda: nn.AdaptiveAvgPool2d((3, np.int64(2))), torch.nn.AdaptiveAvgPool2d((3, 2))),
    ],
)
def test_pooling_layers_take_numpy_integers(
    make: Callable[[], nn.Module], twin: torch.nn.Module
) -> None:
    layer = make()
    x = np.random.default_rng(16).standard_normal((2, 3, 9, 10))
    np.testing.assert_allclose(layer(cr.tensor(x)).numpy(), twin(torch.tensor(x)).numpy())


def test_instance_norm_learns_nothing_from_an_empty_batch() -> None:
    layer = nn.InstanceNorm1d(3, track_running_stats=True)
    out = layer(cr.zeros(0, 3, 5))
    assert out.shape == (0, 3, 5)
    np.testing.assert_array_equal(layer.running_mean.numpy(), np.zeros(3))
    np.testing.assert_array_equal(layer.running_var.numpy(), np.ones(3))


@pytest.mark.parametrize(
    "drop", [F.dropout, F.dropout1d, F.dropout2d], ids=["dropout", "dropout1d", "dropout2d"]
)
def test_dropout_refuses_integer_tensors_while_training(drop: object) -> None:
    x = cr.tensor(np.full((2, 6, 3, 3), 10))
    x = x[..., 0] if drop is F.dropout1d else x
    with pytest.raises(TypeError, match="expected a floating-point tensor, got dtype int64"):
        drop(x, 0.3, generator=0)  # type: ignore[operator]
    assert drop(x, 0.3, training=False) is x  # type: ignore[operator]
