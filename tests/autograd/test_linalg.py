"""``chainrule.linalg`` against ``torch.linalg``: values and gradients in float64, the
determinant of a singular matrix against finite differences, and the refusals."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 3, 4))
SQUARE = RNG.normal(size=(2, 3, 3)) + 3 * np.eye(3)


def same_as_torch(
    ours: Callable[..., Any], theirs: Callable[..., Any], *arrays: np.ndarray, grad: bool = True
) -> None:
    mine = [cr.tensor(a, requires_grad=grad) for a in arrays]
    reference = [torch.tensor(a, requires_grad=grad) for a in arrays]
    out, expected = ours(*mine), theirs(*reference)
    assert tuple(out.shape) == tuple(expected.shape)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), atol=1e-12)
    if grad:
        weights = np.random.default_rng(1).normal(size=tuple(out.shape))
        (out * cr.tensor(weights)).sum().backward()
        (expected * torch.tensor(weights)).sum().backward()
        for a, b in zip(mine, reference, strict=True):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, math.inf, -math.inf, -1, -2])
@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
def test_vector_norm(ord: float, dim: Any) -> None:
    same_as_torch(
        lambda x: cr.linalg.vector_norm(x, ord, dim=dim, keepdim=dim is not None),
        lambda x: torch.linalg.vector_norm(x, ord, dim=dim, keepdim=dim is not None),
        X,
    )


def test_vector_norm_zero_counts_the_nonzero_elements() -> None:
    x = np.array([[0.0, 1.5, 0.0], [2.0, -1.0, 3.0]])
    same_as_torch(
        lambda t: cr.linalg.vector_norm(t, 0, dim=1),
        lambda t: torch.linalg.vector_norm(t, 0, dim=1),
        x,
        grad=False,
    )


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf])
@pytest.mark.parametrize("dim", [(-2, -1), (2, 0)])
def test_matrix_norm(ord: Any, dim: tuple[int, int]) -> None:
    same_as_torch(
        lambda x: cr.linalg.matrix_norm(x, ord, dim=dim, keepdim=dim == (2, 0)),
        lambda x: torch.linalg.matrix_norm(x, ord, dim=dim, keepdim=dim == (2, 0)),
        X,
    )


@pytest.mark.parametrize(
    ("arguments", "array"),
    [
        ({}, X),
        ({"keepdim": True}, X),
        ({"ord": 3, "dim": 1}, X),
        ({"ord": "nuc"}, X[0]),
        ({"ord": math.inf}, X[0, 0]),
        ({"ord": 2, "dim": (0, 1)}, X),
    ],
)
def test_norm_picks_vector_or_matrix_norms_as_pytorch(
    arguments: dict[str, Any], array: Any
) -> None:
    same_as_torch(
        lambda x: cr.linalg.norm(x, **arguments), lambda x: torch.linalg.norm(x, **arguments), array
    )


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, -1, -3])
def test_matrix_power(n: int) -> None:
    same_as_torch(
        lambda a: cr.linalg.matrix_power(a, n),
        lambda a: torch.linalg.matrix_power(a, n),
        SQUARE,
        grad=n != 0,
    )
    same_as_torch(lambda a: a.matrix_power(n), lambda a: a.matrix_power(n), SQUARE, grad=n != 0)


def test_products() -> None:
    same_as_torch(
        lambda a, b, c: cr.linalg.multi_dot([a, b, c]),
        lambda a, b, c: torch.linalg.multi_dot([a, b, c]),
        RNG.normal(size=3),
        RNG.normal(size=(3, 4)),
        RNG.normal(size=4),
    )
    same_as_torch(
        cr.linalg.cross, torch.linalg.cross, RNG.normal(size=(4, 3)), RNG.normal(size=(1, 3))
    )
    same_as_torch(
        lambda a, b: cr.linalg.cross(a, b, dim=0),
        lambda a, b: torch.linalg.cross(a, b, dim=0),
        RNG.normal(size=(3, 4)),
        RNG.normal(size=(3, 4)),
    )
    same_as_torch(
        cr.linalg.vecdot, torch.linalg.vecdot, RNG.normal(size=(4, 3)), RNG.normal(size=3)
    )
    same_as_torch(
        lambda a: cr.linalg.diagonal(a, offset=1),
        lambda a: torch.linalg.diagonal(a, offset=1),
        X,
    )


def test_top_level_names_and_methods() -> None:
    same_as_torch(cr.det, torch.det, SQUARE)
    same_as_torch(cr.inverse, torch.inverse, SQUARE)
    same_as_torch(cr.logdet, torch.logdet, SQUARE)
    same_as_torch(lambda a: cr.slogdet(a)[1], lambda a: torch.slogdet(a)[1], SQUARE)
    same_as_torch(lambda a: a.inverse(), lambda a: a.inverse(), SQUARE)
    sign, _ = cr.slogdet(cr.tensor(-SQUARE[:, :, :1] * np.ones((1, 1, 3)) + 4 * np.eye(3)))
    assert sign.dtype == np.float64 and set(np.unique(sign.numpy())) <= {-1.0, 1.0}


def test_matrix_rank() -> None:
    low = RNG.normal(size=(3, 5, 2)) @ RNG.normal(size=(3, 2, 4))
    for options in ({}, {"atol": 1.0, "rtol": 0.0}, {"hermitian": False}):
        ours = cr.linalg.matrix_rank(cr.tensor(low), **options)
        theirs = torch.linalg.matrix_rank(torch.tensor(low), **options)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    symmetric = low[0] @ low[0].T
    assert int(cr.linalg.matrix_rank(cr.tensor(symmetric), hermitian=True)) == 2


@pytest.mark.parametrize(
    "matrix", [[[1.0, 2, 3], [2, 4, 6], [1, 0, 1]], [[1.0, 2, 3], [2, 4, 6], [3, 6, 9]]]
)
def test_determinant_gradient_of_a_singular_matrix_is_its_cofactors(matrix: Any) -> None:
    a = np.array(matrix)
    x = cr.tensor(a, requires_grad=True)
    cr.linalg.det(x).backward()
    h, expected = 1e-6, np.zeros_like(a)
    for index in np.ndindex(a.shape):
        up, down = a.copy(), a.copy()
        up[index] += h
        down[index] -= h
        expected[index] = (np.linalg.det(up) - np.linalg.det(down)) / (2 * h)
    np.testing.assert_allclose(x.grad.numpy(), expected, atol=1e-8)


def test_float32_in_float32_out() -> None:
    a = cr.tensor(SQUARE.astype(np.float32), requires_grad=True)
    for out in (cr.linalg.inv(a), cr.linalg.det(a), cr.linalg.matrix_norm(a, "nuc")):
        assert out.dtype == np.float32
        out.sum().backward()
        assert a.grad is not None and a.grad.dtype == np.float32


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: cr.linalg.inv(cr.ones(2, 3)), "expected a square matrix"),
        (lambda: cr.linalg.inv(cr.zeros(2, 2)), "expected an invertible matrix"),
        (lambda: cr.linalg.solve(cr.zeros(2, 2), cr.ones(2)), "expected an invertible A"),
        (lambda: cr.linalg.solve(cr.eye(3), cr.ones(2)), r"expected B of shape \(\.\.\., 3, k\)"),
        (lambda: cr.linalg.cholesky(-cr.eye(2)), "symmetric positive-definite"),
        (lambda: cr.linalg.matrix_norm(cr.ones(3)), "expected a matrix"),
        (lambda: cr.linalg.matrix_norm(cr.ones(2, 2), 3), "expected ord"),
        (lambda: cr.linalg.cross(cr.ones(4), cr.ones(4)), "expected size 3"),
        (lambda: cr.linalg.matrix_power(cr.ones(2, 2), 1.5), "expected an integer power"),
        (lambda: cr.linalg.norm(cr.ones(2, 2, 2), 2), "expected a 1-D or 2-D input"),
    ],
)
def test_refusals_say_what_was_expected(call: Callable[[], Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_log_determinant_of_a_singular_matrix_has_a_huge_gradient_not_an_error() -> None:
    a = cr.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=cr.float64, requires_grad=True)
    sign, log_abs = cr.linalg.slogdet(a)
    assert float(sign) == 0.0
    assert float(log_abs) == -math.inf
    log_abs.backward()
    assert a.grad is not None and np.abs(a.grad.numpy()).min() > 1e12


def test_logdet_of_a_negative_determinant_is_nan_with_zero_gradient() -> None:
    same_as_torch(cr.logdet, torch.logdet, np.array([[0.0, 1.0], [1.0, 0.0]]))


def test_constant_results_stay_in_the_graph_with_zero_gradient() -> None:
    a = cr.tensor(SQUARE[0], requires_grad=True)
    cr.linalg.matrix_power(a, 0).sum().backward()
    assert a.grad is not None and not a.grad.numpy().any()
    # vector_norm(a, 0) is in the graph too, but passes no gradient back, as PyTorch's
    # (tests/autograd/test_norm_and_operand_dtypes_round17.py).
