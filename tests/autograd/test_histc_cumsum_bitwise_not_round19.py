"""``histc`` with min == max, ``cumsum``/``cumprod`` asked for bools, and
``Tensor.bitwise_not``/``bitwise_not_``, against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

VALUES = [-1.0, 0.0, 0.4, 0.5, 0.6, 2.0]


@pytest.mark.parametrize(
    ("values", "bins", "low", "high"),
    [
        (VALUES, 3, 0.5, 0.5),  # min == max != 0: the data's range, as with 0 and 0
        (VALUES, 3, 3.0, 3.0),  # a range outside the data
        (VALUES, 3, 0.0, 0.0),
        ([2.0, 2.0], 3, 5.0, 5.0),  # one value everywhere: widened by 1 on each side
        ([1.0, 2.0], 4, 1.0, 1.0),
        ([], 4, 1.0, 1.0),
        (VALUES, 4, -1.0, 1.0),
    ],
)
def test_histc_counts_as_pytorch(values, bins, low, high):
    expected = torch.histc(torch.tensor(values), bins, low, high).numpy()
    got = cr.histc(cr.tensor(values), bins, low, high).numpy()
    np.testing.assert_array_equal(got, expected)


def test_histc_with_min_equal_to_max_counts_every_element():
    counts = cr.histc(cr.tensor(VALUES), 3, 0.5, 0.5)
    np.testing.assert_array_equal(counts.numpy(), [1.0, 4.0, 1.0])
    assert counts.sum().item() == len(VALUES)


@pytest.mark.parametrize(
    ("values", "low", "high"),
    [([float("nan"), 1.0], 0, 0), ([float("inf"), 1.0], 0, 0), ([1.0, 2.0], 0, float("inf"))],
)
def test_histc_refuses_a_range_that_is_not_finite(values, low, high):
    with pytest.raises(RuntimeError, match="not finite"):
        torch.histc(torch.tensor(values), 4, low, high)
    with pytest.raises(ValueError, match=r"histc: expected a finite range, got \["):
        cr.histc(cr.tensor(values), 4, low, high)


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("values", [[1.0, 2.0], [1, 2], [True, False]])
def test_a_running_sum_or_product_as_bool_is_refused_as_pytorch_refuses_it(name, values):
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        getattr(torch, name)(torch.tensor(values), 0, dtype=torch.bool)
    with pytest.raises(
        NotImplementedError, match=f"{name}: expected a numeric dtype, got dtype=bool"
    ):
        getattr(cr, name)(cr.tensor(values), 0, dtype=cr.bool)
    with pytest.raises(TypeError, match=f"{name}: expected a numeric dtype"):
        getattr(cr.tensor(values), name)(0, dtype=cr.bool)


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_running_sums_and_products_of_bools_without_dtype_stay_int64(name):
    expected = getattr(torch.tensor([True, True, False]), name)(0)
    got = getattr(cr.tensor([True, True, False]), name)(0)
    assert str(got.dtype) == "int64" == str(expected.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize(
    ("values", "dtype"),
    [([4, 5, -1], "int64"), ([0, 7, 255], "uint8"), ([3, -128], "int8"), ([True, False], "bool")],
)
def test_tensor_bitwise_not_and_its_in_place_form_as_pytorch(values, dtype):
    expected = torch.tensor(values, dtype=getattr(torch, dtype))
    got = cr.tensor(values, dtype=getattr(cr, dtype))
    np.testing.assert_array_equal(got.bitwise_not().numpy(), expected.bitwise_not().numpy())
    assert got.bitwise_not_() is got
    expected.bitwise_not_()
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    assert got.dtype == getattr(cr, dtype)


def test_tensor_bitwise_not_refuses_floats_as_pytorch():
    with pytest.raises(NotImplementedError):
        torch.tensor([1.0]).bitwise_not()
    with pytest.raises(TypeError, match="bitwise_not: expected integer or bool operands"):
        cr.tensor([1.0]).bitwise_not()
    with pytest.raises(TypeError, match="bitwise_not: expected integer or bool operands"):
        cr.tensor([1.0]).bitwise_not_()
