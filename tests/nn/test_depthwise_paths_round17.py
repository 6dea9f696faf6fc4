"""Depthwise conv2d (groups == in_channels) on many channels of small planes, on empty
batches and in float16: both ways of walking the kernel offsets against PyTorch, few
Python-level calls where channels are many, and float16 summed in float32 as PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd.ops import conv as conv_ops

torch = pytest.importorskip("torch")
F = torch.nn.functional


def data(shape: tuple[int, ...], dtype: Any, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


CASES = [
    # (input shape, weight shape, options)
    ((2, 6, 7, 7), (6, 1, 3, 3), {"padding": 1, "groups": 6}),
    ((1, 5, 9, 8), (10, 1, 3, 3), {"stride": 2, "padding": 1, "groups": 5}),
    ((3, 4, 11, 10), (4, 1, 3, 2), {"stride": (3, 2), "dilation": (2, 3), "groups": 4}),
    ((1, 8, 7, 7), (8, 1, 7, 7), {"padding": 3, "groups": 8}),
    ((2, 7, 1, 1), (7, 1, 3, 3), {"padding": 1, "groups": 7}),
]


@pytest.mark.parametrize("by_channel", [True, False])
@pytest.mark.parametrize(("shape", "w_shape", "options"), CASES)
def test_both_walks_match_torch(
    monkeypatch: pytest.MonkeyPatch,
    by_channel: bool,
    shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    options: dict[str, Any],
) -> None:
    monkeypatch.setattr(conv_ops._Depthwise, "BY_CHANNEL_MIN_RUN", 0 if by_channel else 1 << 40)
    x, w, b = (
        data(shape, np.float64, 0),
        data(w_shape, np.float64, 1),
        data(w_shape[:1], np.float64, 2),
    )
    ours = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = nn.functional.conv2d(*ours, **options)
    g = data(tuple(y.shape), np.float64, 3)
    y.backward(cr.tensor(g))
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    expected = F.conv2d(*theirs, **options)
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    for name, a, t in zip(("dx", "dw", "db"), ours, theirs, strict=True):
        np.testing.assert_allclose(
            a.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name
        )


def test_many_channels_on_small_planes_make_few_python_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """960 channels of 7x7 (MobileNet's last depthwise layer): the work is one NumPy call
    per kernel offset, not one BLAS call per channel and offset (8,640 of them, 30 times
    slower than the arithmetic)."""
    calls = []
    real = conv_ops._blas_function

    def counting(name: str, dtype: Any) -> Any:
        function = real(name, dtype)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(conv_ops, "_blas_function", counting)
    x = cr.tensor(data((1, 960, 7, 7), np.float32, 0), requires_grad=True)
    layer = nn.Conv2d(960, 960, 3, padding=1, groups=960)
    layer(x).sum().backward()
    assert len(calls) < 100
    expected = F.conv2d(
        torch.tensor(x.numpy()),
        torch.tensor(layer.weight.numpy()),
        torch.tensor(layer.bias.numpy()),
        padding=1,
        groups=960,
    )
    np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dims", [1, 2])
def test_depthwise_on_an_empty_batch(dims: int) -> None:
    """PyTorch returns an empty batch, and zero gradients for the weights."""
    shape = (0, 4, 8) if dims == 1 else (0, 4, 8, 8)
    layer = (nn.Conv1d if dims == 1 else nn.Conv2d)(4, 4, 3, padding=1, groups=4)
    x = cr.zeros(*shape, requires_grad=True)
    y = layer(x)
    assert tuple(y.shape) == shape
    y.sum().backward()
    assert tuple(x.grad.shape) == shape
    np.testing.assert_array_equal(layer.weight.grad.numpy(), np.zeros(layer.weight.shape))
    np.testing.assert_array_equal(layer.bias.grad.numpy(), np.zeros(4))
    reference = (torch.nn.Conv1d if dims == 1 else torch.nn.Conv2d)(4, 4, 3, padding=1, groups=4)
    assert tuple(reference(torch.zeros(shape)).shape) == tuple(y.shape)


def test_float16_sums_in_float32_as_torch() -> None:
    """Outputs equal PyTorch's float16 ones (each the float32 sum rounded once), and the
    gradients are no further from the float64 ones than PyTorch's float16 gradients."""
    c = 8
    x, w, b = (
        data((2, c, 32, 32), np.float16, 1),
        data((c, 1, 5, 5), np.float16, 2),
        data((c,), np.float16, 3),
    )
    ours = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = nn.functional.conv2d(*ours, padding=2, groups=c)
    y.sum().backward()
    half = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    expected = F.conv2d(*half, padding=2, groups=c)
    expected.sum().backward()
    exact = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, w, b)]
    F.conv2d(*exact, padding=2, groups=c).sum().backward()
    assert y.dtype == cr.float16
    assert np.mean(y.numpy() == expected.detach().numpy()) > 0.99
    for name, a, h, e in zip(("dx", "dw"), ours[:2], half[:2], exact[:2], strict=True):
        assert a.grad.dtype == cr.float16, name
        ours_error = np.abs(a.grad.numpy().astype(np.float64) - e.grad.numpy()).max()
        torch_error = np.abs(h.grad.double().numpy() - e.grad.numpy()).max()
        assert ours_error <= torch_error, name
