"""A number an integer tensor cannot hold (NaN, inf, beyond its dtype's range) written into
one is refused with a message naming the value and the range, as PyTorch refuses it, instead
of NaN stored as -9223372036854775808 or NumPy's OverflowError; what PyTorch accepts (a float
truncated, -1 into uint8 as 255) is stored as PyTorch stores it."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _setitem(lib, dtype, value):
    z = lib.tensor([1, 2], dtype=getattr(lib, dtype))
    z[0] = value
    return z


def _fill(lib, dtype, value):
    return lib.tensor([1, 2], dtype=getattr(lib, dtype)).fill_(value)


def _masked_fill(lib, dtype, value):
    z = lib.tensor([1, 2], dtype=getattr(lib, dtype))
    return z.masked_fill_(lib.tensor([True, False]), value)


def _full(lib, dtype, value):
    return lib.full((2,), value, dtype=getattr(lib, dtype))


WRITES = [_setitem, _fill, _masked_fill, _full]

REFUSED = [
    ("int64", float("nan")),
    ("int64", float("inf")),
    ("int64", -float("inf")),
    ("int64", 1e30),
    ("int32", 3e9),
    ("uint8", 300),
    ("uint8", -256),
    ("uint8", 256.0),
    ("uint8", -0.5),
    ("int8", 127.5),
    ("int8", -129),
]


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize(("dtype", "value"), REFUSED)
def test_a_number_the_dtype_cannot_hold_is_refused_as_pytorch_refuses_it(write, dtype, value):
    with pytest.raises(RuntimeError, match="without overflow"):
        write(torch, dtype, value)
    with pytest.raises(RuntimeError, match=f"cannot be converted to {dtype} without overflow"):
        write(cr, dtype, value)


def test_the_message_names_the_value_and_the_range():
    z = cr.tensor([1, 2])
    with pytest.raises(
        OverflowError,
        match=r"setitem: value nan cannot be converted to int64 without overflow; expected a "
        r"finite number in \[-9223372036854775808, 9223372036854775807\]",
    ):
        z[0] = float("nan")
    np.testing.assert_array_equal(z.numpy(), [1, 2])  # nothing written


def test_nan_through_a_mask_or_a_slice_is_refused_too():
    z = cr.tensor([1, 2])
    with pytest.raises(RuntimeError, match="setitem: value nan"):
        z[cr.tensor([True, False])] = float("nan")
    with pytest.raises(RuntimeError, match="setitem: value nan"):
        z[:] = np.float64("nan")
    with pytest.raises(RuntimeError, match="value nan cannot be converted to int64"):
        z.index_fill(0, cr.tensor([0]), float("nan"))


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize(
    ("dtype", "value"),
    [
        ("uint8", -1),
        ("uint8", -255),
        ("uint8", 255),
        ("int8", -1.5),
        ("int32", 255.99),
        ("int64", -2.7),
        ("int64", True),
        ("int64", 1e-300),
        ("bool", float("nan")),
    ],
)
def test_what_pytorch_accepts_is_stored_as_pytorch_stores_it(write, dtype, value):
    expected = write(torch, dtype, value).numpy()
    got = write(cr, dtype, value).numpy()
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
