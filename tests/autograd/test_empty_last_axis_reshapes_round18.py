"""Ops that flatten leading axes with ``reshape(-1, n)`` crashed with NumPy's "cannot
reshape array of size 0" when n was 0 (or, for searchsorted, when there were no rows):
-1 cannot be inferred from a size of 0. PyTorch gives empty results and gradients."""

from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F


@pytest.mark.parametrize(
    ("x_shape", "w_shape"),
    [((2, 3, 4), (0, 4)), ((2, 3, 0), (5, 0)), ((2, 3, 0), (0, 0)), ((2, 0, 3, 4), (0, 4))],
)
def test_linear_backward_with_an_empty_last_axis_matches_pytorch(
    x_shape: tuple[int, ...], w_shape: tuple[int, int]
) -> None:
    torch = pytest.importorskip("torch")
    results = []
    for m, functional in ((cr, F), (torch, torch.nn.functional)):
        x = m.ones(x_shape, requires_grad=True)
        w = m.ones(w_shape, requires_grad=True)
        b = m.ones(w_shape[0], requires_grad=True)
        functional.linear(x, w, b).sum().backward()
        results.append([np.asarray(t.grad.tolist()).reshape(t.shape) for t in (x, w, b)])
    for ours, theirs in zip(*results, strict=True):
        assert ours.shape == theirs.shape
        np.testing.assert_array_equal(ours, theirs)


def _as_list(t: Any) -> Any:
    return np.asarray(t.tolist())


@pytest.mark.parametrize(
    ("call", "shapes"),
    [
        ("inner", [(2, 3, 0), (4, 0)]),
        ("searchsorted", [(2, 0), (2, 3)]),
        ("searchsorted", [(0, 3), (0, 2)]),
        ("searchsorted", [(2, 2, 0), (2, 2, 1)]),
    ],
)
def test_empty_operands_match_pytorch(call: str, shapes: list[tuple[int, ...]]) -> None:
    torch = pytest.importorskip("torch")
    ours = getattr(cr, call)(*(cr.ones(s) for s in shapes))
    theirs = getattr(torch, call)(*(torch.ones(s) for s in shapes))
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == np.dtype(str(theirs.dtype).removeprefix("torch."))
    np.testing.assert_array_equal(_as_list(ours), _as_list(theirs))
