"""Autograd and the optimizers used outside neural networks, as a scientist uses PyTorch.

Each workflow runs once with chainrule and once with PyTorch (same data, same start, float64),
or against a closed form (numpy.linalg.lstsq, scikit-learn, a sample mean).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.autograd import Function
from chainrule.autograd.functional import jacobian

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(20261128)
X_LOGIT = RNG.standard_normal((80, 3))
Y_LOGIT = (RNG.random(80) < 1 / (1 + np.exp(-(X_LOGIT @ np.array([1.5, -2.0, 0.5]) + 0.3)))).astype(
    np.float64
)
T_OSC = np.linspace(0.0, 5.0, 80)
X_OSC = 2.0 * np.exp(-0.4 * T_OSC) * np.cos(3.0 * T_OSC + 0.5) + 0.01 * RNG.standard_normal(80)


def leaf(lib: str, value: Any) -> Any:
    if lib == "cr":
        return cr.tensor(np.array(value, dtype=np.float64), requires_grad=True)
    return torch.tensor(np.array(value, dtype=np.float64), requires_grad=True)


def const(lib: str, value: Any) -> Any:
    return cr.tensor(value) if lib == "cr" else torch.tensor(value)


def softplus(lib: str, z: Any) -> Any:
    return cr.nn.functional.softplus(z) if lib == "cr" else torch.nn.functional.softplus(z)


def numpy_of(t: Any) -> Any:
    return np.array(t.detach().numpy(), dtype=np.float64)


# ------------------------------------------------------------------ LBFGS, logistic regression
def logistic_lbfgs(lib: str, steps: int, l2: float = 0.0, **options: Any) -> list[np.ndarray]:
    """Loss and parameters after each LBFGS.step on the mean logistic loss (+ l2/2 |w|^2)."""
    w, b = leaf(lib, np.zeros(3)), leaf(lib, np.zeros(1))
    x, y = const(lib, X_LOGIT), const(lib, Y_LOGIT)
    opt = (optim if lib == "cr" else torch.optim).LBFGS([w, b], **options)

    def closure() -> Any:
        opt.zero_grad()
        z = x @ w + b
        loss = (softplus(lib, z) - y * z).mean() + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    history = []
    for _ in range(steps):
        loss = opt.step(closure)
        history.append(np.concatenate([[loss.item()], numpy_of(w), numpy_of(b)]))
    return history


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"line_search_fn": "strong_wolfe"},
        {"max_iter": 3, "history_size": 2},
        {
            "line_search_fn": "strong_wolfe",
            "max_iter": 4,
            "history_size": 3,
            "tolerance_grad": 1e-3,
        },
        {"lr": 0.5, "max_iter": 7, "max_eval": 9},
    ],
)
def test_lbfgs_logistic_regression_matches_torch_step_by_step(options: dict[str, Any]) -> None:
    ours = logistic_lbfgs("cr", 6, **options)
    theirs = logistic_lbfgs("torch", 6, **options)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("inverse_strength", [np.inf, 0.5])
def test_lbfgs_logistic_regression_reaches_sklearn_optimum(inverse_strength: float) -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    # sklearn minimises C * sum(log loss) + |w|^2 / 2: the mean loss plus |w|^2 / (2 C n).
    l2 = 0.0 if np.isinf(inverse_strength) else 1.0 / (inverse_strength * len(Y_LOGIT))
    model = linear_model.LogisticRegression(C=inverse_strength, tol=1e-12, max_iter=10_000).fit(
        X_LOGIT, Y_LOGIT
    )
    *_, last = logistic_lbfgs(
        "cr",
        3,
        l2=l2,
        line_search_fn="strong_wolfe",
        max_iter=100,
        tolerance_grad=1e-10,
        tolerance_change=1e-14,
    )
    np.testing.assert_allclose(last[1:4], model.coef_[0], atol=1e-5)
    np.testing.assert_allclose(last[4], model.intercept_[0], atol=1e-5)


def test_lbfgs_closure_that_returns_nothing_is_named_in_the_error() -> None:
    w = cr.tensor([3.0, -1.0], dtype="float64", requires_grad=True)
    opt = optim.LBFGS([w])

    def closure() -> None:
        opt.zero_grad()
        ((w - 1.0) ** 2).sum().backward()

    with pytest.raises(TypeError, match=r"LBFGS.step: expected the closure to return the loss"):
        opt.step(closure)


def test_lbfgs_closure_that_returns_per_sample_losses_is_named_in_the_error() -> None:
    w = cr.tensor([3.0, -1.0], dtype="float64", requires_grad=True)
    opt = optim.LBFGS([w])

    def closure() -> Any:
        opt.zero_grad()
        losses = (w - 1.0) ** 2
        losses.sum().backward()
        return losses

    with pytest.raises(ValueError, match=r"LBFGS.step: .*scalar loss, got shape \(2,\)"):
        opt.step(closure)


# ------------------------------------------------------------------ a physical model
def oscillator_fit(lib: str, make_opt: Callable[[Any, list[Any]], Any], steps: int) -> np.ndarray:
    """x(t) = A exp(-b t) cos(w t + p) fitted to X_OSC; the loss and parameters per step."""
    lib_ops = cr if lib == "cr" else torch
    params = [leaf(lib, v) for v in (1.5, 0.3, 2.9, 0.3)]
    t, x = const(lib, T_OSC), const(lib, X_OSC)
    opt = make_opt(optim if lib == "cr" else torch.optim, params)

    def closure() -> Any:
        opt.zero_grad()
        amplitude, decay, omega, phase = params
        model = amplitude * lib_ops.exp(-decay * t) * lib_ops.cos(omega * t + phase)
        loss = ((model - x) ** 2).mean()
        loss.backward()
        return loss

    rows = []
    for _ in range(steps):
        loss = opt.step(closure)
        rows.append([loss.item(), *(p.item() for p in params)])
    return np.array(rows)


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda o, ps: o.Adam(ps, lr=0.02, amsgrad=True),
        lambda o, ps: o.Adam([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.005}], lr=0.02),
        lambda o, ps: o.LBFGS(ps, line_search_fn="strong_wolfe"),
        lambda o, ps: o.LBFGS(ps, line_search_fn="strong_wolfe", max_iter=50, history_size=5),
    ],
    ids=["adam-amsgrad", "adam-two-groups", "lbfgs", "lbfgs-short-history"],
)
def test_damped_oscillator_fit_matches_torch(make_opt: Callable[[Any, list[Any]], Any]) -> None:
    ours = oscillator_fit("cr", make_opt, 5)
    theirs = oscillator_fit("torch", make_opt, 5)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_damped_oscillator_lbfgs_recovers_the_true_parameters() -> None:
    rows = oscillator_fit("cr", lambda o, ps: o.LBFGS(ps, line_search_fn="strong_wolfe"), 5)
    np.testing.assert_allclose(rows[-1, 1:], [2.0, 0.4, 3.0, 0.5], atol=0.02)


# ------------------------------------------------------------------ regression by descent
def test_ridge_by_gradient_descent_reaches_the_closed_form_and_torch() -> None:
    x = RNG.standard_normal((60, 4))
    y = x @ np.array([1.0, -2.0, 3.0, 0.5]) + 0.1 * RNG.standard_normal(60)
    alpha = 0.3
    # SGD's weight_decay adds alpha * w to the gradient: the ridge penalty alpha / 2 |w|^2,
    # so the optimum solves min |x w - y|^2 + n alpha |w|^2, a least-squares problem.
    closed = np.linalg.lstsq(
        np.vstack([x, np.sqrt(alpha * len(y)) * np.eye(4)]),
        np.concatenate([y, np.zeros(4)]),
        rcond=None,
    )[0]
    finals = []
    for lib in ("cr", "torch"):
        w = leaf(lib, np.zeros(4))
        xt, yt = const(lib, x), const(lib, y)
        opt = (optim if lib == "cr" else torch.optim).SGD(
            [w], lr=0.1, momentum=0.5, weight_decay=alpha
        )
        moved, n = np.inf, 0
        while moved > 1e-13 and n < 5000:
            before = numpy_of(w)
            opt.zero_grad(set_to_none=False)
            loss = 0.5 * ((xt @ w - yt) ** 2).mean()
            loss.backward()
            opt.step()
            moved = np.abs(numpy_of(w) - before).max()
            n += 1
        assert n < 5000
        finals.append(numpy_of(w))
    np.testing.assert_allclose(finals[0], finals[1], rtol=1e-9)
    np.testing.assert_allclose(finals[0], closed, atol=1e-6)


def test_poisson_rate_by_softplus_matches_torch_and_the_sample_mean() -> None:
    counts = RNG.poisson(3.7, size=200).astype(np.float64)
    rates = []
    for lib in ("cr", "torch"):
        lib_ops = cr if lib == "cr" else torch
        raw = leaf(lib, 0.0)
        k = const(lib, counts)
        opt = (optim if lib == "cr" else torch.optim).Adam([raw], lr=0.1, maximize=True)
        for _ in range(300):
            opt.zero_grad()
            rate = softplus(lib, raw)
            log_likelihood = (k * lib_ops.log(rate) - rate).mean()
            log_likelihood.backward()
            opt.step()
        if lib == "cr":
            with cr.no_grad():
                rates.append(softplus(lib, raw).item())
        else:
            with torch.no_grad():
                rates.append(softplus(lib, raw).item())
    assert rates[0] == pytest.approx(rates[1], rel=1e-12)
    assert rates[0] == pytest.approx(counts.mean(), rel=1e-6)


def test_jacobian_of_a_vector_function_matches_torch() -> None:
    x0 = np.array([0.3, -1.2, 2.0])
    ours = jacobian(
        lambda x: cr.stack([x[0] * x[1], cr.sin(x[2]) * x[0], (x**2).sum()]), cr.tensor(x0)
    )
    theirs = torch.autograd.functional.jacobian(
        lambda x: torch.stack([x[0] * x[1], torch.sin(x[2]) * x[0], (x**2).sum()]),
        torch.tensor(x0),
    )
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-14)


# ------------------------------------------------------------------ gradcheck
class CubeWithWrongDerivative(Function):
    """y = x**3 with backward 2 x**2 (the derivative of x**3 is 3 x**2)."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved
        return (grad * 2 * x * x,)


def test_gradcheck_of_a_scalar_function_reports_its_gradient_entries() -> None:
    x = np.array([0.5, 1.0, 2.0])
    report = cr.gradcheck(
        lambda t: CubeWithWrongDerivative.apply(t).sum(), [cr.tensor(x, requires_grad=True)]
    )
    (check,) = report.inputs
    assert not report and check.worst_index == (2,)
    # The columns hold d/dx of the scalar itself: 2 x**2 from backward, 3 x**2 numerically.
    assert check.analytic == pytest.approx(2 * x[2] ** 2, rel=1e-12)
    assert check.numeric == pytest.approx(3 * x[2] ** 2, rel=1e-6)
    assert "random v" not in str(report)


def test_gradcheck_of_a_vector_function_says_the_columns_are_weighted() -> None:
    x = cr.tensor([0.5, 1.0, 2.0], dtype="float64", requires_grad=True)
    report = cr.gradcheck(CubeWithWrongDerivative.apply, [x])
    assert not report
    assert str(report).splitlines()[-1] == (
        "(analytic, numeric: gradients of sum(v * output) for a random v)"
    )


def test_gradcheck_accepts_pytorch_keywords() -> None:
    x = cr.tensor([0.5, 1.0, 2.0], dtype="float64", requires_grad=True)
    ok = cr.gradcheck(
        lambda t: (t * t.sin()).sum(),
        (x,),
        eps=1e-6,
        atol=1e-5,
        rtol=1e-3,
        raise_exception=True,
        nondet_tol=0.0,
        check_undefined_grad=True,
        check_grad_dtypes=False,
        check_batched_grad=False,
        check_forward_ad=False,
        check_backward_ad=True,
        fast_mode=True,
        masked=None,
    )
    assert ok
    xt = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: (t * t.sin()).sum(), (xt,), fast_mode=True)


@pytest.mark.parametrize(
    ("name", "value"),
    [("check_forward_ad", True), ("check_batched_grad", True), ("check_backward_ad", False)],
)
def test_gradcheck_refuses_checks_it_cannot_make(name: str, value: bool) -> None:
    x = cr.tensor([0.5, 1.0], dtype="float64", requires_grad=True)
    with pytest.raises(ValueError, match=rf"gradcheck: {name}=.* got {name}={value}"):
        cr.gradcheck(lambda t: (t * t).sum(), (x,), **{name: value})
