"""Properties of the engine that must hold for every input, checked with hypothesis:
gradient shapes under broadcasting, accumulation, ``no_grad`` recording nothing, and
gradients of split pieces covering the whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import chainrule as cr
from chainrule import Tensor

try:
    import torch
except ImportError:  # the properties hold on their own; PyTorch only adds values to compare
    torch = None

SETTINGS = settings(max_examples=30, deadline=None)

BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "maximum": lambda a, b: cr.maximum(a, b) if isinstance(a, Tensor) else torch.maximum(a, b),
}

UNARY: dict[str, Callable[[Tensor], Tensor]] = {
    "x * x": lambda x: x * x,
    "exp": lambda x: x.exp(),
    "tanh": lambda x: x.tanh(),
    "sin * x": lambda x: x.sin() * x,
    "mean of square": lambda x: (x * x).mean(),
    "x @ x.T": lambda x: x @ x.T,
}

broadcastable_pairs = mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)


def draw_array(seed: int, shape: tuple[int, ...], away_from_zero: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.uniform(-2.0, 2.0, size=shape)
    if away_from_zero:
        values = np.sign(values + 1e-9) * (0.5 + np.abs(values))
    return values


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(shapes=broadcastable_pairs, seed=st.integers(0, 2**16))
def test_broadcast_gradients_have_the_input_shapes(name: str, shapes: Any, seed: int) -> None:
    (shape_a, shape_b), out_shape = shapes.input_shapes, shapes.result_shape
    a_data = draw_array(seed, shape_a)
    b_data = draw_array(seed + 1, shape_b, away_from_zero=True)
    a, b = cr.tensor(a_data, requires_grad=True), cr.tensor(b_data, requires_grad=True)
    out = BINARY[name](a, b)
    assert out.shape == out_shape
    out.sum().backward()
    assert a.grad is not None and b.grad is not None
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    assert a.grad.dtype == b.grad.dtype == np.float64
    if torch is not None:
        ta = torch.tensor(a_data, requires_grad=True)
        tb = torch.tensor(b_data, requires_grad=True)
        BINARY[name](ta, tb).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(
    shape=array_shapes(min_dims=2, max_dims=2, max_side=4),
    uses=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_a_tensor_used_k_times_gets_k_times_the_gradient(
    name: str, shape: tuple[int, ...], uses: int, seed: int
) -> None:
    fn = UNARY[name]
    data = draw_array(seed, shape)
    once = cr.tensor(data, requires_grad=True)
    fn(once).sum().backward()
    many = cr.tensor(data, requires_grad=True)
    total = fn(many).sum()
    for _ in range(uses - 1):
        total = total + fn(many).sum()
    total.backward()
    assert once.grad is not None and many.grad is not None
    np.testing.assert_allclose(many.grad.numpy(), uses * once.grad.numpy(), rtol=1e-12)
    # The same holds across backward calls: k backward passes accumulate k gradients.
    again = cr.tensor(data, requires_grad=True)
    for _ in range(uses):
        fn(again).sum().backward()
    assert again.grad is not None
    np.testing.assert_allclose(again.grad.numpy(), uses * once.grad.numpy(), rtol=1e-12)


@SETTINGS
@given(
    shapes=broadcastable_pairs,
    name=st.sampled_from(sorted(BINARY) + sorted(UNARY)),
    seed=st.integers(0, 2**16),
)
def test_no_grad_records_nothing(shapes: Any, name: str, seed: int) -> None:
    shape_a, shape_b = shapes.input_shapes
    a = cr.tensor(draw_array(seed, shape_a), requires_grad=True)
    b = cr.tensor(draw_array(seed + 1, shape_b, away_from_zero=True), requires_grad=True)
    with cr.no_grad():
        if name in BINARY:
            out = BINARY[name](a, b)
        else:
            out = UNARY[name](cr.tensor(draw_array(seed, (3, 2)), requires_grad=True))
        reduced = out.sum()
    for result in [out, reduced]:
        assert not result.requires_grad
        assert result._ctx is None and result.grad_fn is None and result.is_leaf
    assert a.grad is None and b.grad is None


@SETTINGS
@given(
    shape=array_shapes(min_dims=1, max_dims=3, max_side=5),
    data=st.data(),
)
def test_gradients_of_split_pieces_cover_the_tensor(shape: tuple[int, ...], data: Any) -> None:
    axis = data.draw(st.integers(0, len(shape) - 1), label="axis")
    size = data.draw(st.integers(1, shape[axis]), label="split size")
    x = cr.tensor(np.arange(np.prod(shape), dtype=np.float64).reshape(shape), requires_grad=True)
    pieces = x.split(size, axis=axis)
    assert sum(p.shape[axis] for p in pieces) == shape[axis]
    np.testing.assert_array_equal(cr.cat(pieces, axis=axis).numpy(), x.numpy())
    total = pieces[0].sum()
    for piece in pieces[1:]:
        total = total + piece.sum()
    total.backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(shape))
