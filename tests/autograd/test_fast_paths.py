"""The fast paths of the hot ops give what the general paths give."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.ops import reductions
from chainrule.autograd.ops._operands import _operand, binary_operands
from chainrule.backend import is_floating


@pytest.mark.parametrize("shape", [(3, 4), (200, 100)], ids=["written-out", "broadcast-view"])
@pytest.mark.parametrize("op", ["sum", "mean"])
@pytest.mark.parametrize("axis, keepdims", [(None, False), (1, False), ((0, 1), True)])
def test_reduction_gradients_small_and_large(
    shape: Any, op: str, axis: Any, keepdims: bool
) -> None:
    x = cr.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)
    out = getattr(cr, op)(x, axis=axis, keepdims=keepdims)
    out.backward(np.ones(out.shape))
    count = x.data.size if axis is None else x.data.size // out.data.size
    expected = np.full(shape, 1.0 if op == "sum" else 1.0 / count)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-15)
    assert x.grad.data.flags.writeable  # the leaf's own array, not a broadcast view


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize(
    "shape, axes, keepdims",
    [
        ((7, 5), (0, 1), False),
        ((7, 5), (1,), True),
        ((3, 4, 5), (0, 2), False),
        ((999,), (0,), False),
    ],
)
def test_mean_array_is_ndarray_mean_to_the_bit(
    dtype: Any, shape: Any, axes: Any, keepdims: bool
) -> None:
    x = (np.random.default_rng(1).standard_normal(shape) * 100).astype(dtype)
    got, want = reductions.mean_array(x, axes, keepdims), x.mean(axis=axes, keepdims=keepdims)
    np.testing.assert_array_equal(got, want)
    assert np.asarray(got).dtype == np.asarray(want).dtype and type(got) is type(want)


def test_mean_array_of_nothing_warns_as_numpy_does() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert np.isnan(reductions.mean_array(np.zeros((0, 3), np.float32), (0, 1)))
    assert any("Mean of empty slice" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    "a, b",
    [
        (cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0], dtype=np.float64)),
        (cr.tensor([1.0, 2.0]), 2.5),
        (3, cr.tensor([1.0, 2.0])),
        (cr.tensor([1, 2]), 2.5),  # an integer tensor beside a Python float: float32
        (cr.tensor([1.0, 2.0]), np.float64(2.0)),  # a NumPy scalar: the tensor's dtype
        (True, cr.tensor([1.0])),
    ],
)
def test_binary_operands_fast_path_agrees_with_the_rules(a: Any, b: Any) -> None:
    fast = binary_operands(a, b)
    rules = (_operand(a, b, False), _operand(b, a, False))
    for got, want in zip(fast, rules, strict=True):
        assert type(got) is type(want)
        if isinstance(want, cr.Tensor):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got.data, want.data)
        else:
            assert got == want


@pytest.mark.parametrize(
    "dtype, expected",
    [
        (np.float32, True),
        ("float64", True),
        (float, True),
        (np.dtype(np.float16), True),
        (np.int64, False),
        (int, False),
        (bool, False),
        (np.complex64, False),
    ],
)
def test_is_floating_takes_dtypes_and_dtype_likes(dtype: Any, expected: bool) -> None:
    assert is_floating(dtype) is expected


def test_backward_from_a_one_element_root_of_any_shape() -> None:
    a = cr.tensor([[2.0]], requires_grad=True)
    b = cr.tensor([[3.0]], requires_grad=True)
    (a + b).backward()
    assert a.grad.tolist() == [[1.0]] and b.grad.tolist() == [[1.0]]
    a.grad.data += 1  # each leaf owns its gradient
    assert b.grad.tolist() == [[1.0]]
