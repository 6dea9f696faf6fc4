"""Round 16: logcumsumexp, renorm, inner, vdot, broadcast_tensors, nanmedian,
scatter_reduce, masked_scatter, squeeze_/unsqueeze_ and round(t, n), against PyTorch 2.13's
values and gradients (float64 and float32), with dtypes, broadcasting, dims, edge cases and
errors."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

INF, NAN = math.inf, math.nan
FLOATS = [np.float64, np.float32]
TOLERANCE = {np.float64: {"rtol": 1e-10, "atol": 1e-12}, np.float32: {"rtol": 1e-5, "atol": 1e-6}}


def compare(
    ours: Callable[..., Any],
    theirs: Callable[..., Any],
    arrays: list[Any],
    upstream: Any = None,
    **tolerance: float,
) -> None:
    """Values, dtypes and the gradients of every input for a random upstream gradient (NaN
    where PyTorch's is NaN)."""
    arrays = [np.asarray(a) for a in arrays]
    tolerance = tolerance or TOLERANCE[arrays[0].dtype.type]
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours(*xs), theirs(*ts)
    assert y.shape == tuple(ty.shape)
    assert str(y.dtype) == str(ty.dtype).removeprefix("torch.")
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tolerance)
    if upstream is None:
        upstream = np.random.default_rng(0).standard_normal(y.shape)
    upstream = np.asarray(upstream, dtype=y.dtype)
    y.backward(cr.tensor(upstream))
    ty.backward(torch.tensor(upstream))
    for x, t in zip(xs, ts, strict=True):
        expected = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
        got = np.zeros(x.shape) if x.grad is None else x.grad.numpy()
        np.testing.assert_allclose(got, expected, **tolerance)


def normal(*shape: int, dtype: Any = np.float64, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# --------------------------------------------------------------------- logcumsumexp
@pytest.mark.parametrize("dtype", FLOATS, ids=["float64", "float32"])
@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_logcumsumexp_matches_torch_along_each_dim(dim: int, dtype: Any) -> None:
    x = normal(3, 4, 5, dtype=dtype) * 20  # exp overflows float32 at 89: stability counts
    compare(lambda t: cr.logcumsumexp(t, dim), lambda t: torch.logcumsumexp(t, dim), [x])
    compare(lambda t: t.logcumsumexp(dim), lambda t: t.logcumsumexp(dim), [x])


def test_logcumsumexp_of_huge_values_is_finite() -> None:
    x = cr.tensor([1000.0, 1000.0, -1000.0], dtype=cr.float32)
    y = cr.logcumsumexp(x, 0).numpy()
    np.testing.assert_allclose(y, [1000.0, 1000.0 + math.log(2), 1000.0 + math.log(2)])


def test_logcumsumexp_infinities_and_nan_as_torch() -> None:
    x = np.array([[0.0, -INF, 1.0], [INF, 2.0, -INF], [-INF, -INF, 0.0], [1.0, NAN, 2.0]])
    # NaN gradients where PyTorch's are NaN: a run of -inf, +inf, NaN
    compare(lambda t: cr.logcumsumexp(t, 1), lambda t: torch.logcumsumexp(t, 1), [x])
    compare(
        lambda t: cr.logcumsumexp(t, 1),
        lambda t: torch.logcumsumexp(t, 1),
        [x],
        upstream=np.array([[1.0, 0.0, -2.0]] * 4),
    )


def test_logcumsumexp_zero_dimensional_and_empty() -> None:
    compare(lambda t: cr.logcumsumexp(t, 0), lambda t: torch.logcumsumexp(t, 0), [np.float64(3.0)])
    compare(lambda t: t.logcumsumexp(-1), lambda t: t.logcumsumexp(-1), [np.zeros((2, 0))])
    assert cr.logcumsumexp(cr.zeros(0, 3), 0).shape == (0, 3)


def test_logcumsumexp_refuses_integers_and_bad_dims() -> None:
    with pytest.raises(TypeError, match="logcumsumexp: expected a floating-point tensor, got"):
        cr.logcumsumexp(cr.tensor([1, 2]), 0)
    with pytest.raises(ValueError, match=r"logcumsumexp: axis must be an integer in \[-2, 1\]"):
        cr.logcumsumexp(cr.zeros(2, 3), 2)


# --------------------------------------------------------------------- renorm
@pytest.mark.parametrize("dtype", FLOATS, ids=["float64", "float32"])
@pytest.mark.parametrize("p", [1, 2, 3.5, 0.5, INF])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_renorm_matches_torch(p: float, dim: int, dtype: Any) -> None:
    x = normal(3, 4, 2, dtype=dtype)
    compare(lambda t: cr.renorm(t, p, dim, 1.2), lambda t: torch.renorm(t, p, dim, 1.2), [x])
    compare(lambda t: t.renorm(p, dim, 0.0), lambda t: t.renorm(p, dim, 0.0), [x])


def test_renorm_leaves_small_slices_and_zeros_alone() -> None:
    x = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    compare(lambda t: cr.renorm(t, 2, 0, 1.0), lambda t: torch.renorm(t, 2, 0, 1.0), [x])
    compare(lambda t: cr.renorm(t, 2, 0, 5.0), lambda t: torch.renorm(t, 2, 0, 5.0), [x])


def test_renorm_in_place() -> None:
    w = cr.tensor(normal(3, 2), requires_grad=True)
    tw = torch.tensor(normal(3, 2), requires_grad=True)
    y, ty = w * 2, tw * 2
    assert y.renorm_(2, 0, 1.0) is y
    ty.renorm_(2, 0, 1.0)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: cr.renorm(cr.ones(3), 2, 0, 1.0), ValueError, r"at least 2 dimensions, got"),
        (lambda: cr.renorm(cr.ones(2, 2), 0, 0, 1.0), ValueError, r"p > 0 \(or inf\), got p=0"),
        (lambda: cr.renorm(cr.ones(2, 2), -1, 0, 1.0), ValueError, r"got p=-1"),
        (
            lambda: cr.renorm(cr.ones(2, 2), 2, 0, -1.0),
            ValueError,
            r"maxnorm >= 0, got maxnorm=-1.0",
        ),
        (lambda: cr.renorm(cr.ones(2, 2), 2, 2, 1.0), ValueError, r"renorm: axis must be"),
        (
            lambda: cr.renorm(cr.tensor([[1, 2]]), 2, 0, 1.0),
            TypeError,
            r"renorm: expected a floating-point tensor, got dtype int64",
        ),
    ],
)
def test_renorm_errors(call: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------- inner, vdot
@pytest.mark.parametrize("dtype", FLOATS, ids=["float64", "float32"])
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((3,), (3,)),
        ((2, 3), (4, 3)),
        ((2, 1, 3), (3,)),
        ((3,), (2, 2, 3)),
        ((), (2, 3)),
        ((2,), ()),
    ],
)
def test_inner_matches_torch(a: tuple[int, ...], b: tuple[int, ...], dtype: Any) -> None:
    arrays = [normal(*a, dtype=dtype, seed=1), normal(*b, dtype=dtype, seed=2)]
    compare(cr.inner, torch.inner, arrays)
    compare(lambda x, y: x.inner(y), lambda x, y: x.inner(y), arrays)


def test_inner_of_empty_axes_and_integers() -> None:
    compare(cr.inner, torch.inner, [np.zeros((2, 0)), np.zeros((3, 0))])
    compare(cr.inner, torch.inner, [np.zeros((0, 2)), np.ones((3, 2))])
    got = cr.inner(cr.tensor([[1, 2], [3, 4]]), cr.tensor([5, 6]))
    assert got.dtype == cr.int64 and got.tolist() == [17, 39]


@pytest.mark.parametrize("dtype", FLOATS, ids=["float64", "float32"])
def test_vdot_matches_torch(dtype: Any) -> None:
    arrays = [normal(5, dtype=dtype, seed=1), normal(5, dtype=dtype, seed=2)]
    compare(cr.vdot, torch.vdot, arrays)
    compare(lambda x, y: x.vdot(y), lambda x, y: x.vdot(y), arrays)
    assert cr.vdot(cr.tensor([1, 2]), cr.tensor([3, 4])).item() == 11


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: cr.inner(cr.ones(2, 3), cr.ones(2)), r"last dimensions to match, got shapes"),
        (lambda: cr.vdot(cr.ones(2, 2), cr.ones(2)), r"two 1-D tensors of one length, got"),
        (lambda: cr.vdot(cr.ones(2), cr.ones(3)), r"got shapes \(2,\) and \(3,\)"),
    ],
)
def test_inner_and_vdot_errors(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# --------------------------------------------------------------------- broadcast_tensors
def test_broadcast_tensors_matches_torch() -> None:
    a, b, c = normal(3, 1), normal(4), normal()
    compare(
        lambda x, y, z: sum(t * (i + 1) for i, t in enumerate(cr.broadcast_tensors(x, y, z))),
        lambda x, y, z: sum(t * (i + 1) for i, t in enumerate(torch.broadcast_tensors(x, y, z))),
        [a, b, c],
    )
    out = cr.broadcast_tensors(cr.ones(2, 1, dtype=cr.float32), cr.tensor([1, 2, 3]))
    assert [t.shape for t in out] == [(2, 3), (2, 3)]
    assert [t.dtype for t in out] == [cr.float32, cr.int64]
    assert cr.broadcast_tensors() == ()
    (single,) = cr.broadcast_tensors(cr.ones(3))
    assert single.shape == (3,)


def test_broadcast_tensors_error() -> None:
    with pytest.raises(ValueError, match=r"broadcast together, got \(3,\), \(4,\)"):
        cr.broadcast_tensors(cr.ones(3), cr.ones(4))


# --------------------------------------------------------------------- nanmedian
NAN_ROWS = np.array(
    [
        [1.0, NAN, 3.0, 2.0, 2.0],
        [NAN, 2.0, NAN, 2.0, 3.0],
        [5.0, 4.0, NAN, NAN, 4.0],
        [2.0, 2.0, 2.0, 1.0, 3.0],
    ]
)


@pytest.mark.parametrize("dtype", FLOATS, ids=["float64", "float32"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_nanmedian_along_a_dim_matches_torch(dim: int, keepdim: bool, dtype: Any) -> None:
    x = NAN_ROWS.astype(dtype)
    compare(
        lambda t: cr.nanmedian(t, dim, keepdim).values,
        lambda t: torch.nanmedian(t, dim, keepdim).values,
        [x],
    )
    ours = cr.tensor(x).nanmedian(dim, keepdim=keepdim)
    theirs = torch.tensor(x).nanmedian(dim, keepdim=keepdim)
    assert ours.indices.dtype == cr.int64
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


@pytest.mark.parametrize(
    "values",
    [[1.0, NAN, 3.0, 2.0, 2.0], [2.0, NAN, 2.0, 1.0], [NAN, NAN], [4.0, 1.0], [7.0]],
)
def test_nanmedian_of_all_elements_shares_ties_as_torch(values: list[float]) -> None:
    compare(cr.nanmedian, torch.nanmedian, [np.array(values)], upstream=np.array(1.0))


def test_nanmedian_edges_as_torch() -> None:
    assert math.isnan(cr.nanmedian(cr.zeros(0)).item())
    empty = cr.nanmedian(cr.zeros(2, 0), 0)
    assert empty.values.shape == (0,) and empty.indices.shape == (0,)
    assert cr.nanmedian(cr.tensor([3, 1, 2])).item() == 2
    ints = cr.nanmedian(cr.tensor([[3, 1, 2]]), 1, keepdim=True)
    assert ints.values.tolist() == [[2]] and ints.indices.tolist() == [[2]]
    scalar = cr.nanmedian(cr.tensor(NAN), 0)
    assert math.isnan(scalar.values.item()) and scalar.indices.item() == 0
    # an all-NaN slice: NaN, at index 0 (PyTorch's index there is its C++ library's)
    row = cr.nanmedian(cr.tensor([[1.0, 2.0], [NAN, NAN]]), 1)
    assert row.values.numpy()[0] == 1.0 and math.isnan(row.values.numpy()[1])
    assert row.indices.tolist() == [0, 0]


def test_nanmedian_errors() -> None:
    with pytest.raises(ValueError, match=r"nanmedian: expected a non-empty axis 0, got shape"):
        cr.nanmedian(cr.zeros(0, 3), 0)
    with pytest.raises(TypeError, match="nanmedian: expected a numeric tensor, got dtype bool"):
        cr.nanmedian(cr.tensor([True]))


# --------------------------------------------------------------------- scatter_reduce
REDUCTIONS = ["sum", "prod", "mean", "amax", "amin"]


@pytest.mark.parametrize("dtype", FLOATS, ids=["float64", "float32"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_scatter_reduce_matches_torch_with_ties_and_zeros(
    reduce: str, include_self: bool, dtype: Any
) -> None:
    # Ties between src values, and between src and self (3.0 at [0, 2]); zeros for prod.
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]], dtype)
    index = np.array([[0, 0, 2, 2], [1, 0, 2, 2]])
    src = np.array([[10.0, 10.0, 3.0, 0.0], [7.0, -1.0, 0.0, 0.0]], dtype)
    compare(
        lambda a, s: cr.scatter_reduce(a, 1, index, s, reduce, include_self=include_self),
        lambda a, s: torch.scatter_reduce(
            a, 1, torch.tensor(index), s, reduce, include_self=include_self
        ),
        [x, src],
    )


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_zero_cases_as_torch(include_self: bool) -> None:
    x = np.array([1.0, 2.0, 0.0, 3.0])
    src = np.array([0.0, 3.0, 0.0, 2.0, 5.0, 0.0, 0.0])
    index = np.array([0, 0, 1, 2, 2, 3, 3])
    compare(
        lambda a, s: a.scatter_reduce(0, index, s, "prod", include_self=include_self),
        lambda a, s: a.scatter_reduce(0, torch.tensor(index), s, "prod", include_self=include_self),
        [x, src],
    )


def test_scatter_reduce_amax_ties_split_evenly() -> None:
    x = cr.tensor([0.0, 5.0], requires_grad=True)
    src = cr.tensor([1.0, 1.0, 5.0], requires_grad=True)
    y = cr.scatter_reduce(x, 0, cr.tensor([0, 0, 1]), src, "amax")
    y.backward(cr.tensor([1.0, 1.0]))
    assert src.grad.tolist() == [0.5, 0.5, 0.5] and x.grad.tolist() == [0.0, 0.5]


def test_scatter_reduce_dims_index_smaller_than_src_and_untouched_positions() -> None:
    x = normal(3, 4, 2)
    src = normal(3, 5, 2, seed=3)
    index = np.array([[[0, 1], [1, 1]], [[2, 2], [0, 0]], [[1, 0], [1, 2]]])
    compare(
        lambda a, s: cr.scatter_reduce(a, 1, index, s[:, :2], "mean", include_self=False),
        lambda a, s: torch.scatter_reduce(
            a, 1, torch.tensor(index), s[:, :2], "mean", include_self=False
        ),
        [x, src],
    )
    # a src longer than the index: its unused part gets a zero gradient (PyTorch refuses to
    # differentiate that case)
    s = cr.tensor(src, requires_grad=True)
    cr.scatter_reduce(cr.tensor(x), 1, index, s, "sum").sum().backward()
    assert s.grad is not None
    np.testing.assert_array_equal(s.grad.numpy()[:, 2:], 0.0)
    np.testing.assert_array_equal(s.grad.numpy()[:, :2, :2], 1.0)


def test_scatter_reduce_integers_nan_and_empty_as_torch() -> None:
    for include_self in (True, False):
        for reduce in REDUCTIONS:
            args = (0, [0, 0, 1], [-4, -5, 7], reduce)
            ours = cr.tensor([1, 2, 3]).scatter_reduce(
                args[0], cr.tensor(args[1]), cr.tensor(args[2]), reduce, include_self=include_self
            )
            theirs = torch.tensor([1, 2, 3]).scatter_reduce(
                args[0],
                torch.tensor(args[1]),
                torch.tensor(args[2]),
                reduce,
                include_self=include_self,
            )
            assert ours.dtype == cr.int64
            assert ours.tolist() == theirs.tolist(), (reduce, include_self)
    for reduce in ("amax", "amin"):
        got = cr.zeros(3).scatter_reduce(
            0, cr.tensor([0, 0, 1]), cr.tensor([NAN, 1.0, 2.0]), reduce
        )
        assert math.isnan(got[0].item()) and got[1].item() == (2.0 if reduce == "amax" else 0.0)
    empty = cr.zeros(3).scatter_reduce(0, cr.tensor([], dtype=cr.int64), cr.zeros(0), "amax")
    assert empty.tolist() == [0.0, 0.0, 0.0]


def test_scatter_reduce_in_place_is_recorded() -> None:
    src = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    tsrc = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x, tx = cr.zeros(2), torch.zeros(2)
    assert x.scatter_reduce_(0, cr.tensor([0, 1, 1]), src, "prod") is x
    tx.scatter_reduce_(0, torch.tensor([0, 1, 1]), tsrc, "prod")
    assert x.tolist() == tx.tolist()
    (x * cr.tensor([2.0, 3.0])).sum().backward()
    (tx * torch.tensor([2.0, 3.0])).sum().backward()
    assert src.grad.tolist() == tsrc.grad.tolist()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: cr.scatter_reduce(cr.zeros(3), 0, [0], cr.ones(1), "max"),
            ValueError,
            r"reduce to be one of \('sum', 'prod', 'mean', 'amax', 'amin'\), got 'max'",
        ),
        (
            lambda: cr.scatter_reduce(cr.zeros(3), 0, np.array([0, 5]), cr.ones(2), "sum"),
            IndexError,
            r"index values must be in \[0, 2\]",
        ),
        (
            lambda: cr.scatter_reduce(cr.zeros(3), 0, np.array([0.0]), cr.ones(1), "sum"),
            TypeError,
            r"integer index with 1 dimensions, got dtype float64",
        ),
        (
            lambda: cr.scatter_reduce(cr.zeros(3), 0, np.array([0, 1, 2, 0]), cr.ones(2), "sum"),
            ValueError,
            r"src at least as large as the index",
        ),
        (
            lambda: cr.scatter_reduce(
                cr.zeros(2, 2), 0, np.zeros((1, 3), int), cr.ones(1, 3), "sum"
            ),
            ValueError,
            r"no longer than the input along every axis but 0, got index shape \(1, 3\)",
        ),
    ],
)
def test_scatter_reduce_errors(call: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------- masked_scatter
@pytest.mark.parametrize("dtype", FLOATS, ids=["float64", "float32"])
@pytest.mark.parametrize(
    ("x_shape", "mask"),
    [
        ((2, 3), [[True, False, True], [False, True, True]]),
        ((2, 3), [True, False, True]),  # the mask broadcast over the rows
        ((3,), [[True], [False]]),  # the input broadcast too
        ((), True),
        ((2, 2), [[False, False], [False, False]]),
    ],
)
def test_masked_scatter_matches_torch(x_shape: tuple[int, ...], mask: Any, dtype: Any) -> None:
    flags = np.array(mask)
    compare(
        lambda x, s: cr.masked_scatter(x, cr.tensor(flags), s),
        lambda x, s: torch.masked_scatter(x, torch.tensor(flags), s),
        [normal(*x_shape, dtype=dtype), normal(2, 4, dtype=dtype, seed=5)],
    )
    compare(
        lambda x, s: x.masked_scatter(flags, s),
        lambda x, s: x.masked_scatter(torch.tensor(flags), s),
        [normal(*x_shape, dtype=dtype), normal(7, dtype=dtype, seed=5)],
    )


def test_masked_scatter_in_place() -> None:
    source = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = cr.zeros(2, 2)
    assert x.masked_scatter_(cr.tensor([True, False]), source) is x
    assert x.tolist() == [[1.0, 0.0], [2.0, 0.0]]
    x.sum().backward()
    assert source.grad.tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match=r"masked_scatter_: expected a mask that broadcasts"):
        cr.zeros(3).masked_scatter_(cr.tensor([[True], [False]]), cr.ones(6))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: cr.masked_scatter(cr.zeros(3), cr.tensor([1, 0, 1]), cr.ones(3)),
            TypeError,
            r"masked_scatter: expected a boolean mask, got dtype int64",
        ),
        (
            lambda: cr.masked_scatter(cr.zeros(2, 3), cr.tensor([True, True]), cr.ones(6)),
            ValueError,
            r"broadcasts with the input's shape \(2, 3\), got shape \(2,\)",
        ),
        (
            lambda: cr.masked_scatter(cr.zeros(3), cr.tensor([True] * 3), cr.ones(2)),
            ValueError,
            r"at least 3 elements \(the True entries of the mask\), got 2",
        ),
    ],
)
def test_masked_scatter_errors(call: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------- squeeze_, unsqueeze_
@pytest.mark.parametrize(
    ("shape", "method", "args"),
    [
        ((2, 1, 3), "squeeze_", ()),
        ((2, 1, 3, 1), "squeeze_", (1,)),
        ((2, 1, 3, 1), "squeeze_", ((1, 3),)),
        ((2, 3), "squeeze_", (0,)),
        ((), "squeeze_", ()),
        ((2, 3), "unsqueeze_", (0,)),
        ((2, 3), "unsqueeze_", (-1,)),
        ((), "unsqueeze_", (0,)),
    ],
)
def test_squeeze_and_unsqueeze_in_place_change_only_the_shape(
    shape: tuple[int, ...], method: str, args: tuple[Any, ...]
) -> None:
    data = np.arange(math.prod(shape), dtype=np.float64).reshape(shape)
    x, t = cr.tensor(data), torch.tensor(data)
    assert getattr(x, method)(*args) is x
    getattr(t, method)(*args)
    assert x.shape == tuple(t.shape)
    np.testing.assert_array_equal(x.numpy(), t.numpy())


def test_in_place_squeeze_keeps_memory_outside_the_graph() -> None:
    array = np.zeros((3, 1))
    x = cr.from_numpy(array)
    x.squeeze_(1)
    x[0] = 7.0
    assert array[0, 0] == 7.0
    y = cr.zeros(2, 3)
    view = y[0]
    y.unsqueeze_(0)
    view[1] = 5.0
    assert y[0, 0, 1].item() == 5.0


def test_in_place_squeeze_in_the_graph_as_torch() -> None:
    def run(lib: Any) -> list[Any]:
        a = lib.tensor([[1.0], [2.0], [3.0]], dtype=lib.float64, requires_grad=True)
        b = a * 2
        b.squeeze_()
        b.add_(1)  # b is a tensor of its own, not a view: the in-place add is recorded
        b.unsqueeze_(0)
        (b * lib.tensor([[1.0, 2.0, 3.0]], dtype=lib.float64)).sum().backward()
        return [tuple(b.shape), b.detach().numpy().tolist(), a.grad.numpy().tolist()]

    assert run(cr) == run(torch)


def test_in_place_squeeze_of_a_leaf_that_requires_grad_is_refused_unless_no_grad() -> None:
    a = cr.ones(3, 1, requires_grad=True)
    with pytest.raises(RuntimeError, match="squeeze_: cannot modify a leaf tensor that requires"):
        a.squeeze_()
    with pytest.raises(RuntimeError, match="unsqueeze_: cannot modify a leaf tensor that requir"):
        a.unsqueeze_(0)
    with cr.no_grad():
        a.squeeze_()
    assert a.shape == (3,) and a.requires_grad


def test_in_place_squeeze_of_a_view_stays_a_view() -> None:
    a = cr.ones(3, 1, requires_grad=True)
    y = a * 2
    b = y[1:]
    b.squeeze_(1)  # allowed (only the shape changes), as in PyTorch
    assert b.shape == (2,)
    with pytest.raises(RuntimeError, match="changing a view of another tensor"):
        b.add_(1)  # a value change of a view of y, held, is refused in the graph, as before
    b.sum().backward()
    assert a.grad.tolist() == [[0.0], [2.0], [2.0]]


def test_in_place_squeeze_keeps_a_retained_gradient() -> None:
    a = cr.ones(2, 1, requires_grad=True)
    b = a * 3
    b.retain_grad()
    b.squeeze_(1)
    b.sum().backward()
    assert b.grad is not None and b.grad.shape == (2,)


def test_in_place_squeeze_errors() -> None:
    with pytest.raises(ValueError, match=r"squeeze: axis must be an integer in \[-2, 1\]"):
        cr.zeros(2, 1).squeeze_(5)
    with pytest.raises(ValueError, match=r"unsqueeze: axis must be in \[-3, 2\]"):
        cr.zeros(2, 1).unsqueeze_(5)


# --------------------------------------------------------------------- round(t), round(t, n)
@pytest.mark.parametrize("dtype", FLOATS, ids=["float64", "float32"])
@pytest.mark.parametrize("ndigits", [None, 0, 1, 2, -1, -3])
def test_python_round_is_torch_round_with_decimals(ndigits: int | None, dtype: Any) -> None:
    values = np.concatenate(
        [[0.5, 1.5, 2.5, -0.5, 1.25, 1.35, 15.0, 25.0, 1500.0, 2500.0], normal(50) * 3000]
    ).astype(dtype)
    got = round(cr.tensor(values)) if ndigits is None else round(cr.tensor(values), ndigits)
    expected = torch.round(torch.tensor(values), decimals=ndigits or 0)
    assert isinstance(got, cr.Tensor) and got.dtype == dtype
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_round_has_a_zero_gradient_and_keeps_integers() -> None:
    x = cr.tensor([1.26, 2.5], requires_grad=True)
    y = round(x * 1, 1)
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    assert round(cr.tensor([3, 4])).tolist() == [3, 4]
    assert round(cr.tensor(2.5)).item() == 2.0
