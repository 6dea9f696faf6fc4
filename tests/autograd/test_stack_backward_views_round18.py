"""Stack's backward hands each input a view of the upstream gradient, not a copy: after
``.sum()`` or ``.mean()`` that gradient is a stride-0 broadcast, and a copy per piece made
stacking n pieces cost n times the whole gradient (quadratic in n)."""

from types import SimpleNamespace

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.ops.shape import Stack


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_stack_backward_pieces_are_views_of_a_broadcast_gradient(axis: int) -> None:
    grad = np.broadcast_to(np.float64(1.0), (4, 5, 6))  # what .sum() sends back
    *pieces, axis_grad = Stack.backward(SimpleNamespace(axis=axis), grad)  # type: ignore[arg-type]
    assert axis_grad is None
    assert len(pieces) == grad.shape[axis]
    for piece in pieces:
        assert piece.shape == tuple(n for i, n in enumerate(grad.shape) if i != axis)
        assert np.shares_memory(piece, grad)  # a view; a copy would hold the whole slice


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
@pytest.mark.parametrize("reduce", ["sum", "mean", "weighted"])
def test_stack_gradients_match_pytorch(dim: int, reduce: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(3, 4)) for _ in range(5)]
    weights = rng.normal(size=np.stack(arrays, axis=dim).shape)
    grads = []
    for m in (cr, torch):
        xs = [m.tensor(a, requires_grad=True) for a in arrays]
        y = m.stack([x * 2.0 for x in xs], dim=dim)
        if reduce == "sum":
            y.sum().backward()
        elif reduce == "mean":
            y.mean().backward()
        else:
            (y * m.tensor(weights)).sum().backward()
        grads.append([np.asarray(x.grad.tolist()) for x in xs])
    for ours, theirs in zip(*grads, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def test_many_stacked_pieces_under_a_sum_get_their_gradients() -> None:
    xs = [cr.tensor(np.full((8, 10), float(k)), requires_grad=True) for k in range(300)]
    (cr.stack(xs, dim=1) ** 2).sum().backward()
    for k, x in enumerate(xs):
        assert x.grad is not None
        np.testing.assert_array_equal(x.grad.numpy(), np.full((8, 10), 2.0 * k))
