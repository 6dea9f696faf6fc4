"""Pooling, BatchNorm2d, Dropout2d and Unflatten against PyTorch: every option combination
in float64 and float32, the gradient's choices at ties, NaN and padding, and errors."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from torch_oracle import DTYPE_IDS, DTYPES, assert_close, compare_function, compare_module

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def data(shape: tuple[int, ...], dtype: Any, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# --------------------------------------------------------------------- MaxPool2d
MAX_GRID = [
    options
    for options in itertools.product(
        [1, 2, 3, (2, 3)], [None, 1, 2, (1, 3)], [0, 1], [1, 2], [False, True]
    )
    # PyTorch's limit, tested below: padding at most half the kernel
    if options[2] <= (min(options[0]) if isinstance(options[0], tuple) else options[0]) // 2
]


def _id(options: tuple[Any, ...]) -> str:
    return "-".join(str(v) for v in options).replace(" ", "")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("options", MAX_GRID, ids=_id)
def test_max_pool2d_matches_torch(options: tuple[Any, ...], dtype: Any) -> None:
    kernel, stride, padding, dilation, ceil_mode = options
    layer = nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    twin = tnn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    compare_module(layer, twin, [data((2, 3, 7, 8), dtype)])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("name", "x", "kernel", "stride", "padding"),
    [
        ("ties go to the first maximum", np.ones((1, 1, 4, 4)), 2, 2, 0),
        ("overlapping windows share a maximum", np.ones((1, 1, 4, 5)), 3, 1, 0),
        ("a NaN wins, the last of several", [[[[1.0, np.nan], [np.nan, 0.0]]]], 2, 2, 0),
        ("all -inf: the first element, never padding", np.full((1, 1, 3, 3), -np.inf), 3, 2, 1),
        ("negative inputs beside padding", -np.arange(1.0, 10.0).reshape(1, 1, 3, 3), 2, 1, 1),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_max_pool2d_gradient_choices_match_torch(
    name: str, x: Any, kernel: int, stride: int, padding: int, dtype: Any
) -> None:
    array = np.asarray(x, dtype=dtype)
    fn = lambda t: nn.functional.max_pool2d(t, kernel, stride, padding)  # noqa: E731
    torch_fn = lambda t: TF.max_pool2d(t, kernel, stride, padding)  # noqa: E731
    xs = cr.tensor(array, requires_grad=True)
    ts = torch.tensor(array, requires_grad=True)
    out, expected = fn(xs), torch_fn(ts)
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy(), err_msg=name)
    upstream = np.arange(1.0, out.numpy().size + 1).reshape(out.shape).astype(dtype)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    assert xs.grad is not None
    np.testing.assert_array_equal(xs.grad.numpy(), ts.grad.numpy(), err_msg=name)


def test_max_pool2d_unbatched_and_functional() -> None:
    compare_function(
        lambda t: nn.functional.max_pool2d(t, 2, 1, 1, 2, True),
        lambda t: TF.max_pool2d(t, 2, 1, 1, 2, True),
        [data((3, 6, 5), np.float64)],
    )


def test_max_pool2d_errors() -> None:
    with pytest.raises(ValueError, match=r"max_pool2d: padding must be at most half of kernel"):
        nn.MaxPool2d(2, padding=2)(cr.zeros(1, 1, 4, 4))
    with pytest.raises(RuntimeError, match=r"pad should be at most half"):
        TF.max_pool2d(torch.zeros(1, 1, 4, 4), 2, padding=2)  # PyTorch refuses it too
    with pytest.raises(ValueError, match=r"max_pool2d: the window \(3, 3\) .* does not fit"):
        nn.MaxPool2d(3)(cr.zeros(1, 1, 2, 5))
    with pytest.raises(ValueError, match=r"MaxPool2d: kernel_size must be an int or a pair"):
        nn.MaxPool2d(0)
    with pytest.raises(ValueError, match=r"max_pool2d: expected input of shape \(N, C, H, W\)"):
        nn.MaxPool2d(2)(cr.zeros(4, 4))
    with pytest.raises(TypeError, match=r"max_pool2d: expected a floating-point input"):
        nn.MaxPool2d(2)(cr.tensor(np.zeros((1, 1, 4, 4), dtype=np.int64)))


# --------------------------------------------------------------------- AvgPool2d
AVG_GRID = [
    options
    for options in itertools.product(
        [1, 2, 3, (2, 3)], [None, 1, 2], [0, 1], [False, True], [True, False], [None, 4]
    )
    if options[2] <= (min(options[0]) if isinstance(options[0], tuple) else options[0]) // 2
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("options", AVG_GRID, ids=_id)
def test_avg_pool2d_matches_torch(options: tuple[Any, ...], dtype: Any) -> None:
    kernel, stride, padding, ceil_mode, include_pad, divisor = options
    layer = nn.AvgPool2d(kernel, stride, padding, ceil_mode, include_pad, divisor)
    twin = tnn.AvgPool2d(kernel, stride, padding, ceil_mode, include_pad, divisor)
    compare_module(layer, twin, [data((2, 3, 7, 8), dtype)])


def test_avg_pool2d_errors() -> None:
    with pytest.raises(ValueError, match=r"AvgPool2d: divisor_override must be a positive"):
        nn.AvgPool2d(2, divisor_override=0)
    with pytest.raises(ValueError, match=r"avg_pool2d: divisor_override must be a positive"):
        nn.functional.avg_pool2d(cr.zeros(1, 1, 4, 4), 2, divisor_override=-1)
    with pytest.raises(ValueError, match=r"avg_pool2d: padding must be at most half"):
        nn.AvgPool2d(3, padding=2)(cr.zeros(1, 1, 6, 6))


# --------------------------------------------------------------------- AdaptiveAvgPool2d
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    "output_size", [1, 2, (3, 2), (5, None), (None, 4), (7, 5), (4, 3)], ids=str
)
def test_adaptive_avg_pool2d_matches_torch(output_size: Any, dtype: Any) -> None:
    layer, twin = nn.AdaptiveAvgPool2d(output_size), tnn.AdaptiveAvgPool2d(output_size)
    compare_module(layer, twin, [data((2, 3, 7, 5), dtype)])
    compare_module(layer, twin, [data((3, 8, 6), dtype)])  # unbatched


def test_adaptive_avg_pool2d_errors() -> None:
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool2d: output_size must be a positive"):
        nn.AdaptiveAvgPool2d(0)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: output_size must be"):
        nn.functional.adaptive_avg_pool2d(cr.zeros(1, 1, 4, 4), (1, 2, 3))
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: expected input of shape"):
        nn.AdaptiveAvgPool2d(1)(cr.zeros(4, 4))


# --------------------------------------------------------------------- BatchNorm2d
BN_OPTIONS = [
    {},
    {"momentum": 0.3},
    {"momentum": None},
    {"affine": False},
    {"track_running_stats": False},
    {"eps": 1e-3, "bias": False},
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("options", BN_OPTIONS, ids=lambda o: _id(tuple(o.items())) or "default")
def test_batchnorm2d_matches_torch_over_batches(options: dict[str, Any], dtype: Any) -> None:
    layer = nn.BatchNorm2d(3, dtype=dtype, **options)
    twin = tnn.BatchNorm2d(3, dtype=TORCH_DTYPE[dtype], **options)
    if layer.weight is not None:
        layer.weight.data[...] = data((3,), dtype, seed=5)
    if layer.bias is not None:
        layer.bias.data[...] = data((3,), dtype, seed=6)
    twin.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in layer.state_dict().items()}
    )
    for step in range(3):
        layer.zero_grad()
        twin.zero_grad()
        compare_module(
            layer, twin, [data((4, 3, 5, 2), dtype, step) * 2 + 1], copy=False, seed=step
        )
        if options.get("track_running_stats", True):
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                assert_close(getattr(layer, name).numpy(), getattr(twin, name).numpy(), dtype, name)
    assert list(layer.state_dict()) == list(twin.state_dict())
    layer.eval()
    twin.eval()
    layer.zero_grad()
    twin.zero_grad()
    compare_module(layer, twin, [data((2, 3, 4, 4), dtype, 9)], copy=False)


def test_batchnorm2d_reset_repr_and_errors() -> None:
    layer = nn.BatchNorm2d(2)
    layer(cr.randn(3, 2, 2, 2, generator=0))
    layer.reset_parameters()
    assert layer.running_var is not None and layer.num_batches_tracked is not None
    np.testing.assert_array_equal(layer.running_var.numpy(), [1, 1])
    assert int(layer.num_batches_tracked.item()) == 0
    assert repr(nn.BatchNorm2d(3)) == repr(tnn.BatchNorm2d(3))
    assert not isinstance(layer, nn.BatchNorm1d)  # as in PyTorch, a sibling, not a subclass
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected input of shape \(N, 2, H, W\)"):
        layer(cr.zeros(3, 2, 4))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected more than 1 value per channel"):
        layer(cr.zeros(1, 2, 1, 1))
    with pytest.raises(ValueError, match=r"BatchNorm2d: num_features must be a positive"):
        nn.BatchNorm2d(0)
    with pytest.raises(ValueError, match=r"BatchNorm2d: momentum must be in \[0, 1\] or None"):
        nn.BatchNorm2d(2, momentum=-0.1)
    with pytest.raises(ValueError, match=r"BatchNorm2d: eps must be >= 0"):
        nn.BatchNorm2d(2, eps=-1e-5)


# --------------------------------------------------------------------- Dropout2d
def test_dropout2d_zeroes_whole_channels_and_scales() -> None:
    layer = nn.Dropout2d(0.5, generator=0)
    x = cr.ones(64, 8, 3, 3, requires_grad=True)
    y = layer(x).numpy()
    per_channel = y.reshape(64, 8, -1)
    assert np.all(per_channel.min(axis=2) == per_channel.max(axis=2))  # whole channels
    assert set(np.unique(y)) == {0.0, 2.0}
    assert 0.4 < (per_channel[:, :, 0] == 0).mean() < 0.6
    layer(x).sum().backward()
    assert x.grad is not None and set(np.unique(x.grad.numpy())) <= {0.0, 2.0}
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    unbatched = nn.Dropout2d(0.5, generator=1)(cr.ones(16, 2, 2)).numpy().reshape(16, -1)
    assert np.all(unbatched.min(axis=1) == unbatched.max(axis=1))


def test_dropout2d_edges_seed_and_errors() -> None:
    x = cr.randn(2, 3, 4, 4, generator=0)
    np.testing.assert_array_equal(nn.Dropout2d(0.0)(x).numpy(), x.numpy())
    assert np.all(nn.Dropout2d(1.0)(x).numpy() == 0)
    a = nn.Dropout2d(0.3, generator=4)(x).numpy()
    b = nn.Dropout2d(0.3, generator=4)(x).numpy()
    np.testing.assert_array_equal(a, b)
    assert nn.Dropout2d(0.3)(cr.ones(2, 2, 2, 2, dtype=np.float64)).dtype == np.float64
    assert repr(nn.Dropout2d(0.3)) == repr(tnn.Dropout2d(0.3))
    with pytest.raises(ValueError, match=r"Dropout2d: p must be in \[0, 1\], got p=1.5"):
        nn.Dropout2d(1.5)
    with pytest.raises(ValueError, match=r"dropout2d: expected input of shape \(N, C, H, W\)"):
        nn.functional.dropout2d(cr.ones(4, 4))


# --------------------------------------------------------------------- Unflatten
def test_unflatten_matches_torch() -> None:
    for dim, sizes, shape in [
        (1, (1, 8, 8), (5, 64)),
        (-1, (2, -1), (3, 4, 6)),
        (0, (2, 3), (6, 2)),
    ]:
        layer, twin = nn.Unflatten(dim, sizes), tnn.Unflatten(dim, sizes)
        compare_module(layer, twin, [data(shape, np.float64)])
    assert repr(nn.Unflatten(1, (1, 8, 8))) == repr(tnn.Unflatten(1, (1, 8, 8)))


def test_unflatten_errors() -> None:
    with pytest.raises(ValueError, match=r"Unflatten: expected axis 1 of size 12 to split into"):
        nn.Unflatten(1, (3, 4))(cr.zeros(2, 10))
    with pytest.raises(ValueError, match=r"Unflatten: unflattened_size must be a non-empty"):
        nn.Unflatten(1, (-1, -1))
    with pytest.raises(ValueError, match=r"Unflatten: dim 3 is out of range"):
        nn.Unflatten(3, (2, 2))(cr.zeros(2, 4))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("pool", "options"),
    [
        ("MaxPool2d", {"kernel_size": 6, "stride": 3, "ceil_mode": True}),
        ("MaxPool2d", {"kernel_size": 4, "stride": 3, "dilation": 2, "ceil_mode": True}),
        ("AvgPool2d", {"kernel_size": 7, "stride": 3, "ceil_mode": True}),
        ("AvgPool2d", {"kernel_size": (3, 8), "stride": 3, "padding": (1, 0), "ceil_mode": True}),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(map(str, v.values())),
)
def test_ceil_mode_keeps_a_window_wider_than_the_input(
    pool: str, options: dict[str, Any], dtype: Any
) -> None:
    # PyTorch rounds (5 - 7) / 3 up to 0 and keeps that one window; it was refused as too big
    layer, twin = getattr(nn, pool)(**options), getattr(tnn, pool)(**options)
    compare_module(layer, twin, [data((2, 3, 5, 6), dtype)])
