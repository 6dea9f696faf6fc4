"""Gradient clipping and flat parameter vectors (chainrule.nn.utils) against PyTorch."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)

SHAPES = [(4, 3), (3,), (2, 2, 2)]


def _pair(rng, dtype, scale=1.0, with_none=False):
    """The same parameters with the same gradients, in chainrule and in PyTorch."""
    torch = pytest.importorskip("torch")
    ours, theirs = [], []
    for i, shape in enumerate(SHAPES):
        data = rng.normal(size=shape).astype(dtype)
        p, q = cr.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
        if not (with_none and i == 1):
            grad = (scale * rng.normal(size=shape)).astype(dtype)
            p.grad, q.grad = cr.tensor(grad), torch.tensor(grad)
        ours.append(p)
        theirs.append(q)
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, -math.inf, 0.0])
@pytest.mark.parametrize("max_norm", [0.5, 100.0], ids=["clips", "leaves"])
def test_clip_grad_norm_matches_pytorch(norm_type, max_norm, dtype, rng):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(rng, dtype, with_none=True)
    our_norm = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    their_norm = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)

    rtol = 1e-12 if dtype == np.float64 else 1e-6
    assert isinstance(our_norm, cr.Tensor) and our_norm.shape == ()
    assert our_norm.dtype == dtype
    np.testing.assert_allclose(our_norm.item(), their_norm.item(), rtol=rtol)
    for p, q in zip(ours, theirs, strict=True):
        if q.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=rtol, atol=1e-7)
            assert p.grad.dtype == dtype


def test_clip_grad_norm_bounds_the_norm_and_accepts_one_tensor():
    w = cr.tensor([3.0, 4.0], requires_grad=True)
    w.grad = cr.tensor([30.0, 40.0])
    total = clip_grad_norm_(w, max_norm=5.0)  # a single tensor, as PyTorch allows
    assert total.item() == pytest.approx(50.0)
    assert float(np.linalg.norm(w.grad.data)) == pytest.approx(5.0, rel=1e-6)


def test_clip_grad_norm_with_no_gradients_returns_zero():
    total = clip_grad_norm_([cr.zeros(3, requires_grad=True)], 1.0)
    assert total.item() == 0.0


def test_clip_grad_norm_refuses_a_nonfinite_norm_when_asked():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    w.grad = cr.tensor([np.inf, 1.0])
    with pytest.raises(
        RuntimeError,
        match=re.escape(
            "clip_grad_norm_: the total norm of order 2.0 of the gradients is inf, so they "
            "cannot be clipped; pass error_if_nonfinite=False to scale them by it anyway"
        ),
    ):
        clip_grad_norm_([w], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(w.grad.data, [np.inf, 1.0])  # untouched


def test_clip_grad_norm_rejects_non_tensors():
    with pytest.raises(
        TypeError, match=re.escape("clip_grad_norm_: expected Tensors, got ndarray at position 0")
    ):
        clip_grad_norm_([np.zeros(3)], 1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_clip_grad_value_matches_pytorch(dtype, rng):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(rng, dtype, scale=2.0, with_none=True)
    grads = [p.grad for p in ours]
    assert clip_grad_value_(ours, 0.75) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.75)
    for p, q, g in zip(ours, theirs, grads, strict=True):
        if q.grad is None:
            assert p.grad is None
        else:
            assert p.grad is g  # clipped in place
            np.testing.assert_array_equal(p.grad.data, q.grad.numpy())
            assert np.abs(p.grad.data).max() <= 0.75


def test_parameters_to_vector_and_back_match_pytorch(rng):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(rng, np.float64)
    vec = parameters_to_vector(ours)
    np.testing.assert_array_equal(
        vec.data, torch.nn.utils.parameters_to_vector(theirs).detach().numpy()
    )
    assert vec.shape == (sum(int(np.prod(s)) for s in SHAPES),)

    new = cr.tensor(rng.normal(size=vec.shape))
    vector_to_parameters(new, ours)
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(torch.tensor(new.data), theirs)
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.data, q.detach().numpy())
    np.testing.assert_array_equal(parameters_to_vector(ours).data, new.data)


def test_parameters_to_vector_is_differentiable():
    a = cr.tensor([[1.0, 2.0]], requires_grad=True)
    b = cr.tensor([3.0], requires_grad=True)
    (parameters_to_vector([a, b]) * cr.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [[1.0, 10.0]])
    np.testing.assert_array_equal(b.grad.data, [100.0])


def test_vector_to_parameters_keeps_each_parameter_array_and_dtype():
    a = cr.zeros(2, 2, dtype=np.float32, requires_grad=True)
    data = a.data
    vector_to_parameters(cr.arange(4, dtype=np.float64), [a])
    assert a.data is data and a.dtype == np.float32
    np.testing.assert_array_equal(a.data, [[0, 1], [2, 3]])


def test_vector_to_parameters_errors():
    a, b = cr.zeros(2, 2), cr.zeros(3)
    with pytest.raises(
        TypeError, match=re.escape("vector_to_parameters: expected vec to be a Tensor, got ndarray")
    ):
        vector_to_parameters(np.zeros(7), [a, b])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "vector_to_parameters: expected a vector of shape (7,) for the parameters' 7 "
            "entries, got shape (6,)"
        ),
    ):
        vector_to_parameters(cr.zeros(6), [a, b])
    with pytest.raises(
        ValueError, match=re.escape("parameters_to_vector: expected at least one tensor, got none")
    ):
        parameters_to_vector([])
