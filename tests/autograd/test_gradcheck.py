"""``gradcheck`` itself: it must pass correct gradients and, above all, catch wrong ones.

The ``Function`` subclasses with deliberately wrong backwards are never registered:
``register`` would put them in the global ``REGISTRY``, whose meta-tests demand a case for
every entry.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import Tensor
from chainrule.autograd import Context, Function, GradcheckReport, InputCheck


class SquareWithBias(Function):
    """y = x**2, with a backward that is off by ``grad * bias`` (bias fixed at forward)."""

    @staticmethod
    def forward(ctx: Context, x: Any, bias: Any) -> Any:
        ctx.save_for_backward(x, bias)
        return x * x

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, None]:
        x, bias = ctx.saved
        return grad * (2 * x + bias), None


class ForgetsTheTwo(Function):
    """y = x**2, with the classic mistake dy/dx = x."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        (x,) = ctx.saved
        return (grad * x,)


def randn(*shape: int, seed: int = 0) -> Tensor:
    return cr.randn(*shape, generator=seed, dtype=np.float64)


@pytest.mark.parametrize(
    ("name", "fn", "inputs"),
    [
        ("x * x", lambda x: (x * x).sum(), [randn(3)]),
        ("tanh, vector output", lambda x: x.tanh(), [randn(2, 3)]),
        ("matmul", lambda a, b: a @ b, [randn(2, 3), randn(3, 4, seed=1)]),
        ("broadcast add", lambda a, b: (a + b).exp(), [randn(2, 3), randn(3, seed=1)]),
        ("diamond", lambda x: (x.sin() * x.cos() + x) * x, [randn(4)]),
        ("scalar output", lambda x: (x**2).mean(), [randn(2, 2)]),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_gradcheck_passes_correct_gradients(name: str, fn: Any, inputs: list[Tensor]) -> None:
    report = cr.gradcheck(fn, inputs)
    assert isinstance(report, GradcheckReport)
    assert report.passed and bool(report)
    assert len(report.inputs) == len(inputs)
    for i, check in enumerate(report.inputs):
        assert isinstance(check, InputCheck)
        assert check.index == i and check.passed
        assert check.shape == inputs[i].shape
        assert check.max_abs_error < 1e-6


def test_gradcheck_fails_a_wrong_backward() -> None:
    report = cr.gradcheck(lambda x: ForgetsTheTwo.apply(x), [randn(2, 3)])
    assert not report.passed and not bool(report)
    (check,) = report.inputs
    assert not check.passed
    # analytic and numeric at the worst element are x and 2x (times the output weighting)
    assert check.numeric == pytest.approx(2 * check.analytic, rel=1e-6)
    assert check.max_abs_error == pytest.approx(abs(check.analytic), rel=1e-6)
    assert ForgetsTheTwo not in cr.REGISTRY.values()


@pytest.mark.parametrize(
    ("shape", "worst"),
    [((5,), (3,)), ((2, 3), (1, 0)), ((2, 2, 2), (0, 1, 1))],
)
def test_gradcheck_points_at_the_worst_element(
    shape: tuple[int, ...], worst: tuple[int, ...]
) -> None:
    # Regression: every failing element was ranked 1e300 + error, which rounds to 1e300, so
    # the report named the first failing element instead of the worst one.
    bias = np.full(shape, 0.5)  # every element is wrong ...
    bias[worst] = 5.0  # ... and this one the most
    x = randn(*shape)
    report = cr.gradcheck(lambda t: SquareWithBias.apply(t, bias).sum(), [x])
    (check,) = report.inputs
    assert not check.passed
    assert check.worst_index == worst
    assert check.max_abs_error == pytest.approx(abs(check.analytic - check.numeric))
    # the output is a scalar, so the numeric gradient is 2x times the output weighting
    weight = check.numeric / (2 * x.numpy()[worst])
    assert check.analytic == pytest.approx(weight * (2 * x.numpy()[worst] + 5.0), rel=1e-6)


def test_gradcheck_names_the_one_wrong_element_among_right_ones() -> None:
    bias = np.zeros((3, 3))
    bias[2, 1] = 1e-2
    report = cr.gradcheck(lambda t: SquareWithBias.apply(t, bias), [randn(3, 3)])
    assert not report.passed
    assert report.inputs[0].worst_index == (2, 1)


def test_gradcheck_reports_each_input_separately() -> None:
    bias = np.ones(3)
    report = cr.gradcheck(lambda a, b: a * 3 + SquareWithBias.apply(b, bias), [randn(3), randn(3)])
    first, second = report.inputs
    assert first.passed and not second.passed
    assert not report.passed


def test_gradcheck_upcasts_float32_inputs() -> None:
    seen: list[Any] = []

    def fn(x: Tensor, y: Tensor) -> Tensor:
        seen.append((x.dtype, y.dtype))
        return (x * y).sin()

    x = cr.randn(3, generator=0)  # float32
    y = cr.randn(3, generator=1, requires_grad=True)
    assert x.dtype == y.dtype == np.float32
    report = cr.gradcheck(fn, [x, y])
    # Only the input that requires grad is checked, and it runs in float64.
    assert [c.index for c in report.inputs] == [1]
    assert report.passed
    assert seen and all(dy == np.float64 for _, dy in seen)
    assert all(dx == np.float32 for dx, _ in seen)
    assert y.grad is None and y.dtype == np.float32  # the caller's tensor is untouched
    report = cr.gradcheck(fn, [cr.randn(3, generator=0), np.ones(3, dtype=np.float32)])
    assert [c.index for c in report.inputs] == [0, 1] and report.passed
    assert all(dx == dy == np.float64 for dx, dy in seen[-2:])


def test_gradcheck_passes_non_float_arguments_through() -> None:
    index = np.array([2, 0])

    def pick(x: Tensor, idx: np.ndarray, scale: float) -> Tensor:
        assert isinstance(idx, np.ndarray) and idx.dtype.kind == "i" and scale == 3.0
        return x[idx] * scale

    report = cr.gradcheck(pick, [randn(4), index, 3.0])
    assert [c.index for c in report.inputs] == [0] and report.passed


def test_gradcheck_of_an_output_that_ignores_its_input() -> None:
    report = cr.gradcheck(lambda x: cr.ones(2, dtype=np.float64), [randn(2)])
    assert report.passed
    assert report.inputs[0].max_abs_error == 0.0


def test_gradcheck_catches_a_gradient_that_was_cut() -> None:
    report = cr.gradcheck(lambda x: x.detach() * x, [randn(3)])
    assert not report.passed


def test_gradcheck_reports_nan_gradients_without_warnings() -> None:
    class NanBackward(ForgetsTheTwo):
        @staticmethod
        def backward(ctx: Context, grad: Any) -> tuple[Any]:
            (x,) = ctx.saved
            g = 2 * grad * x
            g[1] = np.nan
            return (g,)

    report = cr.gradcheck(lambda x: NanBackward.apply(x), [randn(3)])
    (check,) = report.inputs
    assert not check.passed
    assert check.worst_index == (1,)
    assert np.isnan(check.analytic) and np.isnan(check.max_abs_error)
    assert "nan" in str(report)


def test_gradcheck_argument_errors() -> None:
    with pytest.raises(ValueError, match="gradcheck: expected at least one floating-point"):
        cr.gradcheck(lambda x: x, [cr.tensor([1, 2])])
    with pytest.raises(TypeError, match="gradcheck: fn must return a Tensor, got float"):
        cr.gradcheck(lambda x: 1.0, [randn(2)])  # type: ignore[arg-type, return-value]


def test_gradcheck_tolerances_decide() -> None:
    bias = np.full(3, 1e-4)
    fn = lambda t: SquareWithBias.apply(t, bias).sum()  # noqa: E731
    assert not cr.gradcheck(fn, [randn(3)], atol=1e-6, rtol=0.0).passed
    assert cr.gradcheck(fn, [randn(3)], atol=1e-2, rtol=0.0).passed


def test_report_renders_a_table_with_a_row_per_input() -> None:
    bias = np.ones(2)
    report = cr.gradcheck(
        lambda a, b, c: (a * b).sum() + SquareWithBias.apply(c, bias).sum(),
        [randn(2, 3), randn(2, 3, seed=1), randn(2, seed=2)],
    )
    lines = str(report).splitlines()
    header, rule, *rows, footer = lines
    assert header.split() == [
        "input",
        "shape",
        "max",
        "abs",
        "err",
        "max",
        "rel",
        "err",
        "worst",
        "index",
        "analytic",
        "numeric",
        "result",
    ]
    assert set(rule) == {"-"} and len(rule) == len(header)
    assert len(rows) == 3
    for i, (row, check) in enumerate(zip(rows, report.inputs, strict=True)):
        assert row.split()[0] == str(i)
        assert str(check.shape) in row
        assert row.endswith("pass" if check.passed else "FAIL")
    assert [row.endswith("FAIL") for row in rows] == [False, False, True]
    assert footer.startswith(f"(eps={report.eps:g}")
    assert "atol" not in footer and f"{report.atol:g}" in footer
