"""Integer and bool ``**``, ``//`` and ``%`` against PyTorch: negative integer exponent
tensors give the integer part of the power, a Python int beyond a small integer dtype wraps
around into it (as +, - and * already did), and bool bases and exponents take PyTorch's
dtypes."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _same(expression):
    """``expression(lib, t)`` computed by PyTorch and by chainrule: the same values and dtype."""
    expected = expression(torch, torch.tensor)
    got = expression(cr, cr.tensor)
    assert str(got.dtype) == str(expected.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize(
    "expression",
    [
        lambda lib, t: t([2, 1, -1, 0, -1, 3]) ** t([-1, -2, -3, -1, -4, 0]),
        lambda lib, t: 2 ** t([-1, 0, 3]),
        lambda lib, t: (-1) ** t([-1, -2, -3]),
        lambda lib, t: 0 ** t([-1]),
        lambda lib, t: t([2]) ** t(-1),
        lambda lib, t: t([2], dtype=lib.uint8) ** t([-1]),
        lambda lib, t: t([2, -1], dtype=lib.int8) ** t([-1, -3], dtype=lib.int8),
        lambda lib, t: t([3], dtype=lib.int8) ** t([5], dtype=lib.int8),
        lambda lib, t: lib.pow(t([[1], [-1], [5]]), t([-2, -1, 0, 2])),
    ],
)
def test_integers_to_negative_integer_exponent_tensors_as_pytorch(expression):
    _same(expression)


def test_a_negative_python_int_exponent_is_still_refused_as_pytorch_refuses_it():
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        torch.tensor([2]) ** -1
    for t in (cr.tensor([2]), cr.tensor([2], dtype=cr.uint8), cr.tensor([True])):
        with pytest.raises(ValueError, match=r"pow: Integers to negative integer powers .* got -1"):
            t**-1


@pytest.mark.parametrize(
    "expression",
    [
        lambda lib, t: t([7], dtype=lib.uint8) // -1,
        lambda lib, t: -1 // t([7], dtype=lib.uint8),
        lambda lib, t: 300 % t([7], dtype=lib.int8),
        lambda lib, t: t([7], dtype=lib.int8) % 300,
        lambda lib, t: t([7], dtype=lib.uint8) % -1,
        lambda lib, t: lib.remainder(300, t([7], dtype=lib.int8)),
        lambda lib, t: lib.floor_divide(t([7], dtype=lib.int8), 300),
        lambda lib, t: t([7], dtype=lib.int8).div(300, rounding_mode="floor"),
        lambda lib, t: t([-7], dtype=lib.int8).div(300, rounding_mode="trunc"),
        lambda lib, t: 300 ** t([2], dtype=lib.int8),
    ],
)
def test_a_python_int_beyond_a_small_dtype_wraps_around_as_pytorch(expression):
    _same(expression)


def test_an_exponent_beyond_the_bases_dtype_is_refused_as_pytorch_refuses_it():
    with pytest.raises(RuntimeError, match="without overflow"):
        torch.tensor([2], dtype=torch.int8) ** 300
    with pytest.raises(
        RuntimeError, match=r"pow: value 300 cannot be converted to int8 without overflow"
    ):
        cr.tensor([2], dtype=cr.int8) ** 300


@pytest.mark.parametrize(
    "expression",
    [
        lambda lib, t: t([True, False]) ** True,
        lambda lib, t: t([True, False]) ** False,
        lambda lib, t: t([True, False]) ** 2,
        lambda lib, t: t([True, False]) ** 2.0,
        lambda lib, t: t([True]) ** t(2, dtype=lib.uint8),
        lambda lib, t: t([True]) ** t([2], dtype=lib.uint8),
        lambda lib, t: lib.pow(t([True, False]), t(3, dtype=lib.int8)),
        lambda lib, t: t([True, False]) ** t([-1]),
        lambda lib, t: 2 ** t([True, False]),
        lambda lib, t: t([2], dtype=lib.int8) ** True,
        lambda lib, t: lib.square(t([True, False])),
        lambda lib, t: t([True, False]).square(),
    ],
)
def test_bool_bases_and_exponents_take_pytorchs_dtypes(expression):
    _same(expression)


def test_two_bool_tensors_are_refused_as_pytorch_refuses_them():
    with pytest.raises(NotImplementedError):
        torch.tensor([True]) ** torch.tensor([True])
    with pytest.raises(NotImplementedError, match="pow: expected at most one bool tensor"):
        cr.tensor([True]) ** cr.tensor([True])
    with pytest.raises(TypeError, match="pow: expected at most one bool tensor"):
        True ** cr.tensor([True, False])
