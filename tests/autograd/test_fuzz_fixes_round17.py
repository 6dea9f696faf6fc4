"""Findings of a randomized differential hunt against PyTorch: splits as one node, 0-d
sign, var/std's bool overload, hypot and norm without overflow, chunk of an empty axis,
clamp's masks with tensor bounds, negative indices, and a few missing functions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.function import _OutputGrads

torch = pytest.importorskip("torch")


def grads_of(lib: Any, arrays: list[np.ndarray], fn: Any) -> tuple[Any, list[np.ndarray]]:
    """``fn`` of the arrays in ``lib`` (chainrule or torch), its sum's gradients."""
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    out.sum().backward()
    values = out.detach().numpy() if lib is torch else out.numpy()
    return values, [x.grad.numpy() for x in inputs]


def assert_like_torch(arrays: list[np.ndarray], fn: Any, torch_fn: Any = None) -> None:
    values, grads = grads_of(cr, arrays, fn)
    expected, expected_grads = grads_of(torch, arrays, torch_fn or fn)
    np.testing.assert_allclose(values, expected, rtol=1e-6, atol=0)
    for g, e in zip(grads, expected_grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=0)


# --------------------------------------------------------------------- 1. splits
@pytest.mark.parametrize(
    "pieces",
    [
        lambda x: x.unbind(0),
        lambda x: x.unbind(1),
        lambda x: x.split(2),
        lambda x: x.split([1, 0, 3], 1),
        lambda x: x.chunk(3, 1),
        lambda x: x.tensor_split(3),
        lambda x: x.tensor_split([1, 3], 1),
    ],
)
def test_split_pieces_gradients_match_torch_with_unused_pieces(pieces: Any) -> None:
    def fn(x: Any) -> Any:
        parts = pieces(x * 1)  # through an interior node, not the leaf itself
        used = [(k + 1.0) * p.sum() for k, p in enumerate(parts) if k != 1]
        return used[0] + sum(used[1:]) if used else x.sum()

    assert_like_torch([np.arange(20.0).reshape(5, 4) - 7], fn)


def test_a_split_reaches_its_tensor_through_one_node_and_one_gradient() -> None:
    # The pieces' gradients meet at one node, whose backward builds one array of x's
    # shape: n pieces must not each send a full zeros array (quadratic time and memory).
    x = cr.ones(300, 2, requires_grad=True)
    rows = x.unbind(0)
    nodes = {id(r.grad_fn.next[0]) for r in rows}
    assert len(nodes) == 1
    calls = []
    split = rows[0].grad_fn.next[0].fn
    backward = split.backward

    def counted(ctx: Any, grad: Any) -> Any:
        calls.append(len(grad.parts))
        return backward(ctx, grad)

    split.backward = staticmethod(counted)
    try:
        cr.stack([r.sum() * k for k, r in enumerate(rows[:-1])]).sum().backward()
    finally:
        split.backward = staticmethod(backward)
    assert calls == [299]  # once, with every piece that got a gradient
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy()[:, 0], [*range(299), 0])


def test_gradients_bound_for_many_outputs_add_up_in_order() -> None:
    parts = [_OutputGrads({k % 3: np.array([float(k)])}) for k in range(7)]
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    assert list(total.parts) == [0, 1, 2]
    np.testing.assert_array_equal(total.parts[0], [0.0 + 3 + 6])
    np.testing.assert_array_equal(total.parts[1], [1.0 + 4])
    assert list(parts[0].parts) == [0]  # the terms are left as they were


def test_a_piece_is_a_view_and_refuses_a_recorded_in_place_change() -> None:
    x = cr.ones(3, 2, requires_grad=True)
    y = x * 1
    first = y.unbind(0)[0]  # y, held, would not see the change
    with pytest.raises(RuntimeError, match="view of another tensor"):
        first.mul_(2)


# --------------------------------------------------------------------- 2. sign of 0-d
@pytest.mark.parametrize("value", [-2.0, 0.0, -0.0, 3.5, math.nan, math.inf])
def test_sign_of_a_0d_tensor_matches_torch(value: float) -> None:
    x = cr.tensor(value, requires_grad=True)
    y = x.sign()
    expected = torch.tensor(value).sign()
    assert y.shape == ()
    np.testing.assert_array_equal(y.numpy(), expected.numpy())
    assert math.copysign(1, float(y)) == math.copysign(1, float(expected))  # -0.0 gives +0
    y.backward()
    assert x.grad is not None and float(x.grad) == 0.0


# --------------------------------------------------------------------- 3. var(unbiased)
@pytest.mark.parametrize("name", ["std", "var"])
@pytest.mark.parametrize("unbiased", [False, True])
def test_std_and_var_read_a_positional_bool_as_unbiased(name: str, unbiased: bool) -> None:
    a = np.array([[1.0, 2.0, 7.0], [3.0, 4.0, -1.0]])
    got = getattr(cr.tensor(a), name)(unbiased)
    expected = getattr(torch.tensor(a), name)(unbiased)
    assert got.shape == ()
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        getattr(cr, name)(cr.tensor(a), unbiased).numpy(), expected.numpy(), rtol=1e-12
    )


def test_a_bool_is_refused_as_an_axis() -> None:
    x = cr.ones(2, 3)
    with pytest.raises(TypeError, match="got a bool True as dim"):
        x.std(True, True)
    with pytest.raises(ValueError, match=r"axis must be an integer.*got True"):
        x.sum(True)
    with pytest.raises(ValueError, match=r"axis must be an integer.*got False"):
        x.var(dim=False)


# --------------------------------------------------------------------- 4. hypot, norm
def test_hypot_neither_overflows_nor_underflows() -> None:
    for a, b in [(3e20, 4e20), (3e-30, 4e-30)]:
        got = cr.hypot(cr.tensor([a]), cr.tensor([b]))
        expected = torch.hypot(torch.tensor([a]), torch.tensor([b]))
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)
        assert_like_torch(
            [np.array([a], np.float32), np.array([b], np.float32)], cr.hypot, torch.hypot
        )


def test_hypot_gradient_broadcasts_and_is_nan_at_the_origin_as_torch() -> None:
    a = np.array([[0.0, 3.0, -1.5], [2.0, 0.5, 4.0]])
    b = np.array([0.0, -4.0, 2.0])
    values, grads = grads_of(cr, [a, b], lambda x, y: x.hypot(y))
    expected, expected_grads = grads_of(torch, [a, b], lambda x, y: x.hypot(y))
    np.testing.assert_allclose(values, expected, rtol=1e-12)
    for g, e in zip(grads, expected_grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12)  # NaN where torch has NaN


def test_norm_of_one_large_element_is_its_size() -> None:
    x = cr.tensor([4e20], requires_grad=True)
    y = x.norm()
    y.backward()
    assert float(y) == pytest.approx(4e20, rel=1e-6)
    assert x.grad is not None and float(x.grad[0]) == pytest.approx(1.0)
    normalized = cr.nn.functional.normalize(cr.tensor([[1e30]]))
    np.testing.assert_allclose(normalized.numpy(), [[1.0]])


def test_norm_scales_where_the_squares_overflow_or_underflow() -> None:
    for scale in (1e30, 1e-30):
        x = cr.tensor(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32) * scale)
        np.testing.assert_allclose(
            x.norm(dim=1).numpy(), np.array([math.sqrt(5), 5.0]) * scale, rtol=1e-6
        )
    # zeros, inf and NaN stay as they were
    x = cr.tensor([[0.0, 0.0], [math.inf, 1.0], [math.nan, 1.0]])
    np.testing.assert_array_equal(x.norm(dim=1).numpy(), [0.0, math.inf, math.nan])


# --------------------------------------------------------------------- 5. chunk counts
@pytest.mark.parametrize(("length", "chunks"), [(0, 2), (0, 1), (6, 4), (5, 3), (7, 7), (3, 5)])
def test_chunk_gives_as_many_pieces_as_torch(length: int, chunks: int) -> None:
    got = [p.shape for p in cr.zeros(length, 2).chunk(chunks)]
    expected = [tuple(p.shape) for p in torch.zeros(length, 2).chunk(chunks)]
    assert got == expected


# --------------------------------------------------------------------- 6. *_mean
@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
def test_var_mean_and_std_mean_take_unbiased(name: str) -> None:
    a = np.array([[1.0, 2.0, 7.0], [3.0, 4.0, -1.0]])
    calls = [
        ((False,), {}),
        ((1, False), {}),
        ((), {"unbiased": False}),
        ((0,), {"unbiased": True, "keepdim": True}),
        ((), {"dim": 1, "correction": 0}),
    ]
    for args, kwargs in calls:
        got = getattr(cr, name)(cr.tensor(a), *args, **kwargs)
        expected = getattr(torch, name)(torch.tensor(a), *args, **kwargs)
        for g, e in zip(got, expected, strict=True):
            assert g.shape == tuple(e.shape)
            np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-12)


# --------------------------------------------------------------------- 7. clamp, tensor bounds
def test_clamp_with_tensor_bounds_follows_torch_masks() -> None:
    nan = math.nan
    x = np.array([0.0, 1, 2, 3, nan, 1, 1, 5, 0.5])
    low = np.array([1.0, 1, 1, 4, 0, nan, 2, 1, 0])
    high = np.array([1.0, 1, 1, 2, 3, 2, nan, 3, 1])
    for fn in (
        lambda x, lo, hi: x.clamp(lo, hi),
        lambda x, lo, hi: x.clamp(min=lo) + 0 * hi,
        lambda x, lo, hi: x.clamp(max=hi) + 0 * lo,
    ):
        values, grads = grads_of(cr, [x, low, high], fn)
        expected, expected_grads = grads_of(torch, [x, low, high], fn)
        np.testing.assert_array_equal(values, expected)
        for g, e in zip(grads, expected_grads, strict=True):
            np.testing.assert_array_equal(g, e)


def test_clamp_bounds_may_broadcast_beyond_the_input_as_in_torch() -> None:
    assert_like_torch([np.array([0.5, -1.0, 2.0]), np.zeros((2, 3))], lambda x, lo: x.clamp(min=lo))


def test_clamp_with_integer_input_and_float_bounds_is_float32() -> None:
    y = cr.clamp(cr.tensor([1, 5, 9]), cr.tensor([2.5, 2.5, 2.5]))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), [2.5, 5, 9])


# --------------------------------------------------------------------- 8. negative indices
def test_index_fill_and_take_along_dim_count_negative_indices_from_the_end() -> None:
    a = np.arange(12.0).reshape(3, 4)
    assert_like_torch(
        [a],
        lambda x: x.index_fill(1, cr.tensor([-1, 0]), -5.0),
        lambda x: x.index_fill(1, torch.tensor([-1, 0]), -5.0),
    )
    assert_like_torch(
        [a],
        lambda x: cr.take_along_dim(x, cr.tensor([[-1], [0], [-4]]), 1),
        lambda x: torch.take_along_dim(x, torch.tensor([[-1], [0], [-4]]), 1),
    )
    with pytest.raises(IndexError, match=r"index_fill: index values must be in \[-4, 3\]"):
        cr.tensor(a).index_fill(1, cr.tensor([-5]), 0.0)
    with pytest.raises(IndexError, match=r"take_along_dim: index values must be in \[-4, 3\]"):
        cr.take_along_dim(cr.tensor(a), cr.tensor([[4], [0], [0]]), 1)
    with pytest.raises(IndexError, match=r"index_select: index values must be in \[0, 3\]"):
        cr.tensor(a).index_select(1, cr.tensor([-1]))  # refused by PyTorch too


# --------------------------------------------------------------------- 9. missing functions
def test_frac_tile_and_msort_match_torch() -> None:
    a = np.array([[2.5, -2.5, 0.25], [-1.75, 3.0, 7.5]])
    assert_like_torch([a], cr.frac, torch.frac)
    assert_like_torch([a], lambda x: x.frac())
    assert_like_torch([a], lambda x: cr.tile(x, (2, 1, 2)), lambda x: torch.tile(x, (2, 1, 2)))
    assert_like_torch([a], cr.msort, torch.msort)
    assert_like_torch([a], lambda x: x.msort())
    with pytest.raises(TypeError, match="frac: expected a floating-point tensor"):
        cr.frac(cr.tensor([1, 2]))


def test_mode_values_indices_and_gradient_match_torch() -> None:
    a = np.array([[1.0, 2, 2, 1, 3], [5, 5, 4, 4, 4], [3, 1, 2, 0, 7]])
    for dim, keepdim in [(-1, False), (0, False), (1, True)]:
        got = cr.mode(cr.tensor(a), dim, keepdim)
        expected = torch.mode(torch.tensor(a), dim, keepdim)
        np.testing.assert_array_equal(got.values.numpy(), expected.values.numpy())
        np.testing.assert_array_equal(got.indices.numpy(), expected.indices.numpy())
    assert_like_torch([a], lambda x: x.mode(1).values)
    with pytest.raises(ValueError, match="mode: cannot reduce an empty axis"):
        cr.mode(cr.zeros(0))


def test_index_put_matches_torch_with_and_without_accumulate() -> None:
    a = np.arange(12.0).reshape(3, 4)
    v = np.array([1.0, 2.0, 3.0])
    rows, cols = [0, 0, -1], [1, 1, 2]
    for accumulate in (False, True):
        assert_like_torch(
            [a, v],
            lambda x, w, acc=accumulate: (
                x.index_put((cr.tensor(rows), cr.tensor(cols)), w, accumulate=acc) * cr.tensor(a)
            ),
            lambda x, w, acc=accumulate: (
                x.index_put((torch.tensor(rows), torch.tensor(cols)), w, accumulate=acc)
                * torch.tensor(a)
            ),
        )
    q = cr.zeros(3, 4)
    q.index_put_((cr.tensor([0, 2]),), cr.tensor(5.0))
    np.testing.assert_array_equal(
        q.numpy(), torch.zeros(3, 4).index_put_((torch.tensor([0, 2]),), torch.tensor(5.0))
    )


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib, a, b: a << b,
        lambda lib, a, b: a >> b,
        lambda lib, a, b: lib.bitwise_left_shift(a, b),
        lambda lib, a, b: lib.bitwise_right_shift(a, b),
        lambda lib, a, b: a.bitwise_left_shift(b),
        lambda lib, a, b: 100 >> a,
    ],
)
@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.uint8])
def test_shifts_match_torch_out_of_range_counts_included(fn: Any, dtype: Any) -> None:
    a = np.array([1, 5, 100, 3, 7, 2], dtype=dtype)
    if dtype != np.uint8:
        a[-1] = -8
    counts = np.array([0, 1, 7, 9, 64, 70])
    for b in (counts, 3, 9):
        got = fn(cr, cr.tensor(a), cr.tensor(b) if isinstance(b, np.ndarray) else b)
        expected = fn(torch, torch.tensor(a), torch.tensor(b) if isinstance(b, np.ndarray) else b)
        assert got.dtype == np.dtype(str(expected.dtype).removeprefix("torch."))
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    with pytest.raises(TypeError, match="bitwise_left_shift: expected integer operands"):
        cr.tensor([1.0]) << 1


def test_norm_takes_zero_negative_infinity_and_nuclear_orders() -> None:
    a = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -4.0]])
    for p in (0, -math.inf, -1, math.inf):
        got, expected = cr.tensor(a).norm(p), torch.tensor(a).norm(p)
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)
        np.testing.assert_allclose(
            cr.norm(cr.tensor(a), p, 1).numpy(), torch.norm(torch.tensor(a), p, 1).numpy()
        )
    assert_like_torch([a], lambda x: x.norm(-math.inf))
    assert_like_torch([a], lambda x: x.norm("nuc"))
    with pytest.raises(ValueError, match="norm: ord='nuc' needs a matrix"):
        cr.ones(2, 2, 2).norm("nuc")
    with pytest.raises(ValueError, match="norm: ord must be a number"):
        cr.ones(2).norm("max")
