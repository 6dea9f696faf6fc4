"""What a PyTorch user found different, checked against PyTorch itself: fill_diagonal_ in
the graph, flip and repeat as copies, PyTorch's keyword names on factories and shape ops,
and a float32 cumsum as accurate as PyTorch's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import chainrule as cr


@pytest.mark.parametrize(("shape", "wrap"), [((2, 2), False), ((3, 2), False), ((7, 3), True)])
def test_fill_diagonal_in_the_graph_keeps_the_gradient_off_the_diagonal(
    shape: tuple[int, int], wrap: bool
) -> None:
    values = np.arange(1, np.prod(shape) + 1, dtype=np.float64).reshape(shape)
    x = cr.tensor(values, requires_grad=True)
    y = x * 2
    y.fill_diagonal_(-1.0, wrap=wrap)
    (y * y).sum().backward()
    t = torch.tensor(values, requires_grad=True)
    u = t * 2
    u.fill_diagonal_(-1.0, wrap=wrap)
    (u * u).sum().backward()
    np.testing.assert_array_equal(y.data, u.detach().numpy())
    np.testing.assert_array_equal(x.grad.data, t.grad.numpy())


def test_fill_diagonal_outside_the_graph_writes_into_the_tensor() -> None:
    x = cr.ones(3, 3)
    data = x.data
    x.fill_diagonal_(0)
    assert x.data is data
    np.testing.assert_array_equal(data, 1 - np.eye(3))


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a.flip(0),
        lambda a: cr.flip(a, 0),
        lambda a: a.fliplr(),
        lambda a: a.flipud(),
        lambda a: a.repeat(1, 1),
        lambda a: a.tile((1, 1)),
        lambda a: a.repeat(2, 1),
    ],
)
def test_flip_and_repeat_give_copies_as_in_pytorch(make: object) -> None:
    a = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    b = make(a)  # type: ignore[operator]
    before = b.data.copy()
    a.mul_(0)  # a later change of the source leaves the result as it was
    np.testing.assert_array_equal(b.data, before)
    b.add_(1)  # and the result can be changed without touching the source
    b[0, 0] = 7.0
    np.testing.assert_array_equal(a.data, np.zeros((2, 3), np.float32))


def test_flip_and_repeat_still_differentiate_as_pytorch() -> None:
    values = np.arange(6, dtype=np.float64).reshape(2, 3)
    weights = np.linspace(-1, 1, 24).reshape(4, 6)
    x = cr.tensor(values, requires_grad=True)
    (x.flip(1).repeat(2, 2) * cr.tensor(weights)).sum().backward()
    t = torch.tensor(values, requires_grad=True)
    (t.flip(1).repeat(2, 2) * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-12)


def test_factories_take_pytorchs_size_keyword() -> None:
    assert cr.zeros(size=(2, 3)).shape == (2, 3)
    assert cr.ones(size=[4]).shape == (4,)
    assert cr.empty(size=(1, 2)).shape == (1, 2)
    assert cr.randn(size=(2, 5), generator=0).shape == (2, 5)
    assert cr.rand(size=(3,), generator=0).shape == (3,)
    with pytest.raises(TypeError, match="zeros: expected the size positionally or as size="):
        cr.zeros(2, size=(2,))


@pytest.mark.parametrize(
    ("args", "kwargs", "low", "high", "shape"),
    [
        ((10, (3,)), {}, 0, 10, (3,)),
        ((5, 8, (2, 2)), {}, 5, 8, (2, 2)),
        ((10,), {"size": (3,)}, 0, 10, (3,)),
        ((5, 8), {"size": (4,)}, 5, 8, (4,)),
        ((), {"low": 5, "high": 8, "size": 6}, 5, 8, (6,)),
        ((), {"high": 3, "size": (2, 3)}, 0, 3, (2, 3)),
    ],
)
def test_randint_takes_pytorchs_forms(
    args: tuple[object, ...], kwargs: dict[str, object], low: int, high: int, shape: tuple[int]
) -> None:
    values = cr.randint(*args, **kwargs, generator=0)
    assert values.shape == shape
    assert values.dtype == np.int64
    assert values.data.min() >= low and values.data.max() < high


def test_randint_without_a_size_says_what_it_expected() -> None:
    with pytest.raises(TypeError, match=r"randint: expected \(high, size\) or \(low, high, size\)"):
        cr.randint(5)


def test_shape_ops_take_pytorchs_keyword_names() -> None:
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    x, t = cr.tensor(values), torch.tensor(values)
    index = np.array([[0, 3], [1, 1], [2, 0]])
    pairs = [
        (cr.flip(x, dims=[0]), torch.flip(t, dims=[0])),
        (x.flip(dims=(0, 1)), t.flip(dims=(0, 1))),
        (cr.gather(x, dim=1, index=cr.tensor(index)), torch.gather(t, 1, torch.tensor(index))),
        (x.gather(dim=0, index=cr.tensor(index[:, :1])), t.gather(0, torch.tensor(index[:, :1]))),
        (x.transpose(dim0=0, dim1=1), t.transpose(dim0=0, dim1=1)),
        (cr.transpose(x, dim0=1, dim1=0), torch.transpose(t, dim0=1, dim1=0)),
        (
            cr.index_select(x, dim=1, index=cr.tensor([3, 0])),
            torch.index_select(t, dim=1, index=torch.tensor([3, 0])),
        ),
    ]
    for ours, theirs in pairs:
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    with pytest.raises(TypeError, match="transpose: expected two axes"):
        x.transpose(0, dim1=1)
    with pytest.raises(TypeError, match="flip: expected the axes positionally or as dims="):
        cr.flip(x, 0, dims=[1])


def test_float32_cumsum_adds_up_as_accurately_as_pytorch() -> None:
    x = cr.full((100_000,), 0.1, requires_grad=True)
    t = torch.full((100_000,), 0.1, requires_grad=True)
    y, u = x.cumsum(0), t.cumsum(0)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, u.detach().numpy(), rtol=1e-6)
    weights = np.linspace(0, 1, 100_000, dtype=np.float32)
    (y * cr.tensor(weights)).sum().backward()
    (u * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-5)


def _doubling_in_place(lib: object) -> type:
    class DoubleInPlace(lib.autograd.Function):  # type: ignore[attr-defined,name-defined,misc]
        @staticmethod
        def forward(ctx: object, x: object) -> object:
            x.mul_(2)  # type: ignore[attr-defined]
            ctx.mark_dirty(x)  # type: ignore[attr-defined]
            return x

        @staticmethod
        def backward(ctx: object, grad: object) -> object:
            return grad * 2  # type: ignore[operator]

    return DoubleInPlace


def test_mark_dirty_returns_the_input_itself_with_the_functions_node() -> None:
    results = []
    for lib in (cr, torch):
        x = lib.tensor([1.0, 2.0, -3.0], requires_grad=True)
        y = x * 1
        z = _doubling_in_place(lib).apply(y)
        assert z is y
        assert "DoubleInPlaceBackward" in repr(z.grad_fn)
        (z * z).sum().backward()
        results.append((np.asarray(z.detach().tolist()), np.asarray(x.grad.tolist())))
    (ours_z, ours_grad), (torch_z, torch_grad) = results
    np.testing.assert_array_equal(ours_z, torch_z)
    np.testing.assert_array_equal(ours_grad, torch_grad)


def test_mark_dirty_on_a_leaf_that_requires_grad_is_refused() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="DoubleInPlace: a leaf tensor that requires grad"):
        _doubling_in_place(cr).apply(x)
    with cr.no_grad():
        assert _doubling_in_place(cr).apply(x) is x


@pytest.mark.parametrize(
    "pick",
    [
        lambda t, lib: t.index_select(1, lib.tensor([0, 2])),
        lambda t, lib: t[:, [0, 2]],
        lambda t, lib: t[t > 1.5],
    ],
)
def test_in_place_ops_on_fancy_indexed_copies_are_recorded_as_in_pytorch(pick: object) -> None:
    grads = []
    for lib in (cr, torch):
        x = lib.tensor([[1.0, 2.0, 3.0], [4.0, -5.0, 6.0]], requires_grad=True)
        y = pick(x * 1, lib)  # type: ignore[operator]
        y.mul_(2)
        y[0] = 10.0
        (y * y).sum().backward()
        grads.append(np.asarray(x.grad.tolist()))
    np.testing.assert_array_equal(grads[0], grads[1])


@pytest.mark.parametrize(
    "view",
    [
        lambda t: t[:, :2],
        lambda t: t[0],
        lambda t: t.reshape(6),
        lambda t: t.T,
        lambda t: t.expand(2, 2, 3),
    ],
)
def test_in_place_ops_on_views_in_the_graph_are_still_refused(view: object) -> None:
    x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    y = x * 1  # held, so it would not see the change
    with pytest.raises(RuntimeError, match="mul_: under grad mode, changing a view of another"):
        view(y).mul_(2)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ([[1.0, 2.0], [3.0]], "at depth 1, lengths 2, 1"),
        ([[[1, 2], [3, 4]], [[1, 2], [3]]], "at depth 2, lengths 2, 2, 2, 1"),
        ([1, [2, 3]], "at depth 1, lengths a number, 2"),
    ],
)
def test_ragged_data_says_where_the_rows_differ(data: list[object], where: str) -> None:
    with pytest.raises(ValueError, match="tensor: expected nested lists of one length") as info:
        cr.tensor(data)
    assert str(info.value).endswith(where)


def test_softmax_methods_take_pytorchs_dtype() -> None:
    values = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    x, t = cr.tensor(values), torch.tensor(values)
    for ours, theirs in (
        (x.softmax(1, dtype=np.float64), t.softmax(1, dtype=torch.float64)),
        (x.log_softmax(dim=1, dtype=np.float64), t.log_softmax(dim=1, dtype=torch.float64)),
    ):
        assert ours.dtype == np.float64
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)


def test_set_detect_anomaly_as_a_call_and_as_a_context_manager() -> None:
    assert not cr.autograd.is_anomaly_enabled()
    with cr.autograd.set_detect_anomaly(True):
        assert cr.autograd.is_anomaly_enabled()
        with pytest.raises(FloatingPointError, match="op 'log'"):
            cr.log(cr.tensor([0.0], requires_grad=True))
    assert not cr.autograd.is_anomaly_enabled()
    cr.autograd.set_detect_anomaly(True)
    try:
        assert cr.autograd.is_anomaly_enabled()
    finally:
        cr.autograd.set_detect_anomaly(False)
    assert not cr.autograd.is_anomaly_enabled()


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_a_nan_that_decides_max_or_min_gets_the_gradient_as_in_pytorch(reduce: str) -> None:
    values = [float("nan"), 0.5, -2.0, float("nan")]
    grads = []
    for lib in (cr, torch):
        x = lib.tensor(values, dtype=lib.float64, requires_grad=True)
        (getattr(x, reduce)() * 3).backward()
        grads.append(np.asarray(x.grad.tolist()))
    np.testing.assert_array_equal(grads[0], grads[1])
    assert np.isfinite(grads[0]).all()


def test_amax_over_rows_with_a_nan_gives_each_row_a_finite_gradient() -> None:
    x = cr.tensor([[float("nan"), 0.5, 2.0], [1.0, 3.0, 3.0]], requires_grad=True)
    x.amax(1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])


def test_roll_with_unmatched_shifts_and_dims_names_them_plainly() -> None:
    with pytest.raises(
        ValueError, match=r"roll: expected one shift per dim, got \[1, 2\] and \[0\]$"
    ):
        cr.ones(3, 3).roll((1, 2), dims=(0,))


@pytest.mark.parametrize("p", [0.5, 0.9])
def test_norm_below_one_gives_zero_gradient_at_zero_entries_as_pytorch(p: float) -> None:
    values = [0.0, 2.0, -4.0, 0.0]
    grads = []
    for lib in (cr, torch):
        x = lib.tensor(values, dtype=lib.float64, requires_grad=True)
        x.norm(p=p).backward()
        grads.append(np.asarray(x.grad.tolist()))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)
    assert np.isfinite(grads[0]).all()


def test_float16_var_std_and_norm_add_up_wider_as_pytorch() -> None:
    ramp = np.arange(100.0) + 1000
    for make in (
        lambda lib, v: lib.tensor(v, dtype=lib.float16).var(),
        lambda lib, v: lib.tensor(v, dtype=lib.float16).std(),
        lambda lib, v: lib.tensor(v, dtype=lib.float16).norm(),
    ):
        ours, theirs = make(cr, ramp), make(torch, ramp)
        assert ours.dtype == np.float16
        assert np.isfinite(ours.item())
        assert ours.item() == pytest.approx(theirs.item(), rel=2e-3)
    x = cr.tensor(ramp, dtype=cr.float16, requires_grad=True)
    x.var().backward()
    assert x.grad.dtype == np.float16
    np.testing.assert_allclose(x.grad.data, 2 * (ramp - ramp.mean()) / 99, rtol=5e-3)


@pytest.mark.parametrize("log_input", [False, True])
def test_poisson_nll_loss_full_differentiates_the_stirling_term_in_the_target(
    log_input: bool,
) -> None:
    rates, counts = np.array([0.5, 2.0, 1.5]), np.array([3.0, 5.0, 0.5])
    grads = []
    for lib, functional in ((cr, cr.nn.functional), (torch, torch.nn.functional)):
        x = lib.tensor(rates, requires_grad=True)
        t = lib.tensor(counts, requires_grad=True)
        loss = functional.poisson_nll_loss(x, t, log_input=log_input, full=True, reduction="sum")
        loss.backward()
        grads.append((loss.item(), x.grad.tolist(), t.grad.tolist()))
    (ours_loss, ours_x, ours_t), (loss, grad_x, grad_t) = grads
    assert ours_loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(ours_x, grad_x, rtol=1e-12)
    np.testing.assert_allclose(ours_t, grad_t, rtol=1e-12)


COMPOSED = {
    "hypot": (lambda lib, a, b: lib.hypot(a, b), True),
    "logaddexp": (lambda lib, a, b: lib.logaddexp(a, b), True),
    "logaddexp_tie": (lambda lib, a, b: lib.logaddexp(a, a * 1), True),
    "logit": (lambda lib, a, b: lib.logit(lib.sigmoid(a)), True),
    "logit_eps": (lambda lib, a, b: lib.logit(lib.sigmoid(a * 20), eps=1e-3), True),
    "xlogy": (lambda lib, a, b: lib.xlogy(a, lib.exp(b)), True),
    "sinc": (lambda lib, a, b: lib.sinc(a), True),
    "deg2rad": (lambda lib, a, b: lib.deg2rad(a) + lib.rad2deg(b), True),
    "exp2": (lambda lib, a, b: lib.exp2(a), True),
    "square": (lambda lib, a, b: lib.square(a), True),
    "copysign": (lambda lib, a, b: lib.copysign(a, b), True),
    "float_power": (lambda lib, a, b: lib.float_power(lib.exp(a), b), True),
    "atan2_method": (lambda lib, a, b: a.arctan2(b) + a.arcsin().sum() * 0, False),
}


@pytest.mark.parametrize("name", sorted(COMPOSED))
def test_functions_pytorch_has_match_it_in_values_and_gradients(name: str) -> None:
    make, compare_dtype = COMPOSED[name]
    rng = np.random.default_rng(7)
    a_values = rng.uniform(-0.9, 0.9, size=(3, 4))
    a_values[0, 0] = 0.0  # sinc's and xlogy's special point
    b_values = rng.normal(size=(3, 4))
    results = []
    for lib in (cr, torch):
        a = lib.tensor(a_values, requires_grad=True)
        b = lib.tensor(b_values, requires_grad=True)
        y = make(lib, a, b)
        (y * lib.tensor(np.linspace(-1, 1, 12).reshape(3, 4))).sum().backward()
        grads = [
            np.zeros((3, 4)) if t.grad is None else np.asarray(t.grad.tolist()) for t in (a, b)
        ]
        results.append((np.asarray(y.tolist()), grads, str(y.dtype)))
    (ours, our_grads, our_dtype), (theirs, their_grads, their_dtype) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    for mine, expected in zip(our_grads, their_grads, strict=True):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)
    if compare_dtype:
        assert our_dtype.replace("torch.", "") == their_dtype.replace("torch.", "")


def test_heaviside_and_integer_square_keep_pytorchs_dtypes() -> None:
    x = [-1.5, 0.0, 2.0]
    ours = cr.heaviside(cr.tensor(x), cr.tensor([0.5]))
    theirs = torch.heaviside(torch.tensor(x), torch.tensor([0.5]))
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert cr.square(cr.tensor([3, -2])).tolist() == [9, 4]
    assert cr.square(cr.tensor([3, -2])).dtype == np.int64
    assert cr.tensor([1.0], dtype=cr.float32).exp2().dtype == np.float32


COUNTING = {
    "bincount": lambda lib: lib.bincount(lib.tensor([0, 1, 1, 3, 3, 3])),
    "bincount_minlength": lambda lib: lib.bincount(lib.tensor([2, 0]), minlength=5),
    "bincount_weights": lambda lib: lib.bincount(
        lib.tensor([0, 1, 1, 3]), weights=lib.tensor([1.0, 2.0, 3.0, 4.0])
    ),
    "bincount_method": lambda lib: lib.tensor([4, 4, 1]).bincount(),
    "histc_range": lambda lib: lib.histc(lib.tensor([0.0, 1.0, 2.0, 5.0, -1.0]), 5, 0, 4),
    "histc_own_range": lambda lib: lib.histc(lib.tensor([0.1, 0.5, 0.9, 0.3]), bins=3),
    "histc_constant": lambda lib: lib.tensor([1.0, 1.0, 1.0]).histc(bins=4),
    "searchsorted": lambda lib: lib.searchsorted(lib.tensor([1, 3, 5, 7]), lib.tensor([3, 6, 9])),
    "searchsorted_right": lambda lib: lib.searchsorted(
        lib.tensor([1, 3, 5, 7]), lib.tensor([[3, 0], [7, 8]]), right=True
    ),
    "searchsorted_rows": lambda lib: lib.searchsorted(
        lib.tensor([[1, 3, 5], [2, 4, 6]]), lib.tensor([[3, 6], [1, 7]]), side="right"
    ),
    "bucketize": lambda lib: lib.bucketize(lib.tensor([1, 5, 9, 0]), lib.tensor([1, 3, 5, 7])),
    "bucketize_right": lambda lib: lib.bucketize(
        lib.tensor([1.0, 5.5]), lib.tensor([1.0, 3.0, 5.5]), right=True
    ),
    "tril_indices": lambda lib: lib.tril_indices(3, 4, 1),
    "triu_indices": lambda lib: lib.triu_indices(4, 3, -1),
    "repeat_interleave_counts": lambda lib: lib.repeat_interleave(lib.tensor([1, 2, 0, 3])),
}


@pytest.mark.parametrize("name", sorted(COUNTING))
def test_counting_and_binning_match_pytorch(name: str) -> None:
    ours, theirs = COUNTING[name](cr), COUNTING[name](torch)
    assert ours.tolist() == theirs.tolist()
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


def test_counting_refuses_what_it_cannot_count() -> None:
    with pytest.raises(ValueError, match="bincount: expected non-negative values, got -1"):
        cr.bincount(cr.tensor([1, -1]))
    with pytest.raises(TypeError, match="bincount: expected a 1-D tensor of non-negative"):
        cr.bincount(cr.tensor([1.5]))
    with pytest.raises(ValueError, match="searchsorted: side must be 'left' or 'right'"):
        cr.searchsorted(cr.tensor([1, 2]), cr.tensor([1]), side="middle")


@pytest.mark.parametrize(
    ("fn", "values"),
    [
        ("cummax", [1.0, float("nan"), 3.0, float("nan"), 0.0]),
        ("cummin", [3.0, float("nan"), 1.0, float("nan")]),
        ("cummax", [float("nan"), 1.0, float("nan")]),
    ],
)
def test_cumulative_extremes_point_at_the_latest_nan_as_pytorch(
    fn: str, values: list[float]
) -> None:
    grads, indices = [], []
    for lib in (cr, torch):
        x = lib.tensor(values, dtype=lib.float64, requires_grad=True)
        found = getattr(lib, fn)(x, 0)
        indices.append(found.indices.tolist())
        lib.nan_to_num(found.values, nan=2.0).sum().backward()
        grads.append(x.grad.tolist())
    assert indices[0] == indices[1]
    assert grads[0] == grads[1]


COMBINED = {
    "tensordot_pairs": lambda lib, a, b, c: lib.tensordot(a, b, dims=([1, 2], [1, 0])),
    "tensordot_int": lambda lib, a, b, c: lib.tensordot(a[0], b[:, 0], dims=1),
    "kron": lambda lib, a, b, c: lib.kron(a[0], b[0, :2]),
    "kron_ranks": lambda lib, a, b, c: lib.kron(a[0, 0], b[0]),
    "cdist": lambda lib, a, b, c: lib.cdist(a[0], c),
    "cdist_p1_batched": lambda lib, a, b, c: lib.cdist(a, c.expand(2, 6, 4), p=1.0),
    "std_mean": lambda lib, a, b, c: lib.stack(lib.std_mean(a, 1)),
    "var_mean": lambda lib, a, b, c: lib.cat(
        [t.reshape(-1) for t in lib.var_mean(a, dim=(0, 2), keepdim=True)]
    ),
    "aminmax": lambda lib, a, b, c: lib.stack(tuple(lib.aminmax(a, dim=1))),
    "column_stack": lambda lib, a, b, c: lib.column_stack([a[0, :, 0], a[1, :, :2]]),
    "dstack": lambda lib, a, b, c: lib.dstack([a[0], a[1]]),
    "atleast_3d": lambda lib, a, b, c: lib.atleast_3d(a[0]) * 2 + lib.atleast_3d(a[0, 0])[0, 0],
}


@pytest.mark.parametrize("name", sorted(COMBINED))
def test_combined_functions_match_pytorch(name: str) -> None:
    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=s) for s in ((2, 3, 4), (4, 3, 5), (6, 4))]
    results = []
    for lib in (cr, torch):
        tensors = [lib.tensor(a, requires_grad=True) for a in arrays]
        y = COMBINED[name](lib, *tensors)
        weights = np.linspace(-1, 1, int(np.prod(y.shape))).reshape(tuple(y.shape))
        (y * lib.tensor(weights)).sum().backward()
        grads = [
            np.zeros(a.shape) if t.grad is None else np.asarray(t.grad.tolist())
            for a, t in zip(arrays, tensors, strict=True)
        ]
        results.append((np.asarray(y.tolist()), grads))
    (ours, our_grads), (theirs, their_grads) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    for mine, expected in zip(our_grads, their_grads, strict=True):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)


def test_at_least_shapes_as_pytorch() -> None:
    for lib in (cr, torch):
        shapes = [
            tuple(lib.atleast_1d(lib.tensor(1.0)).shape),
            tuple(lib.atleast_2d(lib.tensor([1.0, 2.0])).shape),
            tuple(lib.atleast_3d(lib.tensor([1.0, 2.0])).shape),
            tuple(lib.atleast_3d(lib.ones(2, 3)).shape),
            tuple(lib.atleast_2d(lib.ones(2, 3, 4)).shape),
        ]
        assert shapes == [(1,), (1, 2), (1, 2, 1), (2, 3, 1), (2, 3, 4)]
    pair = cr.atleast_2d(cr.tensor(1.0), cr.ones(3))
    assert [t.shape for t in pair] == [(1, 1), (1, 3)]


def test_float16_means_over_more_than_65504_elements_keep_their_gradient() -> None:
    grads = []
    for lib in (cr, torch):
        x = lib.tensor(np.ones(70_000, np.float16), requires_grad=True)
        y = lib.tensor(np.full((300, 300), 0.5, np.float16), requires_grad=True)
        (
            x.mean() + lib.nn.functional.mse_loss(y, lib.zeros(300, 300, dtype=lib.float16))
        ).backward()
        grads.append((float(x.grad[0]), float(y.grad[0, 0])))
    assert grads[0][0] > 0 and grads[0][1] > 0
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-3)


def test_float16_gradient_clipping_takes_the_norm_without_overflow() -> None:
    results = []
    for lib in (cr, torch):
        p = lib.nn.Parameter(lib.zeros(2, dtype=lib.float16))
        p.grad = lib.tensor(np.array([300.0, 400.0], np.float16))
        norm = lib.nn.utils.clip_grad_norm_([p], 1.0)
        results.append((float(norm), p.grad.tolist()))
    assert results[0][0] == results[1][0] == 500.0
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-3)


def test_atan2_at_the_origin_has_gradient_zero_as_pytorch() -> None:
    grads = []
    for lib in (cr, torch):
        a = lib.tensor([0.0, 0.0, 1.0], requires_grad=True)
        b = lib.tensor([0.0, 1.0, 0.0], requires_grad=True)
        lib.atan2(a, b).sum().backward()
        grads.append((a.grad.tolist(), b.grad.tolist()))
    assert grads[0] == grads[1]


@pytest.mark.parametrize(
    ("dimension", "size", "step"),
    [(2, 2, 1), (1, 2, 1), (-1, 3, 2), (0, 1, 1), (2, 4, 3), (2, 0, 1)],
)
def test_tensor_unfold_gives_pytorchs_windows_and_gradients(
    dimension: int, size: int, step: int
) -> None:
    values = np.arange(24.0).reshape(2, 3, 4)
    results = []
    for lib in (cr, torch):
        x = lib.tensor(values, requires_grad=True)
        windows = x.unfold(dimension, size, step)
        (windows * windows).sum().backward()
        results.append((tuple(windows.shape), np.asarray(windows.tolist()), x.grad.tolist()))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert results[0][2] == results[1][2]
    with pytest.raises(ValueError, match="unfold: expected 0 <= size <= 4"):
        cr.ones(2, 4).unfold(1, 5, 1)


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "nearest", "midpoint"])
@pytest.mark.parametrize(("dim", "keepdim"), [(None, False), (None, True), (0, False), (-1, True)])
@pytest.mark.parametrize("with_nan", [False, True])
def test_quantile_matches_pytorch(
    interpolation: str, dim: int | None, keepdim: bool, with_nan: bool
) -> None:
    values = np.random.default_rng(0).normal(size=(3, 5))
    if with_nan:
        values[1, 2] = np.nan
    results = []
    for lib in (cr, torch):
        x = lib.tensor(values, requires_grad=True)
        for q in (0.3, lib.tensor([0.0, 0.25, 0.5, 1.0], dtype=lib.float64)):
            y = lib.quantile(x, q, dim=dim, keepdim=keepdim, interpolation=interpolation)
            weights = np.linspace(-1, 1, int(np.prod(y.shape))).reshape(tuple(y.shape))
            lib.nan_to_num(y * lib.tensor(weights), nan=0.0).sum().backward()
            results.append((tuple(y.shape), np.asarray(y.tolist())))
        results.append(((), np.asarray(x.grad.tolist())))
    half = len(results) // 2
    for (shape, ours), (their_shape, theirs) in zip(results[:half], results[half:], strict=True):
        assert shape == their_shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_review_round13_edge_cases() -> None:
    """What the session's review found in its own additions."""
    ours = cr.fmod(cr.tensor([16777217, 123456789, -7]), 2)
    assert ours.tolist() == torch.fmod(torch.tensor([16777217, 123456789, -7]), 2).tolist()
    assert ours.dtype == np.int64
    inf = float("inf")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        both = cr.logaddexp(cr.tensor([-inf, inf, 1.0]), cr.tensor([-inf, inf, 1.0]))
    np.testing.assert_allclose(both.data, [-inf, inf, 1.0 + np.log(2.0)], rtol=1e-6)
    y = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="mul_: under grad mode, changing a view"):
        cr.einsum("ij->ji", y).mul_(2)  # a NumPy view of y: y would not see the change
    with pytest.raises(ValueError, match="tensordot: expected distinct axes"):
        cr.tensordot(cr.ones(3, 3), cr.ones(3, 3), dims=([0, 0], [0, 1]))
    with pytest.raises(ValueError, match="tensordot: axis must be an integer"):
        cr.tensordot(cr.ones(2, 3), cr.ones(3, 4), dims=([5], [0]))
    with pytest.raises(ValueError, match=r"pad: expected crops that leave axis 1 \(size 5\)"):
        cr.nn.functional.pad(cr.ones(2, 5), (-3, -3))
    p = cr.nn.Parameter(cr.zeros(2, dtype=cr.float16))
    p.grad = cr.tensor(np.array([60000.0, 60000.0], np.float16))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isinf(cr.nn.utils.clip_grad_norm_([p], 1.0).item())
