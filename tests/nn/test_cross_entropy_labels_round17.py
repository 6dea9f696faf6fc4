"""Cross-entropy's fast path checks its labels in one pass (signed labels read as unsigned):
every integer dtype and byte order must still refuse a negative or too-large label, and
still take the labels it accepts to PyTorch's loss."""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.nn import functional as F

DTYPES = ["i1", "i2", "i4", "i8", ">i8", ">i4", "u1", "u8"]


OUT_OF_RANGE = [
    (dtype, bad) for dtype in DTYPES for bad in (-1, -128, 5, 127) if dtype[-2] != "u" or bad > 0
]


@pytest.mark.parametrize(("dtype", "bad"), OUT_OF_RANGE)
def test_out_of_range_label_is_refused_in_every_integer_dtype(dtype, bad):
    logits = cr.tensor(np.zeros((3, 5), np.float32), requires_grad=True)
    labels = cr.tensor(np.array([0, bad, 2], dtype=dtype))
    with pytest.raises(IndexError, match=f"target class {bad} is out of range for 5 classes"):
        F.cross_entropy(logits, labels)


@pytest.mark.parametrize("dtype", DTYPES)
def test_labels_in_range_give_pytorchs_loss_and_gradient(dtype):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 5))
    labels = np.array([0, 4, 2, 3, 1, 4], dtype=dtype)
    x = cr.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, cr.tensor(labels))
    loss.backward()
    tx = torch.tensor(logits, requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(tx, torch.tensor(labels.astype(np.int64)))
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_strided_labels_are_checked_as_they_are():
    # A column of a label matrix: a non-contiguous view, negative in the other column only.
    table = np.array([[1, -1], [2, -1], [0, -1]], dtype=np.int64)
    logits = cr.tensor(np.zeros((3, 4)), requires_grad=True)
    assert np.isclose(F.cross_entropy(logits, cr.tensor(table[:, 0])).item(), np.log(4))
    with pytest.raises(IndexError, match="target class -1 is out of range"):
        F.cross_entropy(logits, cr.tensor(table[:, 1]))
