"""Round 19: a strided transposed convolution (and conv2d's input gradient, the same
computation) goes by phases: with stride s, the output rows a, a + s, ... (columns b, b +
s, ...) receive only the kernel offsets p with p * dilation = a (mod s), so each phase is
one stride-1 transposed convolution with its share of the kernel, written back once at
the end. Checked against PyTorch in float64 to 1e-10 over strides 2 and 3, kernels that
the stride does not divide (and smaller than it: phases that no offset reaches), padding,
output_padding, dilation and groups; values and the gradients of input, weight and bias;
in both orders of the products and with the phases switched off (the strided col2im);
float32 and float16; non-contiguous, unbatched and empty inputs; and non-finite weights,
whose NaN must land where PyTorch's do."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from torch_oracle import compare_function

import chainrule as cr
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


@pytest.fixture(params=["phases", "positions"])
def col2im(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """dL/dx (and the transposed convolution) by phases, or by the strided col2im."""
    cost = np.inf if request.param == "phases" else -1.0
    monkeypatch.setattr(conv_ops._FlatLayout, "PHASES_MAX_COST", cost)
    yield request.param


def data(shape: tuple[int, ...], seed: int = 0, dtype: Any = np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# (padding, output_padding, dilation, groups)
OPTIONS = [(0, 0, 1, 1), (1, 1, 1, 1), ((2, 1), 0, 2, 1), (1, 1, 2, 2), (0, 2, 1, 2), (2, 1, 1, 2)]
# (stride, kernel, padding, output_padding, dilation, groups): kernels that the stride does
# not divide, and kernels smaller than the stride; output_padding below stride or dilation.
CASES = [
    (stride, kernel, *options)
    for stride, kernel, options in itertools.product([2, 3, (2, 3)], [2, 3, (4, 5)], OPTIONS)
    if options[1] < max(np.min(stride), options[2])
]


def case_id(case: tuple[Any, ...]) -> str:
    return "s{}k{}p{}op{}d{}g{}".format(*case).replace(" ", "")


def test_the_grid_is_wide() -> None:
    assert len(CASES) >= 40
    assert {str(case[0]) for case in CASES} == {"2", "3", "(2, 3)"}


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_conv_transpose2d_by_phases_matches_torch(
    case: tuple[Any, ...], col2im: str, product_order: str
) -> None:
    stride, kernel, padding, output_padding, dilation, groups = case
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x, w, b = data((2, 4, 5, 4)), data((4, 6 // groups, kh, kw), 1), data((6,), 2)
    options = {
        "stride": stride,
        "padding": padding,
        "output_padding": output_padding,
        "groups": groups,
        "dilation": dilation,
    }
    out, _ = compare_function(
        lambda x, w, b: F.conv_transpose2d(x, w, b, **options),
        lambda x, w, b: TF.conv_transpose2d(x, w, b, **options),
        [x, w, b],
        **TIGHT,
    )
    assert out.shape[:2] == (2, 6)


@pytest.mark.parametrize("case", CASES[::4], ids=case_id)
def test_conv2d_input_gradient_by_phases_matches_torch(
    case: tuple[Any, ...], col2im: str, product_order: str
) -> None:
    # conv2d's backward to its input is the same transposed convolution
    stride, kernel, padding, _, dilation, groups = case
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x, w, b = data((2, 4, 11, 10)), data((6, 4 // groups, kh, kw), 1), data((6,), 2)
    options = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    compare_function(
        lambda x, w, b: F.conv2d(x, w, b, **options),
        lambda x, w, b: TF.conv2d(x, w, b, **options),
        [x, w, b],
        **TIGHT,
    )


@pytest.mark.parametrize("stride", [2, 3])
def test_conv_transpose1d_by_phases_matches_torch(stride: int, col2im: str) -> None:
    x, w, b = data((3, 4, 7)), data((4, 6, 5), 1), data((6,), 2)
    for groups, dilation, output_padding in [(1, 1, 1), (2, 2, 0), (2, 3, 2)]:
        weight = w[:, : 6 // groups]
        args = (stride, 1, output_padding, groups, dilation)
        out, _ = compare_function(
            lambda x, w, b, args=args: F.conv_transpose1d(x, w, b, *args),
            lambda x, w, b, args=args: TF.conv_transpose1d(x, w, b, *args),
            [x, weight, b],
            **TIGHT,
        )
        assert out.shape[:2] == (3, 6)


def test_float32_and_float16_match_torch(col2im: str) -> None:
    x, w, b = data((2, 3, 7, 6), dtype=np.float32), data((3, 5, 4, 3), 1, np.float32), None
    options = {"stride": 2, "padding": 1, "output_padding": (1, 0)}
    out, _ = compare_function(
        lambda x, w: F.conv_transpose2d(x, w, b, **options),
        lambda x, w: TF.conv_transpose2d(x, w, b, **options),
        [x, w],
    )
    assert out.dtype == np.float32 and out.shape == (2, 5, 15, 11)
    half = [x.astype(np.float16), w.astype(np.float16)]
    out, _ = compare_function(
        lambda x, w: F.conv_transpose2d(x, w, **options),
        lambda x, w: TF.conv_transpose2d(x, w, **options),
        half,
        rtol=1e-2,
        atol=5e-2,
    )
    assert out.dtype == np.float16


def test_non_contiguous_inputs_match_torch(col2im: str, product_order: str) -> None:
    x, w, b = data((2, 4, 10, 5)), data((4, 3, 3, 4), 1), data((3,), 2)

    def ours(x: Any, w: Any, b: Any) -> Any:
        return F.conv_transpose2d(x[:, :, ::2].transpose(2, 3), w.transpose(2, 3), b, stride=2)

    def theirs(x: Any, w: Any, b: Any) -> Any:
        return TF.conv_transpose2d(x[:, :, ::2].transpose(2, 3), w.transpose(2, 3), b, stride=2)

    out, _ = compare_function(ours, theirs, [x, w, b], **TIGHT)
    assert out.shape == (2, 3, 12, 11)


def test_unbatched_and_empty_batches(col2im: str) -> None:
    w, b = data((4, 3, 3, 3), 1), data((3,), 2)
    compare_function(
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=3, padding=1),
        lambda x, w, b: TF.conv_transpose2d(x, w, b, stride=3, padding=1),
        [data((4, 5, 4)), w, b],
        **TIGHT,
    )
    x = cr.zeros(0, 4, 5, 4, dtype=np.float64, requires_grad=True)
    weight = cr.tensor(w, requires_grad=True)
    out = F.conv_transpose2d(x, weight, stride=2, padding=1)
    assert out.shape == (0, 3, 9, 7)
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == (0, 4, 5, 4)
    assert weight.grad is not None and not weight.grad.numpy().any()


@pytest.mark.parametrize("stride", [1, 2])
def test_non_finite_weights_give_nan_where_torch_does(stride: int) -> None:
    # The phases multiply every weight by the zeros around the outputs too: inf * 0 would
    # put NaN where PyTorch's sums have an inf.
    x, w, g = data((1, 2, 4, 5)), data((2, 2, 4, 3), 1), data((2, 2, 8, 9), 3)
    w[0, 1, 0, 0], w[1, 0, 3, 2] = np.inf, -np.inf
    ours = F.conv_transpose2d(cr.tensor(x), cr.tensor(w), stride=stride, padding=1).numpy()
    theirs = TF.conv_transpose2d(torch.tensor(x), torch.tensor(w), stride=stride, padding=1)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-10)  # NaN and inf too
    assert np.isinf(ours).any()
    images = cr.tensor(g, requires_grad=True)
    F.conv2d(images, cr.tensor(w.transpose(1, 0, 2, 3)), stride=stride).backward(
        cr.tensor(data((2, 2, 5, 7) if stride == 1 else (2, 2, 3, 4), 4))
    )
    twin = torch.tensor(g, requires_grad=True)
    TF.conv2d(twin, torch.tensor(w.transpose(1, 0, 2, 3)), stride=stride).backward(
        torch.tensor(data((2, 2, 5, 7) if stride == 1 else (2, 2, 3, 4), 4))
    )
    assert images.grad is not None and twin.grad is not None
    np.testing.assert_allclose(images.grad.numpy(), twin.grad.numpy(), rtol=1e-10, atol=1e-10)
