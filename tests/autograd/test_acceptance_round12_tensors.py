"""Acceptance round 12: tensor code as PyTorch users write it, run on chainrule and PyTorch.

Each case is one snippet, written once against a module named ``torch`` and run twice: with
PyTorch and with chainrule in its place. Values, dtypes, shapes and gradients must agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import ops

torch = pytest.importorskip("torch")

NAN = float("nan")
INF = float("inf")


class _Chainrule:
    """chainrule, standing in for ``torch`` in a snippet: its public names, plus the
    functions this round added to ``chainrule.autograd.ops`` that the package does not
    re-export yet."""

    def __getattr__(self, name: str) -> Any:
        return getattr(cr, name) if hasattr(cr, name) else getattr(ops, name)


def _flat(result: Any) -> list[Any]:
    if isinstance(result, tuple | list):
        return [item for part in result for item in _flat(part)]
    return [result]


def _as_numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, cr.Tensor):
        return np.asarray(value.data)
    return value


def _same(expected: Any, got: Any) -> None:
    expected, got = _as_numpy(expected), _as_numpy(got)
    if isinstance(expected, np.ndarray):
        assert isinstance(got, np.ndarray), f"expected an array, got {got!r}"
        assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
        assert got.shape == expected.shape, (got.shape, expected.shape)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6, equal_nan=True)
    else:
        assert got == expected


def _compare(snippet: Callable[[Any], Any]) -> None:
    """Run ``snippet(torch)`` and ``snippet(chainrule)``; every result must agree."""
    expected, got = _flat(snippet(torch)), _flat(snippet(_Chainrule()))
    assert len(got) == len(expected)
    for e, g in zip(expected, got, strict=True):
        _same(e, g)


def _grads(make: Callable[[Any], tuple[list[Any], Any]]) -> Callable[[Any], Any]:
    """A snippet that builds leaves and a scalar loss, and returns the loss and the
    leaves' gradients after backward."""

    def run(t: Any) -> Any:
        leaves, loss = make(t)
        loss.backward()
        return [loss, *(leaf.grad for leaf in leaves)]

    return run


def _leaf(t: Any, values: Any) -> Any:
    return t.tensor(values, requires_grad=True)


# --------------------------------------------------------------------- var and std
@pytest.mark.parametrize(
    "snippet",
    [
        lambda t, x: x.var(0, False),
        lambda t, x: x.std(1, True, True),
        lambda t, x: t.var(x, 1, False, True),
        lambda t, x: t.std(x, 0, False),
        lambda t, x: x.std(1, keepdim=True),
        lambda t, x: x.var(dim=0, unbiased=False),
    ],
    ids=["var_0_False", "std_1_True_True", "var_fn", "std_fn", "std_keepdim", "var_names"],
)
def test_var_std_take_unbiased_as_second_positional_argument(snippet: Any) -> None:
    # PyTorch's var(dim, unbiased, keepdim): x.var(0, False) is the population variance.
    values = [[1.0, 5.0, 3.0], [4.0, 2.0, 7.0]]
    _compare(_grads(lambda t: ([x := _leaf(t, values)], snippet(t, x).sum())))


# --------------------------------------------------------------------- cat
def test_cat_skips_empty_1d_tensors_beside_other_ranks() -> None:
    def snippet(t: Any) -> Any:
        a = _leaf(t, [[1.0, 2.0], [3.0, 4.0]])
        accumulated = t.tensor([])
        for k in range(3):
            accumulated = t.cat([accumulated, a * k])
        mixed = t.cat((t.zeros(0), t.ones(2, 3, dtype=t.int64)))
        (accumulated * t.arange(12.0).reshape(6, 2)).sum().backward()
        return accumulated, mixed, t.cat([t.zeros(0), t.zeros(0)]), a.grad

    _compare(snippet)


# --------------------------------------------------------------------- einsum
@pytest.mark.parametrize(
    ("equation", "shapes"),
    [
        ("ii", [(3, 3)]),
        ("ii->i", [(3, 3)]),
        ("bii->bi", [(2, 3, 3)]),
        ("...ii->...i", [(2, 3, 3)]),
        ("iii->i", [(3, 3, 3)]),
        ("iji->j", [(3, 2, 3)]),
        ("iij,jk->ik", [(3, 3, 2), (2, 4)]),
        ("ii,jj->ij", [(2, 2), (3, 3)]),
    ],
)
def test_einsum_repeated_index_takes_the_diagonal(
    equation: str, shapes: list[tuple[int, ...]]
) -> None:
    rng = np.random.default_rng(12)
    arrays = [rng.standard_normal(s) for s in shapes]

    def snippet(t: Any) -> Any:
        leaves = [_leaf(t, a) for a in arrays]
        out = t.einsum(equation, *leaves)
        (out * out).sum().backward()
        return [out, *(leaf.grad for leaf in leaves)]

    _compare(snippet)


def test_einsum_repeated_index_of_different_sizes_is_refused() -> None:
    with pytest.raises(ValueError, match="repeated in 'ii' names axes of different sizes 2 and 3"):
        cr.einsum("ii", cr.ones(2, 3))


# --------------------------------------------------------------------- diagonal
@pytest.mark.parametrize(
    ("shape", "args"),
    [
        ((3, 3), ()),
        ((3, 4), (1,)),
        ((3, 4), (-1,)),
        ((3, 4), (5,)),
        ((2, 3, 4), (0, 1, 2)),
        ((2, 3, 4), (1, 2, 0)),
        ((2, 3, 4), (-1, -1, 0)),
    ],
)
def test_diagonal_matches_pytorch_with_gradient(
    shape: tuple[int, ...], args: tuple[int, ...]
) -> None:
    values = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)

    def snippet(t: Any) -> Any:
        x = _leaf(t, values)
        out = x.diagonal(*args)
        (out * out).sum().backward()
        return out, x.grad, t.tensor(values.astype(np.int64)).diagonal(*args)

    _compare(snippet)


def test_diagonal_errors_say_what_was_expected() -> None:
    with pytest.raises(ValueError, match="at least 2 dimensions, got"):
        cr.arange(3).diagonal()
    with pytest.raises(ValueError, match="two different dimensions, got 1 and 1"):
        cr.ones(2, 3).diagonal(0, 1, 1)


# --------------------------------------------------------------------- kthvalue, cummax, cummin
def test_kthvalue_values_indices_and_gradient() -> None:
    def snippet(t: Any) -> Any:
        x = _leaf(t, [[3.0, 1.0, 2.0], [5.0, 0.0, 4.0]])
        values, indices = x.kthvalue(2, dim=1)
        kept = x.kthvalue(1, 0, True)
        (values * t.tensor([1.0, 2.0])).sum().backward()
        with_nan = t.tensor([3.0, NAN, 2.0]).kthvalue(3)
        return values, indices, tuple(kept), x.grad, tuple(with_nan)

    _compare(snippet)


def test_kthvalue_k_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"kthvalue: expected k in \[1, 3\].*got 4"):
        cr.tensor([3.0, 1.0, 2.0]).kthvalue(4)


def test_cummax_cummin_values_indices_and_gradient() -> None:
    def snippet(t: Any) -> Any:
        x = _leaf(t, [1.0, 3.0, 3.0, 2.0, 5.0, 0.0])
        values, indices = x.cummax(0)
        (values * t.arange(6.0)).sum().backward()
        return (
            values,
            indices,
            x.grad,
            tuple(t.cummax(t.tensor([1.0, 3.0, NAN, 5.0]), 0)),
            tuple(t.tensor([[3, 1, 1, 2], [0, 4, -1, -1]]).cummin(1)),
            tuple(t.tensor([[3, 1], [1, 2], [5, 0]]).cummax(dim=0)),
            tuple(t.tensor([False, True, False]).cummax(0)),
        )

    _compare(snippet)


# --------------------------------------------------------------------- NaN handling
def test_nansum_nanmean_nan_to_num_values_and_gradients() -> None:
    def snippet(t: Any) -> Any:
        x = _leaf(t, [[1.0, NAN, INF], [3.0, 4.0, -INF]])
        y = _leaf(t, [[1.0, NAN], [2.0, 6.0]])
        replaced = x.nan_to_num()
        # clamped first: a sum holding both float32 extremes depends on the order of adding
        loss = replaced.clamp(-10, 10).sum() + x.nan_to_num(0.5, 9.0, -9.0).sum() * 2
        loss = loss + y.nansum() + (y.nanmean(1) * t.tensor([1.0, 2.0])).sum()
        loss.backward()
        return (
            loss,
            replaced,
            x.grad,
            y.grad,
            t.nansum(y, dim=1, keepdim=True),
            t.tensor([1, 2]).nansum(),
            t.tensor([NAN, NAN]).nanmean(),
            t.tensor([1.0, NAN, INF], dtype=t.float64).nan_to_num(),
            t.tensor([1, 2]).nan_to_num(),
        )

    _compare(snippet)


def test_nan_to_num_in_place() -> None:
    def snippet(t: Any) -> Any:
        x = t.tensor([1.0, NAN, -INF])
        return x.nan_to_num_(nan=-1.0), x

    _compare(snippet)


# --------------------------------------------------------------------- addcmul, addcdiv
def test_addcmul_addcdiv_with_gradients() -> None:
    def snippet(t: Any) -> Any:
        a = _leaf(t, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        b = _leaf(t, [2.0, 3.0, 0.5])
        c = _leaf(t, [[4.0], [5.0]])
        out = a.addcmul(b, c, value=0.5) + t.addcdiv(a, b, c, value=-2)
        y = a * 1
        y.addcmul_(b, c).addcdiv_(c, b, value=3)
        (out.sum() + (y * y).sum()).backward()
        return out, y, a.grad, b.grad, c.grad

    _compare(snippet)


def test_adam_written_out_with_in_place_updates() -> None:
    # The update of torch.optim.Adam's single-tensor loop, in the form tutorials copy.
    def snippet(t: Any) -> Any:
        p = t.tensor([1.0, -2.0, 0.5])
        m, v = t.zeros(3), t.zeros(3)
        for step in range(1, 4):
            g = p * p - 1
            m.mul_(0.9).add_(g, alpha=0.1)
            v.mul_(0.999).addcmul_(g, g, value=0.001)
            denominator = (v.sqrt() / (1 - 0.999**step) ** 0.5).add_(1e-8)
            p.addcdiv_(m, denominator, value=-0.01 / (1 - 0.9**step))
        return p, m, v

    _compare(snippet)


# --------------------------------------------------------------------- repeat_interleave, diff
def test_repeat_interleave_matches_pytorch() -> None:
    def snippet(t: Any) -> Any:
        x = _leaf(t, [1.0, 2.0])
        repeated = x.repeat_interleave(t.tensor([2, 3]))
        (repeated * t.arange(5.0)).sum().backward()
        grid = t.tensor([[1, 2], [3, 4]])
        return (
            repeated,
            x.grad,
            t.tensor([1, 2]).repeat_interleave(2),
            grid.repeat_interleave(3, dim=1),
            grid.repeat_interleave(t.tensor([1, 2]), dim=0),
            grid.repeat_interleave(2),
            t.tensor(3).repeat_interleave(2),
        )

    _compare(snippet)


def test_repeat_interleave_errors_say_what_was_expected() -> None:
    with pytest.raises(ValueError, match=r"expected 3 repeats .* or one, got 2"):
        cr.tensor([1, 2, 3]).repeat_interleave(cr.tensor([1, 2]))
    with pytest.raises(ValueError, match="expected repeats >= 0, got -1"):
        cr.tensor([1, 2]).repeat_interleave(-1)
    with pytest.raises(TypeError, match="expected repeats as an int or a 1-D integer tensor"):
        cr.tensor([1, 2]).repeat_interleave(1.5)


def test_diff_matches_pytorch() -> None:
    def snippet(t: Any) -> Any:
        x = _leaf(t, [1.0, 3.0, 6.0, 10.0])
        first = x.diff()
        (first * t.tensor([1.0, 2.0, 3.0])).sum().backward()
        return (
            first,
            x.grad,
            t.tensor([1, 3, 6, 10]).diff(n=2),
            t.tensor([[1.0, 3.0], [6.0, 10.0]]).diff(dim=0),
            t.diff(t.tensor([1.0, 3.0]), prepend=t.tensor([0.0]), append=t.tensor([20.0, 30.0])),
            t.tensor([True, True, False]).diff(),
            t.tensor([1.0, 3.0]).diff(n=3),
        )

    _compare(snippet)


# --------------------------------------------------------------------- take, take_along_dim
def test_take_and_take_along_dim_match_pytorch() -> None:
    def snippet(t: Any) -> Any:
        x = _leaf(t, [[10.0, 30.0, 20.0], [60.0, 40.0, 50.0]])
        ordered = x.take_along_dim(x.argsort(dim=1), dim=1)
        largest = t.take_along_dim(x, x.argmax(1, keepdim=True), 1)
        picked = x.take(t.tensor([[0, 5], [-1, 0]]))
        (ordered * t.arange(6.0).reshape(2, 3)).sum().add(largest.sum() + picked.sum()).backward()
        return (
            ordered,
            largest,
            picked,
            x.grad,
            x.take_along_dim(t.tensor([[0, 4]])),
            t.arange(6.0).reshape(1, 6).take_along_dim(t.tensor([[0], [3]]), 1),
        )

    _compare(snippet)


# --------------------------------------------------------------------- names, casts, in place
def test_method_aliases_and_casts() -> None:
    def snippet(t: Any) -> Any:
        x = t.tensor([5.0, -3.0])
        return (
            x.divide(2),
            x.true_divide(2),
            x.divide(2, rounding_mode="floor"),
            x.multiply(3),
            x.subtract(1, alpha=2),
            x.negative(),
            x.absolute(),
            x.remainder(2),
            x.floor_divide(2),
            t.ones(2, 3).ravel(),
            t.ones(2, 3).ndimension(),
            x.half(),
            x.type(),
            t.ones(2, dtype=t.int64).type(),
            t.ones(2, dtype=t.bool).type(),
            x.double().type(),
            x.type(t.DoubleTensor),
            x.type("torch.LongTensor"),
        )

    _compare(snippet)


def test_more_in_place_methods() -> None:
    def snippet(t: Any) -> Any:
        x = t.tensor([-2.5, 0.5, 1.7])
        results = [
            x.clone().floor_(),
            x.clone().ceil_(),
            x.clone().round_(),
            t.tensor([1.2345]).round_(decimals=2),
            x.clone().trunc_(),
            x.clone().sin_(),
            x.clone().cos_(),
            x.clone().square_(),
            x.clone().reciprocal_(),
            x.clone().sign_(),
            x.clone().clamp_min_(0),
            x.clone().clamp_max_(0),
            t.tensor([7.0, -7.0]).div_(2, rounding_mode="floor"),
            t.tensor([7, -7]).div_(2, rounding_mode="trunc"),
            t.tensor([7, -7]).square_(),
        ]
        leaf = _leaf(t, [1.5, -2.0])
        y = leaf * 2
        y.sin_()
        z = leaf * 3
        z.clamp_min_(0).square_()
        (y.sum() + z.sum()).backward()
        return [*results, y, z, leaf.grad]

    _compare(snippet)


def test_reshape_to_a_dtype_says_how_to_change_the_dtype() -> None:
    with pytest.raises(TypeError, match=r"reshape: expected integers, got .*use \.to\(dtype\)"):
        cr.arange(6.0).view(cr.int32)
    with pytest.raises(TypeError, match=r"reshape: expected integers, got \(2\.0, 3\)$"):
        cr.arange(6.0).reshape(2.0, 3)


def test_sign_keeps_its_input_in_the_graph_with_a_zero_gradient() -> None:
    # An input reached only through sign gets a zero gradient, not None.
    def snippet(t: Any) -> Any:
        x = _leaf(t, [1.5, -2.0, 0.0])
        y = _leaf(t, [2.0, 3.0, 4.0])
        (x.sign() * y).sum().backward()
        z = _leaf(t, [0.5, -0.5])
        (alone,) = t.autograd.grad(t.sign(z).sum(), z)
        return x.grad, y.grad, alone

    _compare(snippet)


def test_sign_of_nan_and_negative_zero_as_pytorch() -> None:
    values = [float("nan"), -0.0, 0.0, 2.5, -3.0, float("inf"), float("-inf")]
    ours = cr.sign(cr.tensor(values)).numpy()
    theirs = torch.sign(torch.tensor(values)).numpy()
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))  # +0.0 for -0.0
