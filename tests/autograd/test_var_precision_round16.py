"""var and std of float32 values far from zero keep float32's precision, as PyTorch's do
(they sum in float64), and their gradients agree with float64's."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def offset_data(offset: float, shape: tuple[int, ...] = (64, 256)) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (offset + rng.standard_normal(shape)).astype(np.float32)


@pytest.mark.parametrize("offset", [0.0, 1e3, 1e5])
@pytest.mark.parametrize(
    ("name", "cr_fn", "torch_fn", "reference"),
    [
        ("var(0)", lambda t: t.var(0), lambda t: t.var(0), lambda a: a.var(0, ddof=1)),
        (
            "std(1, unbiased=False)",
            lambda t: t.std(1, unbiased=False),
            lambda t: t.std(1, unbiased=False),
            lambda a: a.std(1),
        ),
        (
            "var(keepdim)",
            lambda t: t.var((0, 1), keepdim=True),
            lambda t: t.var((0, 1), keepdim=True),
            lambda a: a.var(keepdims=True, ddof=1),
        ),
    ],
)
def test_float32_variance_is_as_precise_as_pytorchs(
    offset: float, name: str, cr_fn: object, torch_fn: object, reference: object
) -> None:
    x = offset_data(offset)
    exact = reference(x.astype(np.float64))  # type: ignore[operator]
    got = cr_fn(cr.tensor(x)).numpy()  # type: ignore[operator]
    theirs = torch_fn(torch.tensor(x)).numpy()  # type: ignore[operator]
    assert got.dtype == np.float32
    error = float(np.max(np.abs(got / exact - 1)))
    assert error < 1e-6, f"{name} at offset {offset}: relative error {error:.2e}, expected < 1e-6"
    np.testing.assert_allclose(got, theirs, rtol=1e-5)  # PyTorch: within 4e-6 of exact


@pytest.mark.parametrize("root", [False, True])
def test_float32_variance_gradient_agrees_with_float64(root: bool) -> None:
    x = offset_data(1e5, (8, 5))
    g = np.random.default_rng(1).standard_normal(5)

    def grad(dtype: type) -> np.ndarray:
        t = cr.tensor(x.astype(dtype), requires_grad=True)
        y = t.std(0) if root else t.var(0)
        (y * cr.tensor(g.astype(dtype))).sum().backward()
        assert t.grad is not None and t.grad.dtype == dtype
        return t.grad.numpy().astype(np.float64)

    exact, got = grad(np.float64), grad(np.float32)
    error = float(np.max(np.abs(got - exact)) / np.max(np.abs(exact)))
    assert error < 1e-5, f"relative error {error:.2e} of the float32 gradient, expected < 1e-5"


def test_float16_variance_stays_float16() -> None:
    x = cr.tensor(np.array([1.0, 2.0, 3.0], np.float16), requires_grad=True)
    v = x.var()
    v.backward()
    assert v.dtype == np.float16 and float(v) == 1.0
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), np.array([-1.0, 0.0, 1.0], np.float16))
