"""``full``'s dtype follows the kind of its fill value, as torch.full's does (a NumPy float64
scalar gives the default float32), and ``masked_fill`` keeps its tensor's dtype, refusing a
value tensor of more than 0 dimensions as PyTorch does."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    "value",
    [0.5, np.float64(0.5), np.float32(0.5), np.float16(0.5), 3, np.int32(3), np.uint8(3), True],
    ids=repr,
)
def test_full_takes_torch_full_dtype_for_scalars(value: object) -> None:
    want = torch.full((2,), value)  # type: ignore[call-overload]
    got = cr.full((2,), value)
    assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_full_follows_the_default_dtype_and_an_explicit_one() -> None:
    previous = cr.get_default_dtype()
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.full((2,), np.float32(0.5)).dtype == np.float64
    finally:
        cr.set_default_dtype(previous)
    assert cr.full((2,), np.float64(0.5), dtype=cr.float64).dtype == np.float64
    assert cr.full((2,), 7, dtype=cr.int32).dtype == np.int32
    assert cr.full((2,), cr.tensor(0.5, dtype=cr.float64)).dtype == np.float32
    # full_like keeps the dtype of the tensor it copies the shape of.
    assert cr.full_like(cr.zeros(2, dtype=cr.float64), np.float32(1.0)).dtype == np.float64


def test_masked_fill_refuses_a_value_tensor_of_more_dimensions() -> None:
    x, mask = np.zeros(3, np.float32), np.array([True, False, True])
    with pytest.raises(RuntimeError, match="masked_fill_ only supports a 0-dimensional value"):
        torch.from_numpy(x).masked_fill(torch.from_numpy(mask), torch.ones(3, dtype=torch.float64))
    with pytest.raises(
        ValueError,
        match=r"masked_fill: expected a number or a 0-dimensional value tensor, got a value of "
        r"shape \(3,\)",
    ):
        cr.tensor(x).masked_fill(cr.tensor(mask), cr.tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"got a value of shape \(3,\)"):
        cr.tensor(x).masked_fill_(cr.tensor(mask), np.ones(3))


def test_masked_fill_keeps_its_dtype_for_a_0d_value_and_passes_its_gradient() -> None:
    x, mask = np.arange(3, dtype=np.float32), np.array([True, False, True])
    value = cr.tensor(np.float64(2.5), requires_grad=True)
    got = cr.tensor(x).masked_fill(cr.tensor(mask), value)
    tvalue = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    want = torch.from_numpy(x).masked_fill(torch.from_numpy(mask), tvalue)
    assert got.dtype == np.float32 and want.dtype == torch.float32
    np.testing.assert_array_equal(got.numpy(), want.detach().numpy())
    got.sum().backward()
    want.sum().backward()
    assert value.grad is not None and tvalue.grad is not None
    assert value.grad.dtype == np.float64
    assert float(value.grad) == float(tvalue.grad) == 2.0
