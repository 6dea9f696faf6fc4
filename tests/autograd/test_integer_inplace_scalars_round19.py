"""Integer tensors under in-place arithmetic with Python numbers, against PyTorch."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

INTEGER_DTYPES = ["int64", "int32", "int16", "int8", "uint8"]


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
@pytest.mark.parametrize(
    "update",
    [
        lambda t: t.sub_(1),
        lambda t: t.sub_(1, alpha=2),
        lambda t: t.add_(1, alpha=2),
        lambda t: t.sub_(t.clone()),
        lambda t: t.sub_(t.clone(), alpha=2),
    ],
)
def test_sub_in_place_keeps_an_integer_tensor_integer(dtype, update):
    ours = update(cr.tensor([5, 6, 7], dtype=getattr(cr, dtype)))
    theirs = update(torch.tensor([5, 6, 7], dtype=getattr(torch, dtype)))
    assert str(ours.dtype) == dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
