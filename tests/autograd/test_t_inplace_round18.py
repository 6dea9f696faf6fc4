"""``Tensor.t_()``: PyTorch's in-place transpose of a matrix, as its tutorials use it."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def test_t_inplace_transposes_a_matrix_and_returns_self_as_pytorch() -> None:
    values = np.arange(6.0).reshape(2, 3)
    ours, theirs = cr.tensor(values), torch.tensor(values)
    assert ours.t_() is ours
    theirs.t_()
    assert ours.shape == tuple(theirs.shape) == (3, 2)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("shape", [(), (4,)])
def test_t_inplace_leaves_a_vector_or_a_scalar_as_it_is(shape: tuple[int, ...]) -> None:
    ours = cr.ones(shape)
    ours.t_()
    assert ours.shape == tuple(torch.ones(shape).t_().shape) == shape


def test_t_inplace_keeps_sharing_memory_with_the_numpy_array() -> None:
    ours_array, theirs_array = np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(2, 3)
    ours, theirs = cr.from_numpy(ours_array), torch.from_numpy(theirs_array)
    ours.t_()
    theirs.t_()
    ours[0, 1] = 100.0
    theirs[0, 1] = 100.0
    np.testing.assert_array_equal(ours_array, theirs_array)


def test_t_inplace_refuses_more_than_two_dimensions() -> None:
    with pytest.raises(ValueError, match=r"t_: expected a tensor with at most 2 dimensions, got "):
        cr.ones(2, 2, 2).t_()


def test_t_inplace_refuses_a_leaf_that_requires_grad() -> None:
    with pytest.raises(RuntimeError, match=r"t_: cannot modify a leaf tensor that requires grad"):
        cr.ones(2, 3, requires_grad=True).t_()


def test_t_inplace_in_the_graph_gives_pytorchs_gradient() -> None:
    values = np.arange(6.0).reshape(2, 3)
    weights = np.arange(6.0).reshape(3, 2) + 1
    ours_leaf = cr.tensor(values, requires_grad=True)
    theirs_leaf = torch.tensor(values, requires_grad=True)
    ours, theirs = ours_leaf * 2, theirs_leaf * 2
    ours.t_()
    theirs.t_()
    (ours * cr.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours_leaf.grad.numpy(), theirs_leaf.grad.numpy())
