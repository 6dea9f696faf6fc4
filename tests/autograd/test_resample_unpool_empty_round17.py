"""Resampling (bicubic, antialiased) and max unpooling of empty batches and of float16
images, and lists of tensors given where one tensor is expected, as PyTorch treats them."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RESIZES = [{"mode": "bicubic"}, {"mode": "bilinear", "antialias": True}]


@pytest.mark.parametrize("options", RESIZES)
def test_resizing_an_empty_batch_gives_pytorchs_empty_shape(options: dict[str, object]) -> None:
    x = cr.zeros(0, 3, 8, 8, requires_grad=True)
    y = F.interpolate(x, size=(4, 5), **options)
    assert y.shape == tuple(TF.interpolate(torch.zeros(0, 3, 8, 8), size=(4, 5), **options).shape)
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == (0, 3, 8, 8)
    # no channels: PyTorch refuses it; here it is as empty as the batch
    assert F.interpolate(cr.zeros(2, 0, 8, 8), size=(4, 5), **options).shape == (2, 0, 4, 5)


@pytest.mark.parametrize("shape", [(0, 2, 2, 2), (0, 2, 3, 3)])
def test_max_unpool_of_an_empty_batch_gives_pytorchs_empty_shape(shape: tuple[int, ...]) -> None:
    expected = TF.max_unpool2d(torch.ones(shape), torch.zeros(shape, dtype=torch.long), 2)
    x = cr.ones(*shape, requires_grad=True)
    y = F.max_unpool2d(x, cr.zeros(*shape).long(), 2)
    assert y.shape == tuple(expected.shape)
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == shape

    rows = shape[:3]
    expected = TF.max_unpool1d(torch.ones(rows), torch.zeros(rows, dtype=torch.long), 2)
    x = cr.ones(*rows, requires_grad=True)
    y = F.max_unpool1d(x, cr.zeros(*rows).long(), 2)
    assert y.shape == tuple(expected.shape)
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == rows


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(3, 5), (9, 7)])
def test_float16_bicubic_matches_pytorch_forward_and_backward(
    align_corners: bool, size: tuple[int, int]
) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 8)).astype(np.float16)
    g = rng.standard_normal((2, 3, *size)).astype(np.float16)
    options = {"size": size, "mode": "bicubic", "align_corners": align_corners}
    theirs = torch.tensor(x, requires_grad=True)
    expected = TF.interpolate(theirs, **options)
    expected.backward(torch.tensor(g))
    ours = cr.tensor(x, requires_grad=True)
    y = F.interpolate(ours, **options)
    y.backward(cr.tensor(g))
    assert y.dtype == np.float16 and ours.grad is not None and ours.grad.dtype == np.float16
    # within a couple of float16 roundings of values up to about 4
    np.testing.assert_allclose(y.numpy(), expected.detach().numpy(), rtol=0, atol=4e-3)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=0, atol=4e-3)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_float16_antialiased_resize_is_the_float32_one_rounded(mode: str) -> None:
    # PyTorch has no float16 antialiasing on the CPU: its float32 result, rounded, is the
    # oracle
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 2, 12, 10)).astype(np.float16)
    g = rng.standard_normal((1, 2, 5, 4)).astype(np.float16)
    theirs = torch.tensor(x.astype(np.float32), requires_grad=True)
    expected = TF.interpolate(theirs, size=(5, 4), mode=mode, antialias=True)
    expected.backward(torch.tensor(g.astype(np.float32)))
    ours = cr.tensor(x, requires_grad=True)
    y = F.interpolate(ours, size=(5, 4), mode=mode, antialias=True)
    y.backward(cr.tensor(g))
    assert y.dtype == np.float16 and ours.grad is not None and ours.grad.dtype == np.float16
    np.testing.assert_allclose(y.numpy(), expected.detach().numpy(), rtol=0, atol=4e-3)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=0, atol=4e-3)


def test_a_pool_returning_indices_inside_sequential_is_refused() -> None:
    x = cr.ones(1, 1, 4, 4, requires_grad=True)
    model = nn.Sequential(nn.MaxPool2d(2, return_indices=True), nn.Flatten())
    with pytest.raises(
        ValueError, match=r"return_indices=True returns a tuple \(output, indices\)"
    ):
        model(x)


def test_lists_of_tensors_convert_as_in_pytorch() -> None:
    # one-element tensors are numbers; a tensor of several elements is refused
    assert cr.tensor([cr.tensor(1.0), cr.tensor(2.0)]).tolist() == [1.0, 2.0]
    assert cr.tensor([[cr.tensor(1), cr.tensor(2)], [cr.tensor(3), cr.tensor(4)]]).shape == (2, 2)
    assert cr.tensor([1, 2.5]).tolist() == [1.0, 2.5]
    with pytest.raises(ValueError, match=r"got a Tensor of shape \(2,\)"):
        cr.tensor([cr.ones(2), cr.ones(2)])
    with pytest.raises(ValueError):
        torch.tensor([torch.ones(2), torch.ones(2)])
    # one that requires grad converts with PyTorch's warning: its graph is not followed
    with pytest.warns(UserWarning, match="requires_grad=True"):
        t = cr.tensor([cr.tensor(1.0, requires_grad=True), cr.tensor(2.0)])
    assert not t.requires_grad
