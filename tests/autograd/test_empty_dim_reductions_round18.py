"""``dim=()`` means what PyTorch makes it mean in every reduction that takes ``dim``: every
axis (sum, mean, amax, amin, logsumexp, vector_norm, count_nonzero, std_mean, ...), except
any/all, which reduce none. Before, amax/amin (as methods), logsumexp, vector_norm,
count_nonzero, std_mean and var_mean returned the input unreduced (or NaN), and any/all
reduced everything."""

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

X = [[1.0, 5.0, -2.0], [3.0, 0.0, 2.0]]

CASES: dict[str, Callable[[Any, Any], Any]] = {
    "Tensor.amax": lambda m, x: x.amax(dim=()),
    "Tensor.amax by position": lambda m, x: x.amax(()),
    "Tensor.amin": lambda m, x: x.amin(dim=()),
    "Tensor.amin keepdim": lambda m, x: x.amin((), keepdim=True),
    "amax": lambda m, x: m.amax(x, dim=()),
    "linalg.vector_norm": lambda m, x: m.linalg.vector_norm(x, dim=()),
    "linalg.vector_norm by position": lambda m, x: m.linalg.vector_norm(x, 1, ()),
    "linalg.vector_norm -inf": lambda m, x: m.linalg.vector_norm(x, float("-inf"), dim=()),
    "linalg.vector_norm keepdim": lambda m, x: m.linalg.vector_norm(x, dim=(), keepdim=True),
    "norm": lambda m, x: m.norm(x, 1, dim=()),
    "count_nonzero": lambda m, x: m.count_nonzero(x, dim=()),
    "Tensor.count_nonzero": lambda m, x: x.count_nonzero(()),
    "std_mean": lambda m, x: m.std_mean(x, dim=()),
    "var_mean": lambda m, x: m.var_mean(x, ()),
    "std": lambda m, x: x.std(dim=()),
    "sum": lambda m, x: x.sum(dim=()),
    "nansum": lambda m, x: m.nansum(x, ()),
    "logsumexp keepdim": lambda m, x: m.logsumexp(x, dim=(), keepdim=True),
    "any": lambda m, x: m.any(x, dim=()),
    "Tensor.all keepdim": lambda m, x: x.all(dim=(), keepdim=True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_dim_empty_tuple_matches_pytorch(name: str) -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = (CASES[name](m, m.tensor(X)) for m in (cr, torch))
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
    else:
        ours, theirs = (ours,), (theirs,)
    for a, b in zip(ours, theirs, strict=True):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(np.asarray(a.tolist()), np.asarray(b.tolist()), rtol=1e-6)


def test_logsumexp_over_dim_empty_tuple_reduces_every_axis() -> None:
    # PyTorch reduces every axis with keepdim=True and, from a shape bug, raises without
    # it; here both give the one value.
    x = cr.tensor(X, requires_grad=True)
    y = cr.logsumexp(x, dim=())
    assert y.shape == ()
    np.testing.assert_allclose(y.item(), np.log(np.exp(X).sum()), rtol=1e-6)
    y.backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), np.exp(X) / np.exp(X).sum(), rtol=1e-6)


def test_gradient_of_amax_over_dim_empty_tuple_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")
    grads = []
    for m in (cr, torch):
        x = m.tensor([[1.0, 5.0], [5.0, 2.0]], requires_grad=True)
        x.amax(dim=()).backward()
        grads.append(np.asarray(x.grad.tolist()))
    np.testing.assert_allclose(grads[0], grads[1])


def test_numpy_axis_empty_tuple_still_reduces_none() -> None:
    # NumPy's word keeps NumPy's meaning: axis=() reduces no axis.
    x = cr.tensor(X)
    np.testing.assert_array_equal(cr.sum(x, ()).numpy(), np.sum(X, axis=()))
    np.testing.assert_array_equal(cr.amax(x, axis=()).numpy(), np.amax(X, axis=()))
