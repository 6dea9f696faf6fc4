"""Depthwise conv2d (groups == in_channels), computed over the kernel offsets rather than by
products: values and gradients against PyTorch for every option, float32 and float16 kept,
and the layers of a MobileNet-style block."""

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


def run_both(
    shape: tuple[int, ...], w_shape: tuple[int, ...], dtype: Any, **options: Any
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(y, dL/dx, dL/dw, dL/db) from chainrule and from PyTorch (in float64), for a random
    upstream gradient."""
    x, w, b = data(shape, dtype, 0), data(w_shape, dtype, 1), data(w_shape[:1], dtype, 2)
    ours = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = nn.functional.conv2d(*ours, **options)
    g = data(y.shape, dtype, 3)
    y.backward(cr.tensor(g))
    theirs = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, w, b)]
    expected = F.conv2d(*theirs, **options)
    expected.backward(torch.tensor(g.astype(np.float64)))
    got = [y.numpy(), *(t.grad.numpy() for t in ours)]
    want = [expected.detach().numpy(), *(t.grad.numpy() for t in theirs)]
    return got, want


CASES = [
    # (input shape, weight shape, options)
    ((2, 4, 9, 8), (4, 1, 3, 3), {"padding": 1, "groups": 4}),
    ((2, 4, 9, 8), (4, 1, 3, 3), {"stride": 2, "padding": 1, "groups": 4}),
    ((3, 3, 11, 10), (3, 1, 3, 2), {"stride": (3, 2), "dilation": (2, 3), "groups": 3}),
    ((2, 2, 7, 9), (6, 1, 2, 3), {"stride": (1, 2), "padding": (2, 0), "groups": 2}),
    ((1, 5, 6, 6), (5, 1, 4, 4), {"padding": "same", "dilation": 2, "groups": 5}),
    ((2, 3, 8, 8), (3, 1, 2, 2), {"stride": 4, "padding": 1, "groups": 3}),
    ((2, 3, 1, 7), (3, 1, 1, 3), {"padding": (0, 1), "groups": 3}),
]


@pytest.mark.parametrize(("shape", "w_shape", "options"), CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_depthwise_conv2d_matches_torch(
    shape: tuple[int, ...], w_shape: tuple[int, ...], options: dict[str, Any], dtype: Any
) -> None:
    got, want = run_both(shape, w_shape, dtype, **options)
    tolerance = (
        {"rtol": 1e-10, "atol": 1e-12} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-4}
    )
    for name, ours, theirs in zip(("y", "dx", "dw", "db"), got, want, strict=True):
        assert ours.dtype == dtype, name
        np.testing.assert_allclose(ours, theirs, err_msg=name, **tolerance)


def test_float16_depthwise_stays_float16() -> None:
    got, want = run_both((2, 3, 6, 6), (3, 1, 3, 3), np.float16, padding=1, stride=2, groups=3)
    for name, ours, theirs in zip(("y", "dx", "dw", "db"), got, want, strict=True):
        assert ours.dtype == np.float16, name
        np.testing.assert_allclose(ours, theirs, rtol=2e-2, atol=2e-2, err_msg=name)


def test_depthwise_takes_the_direct_path_and_saves_no_window_matrix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A depthwise layer saves its padded input (about the input's size), not the windows
    (kh * kw times it); groups == 1 on one channel keeps the products."""
    built: list[str] = []
    real = conv_ops._Depthwise.__init__

    def spy(self: Any, *args: Any) -> None:
        built.append("depthwise")
        real(self, *args)

    monkeypatch.setattr(conv_ops._Depthwise, "__init__", spy)
    x = cr.tensor(data((4, 8, 12, 12), np.float32, 0), requires_grad=True)
    w = cr.tensor(data((8, 1, 3, 3), np.float32, 1), requires_grad=True)
    y = nn.functional.conv2d(x, w, padding=1, groups=8)
    assert built == ["depthwise"]
    saved = y._ctx.saved  # type: ignore[union-attr]
    assert sum(a.size for a in saved if a is not None) < 2 * x.numpy().size
    nn.functional.conv2d(cr.zeros(1, 1, 5, 5), cr.zeros(2, 1, 3, 3))
    assert built == ["depthwise"]


def test_depthwise_gradients_only_where_asked() -> None:
    x = data((2, 3, 6, 6), np.float64, 0)
    w = data((3, 1, 3, 3), np.float64, 1)
    frozen = cr.tensor(w)
    xs = cr.tensor(x, requires_grad=True)
    nn.functional.conv2d(xs, frozen, padding=1, groups=3).sum().backward()
    expected = torch.tensor(x, requires_grad=True)
    F.conv2d(expected, torch.tensor(w), padding=1, groups=3).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), expected.grad.numpy(), rtol=1e-12)
    ws = cr.tensor(w, requires_grad=True)
    nn.functional.conv2d(cr.tensor(x), ws, stride=2, groups=3).sum().backward()
    expected_w = torch.tensor(w, requires_grad=True)
    F.conv2d(torch.tensor(x), expected_w, stride=2, groups=3).sum().backward()
    np.testing.assert_allclose(ws.grad.numpy(), expected_w.grad.numpy(), rtol=1e-12)
    with cr.no_grad():
        y = nn.functional.conv2d(cr.tensor(x), cr.tensor(w), groups=3)
    np.testing.assert_allclose(
        y.numpy(), F.conv2d(torch.tensor(x), torch.tensor(w), groups=3).numpy(), rtol=1e-12
    )


def test_depthwise_conv1d_matches_torch() -> None:
    x, w = data((2, 4, 11), np.float64, 0), data((8, 1, 3), np.float64, 1)
    xs, ws = cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)
    y = nn.functional.conv1d(xs, ws, stride=2, padding=1, dilation=2, groups=4)
    y.sum().backward()
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    expected = F.conv1d(xt, wt, stride=2, padding=1, dilation=2, groups=4)
    expected.sum().backward()
    np.testing.assert_allclose(y.numpy(), expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ws.grad.numpy(), wt.grad.numpy(), rtol=1e-12)


def test_mobilenet_block_trains_like_torch() -> None:
    """Three SGD steps of a depthwise-separable block, float32, against PyTorch."""
    block = nn.Sequential(
        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, generator=0),
        nn.ReLU(),
        nn.Conv2d(8, 16, 1, generator=1),
    )
    twin = torch.nn.Sequential(
        torch.nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 1),
    )
    twin.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in block.state_dict().items()}
    )
    x = data((4, 8, 10, 10), np.float32, 5)
    ours, theirs = (
        cr.optim.SGD(block.parameters(), lr=0.1),
        torch.optim.SGD(twin.parameters(), lr=0.1),
    )
    for _ in range(3):
        ours.zero_grad()
        (block(cr.tensor(x)) ** 2).mean().backward()
        ours.step()
        theirs.zero_grad()
        (twin(torch.from_numpy(x)) ** 2).mean().backward()
        theirs.step()
    for name, value in block.state_dict().items():
        np.testing.assert_allclose(
            value.numpy(), twin.state_dict()[name].numpy(), rtol=1e-4, atol=1e-5, err_msg=name
        )
