"""Tensor methods found missing or different from PyTorch's in the round-14 review."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

LAYOUTS: list[Callable[[Any], Any]] = [
    lambda m: m.zeros(3, 4),
    lambda m: m.zeros(3, 4).T,
    lambda m: m.zeros(2, 3, 4).permute(2, 0, 1),
    lambda m: m.zeros(5)[::2],
    lambda m: m.zeros(3, 1).expand(3, 4),
    lambda m: m.zeros(()),
]


@pytest.mark.parametrize("make", LAYOUTS)
def test_strides_and_sizes_count_as_pytorch_counts_them(make: Callable[[Any], Any]) -> None:
    ours, theirs = make(cr), make(torch)
    assert ours.stride() == theirs.stride()
    for dim in range(-ours.dim(), ours.dim()):
        assert ours.stride(dim) == theirs.stride(dim)
    assert (ours.nbytes, ours.itemsize) == (theirs.nbytes, theirs.itemsize)


@pytest.mark.parametrize("make", LAYOUTS)
def test_contiguous_gives_a_row_major_tensor(make: Callable[[Any], Any]) -> None:
    ours, theirs = make(cr), make(torch)
    assert ours.is_contiguous() == theirs.is_contiguous()
    made = ours.contiguous()
    assert made.is_contiguous()
    assert made.stride() == theirs.contiguous().stride()
    if ours.is_contiguous():
        assert made is ours


def test_contiguous_copy_passes_gradients_back() -> None:
    x = cr.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    y = x.T.contiguous()
    (y * cr.arange(3.0)).sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.data, np.repeat(np.arange(3.0)[:, None], 4, axis=1))


def test_data_ptr_is_the_address_of_the_first_element() -> None:
    x = cr.zeros(4, 3)
    assert x.data_ptr() == x.data.ctypes.data
    assert x[1].data_ptr() - x.data_ptr() == 3 * x.itemsize
