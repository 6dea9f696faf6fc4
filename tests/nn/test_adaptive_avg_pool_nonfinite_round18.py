"""Adaptive average pooling (and interpolate's 'area' mode) where the output size does not
divide the input size: an inf or NaN in the input, or in the incoming gradient, reaches only
the bins that hold it, as in PyTorch, instead of every bin of its row and column."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")
F = cr.nn.functional
TF = torch.nn.functional


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_adaptive_avg_pool2d_keeps_a_non_finite_input_in_its_bins(bad: float) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 5)).astype(np.float32)
    x[1, 2, 2, 2] = bad  # in rows 0-2 and 2-4 of 7, columns 1-2 and 2-3 of 5
    a = cr.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    ya, yb = F.adaptive_avg_pool2d(a, (3, 4)), TF.adaptive_avg_pool2d(b, (3, 4))
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-6, atol=1e-7)
    assert np.isfinite(ya.detach().numpy()).sum() == ya.numel() - 4  # 2 x 2 bins hold it
    ya.sum().backward()
    yb.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6)


def test_adaptive_avg_pool2d_keeps_an_infinite_gradient_in_its_bin() -> None:
    x = np.random.default_rng(1).standard_normal((1, 2, 5, 5)).astype(np.float32)
    a = cr.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    g = np.ones((1, 2, 3, 3), np.float32)
    g[0, 1, 2, 0] = np.inf
    F.adaptive_avg_pool2d(a, 3).backward(cr.tensor(g))
    TF.adaptive_avg_pool2d(b, 3).backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6)
    assert np.isnan(a.grad.numpy()).sum() == 0
    assert np.isinf(a.grad.numpy()).sum() == 4  # the 2x2 elements of that one bin


def test_adaptive_avg_pool1d_and_area_interpolation_keep_nan_in_its_bin() -> None:
    y = np.zeros((1, 1, 7), np.float32)
    y[0, 0, 0] = np.nan
    expected = TF.adaptive_avg_pool1d(torch.tensor(y), 3).numpy()
    np.testing.assert_array_equal(F.adaptive_avg_pool1d(cr.tensor(y), 3).numpy(), expected)
    np.testing.assert_array_equal(
        F.interpolate(cr.tensor(y), size=3, mode="area").numpy(),
        TF.interpolate(torch.tensor(y), size=3, mode="area").numpy(),
    )
    np.testing.assert_array_equal(expected.ravel(), [np.nan, 0.0, 0.0])


def test_adaptive_avg_pool2d_averages_float16_in_float32_as_torch() -> None:
    x = np.random.default_rng(2).uniform(100, 200, (1, 1, 3000, 7)).astype(np.float16)
    ya = F.adaptive_avg_pool2d(cr.tensor(x), (1, 3))
    yb = TF.adaptive_avg_pool2d(torch.tensor(x), (1, 3))
    assert ya.dtype == cr.float16
    np.testing.assert_array_equal(ya.numpy(), yb.numpy())
