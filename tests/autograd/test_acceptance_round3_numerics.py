"""Third acceptance pass on the autograd core: numerical edges, compared with PyTorch.

Extreme and special inputs (0, inf, empty axes, constant values), integer inputs, and the
silence PyTorch keeps where NumPy would warn (the suite runs with warnings as errors).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _compare(ours: Callable[..., Any], theirs: Callable[..., Any], data: Any, dtype: str) -> None:
    """Forward values and input gradients (upstream gradient of ones) against PyTorch."""
    array = np.asarray(data, dtype=dtype)
    x = cr.tensor(array, requires_grad=True)
    t = torch.tensor(array, requires_grad=True)
    y, yt = ours(x), theirs(t)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-7)
    assert y.dtype == np.dtype(dtype)
    y.backward(cr.ones_like(y))
    yt.backward(torch.ones_like(yt))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)


EDGE_OPS = {
    "log at 0": (cr.log, torch.log, [0.0, 1.0, 1e-30]),
    "log of a negative": (cr.log, torch.log, [-1.0, 2.0]),
    "log1p at -1": (cr.log1p, torch.log1p, [-1.0, 0.0, 1e-8]),
    "sqrt at 0": (cr.sqrt, torch.sqrt, [0.0, 4.0]),
    "sqrt of a negative": (cr.sqrt, torch.sqrt, [-1.0, 4.0]),
    "exp overflowing": (cr.exp, torch.exp, [1e4, 88.0, 89.0, -1e4]),
    "1 / x at 0": (lambda x: 1 / x, lambda x: 1 / x, [0.0, 2.0, -0.5]),
    "x / 0": (lambda x: x / 0.0, lambda x: x / 0.0, [1.0, -1.0, 0.0]),
    "x ** -1 at 0": (lambda x: x**-1, lambda x: x**-1, [0.0, 2.0]),
    "x ** 0.5 at 0": (lambda x: x**0.5, lambda x: x**0.5, [0.0, 4.0]),
    "2 ** x overflowing": (lambda x: 2**x, lambda x: 2**x, [1e4, 1.0]),
    "sin of inf": (cr.sin, torch.sin, [np.inf, 1.0]),
    "cos of inf": (cr.cos, torch.cos, [-np.inf, 1.0]),
    "sigmoid of +-1e4": (cr.sigmoid, torch.sigmoid, [-1e4, -88.0, 0.0, 88.0, 1e4]),
    "softplus of +-1e4": (cr.softplus, F.softplus, [-1e4, -88.0, 0.0, 88.0, 1e4]),
    "log_softmax of +-1e4": (
        lambda x: cr.log_softmax(x, 0),
        lambda x: torch.log_softmax(x, 0),
        [-1e4, 0.0, 1e4],
    ),
    "logsumexp of +-1e4": (
        lambda x: cr.logsumexp(x, 0),
        lambda x: torch.logsumexp(x, 0),
        [-1e4, 1e4, 1e4],
    ),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(EDGE_OPS))
def test_edge_inputs_give_pytorch_values_without_numpy_warnings(name: str, dtype: str) -> None:
    # pytest turns warnings into errors here: NumPy's "divide by zero encountered in log"
    # failed these although the values (inf, nan) were PyTorch's.
    ours, theirs, data = EDGE_OPS[name]
    _compare(ours, theirs, data, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_std_of_constant_values_has_zero_gradient_as_in_pytorch(dtype: str) -> None:
    # std = sqrt(var) composed gave 0 * inf = NaN for every element; PyTorch gives 0.
    _compare(lambda x: x.std(), lambda x: x.std(), [2.0, 2.0, 2.0], dtype)
    _compare(lambda x: x.std(0), lambda x: x.std(0), [[1.0, 5.0], [1.0, 3.0]], dtype)
    _compare(
        lambda x: x.std(1, keepdim=True, correction=0),
        lambda x: x.std(1, keepdim=True, correction=0),
        [[1.0, 1.0, 1.0], [0.5, 1.0, 4.0]],
        dtype,
    )


def test_standardizing_a_constant_column_keeps_finite_gradients() -> None:
    data = np.array([[1.0, 3.0], [1.0, 5.0], [1.0, 4.0]], dtype=np.float32)
    x = cr.tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    (x - x.mean(0)).div(x.std(0) + 1e-5).pow(2).sum().backward()
    (t - t.mean(0)).div(t.std(0) + 1e-5).pow(2).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "shape"),
    [("mean", (0,)), ("var", (0, 3)), ("std", (0,)), ("var", (0,))],
)
def test_reducing_nothing_gives_nan_as_in_pytorch(name: str, shape: tuple[int, ...]) -> None:
    ours = getattr(cr.zeros(shape), name)(0)
    with pytest.warns(UserWarning) if name != "mean" else contextlib.nullcontext():
        theirs = getattr(torch.zeros(shape), name)(0)
    assert ours.shape == tuple(theirs.shape)
    assert np.isnan(ours.numpy()).all() and torch.isnan(theirs).all()


@pytest.mark.parametrize(
    ("ours", "theirs", "shape"),
    [
        (lambda x: cr.softmax(x, -1), lambda x: torch.softmax(x, -1), (3, 0)),
        (lambda x: cr.softmax(x, 0), lambda x: torch.softmax(x, 0), (0, 2)),
        (lambda x: cr.log_softmax(x, -1), lambda x: torch.log_softmax(x, -1), (0,)),
        (lambda x: cr.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1), (3, 0)),
        (lambda x: cr.logsumexp(x, 0), lambda x: torch.logsumexp(x, 0), (0,)),
        (lambda x: x.prod(1), lambda x: x.prod(1), (3, 0)),
    ],
)
def test_empty_tensors_through_forward_and_backward(
    ours: Callable[..., Any], theirs: Callable[..., Any], shape: tuple[int, ...]
) -> None:
    # NumPy's max has no identity: softmax and logsumexp of an empty axis raised ValueError,
    # and prod's backward failed to reshape.
    _compare(ours, theirs, np.zeros(shape), "float32")


INT_REFUSED = {
    "softmax": (lambda x: cr.softmax(x, -1), lambda x: torch.softmax(x, -1)),
    "log_softmax": (lambda x: cr.log_softmax(x, -1), lambda x: torch.log_softmax(x, -1)),
    "gelu": (cr.gelu, F.gelu),
    "elu": (cr.elu, F.elu),
    "selu": (cr.selu, F.selu),
    "silu": (cr.silu, F.silu),
    "softplus": (cr.softplus, F.softplus),
    "leaky_relu": (cr.leaky_relu, F.leaky_relu),
    "var": (lambda x: x.var(), lambda x: x.var()),
    "std": (lambda x: x.std(), lambda x: x.std()),
    "norm": (lambda x: x.norm(), lambda x: torch.linalg.vector_norm(x)),
}


@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool"])
@pytest.mark.parametrize("name", list(INT_REFUSED))
def test_float_only_ops_refuse_integers_as_pytorch_does(name: str, dtype: str) -> None:
    # They gave truncated integers (selu, gelu), NaN (softmax of uint8) or the wrapped-around
    # variance of a 0-d int64 tensor.
    ours, theirs = INT_REFUSED[name]
    data = np.array([[1, 0], [3, 2]]).astype(dtype)
    with pytest.raises((NotImplementedError, RuntimeError)):
        theirs(torch.tensor(data))
    with pytest.raises(NotImplementedError, match=f"{name}: expected a floating-point tensor"):
        ours(cr.tensor(data))
    with pytest.raises(TypeError, match="convert first"):
        ours(cr.tensor(data))


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (cr.sigmoid, torch.sigmoid),
        (cr.tanh, torch.tanh),
        (lambda x: cr.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1)),
    ],
)
def test_float_functions_of_integers_are_float32(
    ours: Callable[..., Any], theirs: Callable[..., Any], dtype: str
) -> None:
    # NumPy's promotion gave float64 (int64, int32) and float16 (bool, uint8).
    data = np.array([[1, 0], [3, 2]]).astype(dtype)
    y, yt = ours(cr.tensor(data)), theirs(torch.tensor(data))
    assert y.dtype == np.float32 and yt.dtype == torch.float32
    np.testing.assert_allclose(y.numpy(), yt.numpy(), rtol=1e-6)


def test_concatenating_0d_tensors_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError):
        torch.cat([torch.tensor(1.0), torch.tensor(2.0)])
    with pytest.raises(ValueError, match="zero-dimensional tensors cannot be concatenated"):
        cr.cat([cr.tensor(1.0), cr.tensor(2.0)])
