"""Pooling found wanting by outside-in testing (round 16): float16 average pooling summed in
float16 and overflowed, and a stride-1 pool with a large kernel (spatial pyramid pooling)
copied every window, k*k times the input's memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.autograd.ops import conv

RNG = np.random.default_rng(16)


def _both(layer: nn.Module, twin: torch.nn.Module, x: np.ndarray) -> None:
    """Values and input gradients of ``layer`` equal PyTorch's ``twin`` on ``x``."""
    g = RNG.standard_normal(layer(cr.tensor(x)).shape)
    ours = cr.tensor(x, requires_grad=True)
    layer(ours).backward(cr.tensor(g.astype(x.dtype)))
    theirs = torch.tensor(x, requires_grad=True)
    y = twin(theirs)
    y.backward(torch.tensor(g.astype(x.dtype)))
    np.testing.assert_allclose(layer(cr.tensor(x)).numpy(), y.detach().numpy(), rtol=1e-12)
    assert ours.grad is not None and theirs.grad is not None
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_float16_average_pooling_sums_wide_enough_not_to_overflow() -> None:
    image = cr.tensor(np.full((1, 1, 80, 80), 12.0, np.float16))
    assert nn.AdaptiveAvgPool2d(1)(image).numpy().ravel().tolist() == [12.0]
    assert nn.AvgPool2d(80)(image).numpy().ravel().tolist() == [12.0]
    signal = cr.tensor(np.full((1, 1, 8000), 10.0, np.float16))
    assert nn.AdaptiveAvgPool1d(1)(signal).numpy().ravel().tolist() == [10.0]
    # below overflow, as close as PyTorch, which accumulates in float32 too
    x = (100 + RNG.standard_normal((2, 3, 32, 32))).astype(np.float16)
    exact = x.astype(np.float64).reshape(2, 3, 2, 16, 2, 16).mean(axis=(3, 5))
    ours = nn.AvgPool2d(16)(cr.tensor(x)).numpy()
    theirs = torch.nn.AvgPool2d(16)(torch.tensor(x)).numpy()
    assert ours.dtype == np.float16
    assert np.abs(ours - exact).max() <= np.abs(theirs - exact).max() + 0.07


@pytest.mark.parametrize("kernel", [5, 9, 13])
def test_spatial_pyramid_pooling_matches_pytorch(kernel: int) -> None:
    x = RNG.standard_normal((2, 3, 17, 15))
    x[0, 0, 4, 4:9] = 1.5  # ties inside windows
    pad = kernel // 2
    _both(
        nn.MaxPool2d(kernel, stride=1, padding=pad),
        torch.nn.MaxPool2d(kernel, stride=1, padding=pad),
        x,
    )
    _both(
        nn.AvgPool2d(kernel, stride=1, padding=pad, count_include_pad=False),
        torch.nn.AvgPool2d(kernel, stride=1, padding=pad, count_include_pad=False),
        x,
    )


def test_a_large_overlapping_pool_needs_memory_of_the_output_not_of_every_window() -> None:
    x = cr.tensor(RNG.standard_normal((4, 16, 32, 32)).astype(np.float32), requires_grad=True)
    size = x.data.nbytes
    for layer in (nn.MaxPool2d(13, stride=1, padding=6), nn.AvgPool2d(13, stride=1, padding=6)):
        tracemalloc.start()
        layer(x).sum().backward()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        x.grad = None
        # the windows hold 169 times the input; what is needed is a few arrays of its size
        assert peak < 12 * size, f"{type(layer).__name__}: peak {peak / size:.1f}x the input"


@pytest.mark.parametrize(
    "options",
    [
        {"kernel_size": 3, "stride": 1, "padding": 1},
        {"kernel_size": (2, 3), "stride": (2, 1), "dilation": 2, "ceil_mode": True},
        {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
        {"kernel_size": 2},
    ],
)
def test_walking_the_offsets_gives_what_copying_the_windows_gives(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, object]
) -> None:
    """Both ways of pooling, forced on the same inputs: PyTorch's values and gradients,
    with ties, NaN, and -inf next to padding."""
    x = RNG.integers(-2, 3, (2, 2, 7, 9)).astype(np.float64)  # many ties
    x[0, 0, 0, :3] = -np.inf  # a window of -inf where padding ties with the input
    x[1, 1, 3, 3] = np.nan
    x[1, 1, 3, 5] = np.nan
    for factor in (0, conv.COPY_FACTOR):
        monkeypatch.setattr(conv, "COPY_FACTOR", factor)
        _both(nn.MaxPool2d(**options), torch.nn.MaxPool2d(**options), x)  # type: ignore[arg-type]
        finite = np.nan_to_num(x, neginf=-3.0)
        average = {k: v for k, v in options.items() if k != "dilation"}
        if "dilation" not in options:
            _both(nn.AvgPool2d(**average), torch.nn.AvgPool2d(**average), finite)  # type: ignore[arg-type]
