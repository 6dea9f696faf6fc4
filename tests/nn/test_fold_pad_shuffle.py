"""Unfold and Fold, the padding layers, PixelShuffle and PixelUnshuffle, the fixed-mode
upsampling layers and adaptive max pooling, against PyTorch in float64 (outputs and input
gradients), with their errors."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from torch_oracle import compare_function, compare_module

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional
TIGHT = {"rtol": 1e-10, "atol": 1e-10}


def data(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


# --------------------------------------------------------------------- unfold and fold
BLOCKS = [
    (kernel, dilation, padding, stride)
    for kernel, dilation, padding, stride in itertools.product(
        (1, 2, (2, 3)), (1, (2, 1)), (0, 1, (0, 2)), (1, 2, (1, 3))
    )
]


@pytest.mark.parametrize("options", BLOCKS, ids=str)
def test_unfold_and_fold_match_torch(options: tuple[Any, ...]) -> None:
    kernel, dilation, padding, stride = options
    x = data((2, 3, 7, 8))
    out, _ = compare_function(
        lambda x: F.unfold(x, kernel, dilation, padding, stride),
        lambda x: TF.unfold(x, kernel, dilation, padding, stride),
        [x],
        **TIGHT,
    )
    columns = data(out.shape, 1)
    for cols in (columns, columns[0]):  # batched and unbatched
        compare_function(
            lambda c: F.fold(c, (7, 8), kernel, dilation, padding, stride),
            lambda c: TF.fold(c, (7, 8), kernel, dilation, padding, stride),
            [cols],
            **TIGHT,
        )
    compare_function(
        lambda x: F.unfold(x, kernel, dilation, padding, stride),
        lambda x: TF.unfold(x, kernel, dilation, padding, stride),
        [x[0]],
        **TIGHT,
    )


def test_unfold_and_fold_modules_match_torch() -> None:
    unfold = nn.Unfold(kernel_size=(2, 3), dilation=2, padding=1, stride=(1, 2))
    twin = tnn.Unfold(kernel_size=(2, 3), dilation=2, padding=1, stride=(1, 2))
    out, _ = compare_module(unfold, twin, [data((2, 2, 6, 7))], **TIGHT)
    assert out.shape == (2, 12, 18)
    fold = nn.Fold(output_size=(6, 7), kernel_size=(2, 3), dilation=2, padding=1, stride=(1, 2))
    twin_fold = tnn.Fold((6, 7), (2, 3), dilation=2, padding=1, stride=(1, 2))
    compare_module(fold, twin_fold, [data((2, 12, 18), 3)], **TIGHT)
    assert repr(unfold) == repr(twin)
    assert repr(nn.Fold((4, 5), 2)) == repr(tnn.Fold((4, 5), 2))


def test_fold_of_unfold_counts_the_blocks_over_each_pixel() -> None:
    x = cr.ones(1, 2, 4, 4)
    counts = F.fold(F.unfold(x, 2), 4, 2)
    np.testing.assert_array_equal(
        counts.numpy()[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]]
    )


def test_unfold_and_fold_errors() -> None:
    with pytest.raises(ValueError, match=r"unfold: expected input of shape \(N, C, H, W\)"):
        F.unfold(cr.ones(4, 4), 2)
    with pytest.raises(ValueError, match="does not fit the size"):
        F.unfold(cr.ones(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match="kernel_size must be an int or a pair"):
        nn.Unfold(0)(cr.ones(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"divisible by the kernel's 4 elements"):
        F.fold(cr.ones(1, 6, 9), (4, 4), 2)
    with pytest.raises(ValueError, match=r"expected 9 blocks \(3 x 3\)"):
        F.fold(cr.ones(1, 8, 8), (4, 4), 2)
    with pytest.raises(ValueError, match=r"fold: expected input of shape \(N, C \* kH \* kW, L\)"):
        F.fold(cr.ones(4), (4, 4), 2)


# --------------------------------------------------------------------- padding layers
PADS = [
    ("ZeroPad1d", (), 2, (2, 3, 5)),
    ("ZeroPad1d", (), (1, -1), (3, 5)),
    ("ZeroPad2d", (), (1, 0, 2, 3), (2, 3, 4, 5)),
    ("ZeroPad2d", (), 1, (3, 4, 5)),
    ("ConstantPad1d", (1.5,), (0, 3), (2, 3, 5)),
    ("ConstantPad2d", (-2.0,), 2, (3, 4, 5)),
    ("ConstantPad2d", (0.5,), (1, 2, 0, 1), (2, 3, 4, 5)),
    ("ReflectionPad1d", (), (3, 1), (2, 3, 5)),
    ("ReflectionPad1d", (), 2, (3, 5)),
    ("ReflectionPad2d", (), (1, 3, 2, 0), (2, 3, 4, 5)),
    ("ReflectionPad2d", (), 2, (3, 4, 5)),
    ("ReplicationPad1d", (), (4, 1), (2, 3, 5)),
    ("ReplicationPad2d", (), (1, 6, 2, 0), (2, 3, 4, 5)),
    ("ReplicationPad2d", (), 3, (3, 4, 5)),
    ("CircularPad1d", (), (2, 5), (2, 3, 5)),
    ("CircularPad2d", (), (1, 3, 2, 4), (2, 3, 4, 5)),
    ("CircularPad2d", (), 1, (3, 4, 5)),
]


@pytest.mark.parametrize(("name", "extra", "padding", "shape"), PADS, ids=lambda v: str(v))
def test_padding_layers_match_torch(
    name: str, extra: tuple[float, ...], padding: Any, shape: Any
) -> None:
    layer = getattr(nn, name)(padding, *extra)
    twin = getattr(tnn, name)(padding, *extra)
    compare_module(layer, twin, [data(shape)], **TIGHT)
    assert layer.padding == twin.padding
    assert repr(layer) == repr(twin)


def test_padding_layer_errors() -> None:
    with pytest.raises(ValueError, match=r"ZeroPad2d: padding must be an int or 4 ints"):
        nn.ZeroPad2d((1, 2))
    with pytest.raises(ValueError, match=r"ReflectionPad1d: padding must be an int or 2 ints"):
        nn.ReflectionPad1d(1.5)
    with pytest.raises(ValueError, match=r"expected input of shape \(C, H, W\) or \(N, C, H, W\)"):
        nn.ReflectionPad2d(1)(cr.ones(4, 4))
    with pytest.raises(ValueError, match=r"reflect padding of axis 1 .* must be at most 2"):
        nn.ReflectionPad1d(3)(cr.ones(2, 3))


# --------------------------------------------------------------------- pixel shuffles
@pytest.mark.parametrize("factor", [1, 2, 3])
@pytest.mark.parametrize("lead", [(), (2,), (2, 1)])
def test_pixel_shuffle_and_unshuffle_match_torch(factor: int, lead: tuple[int, ...]) -> None:
    x = data((*lead, 2 * factor**2, 3, 4))
    out, _ = compare_module(nn.PixelShuffle(factor), tnn.PixelShuffle(factor), [x], **TIGHT)
    assert out.shape == (*lead, 2, 3 * factor, 4 * factor)
    y = data((*lead, 2, 3 * factor, 4 * factor), 1)
    compare_module(nn.PixelUnshuffle(factor), tnn.PixelUnshuffle(factor), [y], **TIGHT)
    back = F.pixel_unshuffle(F.pixel_shuffle(cr.tensor(x), factor), factor)
    np.testing.assert_array_equal(back.numpy(), x)


def test_pixel_shuffle_repr_and_errors() -> None:
    assert repr(nn.PixelShuffle(2)) == repr(tnn.PixelShuffle(2))
    assert repr(nn.PixelUnshuffle(3)) == repr(tnn.PixelUnshuffle(3))
    with pytest.raises(ValueError, match=r"divisible by upscale_factor\*\*2 = 4"):
        F.pixel_shuffle(cr.ones(1, 6, 2, 2), 2)
    with pytest.raises(ValueError, match="divisible by downscale_factor=2"):
        F.pixel_unshuffle(cr.ones(1, 1, 3, 4), 2)
    with pytest.raises(ValueError, match="upscale_factor must be a positive integer"):
        F.pixel_shuffle(cr.ones(1, 4, 2, 2), 0)
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        F.pixel_shuffle(cr.ones(4, 2), 2)


# --------------------------------------------------------------------- upsampling layers
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("UpsamplingNearest2d", {"scale_factor": 2}),
        ("UpsamplingNearest2d", {"size": (5, 7)}),
        ("UpsamplingBilinear2d", {"scale_factor": 3}),
        ("UpsamplingBilinear2d", {"size": (5, 4)}),
    ],
)
def test_upsampling_layers_match_torch(name: str, kwargs: dict[str, Any]) -> None:
    layer, twin = getattr(nn, name)(**kwargs), getattr(tnn, name)(**kwargs)
    compare_module(layer, twin, [data((2, 3, 3, 4))], **TIGHT)
    assert repr(layer) == repr(twin)
    assert isinstance(layer, nn.Upsample)


def test_upsampling_bilinear_aligns_corners() -> None:
    x = cr.tensor([[[[0.0, 3.0]]]])
    assert nn.UpsamplingBilinear2d(size=(1, 4))(x).tolist() == [[[[0.0, 1.0, 2.0, 3.0]]]]
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        nn.UpsamplingNearest2d()


# --------------------------------------------------------------------- adaptive max pooling
@pytest.mark.parametrize("size", [1, 2, 3, (3, None), (5, 7), (4, 2), (7, 8), (9, 10)])
def test_adaptive_max_pool2d_matches_torch(size: Any) -> None:
    compare_module(
        nn.AdaptiveMaxPool2d(size), tnn.AdaptiveMaxPool2d(size), [data((2, 3, 7, 8))], **TIGHT
    )
    compare_function(
        lambda x: F.adaptive_max_pool2d(x, size),
        lambda x: TF.adaptive_max_pool2d(x, size),
        [data((3, 7, 8), 1)],
        **TIGHT,
    )


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 9])
def test_adaptive_max_pool1d_matches_torch(size: int) -> None:
    compare_module(
        nn.AdaptiveMaxPool1d(size), tnn.AdaptiveMaxPool1d(size), [data((2, 3, 7))], **TIGHT
    )
    compare_function(
        lambda x: F.adaptive_max_pool1d(x, size),
        lambda x: TF.adaptive_max_pool1d(x, size),
        [data((3, 7), 1)],
        **TIGHT,
    )


def test_adaptive_max_pool_repr_and_errors() -> None:
    assert repr(nn.AdaptiveMaxPool2d((3, None))) == repr(tnn.AdaptiveMaxPool2d((3, None)))
    assert repr(nn.AdaptiveMaxPool1d(3)) == repr(tnn.AdaptiveMaxPool1d(3))
    with pytest.raises(ValueError, match="output_size must be a positive int or a pair"):
        nn.AdaptiveMaxPool2d(0)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, H, W\) or \(C, H, W\)"):
        F.adaptive_max_pool2d(cr.ones(4, 4), 2)
    with pytest.raises(ValueError, match="output_size must be a positive int"):
        F.adaptive_max_pool1d(cr.ones(1, 2, 4), 0)
