"""``chainrule.nn.init``: each initializer's distribution (bounds of the uniform ones, the
sample standard deviation of the normal ones), gains equal to PyTorch's, orthogonality, and
reproducibility from a generator or seed."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import Linear, Parameter, init

torch = pytest.importorskip("torch")

NONLINEARITIES = [
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
]


def big(shape: tuple[int, ...] = (300, 500), dtype: Any = np.float32) -> cr.Tensor:
    return Parameter(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_calculate_gain_equals_torch(nonlinearity: str) -> None:
    assert init.calculate_gain(nonlinearity) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity), rel=1e-15
    )


@pytest.mark.parametrize("slope", [0, 0.2, 1, 3.5])
def test_calculate_gain_leaky_relu_slope_equals_torch(slope: float) -> None:
    assert init.calculate_gain("leaky_relu", slope) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", slope), rel=1e-15
    )


def test_calculate_gain_errors() -> None:
    with pytest.raises(ValueError, match=r"calculate_gain: unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(
        ValueError, match=r"calculate_gain: negative slope must be a number, got True"
    ):
        init.calculate_gain("leaky_relu", True)


def test_uniform_normal_constant() -> None:
    t = init.uniform_(big(), -0.3, 0.7, generator=0)
    x = t.numpy()
    assert x.min() >= -0.3 and x.max() <= 0.7
    assert x.mean() == pytest.approx(0.2, abs=0.005)
    assert x.var() == pytest.approx(1 / 12, rel=0.02)  # (b - a)**2 / 12
    x = init.normal_(big(), 2.0, 0.5, generator=0).numpy()
    assert x.mean() == pytest.approx(2.0, abs=0.005)
    assert x.std() == pytest.approx(0.5, rel=0.01)
    np.testing.assert_array_equal(init.constant_(big((2, 3)), 1.5).numpy(), 1.5)
    np.testing.assert_array_equal(init.zeros_(cr.ones(4)).numpy(), 0)
    np.testing.assert_array_equal(init.ones_(cr.zeros(4)).numpy(), 1)
    assert init.ones_(cr.zeros(4, dtype=np.float64)).dtype == np.float64


@pytest.mark.parametrize("gain", [1.0, 2.5])
@pytest.mark.parametrize("shape", [(300, 500), (40, 30, 3, 3)], ids=["matrix", "conv"])
def test_xavier(gain: float, shape: tuple[int, ...]) -> None:
    receptive = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    bound = gain * math.sqrt(6 / (fan_in + fan_out))
    x = init.xavier_uniform_(big(shape), gain, generator=0).numpy()
    assert np.abs(x).max() <= bound
    assert x.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    x = init.xavier_normal_(big(shape), gain, generator=0).numpy()
    assert x.std() == pytest.approx(gain * math.sqrt(2 / (fan_in + fan_out)), rel=0.02)
    # PyTorch's xavier_uniform_ on the same shape has the same bound.
    t = torch.nn.init.xavier_uniform_(torch.empty(shape), gain)
    assert t.abs().max().item() <= bound


@pytest.mark.parametrize(
    ("a", "mode", "nonlinearity"),
    [
        (0.0, "fan_in", "leaky_relu"),
        (math.sqrt(5), "fan_in", "leaky_relu"),
        (0.0, "fan_out", "relu"),
        (0.0, "fan_in", "tanh"),
        (0.2, "fan_out", "leaky_relu"),
    ],
)
def test_kaiming(a: float, mode: str, nonlinearity: str) -> None:
    shape = (300, 500)
    fan = 500 if mode == "fan_in" else 300
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    x = init.kaiming_uniform_(big(shape), a, mode, nonlinearity, generator=0).numpy()
    assert np.abs(x).max() <= math.sqrt(3) * std
    assert x.std() == pytest.approx(std, rel=0.02)
    t = torch.nn.init.kaiming_uniform_(torch.empty(shape), a, mode, nonlinearity)
    assert t.abs().max().item() <= math.sqrt(3) * std
    x = init.kaiming_normal_(big(shape), a, mode, nonlinearity, generator=0).numpy()
    assert x.std() == pytest.approx(std, rel=0.02)
    assert abs(x.mean()) < 0.02 * std


def test_kaiming_errors() -> None:
    with pytest.raises(
        ValueError, match=r"kaiming: mode must be 'fan_in' or 'fan_out', got 'fan_avg'"
    ):
        init.kaiming_uniform_(big((3, 3)), mode="fan_avg")
    with pytest.raises(
        ValueError, match=r"init: fan in and fan out need a tensor with at least 2 dimensions"
    ):
        init.kaiming_normal_(cr.zeros(3))
    with pytest.raises(ValueError, match=r"init: fan in and fan out need a tensor with at least 2"):
        init.xavier_uniform_(cr.zeros(3))


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3), (4, 2, 3)])
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_orthogonal(shape: tuple[int, ...], gain: float) -> None:
    w = init.orthogonal_(big(shape, np.float64), gain, generator=0).numpy().reshape(shape[0], -1)
    rows, cols = w.shape
    if rows <= cols:
        np.testing.assert_allclose(w @ w.T, gain**2 * np.eye(rows), atol=1e-12)
    else:
        np.testing.assert_allclose(w.T @ w, gain**2 * np.eye(cols), atol=1e-12)


def test_orthogonal_error() -> None:
    with pytest.raises(
        ValueError, match=r"orthogonal_: expected a tensor with at least 2 dimensions"
    ):
        init.orthogonal_(cr.zeros(3))


INITIALIZERS: list[tuple[str, Callable[..., cr.Tensor]]] = [
    ("uniform_", init.uniform_),
    ("normal_", init.normal_),
    ("xavier_uniform_", init.xavier_uniform_),
    ("xavier_normal_", init.xavier_normal_),
    ("kaiming_uniform_", init.kaiming_uniform_),
    ("kaiming_normal_", init.kaiming_normal_),
    ("orthogonal_", init.orthogonal_),
]


@pytest.mark.parametrize(("name", "fn"), INITIALIZERS, ids=[i[0] for i in INITIALIZERS])
def test_generator_and_seed_reproducible(name: str, fn: Callable[..., cr.Tensor]) -> None:
    a = fn(big((6, 4)), generator=3).numpy()
    b = fn(big((6, 4)), generator=np.random.default_rng(3)).numpy()
    c = fn(big((6, 4)), generator=4).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    t = big((6, 4))
    assert fn(t, generator=0) is t  # in place, returns the tensor
    rng = np.random.default_rng(0)
    assert not np.array_equal(
        fn(big((6, 4)), generator=rng).numpy(), fn(big((6, 4)), generator=rng).numpy()
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_initializers_keep_dtype(dtype: Any) -> None:
    for _, fn in INITIALIZERS:
        assert fn(big((4, 4), dtype), generator=0).dtype == dtype


def test_bad_generator() -> None:
    with pytest.raises(
        TypeError, match=r"generator: expected a numpy.random.Generator, an int seed or None"
    ):
        init.normal_(big((2, 2)), generator="seed")  # type: ignore[arg-type]


def test_linear_default_init_bounds_equal_pytorch_formula() -> None:
    for in_features in (1, 3, 64):
        layer = Linear(in_features, 2000 // in_features + 1, generator=0)
        bound = 1 / math.sqrt(in_features)
        assert layer.bias is not None
        for p in (layer.weight.numpy(), layer.bias.numpy()):
            assert np.abs(p).max() <= bound
        # PyTorch's formula: kaiming_uniform_(a=sqrt(5)) gives this same bound.
        gain = torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5))
        assert gain * math.sqrt(3 / in_features) == pytest.approx(bound)
