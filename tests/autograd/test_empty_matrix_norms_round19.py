"""Matrix norms of matrices with no rows or no columns, against PyTorch: 0 where the largest
of no values is asked for (ord 1, inf, 2), refused where the smallest is."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

ORDS = [1, -1, math.inf, -math.inf, 2, -2, "fro", "nuc"]
SHAPES = [(4, 0), (0, 4), (0, 0), (3, 4, 0), (3, 0, 4), (0, 4, 5)]


def _outcome(lib, call):
    try:
        return call(lib).numpy()
    except (RuntimeError, IndexError, ValueError):
        return "refused"


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ord", ORDS)
def test_matrix_norm_of_empty_matrices_as_pytorch(ord, shape, keepdim):
    def call(lib):
        return lib.linalg.matrix_norm(lib.zeros(*shape), ord=ord, keepdim=keepdim)

    expected, got = _outcome(torch, call), _outcome(cr, call)
    if isinstance(expected, str):
        assert got == expected
    else:
        assert not isinstance(got, str), f"refused where PyTorch gives {expected}"
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("shape", [(4, 0), (0, 4)])
@pytest.mark.parametrize("ord", [1, -1, math.inf, -math.inf])
def test_linalg_norm_over_two_axes_of_an_empty_matrix_as_pytorch(ord, shape):
    def call(lib):
        return lib.linalg.norm(lib.zeros(*shape), ord=ord, dim=(0, 1))

    expected, got = _outcome(torch, call), _outcome(cr, call)
    if isinstance(expected, str):
        assert got == expected
    else:
        np.testing.assert_array_equal(got, expected)


def test_the_norm_of_a_matrix_with_no_columns_is_zero_with_a_gradient():
    a = cr.zeros(3, 4, 0, requires_grad=True)
    result = cr.linalg.matrix_norm(a, ord=1)
    np.testing.assert_array_equal(result.numpy(), np.zeros(3, dtype=np.float32))
    result.sum().backward()
    assert a.grad.shape == (3, 4, 0)


@pytest.mark.parametrize(
    ("ord", "shape", "message"),
    [
        (
            -1,
            (4, 0),
            r"ord=-1 takes the smallest column sum; expected matrices with at least one "
            r"column, got shape \(4, 0\)",
        ),
        (
            -math.inf,
            (0, 4),
            r"ord=-inf takes the smallest row sum; expected matrices with at least one row",
        ),
        (-2, (4, 0), r"ord=-2 takes the smallest singular value"),
    ],
)
def test_the_smallest_of_no_values_is_refused_with_a_message(ord, shape, message):
    with pytest.raises(ValueError, match=f"matrix_norm: {message}"):
        cr.linalg.matrix_norm(cr.zeros(*shape), ord=ord)
