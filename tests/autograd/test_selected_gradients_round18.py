"""Backward passes that let a gradient through where a mask holds select it, as PyTorch does:
an inf (or NaN) in the incoming gradient stays where the derivative is 1 and gives 0, not
NaN (inf * 0), where it is 0. And the gradients at a NaN input that PyTorch defines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

X = np.array([[-7.0, -2.0, -0.5, 0.25, 0.5, 2.0, 7.0]], dtype=np.float32)

CASES: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "relu": (cr.nn.functional.relu, torch.relu),
    "relu6": (lambda t: cr.nn.functional.relu6(t * 2), lambda t: torch.nn.functional.relu6(t * 2)),
    "hardtanh": (cr.nn.functional.hardtanh, torch.nn.functional.hardtanh),
    "clamp": (lambda t: cr.clamp(t, -1, 1), lambda t: torch.clamp(t, -1, 1)),
    "clamp_min": (lambda t: t.clamp(min=0.3), lambda t: t.clamp(min=0.3)),
    "clamp_tensor_bounds": (
        lambda t: cr.clamp(t, cr.tensor([-1.0]), cr.tensor([1.0])),
        lambda t: torch.clamp(t, torch.tensor([-1.0]), torch.tensor([1.0])),
    ),
    "softshrink": (cr.nn.functional.softshrink, torch.nn.functional.softshrink),
    "hardswish": (cr.nn.functional.hardswish, torch.nn.functional.hardswish),
    "max": (lambda t: t.max(), lambda t: t.max()),
    "min": (lambda t: t.min(), lambda t: t.min()),
    "max_dim": (lambda t: t.max(dim=1).values, lambda t: t.max(dim=1).values),
    "min_dim": (lambda t: t.min(dim=1).values, lambda t: t.min(dim=1).values),
    "maximum": (
        lambda t: cr.maximum(t, cr.zeros(())),
        lambda t: torch.maximum(t, torch.zeros(())),
    ),
    "minimum": (
        lambda t: cr.minimum(t, cr.zeros(())),
        lambda t: torch.minimum(t, torch.zeros(())),
    ),
    "max_pool1d": (
        lambda t: cr.nn.functional.max_pool1d(t[None], 2),
        lambda t: torch.nn.functional.max_pool1d(t[None], 2),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_infinite_gradient_stays_off_where_the_derivative_is_zero(name: str) -> None:
    ours, theirs = CASES[name]
    a = cr.tensor(X, requires_grad=True)
    b = torch.tensor(X, requires_grad=True)
    ya, yb = ours(a), theirs(b)
    ya.backward(cr.full(ya.shape, np.inf))
    yb.backward(torch.full(yb.shape, np.inf))
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    assert not np.isnan(a.grad.numpy()).any()


@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_give_zero_off_the_extreme(name: str) -> None:
    # PyTorch's amax backward multiplies (NaN off the maximum), its max(dim) selects; the
    # gradient off the extreme is 0 either way, and so it is here.
    a = cr.tensor(X, requires_grad=True)
    getattr(a, name)(dim=1).backward(cr.tensor([np.inf]))
    b = torch.tensor(X, requires_grad=True)
    getattr(b, name[1:])(dim=1).values.backward(torch.tensor([np.inf]))
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


@pytest.mark.parametrize(
    ("kernel", "stride"),
    [(2, 2), (3, 2), (5, 1)],  # disjoint windows, overlapping ones, the offset-by-offset walk
)
def test_max_pool2d_sends_an_infinite_gradient_to_the_maximum_only(
    kernel: int, stride: int
) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 9)).astype(np.float32)
    a = cr.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    ya = cr.nn.functional.max_pool2d(a, kernel, stride)
    yb = torch.nn.functional.max_pool2d(b, kernel, stride)
    g = np.ones(ya.shape, np.float32)
    g[0, 0, 0, 0] = np.inf
    ya.backward(cr.tensor(g))
    yb.backward(torch.tensor(g))
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    assert np.isinf(a.grad.numpy()).sum() == 1


def test_relu_gradient_keeps_the_dtype_and_nan_passes() -> None:
    for dtype in (np.float16, np.float32, np.float64):
        x = cr.tensor(np.array([-1.0, 0.0, np.nan, 2.0], dtype), requires_grad=True)
        cr.nn.functional.relu(x).backward(cr.tensor(np.array([5.0, 5.0, 5.0, -np.inf], dtype)))
        assert x.grad.dtype == dtype
        np.testing.assert_array_equal(x.grad.numpy(), np.array([0.0, 0.0, 5.0, -np.inf], dtype))


NAN_INPUT = np.array([np.nan, -np.inf, np.inf, 0.5, -0.5, 1.0, 0.0], dtype=np.float32)
F = cr.nn.functional
TF = torch.nn.functional


NAN_CASES: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "elu": (F.elu, TF.elu),
    "selu": (F.selu, TF.selu),
    "celu": (F.celu, TF.celu),
    "abs": (cr.abs, torch.abs),
    "l1_loss": (
        lambda t: F.l1_loss(t, cr.zeros(7), reduction="none"),
        lambda t: TF.l1_loss(t, torch.zeros(7), reduction="none"),
    ),
    "smooth_l1_loss": (
        lambda t: F.smooth_l1_loss(t, cr.zeros(7), reduction="none"),
        lambda t: TF.smooth_l1_loss(t, torch.zeros(7), reduction="none"),
    ),
    "huber_loss": (
        lambda t: F.huber_loss(t, cr.zeros(7), reduction="none", delta=0.7),
        lambda t: TF.huber_loss(t, torch.zeros(7), reduction="none", delta=0.7),
    ),
    "hardtanh": (F.hardtanh, TF.hardtanh),
    "relu6": (F.relu6, TF.relu6),
    "softshrink": (F.softshrink, TF.softshrink),
}


@pytest.mark.parametrize("name", list(NAN_CASES))
def test_values_and_gradients_at_nan_and_inf_inputs_match_torch(name: str) -> None:
    ours, theirs = NAN_CASES[name]
    a = cr.tensor(NAN_INPUT, requires_grad=True)
    b = torch.tensor(NAN_INPUT, requires_grad=True)
    ya, yb = ours(a), theirs(b)
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-6)
    ya.backward(cr.ones(7))
    yb.backward(torch.ones(7))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6)
