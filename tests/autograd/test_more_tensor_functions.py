"""More of PyTorch's tensor functions and methods, each written once for both libraries and
compared: values, dtypes and, where there is one, the gradient."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

X = np.array([[3.0, -1.0, 2.0, 0.5], [0.25, 4.0, -2.5, 1.0], [-0.75, 2.0, 1.5, -3.0]])
V = np.array([1.0, -2.0, 0.5, 3.0])
M3 = np.arange(24.0).reshape(2, 3, 4) / 10 - 1


def _first(result: Any) -> Any:
    return result[0] if isinstance(result, tuple) else result


# (name, function of (lib, x), whether the gradient is compared)
DIFFERENTIABLE: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("reciprocal", lambda lib, x: x.reciprocal()),
    ("rsqrt", lambda lib, x: (x * x + 1).rsqrt()),
    ("log2", lambda lib, x: lib.log2(x * x + 1)),
    ("log10", lambda lib, x: (x * x + 1).log10()),
    ("frac", lambda lib, x: (x * 1.3).frac()),
    ("round_decimals", lambda lib, x: (x * 1.37).round(decimals=1)),
    ("clamp_min", lambda lib, x: x.clamp_min(0.5)),
    ("clamp_max", lambda lib, x: x.clamp_max(0.5)),
    ("mm", lambda lib, x: lib.mm(x, x.T)),
    ("bmm", lambda lib, x: lib.bmm(x.reshape(3, 2, 2), x.reshape(3, 2, 2))),
    ("mv", lambda lib, x: x.mv(x[0])),
    ("dot", lambda lib, x: lib.dot(x[0], x[1])),
    ("outer", lambda lib, x: lib.outer(x[0], x[1, :3])),
    ("trace", lambda lib, x: x.trace()),
    ("index_select", lambda lib, x: x.index_select(1, lib.tensor([3, 0, 0]))),
    ("masked_select", lambda lib, x: x.masked_select(x > 0.4)),
    (
        "masked_select_broadcast",
        lambda lib, x: lib.masked_select(x, lib.tensor([True, False, True, True])),
    ),
    ("narrow", lambda lib, x: x.narrow(1, 1, 2)),
    ("narrow_negative_start", lambda lib, x: x.narrow(1, -2, 2)),
    ("select", lambda lib, x: x.select(0, 1)),
    ("unflatten", lambda lib, x: x.unflatten(1, (2, 2))),
    ("movedim", lambda lib, x: x.reshape(3, 2, 2).movedim(0, 2)),
    ("moveaxis_two", lambda lib, x: lib.movedim(x.reshape(3, 2, 2), (0, 1), (2, 0))),
    ("roll", lambda lib, x: x.roll(1, 1)),
    ("roll_two_dims", lambda lib, x: lib.roll(x, (1, -1), (0, 1))),
    ("roll_flat", lambda lib, x: x.roll(5)),
    ("sort", lambda lib, x: x.sort(1)),
    ("sort_descending", lambda lib, x: lib.sort(x, 0, descending=True)),
    ("topk", lambda lib, x: x.topk(2)),
    ("topk_smallest", lambda lib, x: lib.topk(x, 2, dim=0, largest=False)),
    ("tile", lambda lib, x: x[0].tile(2, 2)),
    ("fliplr", lambda lib, x: x.fliplr()),
    ("flipud", lambda lib, x: x.flipud()),
    ("swapdims", lambda lib, x: x.swapdims(0, 1)),
    ("cumsum_to_float64", lambda lib, x: x.cumsum(1, dtype=lib.float64)),
]


@pytest.mark.parametrize(("name", "fn"), DIFFERENTIABLE, ids=[c[0] for c in DIFFERENTIABLE])
def test_values_and_gradients_match_pytorch(name: str, fn: Callable[[Any, Any], Any]) -> None:
    results = []
    for lib in (cr, torch):
        x = lib.tensor(X, requires_grad=True)
        out = fn(lib, x)
        values = _first(out)
        weights = np.linspace(-1.0, 2.0, values.numel()).reshape(tuple(values.shape))
        (values * lib.tensor(weights)).sum().backward()
        indices = out[1].numpy() if isinstance(out, tuple) else None
        results.append((values.detach().numpy(), str(values.dtype), indices, x.grad.numpy()))
    (value, dtype, indices, grad), (t_value, t_dtype, t_indices, t_grad) = results
    np.testing.assert_allclose(value, t_value, rtol=1e-12, atol=1e-12)
    assert dtype == t_dtype.removeprefix("torch.")
    if indices is not None:
        np.testing.assert_array_equal(indices, t_indices)
    np.testing.assert_allclose(grad, t_grad, rtol=1e-12, atol=1e-12)


QUERIES: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("eq", lambda lib, x: x.eq(x.round())),
    ("ne_lt_le", lambda lib, x: x.ne(1.0) & x.lt(2.0) & x.le(0.5)),
    ("gt_ge", lambda lib, x: x.gt(0.0) | x.ge(2.0)),
    ("greater_less", lambda lib, x: x.greater(0.5).logical_xor(x.less(1.0))),
    ("logical_not", lambda lib, x: (x > 0).logical_not()),
    (
        "isnan_isinf_isfinite",
        lambda lib, x: lib.stack([lib.isnan(x.log()), (1 / (x - x)).isinf(), (x.log()).isfinite()]),
    ),
    ("isclose", lambda lib, x: x.isclose(x + 1e-9)),
    ("nonzero", lambda lib, x: (x > 1).nonzero()),
    ("argwhere", lambda lib, x: lib.argwhere(x < 0)),
    ("count_nonzero", lambda lib, x: (x > 0).count_nonzero(dim=1)),
    ("argsort", lambda lib, x: x.argsort(dim=1, descending=True)),
    ("cumsum_of_ints", lambda lib, x: (x > 0).cumsum(1)),
    ("floor_of_ints", lambda lib, x: lib.floor(lib.tensor([1, -2, 3]))),
]


@pytest.mark.parametrize(("name", "fn"), QUERIES, ids=[c[0] for c in QUERIES])
def test_queries_match_pytorch(name: str, fn: Callable[[Any, Any], Any]) -> None:
    with np.errstate(all="ignore"):
        ours = fn(cr, cr.tensor(X))
    theirs = fn(torch, torch.tensor(X))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")


def test_nonzero_as_tuple_allclose_and_equal() -> None:
    ours = cr.tensor(X).nonzero(as_tuple=True)
    theirs = torch.tensor(X).nonzero(as_tuple=True)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert cr.tensor(X).allclose(cr.tensor(X + 1e-9))
    assert not cr.allclose(cr.tensor(X), cr.tensor(X + 1e-3))
    assert cr.equal(cr.tensor(X), cr.tensor(X.copy())) and not cr.tensor(X).equal(cr.tensor(V))


def test_new_tensors_take_this_tensors_dtype() -> None:
    for lib in (cr, torch):
        x = lib.tensor(V, dtype=lib.float64)
        made = [x.new_zeros(2, 3), x.new_ones((2,)), x.new_full((2, 2), 7.0), x.new_tensor([1, 2])]
        made.append(x.new_empty(3))
        assert [tuple(t.shape) for t in made] == [(2, 3), (2,), (2, 2), (2,), (3,)]
        assert all(str(t.dtype).removeprefix("torch.") == "float64" for t in made)
        assert x.new_zeros(2, dtype=lib.int64).dtype == lib.int64
    ints = cr.tensor([1, 2])
    assert cr.tensor(V).type_as(ints).dtype == np.int64
    assert cr.tensor(V).is_floating_point() and not ints.is_floating_point()
    assert cr.tensor(X).nelement() == 12 and cr.tensor(X).element_size() == 8
    assert cr.tensor(X).is_contiguous() and not cr.tensor(X).T.is_contiguous()


@pytest.mark.parametrize(
    "name", ["exp_", "log_", "sqrt_", "abs_", "neg_", "sigmoid_", "tanh_", "relu_", "pow_"]
)
def test_in_place_math_on_a_non_leaf_is_recorded_as_in_pytorch(name: str) -> None:
    results = []
    for lib in (cr, torch):
        w = lib.tensor(V, requires_grad=True)
        y = w * 1.5
        args = (2,) if name == "pow_" else ()
        if name in ("log_", "sqrt_"):
            y = y.abs() + 1
        out = getattr(y, name)(*args)
        assert out is y
        (y * lib.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
        results.append((y.detach().numpy().copy(), w.grad.numpy().copy()))
    (ours, grad), (theirs, t_grad) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    np.testing.assert_allclose(grad, t_grad, rtol=1e-6)


def test_in_place_fills_outside_the_graph() -> None:
    w = cr.zeros(2, 3)
    w.uniform_(-0.5, 0.5, generator=0)
    assert (w.numpy() >= -0.5).all() and (w.numpy() < 0.5).all() and w.numpy().std() > 0
    again = cr.zeros(2, 3).uniform_(-0.5, 0.5, generator=0)
    np.testing.assert_array_equal(again.numpy(), w.numpy())  # a seed gives the same draw
    n = cr.zeros(1000).normal_(2.0, 0.5, generator=1)
    assert abs(n.numpy().mean() - 2.0) < 0.1 and abs(n.numpy().std() - 0.5) < 0.05
    for lib in (cr, torch):
        d = lib.zeros(3, 3)
        d.fill_diagonal_(2.0)
        m = lib.tensor(X).clone()
        m.masked_fill_(m < 0, 0.0)
        if lib is cr:
            ours = (d.numpy().copy(), m.numpy().copy())
        else:
            np.testing.assert_array_equal(ours[0], d.numpy())
            np.testing.assert_array_equal(ours[1], m.numpy())
    leaf = cr.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="uniform_: cannot modify a leaf tensor"):
        leaf.uniform_()
    with cr.no_grad():
        leaf.uniform_(generator=2)  # initialization, as nn.init does
    assert leaf.requires_grad and leaf.numpy().std() > 0


def test_mistakes_say_what_was_expected() -> None:
    x = cr.tensor(X)
    with pytest.raises(ValueError, match=r"mm: expected a 2-D tensor, got shape \(4,\)"):
        cr.mm(x, cr.tensor(V))
    with pytest.raises(ValueError, match=r"bmm: expected the same batch size"):
        cr.bmm(cr.tensor(M3), cr.tensor(M3[:1].transpose(0, 2, 1)))
    with pytest.raises(TypeError, match="index_select: expected a 1-D integer index"):
        x.index_select(0, cr.tensor([0.5]))
    with pytest.raises(IndexError, match="narrow: expected start and length within"):
        x.narrow(1, 3, 2)
    with pytest.raises(ValueError, match=r"topk: expected k in \[0, 4\]"):
        x.topk(5)
    with pytest.raises(TypeError, match="masked_select: expected a boolean mask"):
        x.masked_select(cr.tensor([1, 0, 1, 0]))


SCATTERS: list[tuple[str, Callable[[Any, Any, Any], Any]]] = [
    ("scatter_src", lambda lib, x, s: x.scatter(1, lib.tensor([[0, 2], [3, 1], [1, 0]]), s)),
    (
        "scatter_value",
        lambda lib, x, s: x.scatter(0, lib.tensor([[2, 0, 1, 1]]), value=9.0) * s.sum(),
    ),
    (
        "scatter_add",
        lambda lib, x, s: lib.scatter_add(x, 1, lib.tensor([[0, 0], [3, 3], [1, 2]]), s),
    ),
    ("index_add", lambda lib, x, s: x.index_add(1, lib.tensor([3, 3]), s, alpha=2.0)),
    ("index_fill", lambda lib, x, s: x.index_fill(1, lib.tensor([0, 2]), -1.0) + s.sum()),
    ("index_copy", lambda lib, x, s: x.index_copy(1, lib.tensor([2, 0]), s)),
]


@pytest.mark.parametrize(("name", "fn"), SCATTERS, ids=[c[0] for c in SCATTERS])
def test_scatter_and_index_writes_match_pytorch(
    name: str, fn: Callable[[Any, Any, Any], Any]
) -> None:
    src = np.array([[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]])
    results = []
    for lib in (cr, torch):
        x = lib.tensor(X, requires_grad=True)
        s = lib.tensor(src, requires_grad=True)
        out = fn(lib, x, s)
        weights = np.linspace(-1.0, 2.0, out.numel()).reshape(tuple(out.shape))
        (out * lib.tensor(weights)).sum().backward()
        results.append((out.detach().numpy(), x.grad.numpy(), s.grad.numpy()))
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_one_hot_by_scatter_as_in_the_datasets_tutorial() -> None:
    for label in (0, 3, 9):
        ours = cr.zeros(10, dtype=cr.float32).scatter_(0, cr.tensor(label), value=1)
        theirs = torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(label), value=1)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    counts = cr.zeros(4).scatter_(0, cr.tensor([1, 1, 3]), cr.ones(3), reduce="add")
    np.testing.assert_array_equal(counts.numpy(), [0.0, 2.0, 0.0, 1.0])
