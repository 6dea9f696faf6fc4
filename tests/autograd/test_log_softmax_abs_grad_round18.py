"""log_softmax's float16 gradient over long rows, and abs's gradient at NaN, against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("kind", ["equal", "normal"])
def test_float16_log_softmax_over_a_long_row_has_torchs_gradient(kind: str) -> None:
    # 70,000 > 65,504, float16's largest: a float16 sum of the gradients is inf.
    n = 70_000
    rng = np.random.default_rng(0)
    x = np.zeros((2, n), np.float16) if kind == "equal" else rng.normal(size=(2, n))
    x = x.astype(np.float16)
    g = np.ones((2, n), np.float16)
    ours = cr.tensor(x, requires_grad=True)
    y = F.log_softmax(ours, dim=1)
    y.backward(cr.tensor(g))
    theirs = torch.tensor(x, requires_grad=True)
    y_torch = torch.log_softmax(theirs, dim=1)
    y_torch.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), y_torch.detach().numpy(), rtol=2e-3)
    assert ours.grad is not None and ours.grad.dtype == cr.float16
    assert np.isfinite(ours.grad.numpy()).all()
    # 1 - 70,000 * exp(y): y's last float16 bit (which may differ from PyTorch's) moves it
    # by up to about 0.04.
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=0.05)


@pytest.mark.parametrize("upstream", [np.inf, -np.inf, np.nan, 2.0])
def test_abs_gradient_at_nan_and_zero_is_torchs(upstream: float) -> None:
    x = np.array([np.nan, 0.0, -3.0, 2.0], np.float32)
    g = np.full(4, upstream, np.float32)
    ours = cr.tensor(x, requires_grad=True)
    cr.abs(ours).backward(cr.tensor(g))
    theirs = torch.tensor(x, requires_grad=True)
    torch.abs(theirs).backward(torch.tensor(g))
    assert ours.grad is not None
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
