"""The gradient of picking positions along one axis (``x[:, picks]``, ``index_select``,
nearest-neighbour resizing) against PyTorch, through its whole-array path: repeated and
negative positions, positions left out, many repeats of one position, signed zeros."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


def _both(shape, axis, picks, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape).astype(dtype)
    x = cr.tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    y = cr.index_select(x, axis, cr.tensor(np.asarray(picks)))
    expected = torch.index_select(t, axis, torch.tensor(np.asarray(picks)))
    weights = rng.standard_normal(expected.shape).astype(dtype)
    (y * cr.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    return x.grad.numpy(), t.grad.numpy()


@pytest.mark.parametrize(
    "picks",
    [
        [0, 0, 1, 1, 2, 2, 3, 3],  # a nearest-neighbour doubling
        [3, 1, 3, 0, 3],  # repeats out of order
        [2],  # one position, the others get zeros
        [1, 3],  # positions left out
        list(range(4))[::-1],  # every position once, reversed
    ],
)
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_gradient_matches_pytorch_index_select(picks, axis):
    shape = [4, 4, 4]
    shape[axis] = 4
    ours, theirs = _both(tuple(shape), axis, picks)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_negative_positions_in_getitem_add_up_with_positive_ones():
    data = np.arange(12.0).reshape(3, 4)
    x = cr.tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    x[:, np.array([-1, 3, 0, -4])].sum().backward()
    t[:, torch.tensor([-1, 3, 0, -4])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_many_repeats_of_one_position():
    picks = [1] * 40 + [0] * 3
    ours, theirs = _both((2, 5), 1, picks, dtype=np.float32)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_a_negative_zero_gradient_arrives_as_positive_zero_as_in_pytorch():
    x = cr.tensor(np.ones((2, 3)), requires_grad=True)
    t = torch.ones((2, 3), dtype=torch.float64, requires_grad=True)
    upstream = np.full((2, 4), -0.0)
    x[:, np.array([0, 0, 2, 1])].backward(cr.tensor(upstream))
    t[:, torch.tensor([0, 0, 2, 1])].backward(torch.tensor(upstream))
    assert not np.signbit(x.grad.numpy()).any()
    assert not np.signbit(t.grad.numpy()).any()


def test_nearest_upsampling_gradient_matches_pytorch_in_float32():
    rng = np.random.default_rng(1)
    data = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    x = cr.tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    y = cr.nn.functional.interpolate(x, scale_factor=3, mode="nearest")
    expected = torch.nn.functional.interpolate(t, scale_factor=3, mode="nearest")
    weights = rng.standard_normal(expected.shape).astype(np.float32)
    (y * cr.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(y.numpy(), expected.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16])
def test_small_integer_positions_past_their_dtypes_range_get_their_gradient(dtype):
    picks = np.array([120, 5, 0, 120], dtype=dtype)
    x = cr.tensor(np.ones((2, 300)), requires_grad=True)
    t = torch.ones((2, 300), dtype=torch.float64, requires_grad=True)
    x[:, picks].sum().backward()
    t[:, torch.tensor(picks.astype(np.int64))].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
