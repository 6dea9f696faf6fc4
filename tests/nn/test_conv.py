"""Conv2d and Conv1d against PyTorch over every option combination (stride, padding,
dilation, groups, kernel, bias, padding mode), in float64 and float32, in both orders of
the products; PyTorch's initialization, state dicts both ways, errors, and the ready-made
digits network reaching 98% (slow)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from torch_oracle import DTYPE_IDS, DTYPES, assert_close, compare_module, copy_weights

import chainrule as cr
from chainrule import nn
from chainrule.autograd.ops import conv as conv_ops
from chainrule.nn.conv import digits_cnn, small_cnn

torch = pytest.importorskip("torch")
tnn = torch.nn
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
ROOT = Path(__file__).resolve().parents[2]
# PyTorch warns that it copies the input for padding='same' with an even kernel.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def data(shape: tuple[int, ...], dtype: Any, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def tol(dtype: Any) -> dict[str, float]:
    """float32: a convolution sums tens of products in another order than PyTorch, so an
    output near zero can differ by a few 1e-6 in absolute terms."""
    return {"rtol": 1e-5, "atol": 2e-5} if dtype == np.float32 else {}


@pytest.fixture(params=["per_batch", "per_image"])
def product_order(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a test with each order of conv2d's products (chosen by image size otherwise)."""
    threshold = 10**9 if request.param == "per_batch" else 0
    monkeypatch.setattr(conv_ops._FlatLayout, "PER_IMAGE_MIN_POSITIONS", threshold)
    yield request.param


def twin_of(layer: nn.Module, dtype: Any) -> Any:
    """The PyTorch layer with the same arguments, holding chainrule's weights."""
    cls = tnn.Conv2d if isinstance(layer, nn.Conv2d) else tnn.Conv1d
    assert isinstance(layer, nn.Conv1d | nn.Conv2d)
    return cls(
        layer.in_channels,
        layer.out_channels,
        layer.kernel_size,
        stride=layer.stride,
        padding=layer.padding,
        dilation=layer.dilation,
        groups=layer.groups,
        bias=layer.bias is not None,
        padding_mode=layer.padding_mode,
        dtype=TORCH_DTYPE[dtype],
    )


# --------------------------------------------------------------------- Conv2d, the grid
STRIDES = [1, 2, (2, 1)]
PADDINGS: list[Any] = [0, 1, (2, 1), "valid", "same"]
DILATIONS = [1, 2]
GROUPS = [1, 2]
KERNELS: list[Any] = [1, 3, (2, 3)]
GRID = [
    (stride, padding, dilation, groups, kernel)
    for stride, padding, dilation, groups, kernel in itertools.product(
        STRIDES, PADDINGS, DILATIONS, GROUPS, KERNELS
    )
    if not (padding == "same" and stride != 1)  # PyTorch refuses it too (tested below)
]


def _grid_id(options: tuple[Any, ...]) -> str:
    stride, padding, dilation, groups, kernel = options
    return f"s{stride}-p{padding}-d{dilation}-g{groups}-k{kernel}".replace(" ", "")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("options", GRID, ids=_grid_id)
def test_conv2d_matches_torch(options: tuple[Any, ...], dtype: Any) -> None:
    stride, padding, dilation, groups, kernel = options
    bias = GRID.index(options) % 2 == 0  # every other combination without bias
    layer = nn.Conv2d(4, 6, kernel, stride, padding, dilation, groups, bias, dtype=dtype)
    # 7x8 images go the per-batch way, 11x9 the per-image way (more than 64 positions)
    for k, shape in enumerate([(2, 4, 7, 8), (2, 4, 11, 9)]):
        layer.zero_grad()
        out, _ = compare_module(
            layer, twin_of(layer, dtype), [data(shape, dtype, k)], seed=k, **tol(dtype)
        )
        assert out.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation"),
    [(3, 1, 1, 1), ((2, 3), 2, (2, 1), 1), (3, 1, "same", 2), ((2, 2), 1, "same", 1)],
    ids=["3x3", "strided", "same_dilated", "same_even"],
)
def test_conv2d_padding_modes_match_torch(
    mode: str, kernel: Any, stride: Any, padding: Any, dilation: Any, dtype: Any
) -> None:
    layer = nn.Conv2d(3, 4, kernel, stride, padding, dilation, padding_mode=mode, dtype=dtype)
    compare_module(layer, twin_of(layer, dtype), [data((2, 3, 6, 7), dtype)], **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_conv2d_shapes_and_inputs_pytorch_accepts(dtype: Any, product_order: str) -> None:
    # Unbatched (C, H, W) input, a single channel, a 1x1 map, a non-contiguous input.
    layer = nn.Conv2d(3, 5, 3, padding=1, dtype=dtype)
    compare_module(layer, twin_of(layer, dtype), [data((3, 6, 5), dtype)], **tol(dtype))
    layer = nn.Conv2d(1, 2, 1, dtype=dtype)
    compare_module(layer, twin_of(layer, dtype), [data((4, 1, 1, 1), dtype)], **tol(dtype))
    layer = nn.Conv2d(2, 3, (3, 1), stride=(1, 3), dtype=dtype)
    x = np.ascontiguousarray(data((5, 2, 9, 4), dtype).transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    assert not x.flags.c_contiguous
    compare_module(layer, twin_of(layer, dtype), [x], **tol(dtype))


@pytest.mark.parametrize("groups", [1, 3])
def test_depthwise_and_grouped_conv2d_in_both_orders(groups: int, product_order: str) -> None:
    layer = nn.Conv2d(6, 6 if groups == 3 else 4, 3, padding=1, groups=groups, dtype=np.float64)
    compare_module(layer, twin_of(layer, np.float64), [data((3, 6, 9, 9), np.float64)])
    depthwise = nn.Conv2d(4, 8, 3, stride=2, groups=4, dtype=np.float64)
    compare_module(depthwise, twin_of(depthwise, np.float64), [data((2, 4, 9, 10), np.float64)])


def test_conv2d_functional_matches_torch(product_order: str) -> None:
    x, w, b = data((2, 4, 9, 8), np.float64), data((6, 2, 3, 2), np.float64), data((6,), np.float64)
    out = nn.functional.conv2d(cr.tensor(x), cr.tensor(w), cr.tensor(b), 2, (1, 0), (1, 2), 2)
    expected = torch.nn.functional.conv2d(
        torch.tensor(x), torch.tensor(w), torch.tensor(b), 2, (1, 0), (1, 2), 2
    )
    assert_close(out.numpy(), expected.numpy(), np.float64, "conv2d")


def test_gradients_match_torch_over_a_batch_of_steps(product_order: str) -> None:
    # The workspace hands arrays out again: several steps in a row must each be right.
    layer = nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64)
    twin = twin_of(layer, np.float64)
    for step in range(3):
        layer.zero_grad()
        twin.zero_grad()
        compare_module(layer, twin, [data((4, 2, 9, 9), np.float64, step)], seed=step)


def test_two_forward_passes_before_one_backward(product_order: str) -> None:
    # Scratch arrays saved by the first pass must survive the second one.
    layer = nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64)
    twin = twin_of(layer, np.float64)
    copy_weights(layer, twin)
    a, b = data((4, 2, 9, 9), np.float64, 1), data((4, 2, 9, 9), np.float64, 2)
    x, y = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    (nn.MaxPool2d(2)(layer(x)) * 2 + nn.MaxPool2d(2)(layer(y))).sum().backward()
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (tnn.MaxPool2d(2)(twin(tx)) * 2 + tnn.MaxPool2d(2)(twin(ty))).sum().backward()
    assert x.grad is not None and y.grad is not None
    assert_close(x.grad.numpy(), tx.grad.numpy(), np.float64, "first input")
    assert_close(y.grad.numpy(), ty.grad.numpy(), np.float64, "second input")
    assert layer.weight.grad is not None
    assert_close(layer.weight.grad.numpy(), twin.weight.grad.numpy(), np.float64, "weight")


def test_empty_batch(product_order: str) -> None:
    layer = nn.Conv2d(2, 3, 3, padding=1)
    x = cr.zeros(0, 2, 5, 5, requires_grad=True)
    out = nn.MaxPool2d(2)(layer(x))
    assert out.shape == (0, 3, 2, 2)
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == (0, 2, 5, 5)


@pytest.mark.parametrize("stride", [1, 2])
def test_weight_gradients_when_the_input_needs_none(stride: int, product_order: str) -> None:
    layer = nn.Conv2d(2, 3, 3, stride=stride, padding=1, dtype=np.float64)
    compare_module(
        layer, twin_of(layer, np.float64), [data((3, 2, 9, 10), np.float64)], input_grads=False
    )


# --------------------------------------------------------------------- Conv1d
CONV1D_GRID = [
    options
    for options in itertools.product(
        [1, 2], [0, 2, "valid", "same"], [1, 2], [1, 3], [1, 3], ["zeros", "circular"]
    )
    if not (options[1] == "same" and options[0] != 1)
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    "options", CONV1D_GRID, ids=lambda o: "-".join(str(v) for v in o).replace(" ", "")
)
def test_conv1d_matches_torch(options: tuple[Any, ...], dtype: Any) -> None:
    stride, padding, dilation, groups, kernel, mode = options
    layer = nn.Conv1d(
        3, 6, kernel, stride, padding, dilation, groups, padding_mode=mode, dtype=dtype
    )
    compare_module(layer, twin_of(layer, dtype), [data((2, 3, 9), dtype)], **tol(dtype))


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_conv1d_edge_modes_and_unbatched_input(mode: str) -> None:
    layer = nn.Conv1d(2, 4, 3, padding=2, padding_mode=mode, bias=False, dtype=np.float64)
    compare_module(layer, twin_of(layer, np.float64), [data((2, 7), np.float64)])


def test_conv1d_functional_takes_one_tuples() -> None:
    x, w = data((1, 2, 8), np.float64), data((3, 2, 2), np.float64)
    out = nn.functional.conv1d(cr.tensor(x), cr.tensor(w), None, (2,), (1,), (3,))
    expected = torch.nn.functional.conv1d(torch.tensor(x), torch.tensor(w), None, 2, 1, 3)
    assert_close(out.numpy(), expected.numpy(), np.float64, "conv1d")


# --------------------------------------------------------------------- initialization
@pytest.mark.parametrize(
    ("layer", "fan_in"),
    [
        (nn.Conv2d(16, 32, 5, generator=0), 16 * 25),
        (nn.Conv1d(12, 30, 4, groups=3, generator=0), 16),
    ],
    ids=["conv2d", "conv1d_groups"],
)
def test_default_init_follows_pytorch_bounds(layer: Any, fan_in: int) -> None:
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) and the bias's bound
    w = layer.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert w.var() == pytest.approx(bound**2 / 3, rel=0.1)
    assert np.abs(layer.bias.numpy()).max() <= bound
    twin = twin_of(layer, np.float32)
    assert twin.weight.abs().max().item() <= bound  # the same formula in PyTorch
    assert tuple(twin.weight.shape) == layer.weight.shape


def test_same_generator_same_weights_and_reset() -> None:
    a, b = nn.Conv2d(3, 4, 3, generator=5), nn.Conv2d(3, 4, 3, generator=5)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    b.reset_parameters(6)
    assert not np.array_equal(a.weight.numpy(), b.weight.numpy())


def test_state_dicts_interchange_with_pytorch() -> None:
    twin = tnn.Conv2d(3, 4, (3, 2), padding=1, groups=1)
    layer = nn.Conv2d(3, 4, (3, 2), padding=1)
    result = layer.load_state_dict({k: v.detach().numpy() for k, v in twin.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = data((2, 3, 5, 5), np.float32)
    with torch.no_grad():
        expected = twin(torch.tensor(x)).numpy()
    with cr.no_grad():
        actual = layer(cr.tensor(x)).numpy()
    assert_close(actual, expected, np.float32, "loaded from PyTorch", **tol(np.float32))
    assert list(nn.Conv2d(1, 2, 3, bias=False).state_dict()) == ["weight"]


def test_repr_is_pytorchs() -> None:
    for args, kwargs in [
        ((1, 6, 5), {"padding": 2}),
        ((4, 6, (2, 3)), {"stride": 2, "padding": "valid", "dilation": 2, "groups": 2}),
        ((1, 6, 3), {"padding": "same", "bias": False, "padding_mode": "reflect"}),
    ]:
        assert repr(nn.Conv2d(*args, **kwargs)) == repr(tnn.Conv2d(*args, **kwargs))
    assert repr(nn.Conv1d(3, 5, 4, padding=1, padding_mode="circular")) == repr(
        tnn.Conv1d(3, 5, 4, padding=1, padding_mode="circular")
    )


def test_float64_input_meets_float32_weights_in_float32() -> None:
    layer = nn.Conv2d(1, 2, 3)
    out = layer(np.ones((1, 1, 4, 4)))
    assert out.dtype == np.float32


# --------------------------------------------------------------------- errors
def test_conv_construction_errors() -> None:
    with pytest.raises(ValueError, match=r"Conv2d: in_channels and out_channels must be "):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2d: in_channels must be a positive integer"):
        nn.Conv2d(0, 4, 3)
    with pytest.raises(ValueError, match=r"Conv2d: padding_mode must be one of"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match=r"Conv2d: padding='same' needs stride 1"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"Conv2d: padding must be 'valid', 'same'"):
        nn.Conv2d(1, 1, 3, padding="full")
    with pytest.raises(ValueError, match=r"Conv2d: kernel_size must be an int or 2 positive"):
        nn.Conv2d(1, 1, (3, 0))
    with pytest.raises(ValueError, match=r"Conv2d: padding must be an int or 2 integers >= 0"):
        nn.Conv2d(1, 1, 3, padding=-1)
    with pytest.raises(ValueError, match=r"Conv1d: stride must be an int or 1 positive"):
        nn.Conv1d(1, 1, 3, stride=(1, 1))
    with pytest.raises(ValueError, match=r"padding='same' is not supported for strided"):
        tnn.Conv2d(1, 1, 3, stride=2, padding="same")  # PyTorch refuses it too


def test_conv_input_errors() -> None:
    layer = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"Conv2d: expected input of shape \(N, 3, H, W\) or "):
        layer(cr.zeros(2, 2, 5, 5))
    with pytest.raises(ValueError, match=r"got shape \(5, 5\)"):
        layer(cr.zeros(5, 5))
    with pytest.raises(ValueError, match=r"conv2d: the kernel \(3, 3\) .* does not fit"):
        layer(cr.zeros(1, 3, 2, 5))
    with pytest.raises(ValueError, match=r"Conv1d: expected input of shape \(N, 3, L\)"):
        nn.Conv1d(3, 4, 3)(cr.zeros(2, 4, 5))
    F = nn.functional
    with pytest.raises(TypeError, match=r"conv2d: expected input and weight of the same dtype"):
        F.conv2d(cr.zeros(1, 1, 3, 3, dtype=np.float64), cr.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"conv2d: expected a 4-D weight"):
        F.conv2d(cr.zeros(1, 1, 3, 3), cr.zeros(1, 2, 2))
    with pytest.raises(ValueError, match=r"conv2d: expected input with 2 channels"):
        F.conv2d(cr.zeros(1, 1, 3, 3), cr.zeros(1, 2, 2, 2))
    with pytest.raises(ValueError, match=r"conv2d: out_channels must be divisible by groups"):
        F.conv2d(cr.zeros(1, 2, 3, 3), cr.zeros(3, 1, 2, 2), groups=2)
    with pytest.raises(ValueError, match=r"conv2d: expected bias of shape \(1,\), got \(2,\)"):
        F.conv2d(cr.zeros(1, 1, 3, 3), cr.zeros(1, 1, 2, 2), cr.zeros(2))
    with pytest.raises(ValueError, match=r"conv2d: groups must be a positive integer"):
        F.conv2d(cr.zeros(1, 1, 3, 3), cr.zeros(1, 1, 2, 2), groups=0)
    with pytest.raises(TypeError, match=r"conv2d: expected a floating-point input"):
        F.conv2d(cr.tensor(np.zeros((1, 1, 3, 3), dtype=np.int64)), cr.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"conv1d: expected a 3-D weight"):
        F.conv1d(cr.zeros(1, 1, 3), cr.zeros(1, 1, 1, 1))
    with pytest.raises(ValueError, match=r"conv1d: expected input of shape \(N, C, L\)"):
        F.conv1d(cr.zeros(3), cr.zeros(1, 1, 1))


def test_edge_pad_errors() -> None:
    edge_pad = cr.autograd.ops.edge_pad
    with pytest.raises(ValueError, match=r"edge_pad: mode must be 'reflect', 'replicate' or"):
        edge_pad(cr.zeros(3, 3), (1, 1), "wrap")
    with pytest.raises(ValueError, match=r"edge_pad: pad must be \(before, after\) pairs"):
        edge_pad(cr.zeros(3, 3), (1,), "reflect")
    with pytest.raises(ValueError, match=r"edge_pad: reflect padding of axis 1 \(size 3\) must"):
        edge_pad(cr.zeros(3, 3), (3, 0), "reflect")
    with pytest.raises(ValueError, match=r"edge_pad: circular padding of axis 0"):
        edge_pad(cr.zeros(3, 3), (0, 0, 4, 0), "circular")


# --------------------------------------------------------------------- ready-made networks
def test_small_cnn_shapes_and_errors() -> None:
    model = small_cnn((3, 12, 10), 4, channels=(8, 16, 8), hidden=16, generator=0)
    assert model(cr.zeros(2, 360)).shape == (2, 4)
    assert digits_cnn(generator=1)(cr.zeros(5, 64)).shape == (5, 10)
    with pytest.raises(ValueError, match=r"small_cnn: image_shape must be 3 positive ints"):
        small_cnn((8, 8), 10)
    with pytest.raises(ValueError, match=r"small_cnn: image_shape \(1, 4, 4\) is too small"):
        small_cnn((1, 4, 4), 10, channels=(4, 4, 4))
    with pytest.raises(ValueError, match=r"small_cnn: n_classes must be a positive integer"):
        small_cnn((1, 8, 8), 0)


def test_same_seed_same_digits_network() -> None:
    a, b = digits_cnn(generator=3), digits_cnn(generator=3)
    for (name, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)


@pytest.mark.slow
def test_cnn_digits_example_reaches_98_percent() -> None:
    import runpy

    from threadpoolctl import threadpool_limits

    example = runpy.run_path(str(ROOT / "examples" / "cnn_digits.py"), run_name="example")
    with threadpool_limits(limits=1):
        result = example["run"]()
    assert result["test_accuracy"] >= 0.98, result
