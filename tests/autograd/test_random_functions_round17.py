"""PyTorch's remaining random draws: ``bernoulli`` (function, method and in place), ``poisson``,
``scalar_tensor`` and the in-place fills ``exponential_``, ``geometric_``, ``log_normal_``,
``cauchy_`` and ``random_``. The numbers differ from PyTorch's, so the tests check what
PyTorch shares: dtypes, shapes, ranges, errors, and the distributions' moments on large
samples drawn from fixed seeds (loose bounds, so they cannot flake)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

FLOATS = [cr.float16, cr.float32, cr.float64]
N = 200_000


@pytest.fixture
def float64_default() -> Iterator[None]:
    cr.set_default_dtype(cr.float64)
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        cr.set_default_dtype(cr.float32)
        torch.set_default_dtype(torch.float32)


def test_exported() -> None:
    for name in ("bernoulli", "poisson", "scalar_tensor"):
        assert name in cr.__all__
        assert getattr(cr, name).__doc__


# bernoulli ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
def test_bernoulli_keeps_dtype_and_shape(dtype: Any) -> None:
    p = cr.full((3, 4), 0.5, dtype=dtype)
    out = cr.bernoulli(p, generator=0)
    expected = torch.bernoulli(torch.full((3, 4), 0.5, dtype=getattr(torch, str(dtype))))
    assert out.dtype == dtype and str(expected.dtype) == f"torch.{dtype}"
    assert out.shape == (3, 4) and set(np.unique(out.numpy())) <= {0.0, 1.0}
    assert not out.requires_grad


def test_bernoulli_certain_probabilities_match_torch() -> None:
    p = [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]
    np.testing.assert_array_equal(
        cr.bernoulli(cr.tensor(p)).numpy(), torch.bernoulli(torch.tensor(p)).numpy()
    )
    np.testing.assert_array_equal(cr.tensor(p).bernoulli().numpy(), np.array(p))
    assert cr.bernoulli(cr.zeros(5), 1.0).tolist() == [1.0] * 5
    assert cr.zeros(5).bernoulli(0.0).tolist() == [0.0] * 5


def test_bernoulli_p_with_an_integer_input_keeps_its_dtype() -> None:
    out = cr.bernoulli(cr.tensor([1, 0, 1]), 1.0)
    assert out.dtype == cr.int64 and out.tolist() == [1, 1, 1]
    assert torch.bernoulli(torch.tensor([1, 0, 1]), 1.0).dtype == torch.int64


def test_bernoulli_seeded_reproducibility() -> None:
    p = cr.rand(100, generator=3)
    np.testing.assert_array_equal(
        cr.bernoulli(p, generator=7).numpy(), cr.bernoulli(p, generator=7).numpy()
    )
    cr.manual_seed(11)
    first = p.bernoulli().numpy()
    cr.manual_seed(11)
    np.testing.assert_array_equal(p.bernoulli().numpy(), first)
    assert not np.array_equal(cr.bernoulli(p, generator=8).numpy(), first)


def test_bernoulli_no_gradient() -> None:
    p = cr.tensor([0.3, 0.7], requires_grad=True)
    assert not cr.bernoulli(p, generator=0).requires_grad


@pytest.mark.parametrize("prob", [0.03, 0.3, 0.8])
def test_bernoulli_mean_and_variance(prob: float) -> None:
    out = cr.bernoulli(cr.full((N,), prob, dtype=cr.float64), generator=1).numpy()
    # the standard error of the mean is at most 0.5 / sqrt(N) ~ 0.0011
    assert abs(out.mean() - prob) < 0.01
    assert abs(out.var() - prob * (1 - prob)) < 0.01


def test_bernoulli_per_element_probabilities() -> None:
    p = cr.tensor([0.1, 0.9], dtype=cr.float64).expand(N, 2)
    means = cr.bernoulli(p, generator=2).numpy().mean(axis=0)
    np.testing.assert_allclose(means, [0.1, 0.9], atol=0.01)


@pytest.mark.parametrize("bad", [1.5, -0.5, float("nan")])
def test_bernoulli_refuses_probabilities_outside_0_1(bad: float) -> None:
    with pytest.raises(RuntimeError):
        torch.bernoulli(torch.tensor([0.5, bad]))
    with pytest.raises(ValueError, match=r"bernoulli: expected probabilities p in \[0, 1\], got"):
        cr.bernoulli(cr.tensor([0.5, bad]))
    with pytest.raises(ValueError, match=r"bernoulli: expected probabilities p in \[0, 1\]"):
        cr.bernoulli(cr.zeros(2), bad)
    with pytest.raises(ValueError, match=r"bernoulli: expected probabilities p in \[0, 1\]"):
        cr.zeros(2).bernoulli(bad)


def test_bernoulli_refuses_integer_probabilities_and_array_p() -> None:
    with pytest.raises(NotImplementedError):
        torch.bernoulli(torch.tensor([1, 0]))
    with pytest.raises(TypeError, match="bernoulli: expected a floating-point tensor of prob"):
        cr.bernoulli(cr.tensor([1, 0]))
    with pytest.raises(ValueError, match="bernoulli: expected p a number, got an array"):
        cr.bernoulli(cr.zeros(2), cr.tensor([0.5, 0.5]))


# bernoulli_ --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [*FLOATS, cr.int64, cr.int8, cr.bool])
def test_bernoulli_inplace_any_dtype(dtype: Any) -> None:
    t = cr.zeros(1000, dtype=dtype)
    assert t.bernoulli_(generator=0) is t
    assert t.dtype == dtype
    values = set(np.unique(t.numpy()).tolist())
    assert values == {0, 1}
    expected = torch.zeros(4, dtype=getattr(torch, str(dtype))).bernoulli_()
    assert str(expected.dtype) == f"torch.{dtype}"


def test_bernoulli_inplace_default_half_and_seeded() -> None:
    a = cr.zeros(N, dtype=cr.float64).bernoulli_(generator=5).numpy()
    b = cr.zeros(N, dtype=cr.float64).bernoulli_(generator=5).numpy()
    np.testing.assert_array_equal(a, b)
    assert abs(a.mean() - 0.5) < 0.01


def test_bernoulli_inplace_tensor_p_broadcasts() -> None:
    t = cr.zeros(3, 2).bernoulli_(cr.tensor([1.0, 0.0]))
    np.testing.assert_array_equal(
        t.numpy(), torch.zeros(3, 2).bernoulli_(torch.tensor([1.0, 0.0])).numpy()
    )
    with pytest.raises(ValueError, match=r"bernoulli_: expected p of a shape that broadcasts"):
        cr.zeros(3).bernoulli_(cr.tensor([0.5, 0.5]))


def test_bernoulli_inplace_errors() -> None:
    with pytest.raises(RuntimeError, match="bernoulli_ expects p to be in"):
        torch.zeros(3).bernoulli_(1.5)
    with pytest.raises(ValueError, match=r"bernoulli_: expected probabilities p in \[0, 1\], got"):
        cr.zeros(3).bernoulli_(1.5)
    with pytest.raises(ValueError, match=r"bernoulli_: expected probabilities p in \[0, 1\]"):
        cr.zeros(3).bernoulli_(cr.tensor([2.0, 0.0, 1.0]))
    with pytest.raises(RuntimeError, match="bernoulli_: cannot modify a leaf tensor"):
        cr.zeros(3, requires_grad=True).bernoulli_()


# poisson -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
def test_poisson_keeps_dtype_and_shape(dtype: Any) -> None:
    rates = cr.full((2, 5), 3.0, dtype=dtype)
    out = cr.poisson(rates, generator=0)
    expected = torch.poisson(torch.full((2, 5), 3.0, dtype=getattr(torch, str(dtype))))
    assert out.dtype == dtype and str(expected.dtype) == f"torch.{dtype}"
    assert out.shape == (2, 5)
    values = out.numpy()
    assert np.all(values >= 0) and np.all(values == np.round(values))
    assert not cr.poisson(cr.tensor([1.0], requires_grad=True)).requires_grad


def test_poisson_zero_rate_matches_torch() -> None:
    np.testing.assert_array_equal(
        cr.poisson(cr.zeros(4)).numpy(), torch.poisson(torch.zeros(4)).numpy()
    )


@pytest.mark.parametrize("rate", [0.5, 4.0, 100.0])
def test_poisson_mean_and_variance(rate: float) -> None:
    out = cr.poisson(cr.full((N,), rate, dtype=cr.float64), generator=3).numpy()
    # standard errors: sqrt(rate / N) for the mean, a few times that for the variance
    assert abs(out.mean() - rate) < 0.02 * rate + 0.01
    assert abs(out.var() - rate) < 0.05 * rate + 0.01


def test_poisson_seeded_reproducibility() -> None:
    rates = cr.rand(50, generator=0) * 10
    np.testing.assert_array_equal(
        cr.poisson(rates, generator=9).numpy(), cr.poisson(rates, 9).numpy()
    )
    g = cr.Generator().manual_seed(4)
    first = cr.poisson(rates, g).numpy()
    np.testing.assert_array_equal(first, cr.poisson(rates, cr.Generator().manual_seed(4)).numpy())


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_poisson_refuses_bad_rates(bad: float) -> None:
    if bad != float("inf"):  # PyTorch draws garbage for an infinite rate
        with pytest.raises(RuntimeError, match="invalid Poisson rate"):
            torch.poisson(torch.tensor([1.0, bad]))
    with pytest.raises(ValueError, match="poisson: expected finite rates >= 0, got"):
        cr.poisson(cr.tensor([1.0, bad]))


def test_poisson_errors() -> None:
    with pytest.raises(NotImplementedError):
        torch.poisson(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="poisson: expected a floating-point tensor of rates"):
        cr.poisson(cr.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"poisson: expected rates up to about 9\.2e18"):
        cr.poisson(cr.tensor([1e20], dtype=cr.float64))


# scalar_tensor -----------------------------------------------------------------------------


@pytest.mark.parametrize("s", [3, 2.5, True, -0.0, np.int32(4), np.float64(1.25)])
def test_scalar_tensor_matches_torch(s: Any) -> None:
    out, expected = cr.scalar_tensor(s), torch.scalar_tensor(s)
    assert out.shape == () and str(expected.dtype) == f"torch.{out.dtype}"
    assert out.item() == expected.item()


@pytest.mark.parametrize("dtype", ["int64", "float64", "float16", "bool", "int32"])
def test_scalar_tensor_dtype(dtype: str) -> None:
    out = cr.scalar_tensor(3, dtype=getattr(cr, dtype))
    expected = torch.scalar_tensor(3, dtype=getattr(torch, dtype))
    assert str(out.dtype) == dtype and out.item() == expected.item()


def test_scalar_tensor_default_dtype_and_tensor_input(float64_default: None) -> None:
    assert cr.scalar_tensor(1).dtype == cr.float64 == cr.get_default_dtype()
    assert torch.scalar_tensor(1).dtype == torch.float64
    assert cr.scalar_tensor(cr.tensor(2)).item() == torch.scalar_tensor(torch.tensor(2)).item()


def test_scalar_tensor_requires_grad_device_and_errors() -> None:
    t = cr.scalar_tensor(3.0, requires_grad=True, device="cpu")
    assert t.requires_grad and t.is_leaf
    with pytest.raises(TypeError, match="must be Number"):
        torch.scalar_tensor([1])
    with pytest.raises(TypeError, match="scalar_tensor: expected a real number s, got list"):
        cr.scalar_tensor([1])
    with pytest.raises(TypeError, match="scalar_tensor: expected a real number s, got complex"):
        cr.scalar_tensor(2 + 1j)


# the in-place fills ------------------------------------------------------------------------


FILLS: dict[str, Callable[[cr.Tensor, Any], cr.Tensor]] = {
    "exponential_": lambda t, g: t.exponential_(2.0, generator=g),
    "log_normal_": lambda t, g: t.log_normal_(0.5, 0.25, generator=g),
    "cauchy_": lambda t, g: t.cauchy_(1.0, 2.0, generator=g),
    "geometric_": lambda t, g: t.geometric_(0.25, generator=g),
    "random_": lambda t, g: t.random_(3, 10, generator=g),
}


@pytest.mark.parametrize("name", FILLS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_fills_keep_dtype_shape_and_repeat_with_a_seed(name: str, dtype: Any) -> None:
    t = cr.zeros(4, 5, dtype=dtype)
    assert FILLS[name](t, 0) is t
    assert t.dtype == dtype and t.shape == (4, 5)
    again = FILLS[name](cr.zeros(4, 5, dtype=dtype), 0)
    np.testing.assert_array_equal(t.numpy(), again.numpy())
    cr.manual_seed(2)
    first = FILLS[name](cr.zeros(4, 5, dtype=dtype), None).numpy()
    cr.manual_seed(2)
    np.testing.assert_array_equal(FILLS[name](cr.zeros(4, 5, dtype=dtype), None).numpy(), first)


@pytest.mark.parametrize("name", FILLS)
def test_fills_refuse_a_leaf_that_requires_grad(name: str) -> None:
    with pytest.raises(RuntimeError, match=f"{name}: cannot modify a leaf tensor"):
        FILLS[name](cr.zeros(3, requires_grad=True), 0)
    with cr.no_grad():
        FILLS[name](cr.zeros(3, requires_grad=True), 0)


def test_exponential_moments() -> None:
    x = cr.zeros(N, dtype=cr.float64).exponential_(2.0, generator=1).numpy()
    assert np.all(x >= 0)
    assert abs(x.mean() - 0.5) < 0.01 and abs(x.var() - 0.25) < 0.01
    y = cr.zeros(N, dtype=cr.float64).exponential_(generator=1).numpy()
    assert abs(y.mean() - 1.0) < 0.02


def test_exponential_errors() -> None:
    with pytest.raises(RuntimeError, match=r"exponential_ expects lambda > 0\.0"):
        torch.zeros(3).exponential_(0)
    with pytest.raises(ValueError, match="exponential_: expected lambd > 0, got 0"):
        cr.zeros(3).exponential_(0)
    with pytest.raises(ValueError, match=r"exponential_: expected lambd > 0, got -1\.0"):
        cr.zeros(3).exponential_(lambd=-1.0)
    with pytest.raises(RuntimeError, match="dtype must be a floating point"):
        torch.zeros(3, dtype=torch.long).exponential_()
    with pytest.raises(TypeError, match="exponential_: expected a floating-point tensor, got"):
        cr.zeros(3, dtype=cr.int64).exponential_()


@pytest.mark.parametrize("dtype", [cr.float64, cr.int64, cr.int32])
def test_geometric_values_and_moments(dtype: Any) -> None:
    p = 0.25
    x = cr.zeros(N, dtype=dtype).geometric_(p, generator=2)
    assert x.dtype == dtype
    assert str(torch.zeros(2, dtype=getattr(torch, str(dtype))).geometric_(p).dtype).endswith(
        str(dtype)
    )
    values = x.numpy().astype(np.float64)
    assert values.min() >= 1 and np.all(values == np.round(values))
    # mean 1 / p = 4, variance (1 - p) / p**2 = 12
    assert abs(values.mean() - 4.0) < 0.05 and abs(values.var() - 12.0) < 0.5


@pytest.mark.parametrize("p", [0.0, 1.0, 1.5, -0.2])
def test_geometric_refuses_p_outside_0_1(p: float) -> None:
    with pytest.raises(RuntimeError, match=r"geometric_ expects p to be in \(0, 1\)"):
        torch.zeros(3).geometric_(p)
    with pytest.raises(ValueError, match=r"geometric_: expected p in \(0, 1\), got"):
        cr.zeros(3).geometric_(p)


def test_geometric_refuses_bool() -> None:
    with pytest.raises(NotImplementedError):
        torch.zeros(3, dtype=torch.bool).geometric_(0.5)
    with pytest.raises(TypeError, match="geometric_: expected a numeric tensor, got dtype bool"):
        cr.zeros(3, dtype=cr.bool).geometric_(0.5)


def test_log_normal_moments() -> None:
    x = cr.zeros(N, dtype=cr.float64).log_normal_(0.5, 0.25, generator=3).numpy()
    assert np.all(x > 0)
    logs = np.log(x)
    assert abs(logs.mean() - 0.5) < 0.01 and abs(logs.std() - 0.25) < 0.01
    assert abs(x.mean() - np.exp(0.5 + 0.25**2 / 2)) < 0.01
    defaults = np.log(cr.zeros(N, dtype=cr.float64).log_normal_(generator=3).numpy())
    assert abs(defaults.mean() - 1.0) < 0.05 and abs(defaults.std() - 2.0) < 0.05


def test_log_normal_errors() -> None:
    with pytest.raises(RuntimeError, match=r"log_normal_ expects std > 0\.0"):
        torch.zeros(3).log_normal_(1, 0)
    with pytest.raises(ValueError, match="log_normal_: expected std > 0, got 0"):
        cr.zeros(3).log_normal_(1, 0)
    with pytest.raises(TypeError, match="log_normal_: expected a floating-point tensor, got"):
        cr.zeros(3, dtype=cr.int64).log_normal_()


def test_cauchy_quantiles() -> None:
    # the Cauchy distribution has no mean; its median is `median` and quartiles median +- sigma
    x = cr.zeros(N, dtype=cr.float64).cauchy_(1.0, 2.0, generator=4).numpy()
    q1, q2, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    assert abs(q2 - 1.0) < 0.05 and abs(q1 + 1.0) < 0.1 and abs(q3 - 3.0) < 0.1


def test_cauchy_errors() -> None:
    with pytest.raises(RuntimeError, match=r"cauchy_ expects sigma > 0\.0"):
        torch.zeros(3).cauchy_(0, 0)
    with pytest.raises(ValueError, match="cauchy_: expected sigma > 0, got -1"):
        cr.zeros(3).cauchy_(0, -1)
    with pytest.raises(TypeError, match="cauchy_: expected a floating-point tensor, got"):
        cr.zeros(3, dtype=cr.int64).cauchy_()


# random_ -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "top"),
    [
        ("float16", 2**11),
        ("float32", 2**24),
        ("float64", 2**53),
        ("int8", 127),
        ("uint8", 255),
        ("int32", 2**31 - 1),
        ("int64", 2**63 - 1),
        ("bool", 1),
    ],
)
def test_random_default_range(dtype: str, top: int) -> None:
    x = cr.zeros(20_000, dtype=getattr(cr, dtype)).random_(generator=5)
    assert str(x.dtype) == dtype
    reference = torch.zeros(20_000, dtype=getattr(torch, dtype)).random_()
    for values in (x.numpy(), reference.numpy()):
        as_ints = values.astype(object) if dtype != "bool" else values.astype(int)
        assert min(as_ints) >= 0 and max(as_ints) <= top
        # the draws spread over the range: the largest is above half of it
        assert max(as_ints) > top // 2


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int8", "uint8"])
def test_random_bounds_match_torch_support(dtype: str) -> None:
    make = getattr(cr, dtype)
    for args, kwargs, support in [
        ((7,), {}, set(range(7))),
        ((2, 6), {}, set(range(2, 6))),
        ((), {"to": 4}, set(range(4))),
    ]:
        mine = cr.zeros(5000, dtype=make).random_(*args, generator=1, **kwargs).numpy()
        theirs = torch.zeros(5000, dtype=getattr(torch, dtype)).random_(*args, **kwargs).numpy()
        assert set(np.unique(mine).tolist()) == support == set(np.unique(theirs).tolist())


def test_random_uniform_counts_and_negative_from() -> None:
    x = cr.zeros(N, dtype=cr.float64).random_(-3, 2, generator=6).numpy()
    counts = np.array([np.count_nonzero(x == k) for k in range(-3, 2)])
    assert counts.sum() == N
    np.testing.assert_allclose(counts / N, 0.2, atol=0.01)
    assert set(np.unique(torch.zeros(1000).random_(-3, 2).numpy()).tolist()) <= set(range(-3, 2))


def test_random_from_alone_up_to_the_dtype_bound() -> None:
    x = cr.zeros(1000, dtype=cr.int8).random_(100, None, generator=0).numpy()
    assert x.min() >= 100 and x.max() <= 127
    y = torch.zeros(1000, dtype=torch.int8).random_(100, None).numpy()
    assert y.min() >= 100 and y.max() <= 127


def test_random_seeded_reproducibility() -> None:
    a = cr.zeros(100, dtype=cr.int64).random_(generator=3).numpy()
    b = cr.zeros(100, dtype=cr.int64).random_(generator=3).numpy()
    np.testing.assert_array_equal(a, b)


def test_random_errors() -> None:
    with pytest.raises(RuntimeError, match="random_ expects 'from' to be less than 'to'"):
        torch.zeros(3).random_(5, 2)
    with pytest.raises(ValueError, match="random_: expected from < to, got from=5, to=2"):
        cr.zeros(3).random_(5, 2)
    with pytest.raises(ValueError, match="random_: expected from < to, got from=0, to=0"):
        cr.zeros(3).random_(0)
    with pytest.raises(RuntimeError, match="out of bounds"):
        torch.zeros(3, dtype=torch.int8).random_(300)
    with pytest.raises(ValueError, match=r"random_: expected bounds within int8's range"):
        cr.zeros(3, dtype=cr.int8).random_(300)
    with pytest.raises(ValueError, match=r"random_: expected bounds within uint8's range"):
        cr.zeros(3, dtype=cr.uint8).random_(-3, 2)
    with pytest.raises(TypeError, match=r"random_: expected \(\), \(to\) or \(from, to\)"):
        cr.zeros(3).random_(1, 2, 3)
    with pytest.raises(TypeError, match=r"random_: expected \(\), \(to\) or \(from, to\)"):
        cr.zeros(3).random_(1, 2, to=3)


@pytest.mark.parametrize("which", ["mean", "std"])
def test_normal_refuses_integer_tensors_instead_of_cutting_its_draws(which):
    ints = cr.tensor([0, 1])
    args = {"mean": ints, "std": 1.0} if which == "mean" else {"mean": 0.0, "std": ints}
    with pytest.raises(
        TypeError, match=f"normal: expected a floating-point {which} tensor, got dtype int64"
    ):
        cr.normal(**args)
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        torch.normal(torch.tensor([0, 1]), 1.0)
