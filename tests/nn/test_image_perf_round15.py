"""Round 15's speedups keep PyTorch's values: unfold and fold as im2col and col2im ops
(large kernels on bigger images, float32 kept as float32), and multilabel_margin_loss over
many classes (gathering the listed labels rather than building (N, C, C) pairs)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import REGISTRY
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _grads(
    ours: Any, theirs: Any, x: np.ndarray, upstream: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Outputs and input gradients (for the loss sum(y * upstream)) of both sides."""
    a = cr.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    y, yt = ours(a), theirs(b)
    (y * cr.tensor(upstream)).sum().backward()
    (yt * torch.tensor(upstream)).sum().backward()
    assert a.grad is not None and b.grad is not None
    return y.numpy(), yt.detach().numpy(), a.grad.numpy(), b.grad.numpy()


@pytest.mark.parametrize(
    "options",
    [
        {"kernel_size": 7},
        {"kernel_size": 7, "padding": 3, "stride": 2},
        {"kernel_size": (5, 3), "dilation": (1, 2), "padding": (2, 1), "stride": (2, 3)},
    ],
    ids=str,
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unfold_and_fold_on_bigger_images_match_torch(options: dict[str, Any], dtype: Any) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 24, 21)).astype(dtype)
    reference = TF.unfold(torch.tensor(x), **options)
    upstream = rng.standard_normal(reference.shape).astype(dtype)
    y, yt, g, gt = _grads(
        lambda t: F.unfold(t, **options), lambda t: TF.unfold(t, **options), x, upstream
    )
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    assert y.dtype == g.dtype == dtype
    np.testing.assert_allclose(y, yt, **tol)
    np.testing.assert_allclose(g, gt, **tol)

    cols = rng.standard_normal(reference.shape).astype(dtype)
    images = rng.standard_normal(x.shape).astype(dtype)
    z, zt, h, ht = _grads(
        lambda t: F.fold(t, (24, 21), **options),
        lambda t: TF.fold(t, (24, 21), **options),
        cols,
        images,
    )
    assert z.dtype == h.dtype == dtype
    np.testing.assert_allclose(z, zt, **tol)
    np.testing.assert_allclose(h, ht, **tol)


def test_unfold_and_fold_are_single_ops() -> None:
    x = cr.randn(2, 3, 9, 9, generator=0, requires_grad=True)
    cols = F.unfold(x, 5)
    images = F.fold(cols, (9, 9), 5)
    assert cols.grad_fn is not None and images.grad_fn is not None
    assert cols.grad_fn.fn is REGISTRY["unfold2d"]
    assert images.grad_fn.fn is REGISTRY["fold2d"]


def test_multilabel_margin_loss_over_many_classes_matches_torch() -> None:
    rng = np.random.default_rng(0)
    n, classes = 64, 1000
    scores = rng.standard_normal((n, classes))
    target = np.full((n, classes), -1, dtype=np.int64)
    target[:, :5] = rng.integers(0, classes, (n, 5))
    target[3, 5] = 7  # one row longer than the rest
    target[4, :3] = [2, 2, 9]  # a class listed twice counts twice
    target[5, :40] = rng.integers(0, classes, 40)  # the longest row sets the padding
    target[6, :] = -1  # a row with no label
    for reduction in ("mean", "sum", "none"):
        a = cr.tensor(scores, requires_grad=True)
        b = torch.tensor(scores, requires_grad=True)
        loss = F.multilabel_margin_loss(a, cr.tensor(target), reduction=reduction)
        reference = TF.multilabel_margin_loss(b, torch.tensor(target), reduction=reduction)
        loss.sum().backward()
        reference.sum().backward()
        assert a.grad is not None and b.grad is not None
        np.testing.assert_allclose(loss.numpy(), reference.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-12)
