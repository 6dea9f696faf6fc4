"""Tensor methods found missing or different from PyTorch's in the round-14 review."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

LAYOUTS: list[Callable[[Any], Any]] = [
    lambda m: m.zeros(3, 4),
    lambda m: m.zeros(3, 4).T,
    lambda m: m.zeros(2, 3, 4).permute(2, 0, 1),
    lambda m: m.zeros(5)[::2],
    lambda m: m.zeros(3, 1).expand(3, 4),
    lambda m: m.zeros(()),
]


@pytest.mark.parametrize("make", LAYOUTS)
def test_strides_and_sizes_count_as_pytorch_counts_them(make: Callable[[Any], Any]) -> None:
    ours, theirs = make(cr), make(torch)
    assert ours.stride() == theirs.stride()
    for dim in range(-ours.dim(), ours.dim()):
        assert ours.stride(dim) == theirs.stride(dim)
    assert (ours.nbytes, ours.itemsize) == (theirs.nbytes, theirs.itemsize)


@pytest.mark.parametrize("make", LAYOUTS)
def test_contiguous_gives_a_row_major_tensor(make: Callable[[Any], Any]) -> None:
    ours, theirs = make(cr), make(torch)
    assert ours.is_contiguous() == theirs.is_contiguous()
    made = ours.contiguous()
    assert made.is_contiguous()
    assert made.stride() == theirs.contiguous().stride()
    if ours.is_contiguous():
        assert made is ours


def test_contiguous_copy_passes_gradients_back() -> None:
    x = cr.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    y = x.T.contiguous()
    (y * cr.arange(3.0)).sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.data, np.repeat(np.arange(3.0)[:, None], 4, axis=1))


def test_data_ptr_is_the_address_of_the_first_element() -> None:
    x = cr.zeros(4, 3)
    assert x.data_ptr() == x.data.ctypes.data
    assert x[1].data_ptr() - x.data_ptr() == 3 * x.itemsize


def retained_and_captured(lib: Any) -> list[Any]:
    """retain_grad() under backward(inputs=) and autograd.grad, in the cases PyTorch fills."""
    x = lib.tensor([2.0, 3.0], dtype=lib.float64, requires_grad=True)
    y = x * 2
    y.retain_grad()
    (y * y).sum().backward(inputs=[x])
    found = [y.grad, x.grad]
    u = x * 3
    u.retain_grad()
    v = u * 2
    v.retain_grad()
    (v * v).sum().backward(inputs=[v])
    found += [u.grad, v.grad]
    u = x * 3
    u.retain_grad()
    v = u * 2
    v.retain_grad()
    found += [lib.autograd.grad((v * v).sum(), [u])[0], u.grad, v.grad]
    return found


def test_retained_gradients_fill_as_pytorchs_under_inputs_and_autograd_grad() -> None:
    ours, theirs = retained_and_captured(cr), retained_and_captured(torch)
    for a, b in zip(ours, theirs, strict=True):
        if b is None:
            assert a is None
        else:
            assert a is not None
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_backward_to_some_inputs_runs_no_hook_behind_the_others() -> None:
    for lib in (cr, torch):
        x = lib.tensor([2.0, 3.0], dtype=lib.float64, requires_grad=True)
        y = x * 2
        calls: list[int] = []
        y.register_hook(calls.append)
        w = lib.tensor([1.0], dtype=lib.float64, requires_grad=True)
        (y.sum() * w).sum().backward(inputs=[w])
        assert calls == [] and float(w.grad[0]) == 10.0  # no hook ran, w got its gradient


@pytest.mark.parametrize(
    "compute",
    [
        lambda m: m.tensor([1], dtype=m.uint8) + 300,
        lambda m: 300 + m.tensor([1], dtype=m.uint8),
        lambda m: m.tensor([1], dtype=m.int8) * 200,
        lambda m: m.tensor([1], dtype=m.uint8) + (-1),
        lambda m: m.tensor([7], dtype=m.int16) - 70000,
    ],
)
def test_integer_arithmetic_with_large_python_ints_wraps_as_pytorch(compute: Any) -> None:
    assert compute(cr).tolist() == compute(torch).tolist()


def test_where_wants_a_boolean_condition() -> None:
    with pytest.raises(TypeError, match="where: expected a boolean condition, got dtype int64"):
        cr.where(cr.tensor([1, 0]), 1.0, 0.0)
    assert cr.where(cr.tensor([1, 0]) != 0, 1.0, 0.0).tolist() == [1.0, 0.0]
    assert [i.tolist() for i in cr.where(cr.tensor([0, 3, 1]))] == [[1, 2]]


@pytest.mark.parametrize("name", ["jacobian", "jvp"])
def test_functional_refuses_a_function_returning_a_number(name: str) -> None:
    x = cr.tensor([1.0, 2.0], dtype=cr.float64)
    function = getattr(cr.autograd.functional, name)
    arguments = (x,) if name == "jacobian" else (x, cr.ones(2, dtype=cr.float64))
    with pytest.raises(TypeError, match="expected func to return a tensor or a tuple"):
        function(lambda t: 3.0, *arguments)


def test_logsigmoid_is_exact_beyond_softplus_threshold() -> None:
    x = np.array([-20.01, -21.0, -25.0, -40.0, 0.0, 30.0])
    ours = cr.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out, expected = cr.nn.LogSigmoid()(ours), torch.nn.LogSigmoid()(theirs)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize(
    "compute",
    [
        lambda m: m.tensor(np.array([0, 128, 255], np.uint8)) / 256,
        lambda m: m.tensor(np.array([3], np.int32)) / 2**31,
        lambda m: m.tensor(np.array([0, 128, 255], np.uint8)) / -1,
        lambda m: m.tensor(np.array([0, 128, 255], np.uint8)) == 300,
    ],
)
def test_only_integer_results_wrap_large_python_ints(compute: Any) -> None:
    np.testing.assert_allclose(
        np.asarray(compute(cr).tolist()), np.asarray(compute(torch).tolist())
    )


def test_layout_errors_and_grad_deletion() -> None:
    t = cr.zeros(2, 3)
    with pytest.raises(IndexError, match=r"expected to be in range of \[-2, 1\], but got 3"):
        t.stride(3)
    t.grad = cr.ones(2, 3)
    del t.grad
    assert t.grad is None
    with pytest.raises(TypeError, match="masked_fill: expected a boolean mask, got dtype uint8"):
        cr.zeros(3).masked_fill(cr.tensor([1, 0, 1], dtype=cr.uint8), 1.0)


def _compare(ours: Any, theirs: Any, *arrays: np.ndarray, grad: bool = True) -> None:
    mine = [cr.tensor(a, requires_grad=grad) for a in arrays]
    reference = [torch.tensor(a, requires_grad=grad) for a in arrays]
    out, expected = ours(*mine), theirs(*reference)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    if grad:
        weights = np.random.default_rng(2).normal(size=tuple(out.shape))
        (out * cr.tensor(weights)).sum().backward()
        (expected * torch.tensor(weights)).sum().backward()
        for a, b in zip(mine, reference, strict=True):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-14)


R = np.random.default_rng(3)


@pytest.mark.parametrize("scale", [{}, {"beta": 0.5, "alpha": 2.0}, {"beta": 0}])
def test_products_with_an_added_term(scale: dict[str, float]) -> None:
    m, v = R.normal(size=(3, 4)), R.normal(size=4)
    _compare(
        lambda i, a, b: cr.addmm(i, a, b, **scale),
        lambda i, a, b: torch.addmm(i, a, b, **scale),
        R.normal(size=2),
        m,
        R.normal(size=(4, 2)),
    )
    _compare(
        lambda i, a, b: i.addmv(a, b, **scale),
        lambda i, a, b: i.addmv(a, b, **scale),
        R.normal(size=3),
        m,
        v,
    )
    _compare(
        lambda i, a, b: cr.baddbmm(i, a, b, **scale),
        lambda i, a, b: torch.baddbmm(i, a, b, **scale),
        R.normal(size=(2, 3, 2)),
        R.normal(size=(2, 3, 4)),
        R.normal(size=(2, 4, 2)),
    )


@pytest.mark.parametrize("name", ["fmax", "fmin"])
def test_nan_ignoring_extremes(name: str) -> None:
    a = np.array([1.0, np.nan, 3.0, np.nan, -2.0])
    b = np.array([2.0, 5.0, np.nan, np.nan, -2.5])
    ours, theirs = getattr(cr, name), getattr(torch, name)
    np.testing.assert_array_equal(
        ours(cr.tensor(a), cr.tensor(b)).numpy(), theirs(torch.tensor(a), torch.tensor(b)).numpy()
    )
    _compare(ours, theirs, R.normal(size=(3, 4)), R.normal(size=4))


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
def test_distance(p: float) -> None:
    _compare(
        lambda x, y: cr.dist(x, y, p),
        lambda x, y: torch.dist(x, y, p),
        R.normal(size=(3, 4)),
        R.normal(size=4),
    )
    _compare(cr.true_divide, torch.true_divide, R.normal(size=3), R.normal(size=3) + 3)


@pytest.mark.parametrize("k", [-1, 0, 1, 2, 3, 5])
@pytest.mark.parametrize("dims", [(0, 1), (2, 0), (-1, 1)])
def test_rot90(k: int, dims: tuple[int, int]) -> None:
    x = R.normal(size=(2, 3, 4))
    _compare(lambda t: cr.rot90(t, k, dims), lambda t: torch.rot90(t, k, dims), x)
    _compare(lambda t: t.rot90(k, dims), lambda t: t.rot90(k, dims), x)


def test_isin() -> None:
    values, tests = np.array([[1, 2, 3], [4, 5, 6]]), np.array([2, 6, 9])
    for invert in (False, True):
        ours = cr.isin(cr.tensor(values), cr.tensor(tests), invert=invert)
        theirs = torch.isin(torch.tensor(values), torch.tensor(tests), invert=invert)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_diagonal_is_a_view_as_in_pytorch() -> None:
    for lib in (cr, torch):
        w = lib.ones(3, 3, dtype=lib.float64)
        w.diagonal().add_(10.0)
        w.diagonal(1).fill_(-1.0)
        taken = w.diagonal()
        w[0, 0] = 99.0
        assert w.tolist() == [[99.0, -1.0, 1.0], [1.0, 11.0, -1.0], [1.0, 1.0, 11.0]]
        assert taken.tolist() == [99.0, 11.0, 11.0]
        p = lib.ones(2, 2, dtype=lib.float64, requires_grad=True)
        with lib.no_grad():
            p.diagonal().zero_()
        assert p.tolist() == [[0.0, 1.0], [1.0, 0.0]]
        with pytest.raises(RuntimeError):
            lib.ones(2, 2, dtype=lib.float64, requires_grad=True).diagonal().mul_(2)


def test_expand_in_place() -> None:
    a = cr.zeros(2, 3)
    assert a.view(3, 2).shape == (3, 2)
    a.expand_as(a).fill_(1.0)
    a.expand(-1, -1).mul_(2)
    assert a.tolist() == [[2.0] * 3] * 2
    with pytest.raises(RuntimeError, match="zero_: cannot write into this tensor in place"):
        a[None].expand(2, 2, 3).zero_()


def test_clamp_in_place_with_a_bound_that_requires_grad() -> None:
    found = []
    for lib in (cr, torch):
        bound = lib.tensor([0.2, 0.9, 3.0], dtype=lib.float64, requires_grad=True)
        y = lib.ones(2, 3, dtype=lib.float64)
        y.clamp_(max=bound)
        weights = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=lib.float64)
        ((y * weights).sum() + bound.sum()).backward()
        found.append(bound.grad.tolist())
    assert found[0] == found[1] == [6.0, 8.0, 1.0]


@pytest.mark.parametrize(
    "bad",
    [
        np.array([[1, 2.5]], dtype=object),
        np.array(["a", "b"]),
        np.array(["2020-01-01"], dtype="datetime64[D]"),
    ],
)
def test_arrays_of_what_is_not_numbers_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(TypeError, match="expected an array of numbers or bools"):
        cr.tensor(bad)


def test_lists_of_typed_leaves_keep_their_dtype() -> None:
    a64, t64 = np.array([1.5, 2.5]), cr.tensor(2.5, dtype=cr.float64)
    cases = [
        ([a64, a64], [torch.tensor(a64), torch.tensor(a64)]),
        ([np.float64(0.1)], [np.float64(0.1)]),
        ([np.int32(1), np.int32(2)], [np.int32(1), np.int32(2)]),
    ]
    for ours, theirs in cases:
        assert str(cr.tensor(ours).dtype) == str(torch.tensor(np.array(theirs)).dtype).split(".")[1]
    assert cr.tensor([t64, t64]).dtype == np.float64
    assert cr.tensor([np.float64(0.1)]).item() == 0.1
    assert cr.tensor([1.5, 2]).dtype == np.float32  # Python numbers: the default dtype
    with pytest.raises(ValueError, match="expected integers that fit in int64"):
        cr.tensor(2**63)


def test_to_takes_pytorchs_flags() -> None:
    x = cr.ones(2)
    assert x.to("cpu", non_blocking=True) is x
    assert x.to(cr.float64, False).dtype == np.float64
    copied = x.to(x.dtype, copy=True)
    assert copied is not x and copied.tolist() == x.tolist()
    assert x.to(x.dtype, False, True) is not x


def test_integer_arange_takes_its_arguments_as_integers() -> None:
    for lib in (cr, torch):
        assert lib.arange(-2.5, 1, dtype=lib.int64).tolist() == [-2, -1, 0]
        assert lib.arange(lib.tensor(3)).dtype == lib.int64
    with pytest.raises(ValueError, match="step must be non-zero"):
        cr.arange(0, 2.5, 0.5, dtype=cr.int64)


def test_membership_size_range_randint_bounds_and_negative_seeds() -> None:
    grid = cr.tensor([[1, 2], [3, 4]])
    assert 2 in grid and 7 not in grid
    with pytest.raises(IndexError, match=r"expected to be in range of \[-1, 0\], but got 5"):
        cr.zeros(2).size(5)
    with pytest.raises(ValueError, match="randint: expected bounds within uint8's range"):
        cr.randint(0, 300, (5,), dtype=cr.uint8)
    cr.manual_seed(-1)
    first = cr.randn(3)
    cr.manual_seed(-1)
    assert cr.randn(3).tolist() == first.tolist()
    with pytest.raises(RuntimeError, match="add_: cannot write into this tensor in place"):
        cr.ones(3).expand(2, 3).add_(1)


def test_review_edges_of_the_new_functions() -> None:
    for lib in (cr, torch):  # ties: the first operand takes the whole gradient
        a = lib.tensor([2.0], requires_grad=True)
        b = lib.tensor([2.0], requires_grad=True)
        lib.fmax(a, b).sum().backward()
        assert (a.grad.tolist(), b.grad.tolist()) == ([1.0], [0.0])
    x = cr.zeros(2, 2)
    cr.rot90(x, 4).add_(1)
    assert float(x.sum()) == 0.0  # a new tensor, not x itself
    ignored = cr.addmm(
        cr.tensor([1.0, 2.0]), cr.tensor([[np.inf, 1.0], [1.0, 1.0]]), cr.eye(2), alpha=0
    )
    assert ignored.tolist() == [[1.0, 2.0], [1.0, 2.0]]
    with pytest.raises(ValueError, match="broadcasts to the product's shape"):
        cr.addmm(cr.zeros(3, 2, 2), cr.ones(2, 2), cr.ones(2, 2))
    cr.zeros(3, 3).diagonal(5).fill_(1.0)  # an empty diagonal: nothing to write, no error


def test_view_of_an_upsampled_or_indexed_result_works() -> None:
    x = cr.randn(2, 3, 4, 4, generator=0)
    assert cr.nn.functional.interpolate(x, scale_factor=2).view(2, -1).shape == (2, 192)
    assert x[:, [0, 2]].view(2, -1).shape == (2, 32)


def test_logspace_and_initial_seed() -> None:
    for options in ({}, {"base": 2.0}, {"dtype": "float64"}):
        ours = cr.logspace(-1, 3, 6, **options)  # type: ignore[arg-type]
        theirs_options = {k: getattr(torch, v) if k == "dtype" else v for k, v in options.items()}
        theirs = torch.logspace(-1, 3, 6, **theirs_options)
        assert str(ours.dtype) == str(theirs.dtype).split(".")[1]
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    assert isinstance(cr.initial_seed(), int)
    cr.manual_seed(123)
    assert cr.initial_seed() == 123
