"""Products with an operand broadcast along its rows or columns (the gradient of a sum
reaches an op's backward as such a view): ``chainrule._blas.matmul`` gives NumPy's values,
and the backward passes of ops built on it give PyTorch's gradients."""

from __future__ import annotations

import numpy as np
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import _blas


def test_broadcast_matrices_multiply_to_numpys_values():
    rng = np.random.default_rng(0)
    full = rng.standard_normal((5, 7)).astype(np.float32)
    row = np.broadcast_to(rng.standard_normal((1, 7)).astype(np.float32), (5, 7))
    column = np.broadcast_to(rng.standard_normal((7, 1)).astype(np.float32), (7, 3))
    np.testing.assert_allclose(_blas.matmul(row, full.T), row.copy() @ full.T, rtol=1e-6)
    np.testing.assert_allclose(_blas.matmul(full, column), full @ column.copy(), rtol=1e-6)
    scalar = np.broadcast_to(np.float32(2.0), (4, 5))
    np.testing.assert_allclose(_blas.matmul(scalar, full), scalar.copy() @ full, rtol=1e-6)


def test_stacks_repeated_along_their_batch_axis_multiply_to_numpys_values():
    rng = np.random.default_rng(1)
    weights = np.broadcast_to(rng.standard_normal((1, 3, 4)), (6, 3, 4))
    stack = rng.standard_normal((6, 4, 2))
    np.testing.assert_allclose(_blas.matmul(weights, stack), weights.copy() @ stack)


def test_adaptive_average_pooling_gradient_of_a_sum_matches_pytorch():
    data = np.random.default_rng(2).standard_normal((2, 3, 50)).astype(np.float32)
    x = cr.tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    F.adaptive_avg_pool1d(x, 7).sum().backward()
    torch.nn.functional.adaptive_avg_pool1d(t, 7).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-7)
