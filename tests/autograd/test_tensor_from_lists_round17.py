"""tensor() and as_tensor() on lists holding tensors, as PyTorch reads them: the depth comes
from the first element's path; above it a tensor is a row, at it a one-element tensor (of
any shape) is its number and a larger one is refused with PyTorch's reason."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def same_as_torch(build: Any) -> None:
    ours, theirs = build(cr), build(torch)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize(
    "build",
    [
        lambda lib: lib.tensor([[1.0, 2.0], lib.tensor([3.0, 4.0])]),
        lambda lib: lib.tensor([np.array([1.0, 2.0]), lib.tensor([3.0, 4.0])]),
        lambda lib: lib.tensor([[1, 2], lib.tensor([3, 4]), (5, 6)]),
    ],
)
@pytest.mark.filterwarnings("ignore:Creating a tensor from a list of numpy.ndarrays")
def test_a_tensor_below_a_list_row_is_a_row(build: Any) -> None:
    same_as_torch(build)


@pytest.mark.parametrize(
    "build",
    [
        lambda lib: lib.tensor([lib.tensor([1.0]), lib.tensor([2.0])]),
        lambda lib: lib.tensor([lib.ones(1, 1), lib.ones(1, 1)]),
        lambda lib: lib.tensor([1.0, lib.tensor([3.0])]),
        lambda lib: lib.tensor([lib.tensor([1], dtype=lib.int64), lib.tensor([2])]),
        lambda lib: lib.tensor(
            [lib.tensor([1.0], dtype=lib.float64), lib.tensor([2.0], dtype=lib.float64)]
        ),
        lambda lib: lib.tensor([[lib.tensor([1.0])], [lib.tensor([2.0])]]),
        lambda lib: lib.as_tensor([lib.tensor([1.0]), lib.tensor([2.0])]),
    ],
)
def test_one_element_tensors_are_their_numbers(build: Any) -> None:
    same_as_torch(build)


def test_losses_of_shape_one_gather_into_a_vector() -> None:
    loss1, loss2 = cr.tensor([0.5]), cr.tensor([1.5])
    losses = cr.tensor([loss1, loss2])
    assert losses.shape == (2,)
    assert (losses - cr.tensor([0.5, 1.5])).shape == (2,)


@pytest.mark.parametrize(
    ("build", "where"),
    [
        (lambda lib: lib.tensor([lib.tensor([1.0, 2.0]), lib.tensor([3.0, 4.0])]), r"\[0\]"),
        (lambda lib: lib.tensor([1.0, lib.tensor([3.0, 4.0])]), r"\[1\]"),
        (lambda lib: lib.tensor([[1.0, 2.0], [lib.tensor([3.0, 4.0]), [5.0, 6.0]]]), r"\[1, 0\]"),
    ],
)
def test_a_larger_tensor_where_a_number_belongs_is_refused(build: Any, where: str) -> None:
    with pytest.raises(ValueError, match="only one element tensors"):
        build(torch)
    with pytest.raises(
        ValueError,
        match=rf"expected a number or a one-element tensor at index {where} .*got a Tensor of "
        r"shape \(2,\): only one-element tensors can be converted to Python scalars",
    ):
        build(cr)


def test_ragged_rows_with_tensors_name_their_lengths() -> None:
    with pytest.raises(ValueError, match=r"rows of different lengths: at depth 1, lengths 2, 3$"):
        cr.tensor([[1.0, 2.0], cr.tensor([3.0, 4.0, 5.0])])
    with pytest.raises(ValueError, match="expected sequence of length 2"):
        torch.tensor([[1.0, 2.0], torch.tensor([3.0, 4.0, 5.0])])
