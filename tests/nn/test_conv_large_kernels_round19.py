"""Round 19: convolutions whose kernel is large against their input (a kernel as large as
the image, 'same' padding of a wide kernel, a large dilation, 3x3 on a 2x2 or 1x1 map,
DCGAN's 1x1 -> kxk transposed convolution) once computed products over whole padded
rows and planes, up to hundreds of times PyTorch's time; the window matrix now holds the
output positions alone, and dL/dx goes by phases only while the phase grid is not much
larger than the outputs, else by col2im, whose windows, where no two overlap, go back by
one assignment. Values and the gradients of input, weight and bias against PyTorch in
float64 to 1e-10, in both orders of the products and by both ways back to the input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from torch_oracle import compare_function, compare_module, copy_weights

from chainrule import nn
from chainrule.autograd.ops import conv as conv_ops
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TIGHT = {"rtol": 1e-10, "atol": 1e-10}


@pytest.fixture(params=["per_batch", "per_image"])
def product_order(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each order of the products (chosen by image size otherwise)."""
    threshold = 10**9 if request.param == "per_batch" else 0
    monkeypatch.setattr(conv_ops._FlatLayout, "PER_IMAGE_MIN_POSITIONS", threshold)
    yield request.param


@pytest.fixture(params=["chosen", "phases", "positions"])
def col2im(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """dL/dx as the layout chooses it, or forced by phases, or by the strided col2im."""
    if request.param != "chosen":
        cost = np.inf if request.param == "phases" else -1.0
        monkeypatch.setattr(conv_ops._FlatLayout, "PHASES_MAX_COST", cost)
    yield request.param


def data(shape: tuple[int, ...], seed: int = 0, dtype: Any = np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# name: (input shape, weight shape, options); the repro's shapes, made small
CONV2D = {
    "kernel as large as the input": ((3, 4, 7, 7), (5, 4, 7, 7), {}),
    "kernel as large as the input, padded": ((3, 4, 7, 7), (5, 4, 7, 7), {"padding": 3}),
    "kernel larger than the input, padded": ((2, 3, 4, 5), (4, 3, 6, 7), {"padding": (2, 3)}),
    "wide kernel, same padding": ((2, 2, 9, 8), (3, 2, 7, 5), {"padding": "same"}),
    "dilation 4 over the whole input": ((2, 3, 9, 9), (4, 3, 3, 3), {"dilation": 4}),
    "dilation 4, padded": ((2, 3, 9, 9), (4, 3, 3, 3), {"dilation": 4, "padding": 4}),
    "3x3 on 2x2": ((4, 6, 2, 2), (5, 6, 3, 3), {"padding": 1}),
    "3x3 on 1x1": ((4, 6, 1, 1), (5, 6, 3, 3), {"padding": 1}),
    "kernel as large as the input, groups": ((2, 4, 5, 5), (6, 2, 5, 5), {"groups": 2}),
    "strided, one output": ((2, 3, 6, 7), (4, 3, 5, 6), {"stride": 2, "dilation": 1}),
    "2x2 stride 2 (disjoint)": ((2, 3, 6, 7), (4, 3, 2, 2), {"stride": 2}),
    "1x1 stride 2 (disjoint)": ((2, 3, 5, 6), (4, 3, 1, 1), {"stride": 2}),
    "stride 3 past a dilated kernel (disjoint)": (
        (2, 3, 9, 8),
        (4, 3, 2, 2),
        {"stride": 3, "dilation": 2, "padding": 1},
    ),
}


@pytest.mark.parametrize("name", list(CONV2D))
def test_conv2d_with_large_kernels_matches_torch(
    name: str, col2im: str, product_order: str
) -> None:
    x_shape, w_shape, options = CONV2D[name]
    arrays = [data(x_shape), data(w_shape, 1), data((w_shape[0],), 2)]
    compare_function(
        lambda x, w, b: F.conv2d(x, w, b, **options),
        lambda x, w, b: TF.conv2d(x, w, b, **options),
        arrays,
        **TIGHT,
    )


CONV_TRANSPOSE2D = {
    "DCGAN's first layer, 1x1 -> 7x7": ((3, 5, 1, 1), (5, 4, 7, 7), {}),
    "1x1 -> 4x5, padded, grouped": ((3, 4, 1, 1), (4, 3, 6, 7), {"padding": 1, "groups": 2}),
    "2x2 -> 9x9 with a 8x8 kernel": ((2, 3, 2, 2), (3, 4, 8, 8), {}),
    "2x2 stride 2 (disjoint)": ((2, 3, 4, 5), (3, 4, 2, 2), {"stride": 2}),
    "dilation 3 over a 3x3 input": ((2, 3, 3, 3), (3, 2, 3, 3), {"dilation": 3, "padding": 2}),
}


@pytest.mark.parametrize("name", list(CONV_TRANSPOSE2D))
def test_conv_transpose2d_with_large_kernels_matches_torch(
    name: str, col2im: str, product_order: str
) -> None:
    x_shape, w_shape, options = CONV_TRANSPOSE2D[name]
    groups = options.get("groups", 1)
    arrays = [data(x_shape), data(w_shape, 1), data((w_shape[1] * groups,), 2)]
    compare_function(
        lambda x, w, b: F.conv_transpose2d(x, w, b, **options),
        lambda x, w, b: TF.conv_transpose2d(x, w, b, **options),
        arrays,
        **TIGHT,
    )


def test_conv1d_with_a_kernel_as_long_as_the_input(col2im: str) -> None:
    for kernel, padding, length in [(16, 0, 1), (16, 5, 11), (15, "same", 16)]:
        layer = nn.Conv1d(4, 6, kernel, padding=padding, dtype=np.float64, generator=0)
        twin = torch.nn.Conv1d(4, 6, kernel, padding=padding, dtype=torch.float64)
        copy_weights(layer, twin)
        out, _ = compare_module(layer, twin, [data((3, 4, 16))], **TIGHT)
        assert out.shape[-1] == length
    compare_function(
        lambda x, w: F.conv_transpose1d(x, w, stride=3),
        lambda x, w: TF.conv_transpose1d(x, w, stride=3),
        [data((2, 4, 1)), data((4, 3, 16), 1)],
        **TIGHT,
    )


def test_float32_and_weight_gradient_alone(col2im: str) -> None:
    layer = nn.Conv2d(8, 4, 7, padding=3, generator=0)
    twin = torch.nn.Conv2d(8, 4, 7, padding=3)
    out, _ = compare_module(layer, twin, [data((3, 8, 7, 7), dtype=np.float32)])
    assert out.dtype == np.float32
    layer.zero_grad()
    twin.zero_grad()
    compare_module(layer, twin, [data((3, 8, 5, 5), 1, np.float32)], input_grads=False)
