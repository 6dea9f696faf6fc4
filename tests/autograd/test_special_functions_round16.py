"""Round 16: erfinv, lgamma, digamma, polygamma and the ``chainrule.special`` namespace,
against PyTorch 2.13's values and gradients (SciPy gives the values, PyTorch's formulas the
derivatives), with their dtypes, edge values and errors."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim

torch = pytest.importorskip("torch")

INF, NAN = math.inf, math.nan
TOLERANCE = {np.float64: {"rtol": 1e-10, "atol": 1e-12}, np.float32: {"rtol": 2e-5, "atol": 1e-6}}


def compare(
    ours: Callable[..., Any],
    theirs: Callable[..., Any],
    arrays: list[np.ndarray],
    **tolerance: float,
) -> None:
    """Values, dtypes and the gradients of every input for a random upstream gradient."""
    tolerance = tolerance or TOLERANCE[arrays[0].dtype.type]
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours(*xs), theirs(*ts)
    assert y.shape == tuple(ty.shape)
    assert str(y.dtype) == str(ty.dtype).removeprefix("torch.")
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tolerance)
    upstream = np.random.default_rng(0).standard_normal(y.shape).astype(y.dtype)
    y.backward(cr.tensor(upstream))
    ty.backward(torch.tensor(upstream))
    for x, t in zip(xs, ts, strict=True):
        assert x.grad is not None and t.grad is not None
        assert x.grad.dtype == x.dtype
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **tolerance)


def uniform(low: float, high: float, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    return np.random.default_rng(1).uniform(low, high, shape).astype(dtype)


# (name, ours, theirs, low, high): the functions of one tensor and their domains.
UNARY: list[tuple[str, Callable[..., Any], Callable[..., Any], float, float]] = [
    ("erfinv", cr.erfinv, torch.erfinv, -0.99, 0.99),
    ("special.erfinv", cr.special.erfinv, torch.special.erfinv, -0.5, 0.5),
    ("erfc", cr.erfc, torch.erfc, -3.0, 5.0),
    ("special.erfc", cr.special.erfc, torch.special.erfc, -1.0, 1.0),
    ("lgamma", cr.lgamma, torch.lgamma, 0.1, 30.0),
    ("lgamma negative", cr.lgamma, torch.lgamma, -3.9, -3.1),
    ("special.gammaln", cr.special.gammaln, torch.special.gammaln, 0.5, 5.0),
    ("digamma", cr.digamma, torch.digamma, 8.0, 40.0),
    ("digamma negative", cr.digamma, torch.digamma, -2.9, -2.1),
    ("special.digamma", cr.special.digamma, torch.special.digamma, 10.0, 20.0),
    ("special.psi", cr.special.psi, torch.special.psi, 10.0, 20.0),
    ("polygamma 0", lambda x: cr.polygamma(0, x), lambda x: torch.polygamma(0, x), 9.0, 20.0),
    ("polygamma 1", lambda x: cr.polygamma(1, x), lambda x: torch.polygamma(1, x), 9.0, 20.0),
    ("polygamma 2", lambda x: cr.polygamma(2, x), lambda x: torch.polygamma(2, x), 0.2, 6.0),
    ("polygamma 3", lambda x: x.polygamma(3), lambda x: x.polygamma(3), -1.8, -1.2),
    (
        "special.polygamma",
        lambda x: cr.special.polygamma(4, x),
        lambda x: torch.special.polygamma(4, x),
        0.5,
        3.0,
    ),
    ("i0", cr.i0, torch.i0, -8.0, 8.0),
    ("special.i0", cr.special.i0, torch.special.i0, -2.0, 2.0),
    ("special.i0e", cr.special.i0e, torch.special.i0e, -30.0, 30.0),
    ("special.ndtr", cr.special.ndtr, torch.special.ndtr, -6.0, 6.0),
    # (not much further left: PyTorch's float32 gradient there cancels digits away)
    ("special.log_ndtr", cr.special.log_ndtr, torch.special.log_ndtr, -12.0, 6.0),
    ("special.ndtri", cr.special.ndtri, torch.special.ndtri, 0.001, 0.999),
    ("special.entr", cr.special.entr, torch.special.entr, 0.01, 3.0),
    ("special.expit", cr.special.expit, torch.special.expit, -5.0, 5.0),
    ("special.logit", cr.special.logit, torch.special.logit, 0.05, 0.95),
    ("special.erf", cr.special.erf, torch.special.erf, -2.0, 2.0),
    ("special.sinc", cr.special.sinc, torch.special.sinc, -2.0, 2.0),
    ("special.expm1", cr.special.expm1, torch.special.expm1, -2.0, 2.0),
    ("special.exp2", cr.special.exp2, torch.special.exp2, -2.0, 2.0),
    ("special.log1p", cr.special.log1p, torch.special.log1p, -0.5, 2.0),
    (
        "special.multigammaln",
        lambda x: cr.special.multigammaln(x, 3),
        lambda x: torch.special.multigammaln(x, 3),
        1.1,
        6.0,
    ),
    (
        "special.logsumexp",
        lambda x: cr.special.logsumexp(x, 1),
        lambda x: torch.special.logsumexp(x, 1),
        -3.0,
        3.0,
    ),
    (
        "special.softmax",
        lambda x: cr.special.softmax(x, 0),
        lambda x: torch.special.softmax(x, 0),
        -3.0,
        3.0,
    ),
    (
        "special.log_softmax",
        lambda x: cr.special.log_softmax(x, -1),
        lambda x: torch.special.log_softmax(x, -1),
        -3.0,
        3.0,
    ),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(
    ("name", "ours", "theirs", "low", "high"), UNARY, ids=[u[0] for u in UNARY]
)
def test_special_function_matches_torch(
    name: str, ours: Any, theirs: Any, low: float, high: float, dtype: Any
) -> None:
    compare(ours, theirs, [uniform(low, high, (3, 4), dtype)])


@pytest.mark.parametrize(
    ("name", "ours", "theirs", "low", "high"), UNARY, ids=[u[0] for u in UNARY]
)
def test_special_function_gradient_matches_finite_differences(
    name: str, ours: Any, theirs: Any, low: float, high: float
) -> None:
    report = cr.gradcheck(lambda t: ours(t), [uniform(low, high, (2, 3), np.float64)])
    assert report.passed, f"{name}\n{report}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_trigamma_and_digamma_gradient_near_one_agree_with_torch_to_its_accuracy(
    dtype: Any,
) -> None:
    # PyTorch's polygamma(1, x) stops its series early: about 5e-10 off, relatively, near 1.
    x = uniform(0.5, 3.0, (4, 5), dtype)
    loose = {"rtol": 2e-9, "atol": 0.0} if dtype is np.float64 else {}
    compare(cr.digamma, torch.digamma, [x], **loose)
    compare(lambda t: cr.polygamma(1, t), lambda t: torch.polygamma(1, t), [x], **loose)
    # and ours is exact there: pi**2 / 6 and pi**2 / 2
    exact = cr.polygamma(1, cr.tensor([1.0, 0.5], dtype=cr.float64)).numpy()
    np.testing.assert_allclose(exact, [math.pi**2 / 6, math.pi**2 / 2], rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_xlogy_and_xlog1py_match_torch_with_broadcasting(dtype: Any) -> None:
    x = np.array([[0.0, 1.5, -2.0], [3.0, 0.0, 0.5]], dtype)
    y = np.array([0.5, 2.0, 1.25], dtype)
    compare(cr.special.xlogy, torch.special.xlogy, [x, y])
    compare(cr.special.xlog1py, torch.special.xlog1py, [x, y - 0.25])


# --------------------------------------------------------------------- edge values
EDGES = np.array([-INF, -3.0, -2.0, -1.0, -0.5, -0.0, 0.0, 1e-300, 0.5, 1.0, 30.0, INF, NAN])


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (cr.erfc, torch.erfc),
        (cr.i0, torch.i0),
        (cr.special.i0e, torch.special.i0e),
        (cr.special.ndtr, torch.special.ndtr),
        (cr.special.entr, torch.special.entr),
        (cr.digamma, torch.digamma),
        (lambda x: cr.polygamma(0, x), lambda x: torch.polygamma(0, x)),
    ],
    ids=["erfc", "i0", "i0e", "ndtr", "entr", "digamma", "polygamma0"],
)
def test_edge_values_and_their_gradients_match_torch(ours: Any, theirs: Any) -> None:
    x = cr.tensor(EDGES, requires_grad=True)
    t = torch.tensor(EDGES, requires_grad=True)
    y, ty = ours(x), theirs(t)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-14)
    if ours is cr.digamma or ty.grad_fn.name().startswith("Polygamma"):
        return  # digamma's derivative differs at the poles: see the next test
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, equal_nan=True)


def test_log_ndtr_ndtri_and_erfinv_edges_match_torch() -> None:
    probabilities = np.array([-0.5, 0.0, 1e-300, 0.25, 0.5, 1.0, 1.5, NAN])
    for ours, theirs, values in [
        (cr.special.ndtri, torch.special.ndtri, probabilities),
        (cr.erfinv, torch.erfinv, np.array([-1.5, -1.0, -0.999, 0.0, 0.5, 1.0, NAN])),
        (cr.special.log_ndtr, torch.special.log_ndtr, EDGES),
        (cr.special.log_ndtr, torch.special.log_ndtr, np.array([-1e5, -300.0, -40.0, 40.0])),
    ]:
        x = cr.tensor(values, requires_grad=True)
        t = torch.tensor(values, requires_grad=True)
        y, ty = ours(x), theirs(t)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, equal_nan=True)


def test_lgamma_poles_and_infinities_match_torch() -> None:
    x = cr.tensor(EDGES, requires_grad=True)
    t = torch.tensor(EDGES, requires_grad=True)
    y, ty = cr.lgamma(x), torch.lgamma(t)
    np.testing.assert_allclose(
        y.detach().numpy(), ty.detach().numpy(), rtol=1e-14
    )  # lgamma(-inf)=inf
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, equal_nan=True)


def test_polygamma_where_scipy_and_torch_differ_takes_the_limits() -> None:
    # At +inf the derivatives of digamma tend to 0 (PyTorch: NaN); at a pole, trigamma is
    # inf (PyTorch: a large finite number from its reflection formula).
    at_inf = cr.polygamma(2, cr.tensor([INF], dtype=cr.float64)).numpy()
    assert at_inf[0] == 0.0
    assert np.isnan(torch.polygamma(2, torch.tensor([INF], dtype=torch.float64)).numpy()[0])
    pole = cr.polygamma(1, cr.tensor([-2.0], dtype=cr.float64)).numpy()[0]
    assert pole == INF
    x = cr.tensor([-2.0, 0.0], dtype=cr.float64, requires_grad=True)
    cr.digamma(x).sum().backward()
    assert x.grad.numpy().tolist() == [INF, INF]


# --------------------------------------------------------------------- dtypes and shapes
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (cr.erfinv, torch.erfinv),
        (cr.lgamma, torch.lgamma),
        (cr.digamma, torch.digamma),
        (lambda x: cr.polygamma(1, x), lambda x: torch.polygamma(1, x)),
        (cr.i0, torch.i0),
        (cr.erfc, torch.erfc),
        (cr.special.entr, torch.special.entr),
        (cr.special.ndtr, torch.special.ndtr),
    ],
    ids=["erfinv", "lgamma", "digamma", "polygamma", "i0", "erfc", "entr", "ndtr"],
)
def test_integers_become_float32_and_shapes_stay(ours: Any, theirs: Any) -> None:
    for values in ([0, 1, 2], [[True, False]]):
        y, ty = ours(cr.tensor(values)), theirs(torch.tensor(values))
        assert y.dtype == cr.float32 and ty.dtype == torch.float32
        np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-6)
    for shape in [(), (0,), (2, 0, 3)]:
        x = cr.full(shape, 0.5, dtype=cr.float64)
        y, ty = ours(x), theirs(torch.full(shape, 0.5, dtype=torch.float64))
        assert y.shape == tuple(ty.shape) and y.dtype == cr.float64
        np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-9)


def test_zero_dimensional_gradient() -> None:
    x = cr.tensor(0.3, dtype=cr.float64, requires_grad=True)
    cr.erfinv(x).backward()
    t = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    torch.erfinv(t).backward()
    assert x.grad.shape == () and float(x.grad) == pytest.approx(float(t.grad), rel=1e-14)


# --------------------------------------------------------------------- methods and errors
@pytest.mark.parametrize(
    "method", ["erfinv", "erfc", "lgamma", "digamma", "i0"], ids=lambda m: f"{m}_"
)
def test_in_place_methods_match_torch_and_are_recorded(method: str) -> None:
    values = np.array([0.25, 0.5, 0.75])
    w = cr.tensor(values, requires_grad=True)
    tw = torch.tensor(values, requires_grad=True)
    y, ty = w * 1, tw * 1
    assert getattr(y, method + "_")() is y
    getattr(ty, method + "_")()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-9)
    (y * cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64)).sum().backward()
    (ty * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-8)
    np.testing.assert_allclose(
        getattr(cr.tensor(values), method)().numpy(),
        getattr(torch.tensor(values), method)().numpy(),
        rtol=1e-9,
    )


def test_polygamma_method_and_in_place() -> None:
    x = cr.tensor([1.0, 2.0], dtype=cr.float64)
    np.testing.assert_allclose(x.polygamma(1).numpy(), [math.pi**2 / 6, math.pi**2 / 6 - 1])
    assert x.polygamma_(2) is x
    np.testing.assert_allclose(
        x.numpy(), torch.tensor([1.0, 2.0], dtype=torch.float64).polygamma_(2).numpy()
    )


def test_in_place_refusals() -> None:
    with pytest.raises(TypeError, match="erfinv_: the result's dtype float32 cannot be stored"):
        cr.tensor([0, 1]).erfinv_()
    with pytest.raises(RuntimeError, match="lgamma_: cannot modify a leaf tensor"):
        cr.tensor([1.0], requires_grad=True).lgamma_()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: cr.polygamma(-1, cr.ones(2)), ValueError, r"order n >= 0, got -1"),
        (lambda: cr.polygamma(1.5, cr.ones(2)), TypeError, r"integer order n, got 1.5"),
        (lambda: cr.polygamma(True, cr.ones(2)), TypeError, r"integer order n, got True"),
        (lambda: cr.ones(2).polygamma(-2), ValueError, r"order n >= 0, got -2"),
        (lambda: cr.special.multigammaln(cr.ones(2), 0), ValueError, r"dimension p >= 1, got 0"),
        (
            lambda: cr.special.multigammaln(cr.tensor([0.5, 2.0]), 3),
            ValueError,
            r"every element > \(p - 1\) / 2 = 1.0, got a smallest one of 0.5",
        ),
    ],
)
def test_errors_say_what_was_expected(call: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------- the namespace
def test_special_namespace_names_exist_in_torch_special_and_have_docstrings() -> None:
    for name in cr.special.__all__:
        assert hasattr(torch.special, name), name
        assert getattr(cr.special, name).__doc__, name
    assert cr.special.round(cr.tensor([1.25]), decimals=1).tolist() == pytest.approx([1.2])
    assert "round" not in cr.special.__all__  # a star import leaves the builtin alone
    assert cr.special.expit is cr.sigmoid and cr.special.gammaln is cr.lgamma


def test_special_ops_replay_in_compile_step() -> None:
    class Special(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(3, 4)

        def forward(self, x: cr.Tensor) -> cr.Tensor:
            h = cr.tanh(self.linear(x)) * 0.9
            p = cr.special.ndtr(h)
            out = cr.erfinv(h) + cr.lgamma(h + 2) + cr.digamma(h + 2) + cr.polygamma(1, h + 2)
            out = out + cr.i0(h) + cr.special.i0e(h) + cr.erfc(h) + cr.special.log_ndtr(h)
            out = out + cr.special.ndtri(p * 0.5 + 0.25) + cr.special.entr(p)
            return cr.logcumsumexp(out, 1)[:, -1:]

    def make() -> Any:
        model = Special()
        return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01)

    rng = np.random.default_rng(0)
    batches = [
        (cr.tensor(rng.standard_normal((8, 3)), dtype=cr.float32), cr.zeros(8, 1)) for _ in range(2)
    ]
    cr.manual_seed(0)
    eager_model, eager_loss, eager_opt = make()
    cr.manual_seed(0)
    model, loss_fn, optimizer = make()
    step = cr.compile_step(model, loss_fn, optimizer)
    for _ in range(2):
        for x, y in batches:
            eager_opt.zero_grad()
            expected = eager_loss(eager_model(x), y)
            expected.backward()
            eager_opt.step()
            assert step(x, y).item() == expected.item()
    assert step.eager_reason is None
