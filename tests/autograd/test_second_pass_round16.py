"""Round 16's autograd changes, tested again from the outside: scatter_reduce on 0-d tensors
failed inside, `t.data = complex array` slipped past the check on a tensor that requires
grad, and deep-copying a tensor made by an op copied its graph, whose backward never
reached the real leaves (PyTorch refuses it)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_reads_0d_tensors_as_pytorch_does(reduce: str) -> None:
    x = cr.tensor(2.0, requires_grad=True)
    src = cr.tensor(1.5, requires_grad=True)
    y = x.scatter_reduce(0, cr.tensor(0), src, reduce)
    y.backward()
    tx = torch.tensor(2.0, requires_grad=True)
    tsrc = torch.tensor(1.5, requires_grad=True)
    ty = tx.scatter_reduce(0, torch.tensor(0), tsrc, reduce)
    ty.backward()
    assert y.shape == ()
    assert float(y.item()) == pytest.approx(float(ty.item()))
    assert x.grad is not None and src.grad is not None
    assert float(x.grad.item()) == pytest.approx(float(tx.grad.item()))  # type: ignore[union-attr]
    assert float(src.grad.item()) == pytest.approx(float(tsrc.grad.item()))  # type: ignore[union-attr]


def test_a_parameter_refuses_complex_data() -> None:
    weight = nn.Parameter(cr.randn(2))
    with pytest.raises(RuntimeError, match="must hold floating-point data, got dtype complex128"):
        weight.data = np.array([1 + 2j, 3j])
    assert weight.dtype == np.float32


def test_deepcopy_copies_leaves_and_refuses_tensors_made_by_ops() -> None:
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="only tensors created by the user"):
        copy.deepcopy(t * 3)
    t.grad = cr.ones(2)
    twin = copy.deepcopy(t)
    assert twin.requires_grad and twin.is_leaf
    assert twin.data is not t.data and twin.grad is not None
    np.testing.assert_array_equal(twin.grad.numpy(), np.ones(2))
    weight = nn.Parameter(cr.randn(3))
    assert type(copy.deepcopy(weight)) is nn.Parameter
