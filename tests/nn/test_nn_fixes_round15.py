"""Round 15 fixes in nn: 1-d convolutions' errors speak of the 1-d call, the distance
functions' errors name themselves, pad crops in every mode and pairwise_distance takes
every p, all as PyTorch does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")


def _values_and_grads(fn: Callable[..., Any], arrays: list[np.ndarray]) -> list[list[np.ndarray]]:
    """fn's output and the inputs' gradients of sum(output * weights), in chainrule and in
    PyTorch (float64); a missing PyTorch gradient (p=0) counts as zeros."""
    results = []
    for lib, functional in ((cr, F), (torch, torch.nn.functional)):
        inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
        y = fn(lib, functional, *inputs)
        weights = np.linspace(-1.0, 2.0, int(np.prod(y.shape))).reshape(tuple(y.shape))
        (y * lib.tensor(weights)).sum().backward()
        grads = [
            np.zeros_like(a) if t.grad is None else t.grad.numpy()
            for t, a in zip(inputs, arrays, strict=True)
        ]
        results.append([y.detach().numpy(), *grads])
    return results


def _assert_same(ours: list[np.ndarray], theirs: list[np.ndarray]) -> None:
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------- 1-d convolution errors

CONV1D_ERRORS = [
    (
        lambda: F.conv_transpose1d(cr.randn(1, 3, 4), cr.randn(2, 2, 2)),
        ValueError,
        r"conv_transpose1d: expected input with 2 channels \(weight \(2, 2, 2\), groups=1\), "
        r"got input shape \(1, 3, 4\)",
    ),
    (
        lambda: F.conv_transpose1d(cr.randn(1, 2, 1), cr.randn(2, 2, 2), padding=2),
        ValueError,
        r"conv_transpose1d: the output length -2 is not positive \(input length 1, kernel 2",
    ),
    (
        lambda: F.conv_transpose1d(cr.randn(3, 4), cr.randn(3, 2, 2), groups=2),
        ValueError,
        r"conv_transpose1d: in_channels must be divisible by groups, got weight shape "
        r"\(3, 2, 2\)",
    ),
    (
        lambda: F.conv_transpose1d(cr.randn(1, 2, 4), cr.randn(2, 2, 2), cr.randn(3)),
        ValueError,
        r"conv_transpose1d: expected bias of shape \(2,\), got \(3,\)",
    ),
    (
        lambda: F.conv_transpose1d(cr.randn(1, 2, 4), cr.randn(2, 2, 2).double()),
        TypeError,
        r"conv_transpose1d: expected input and weight of the same dtype",
    ),
    (
        lambda: F.conv_transpose1d(cr.randn(1, 2, 4), cr.randn(2, 2, 2), groups=0),
        ValueError,
        r"conv_transpose1d: groups must be a positive integer, got groups=0",
    ),
    (
        lambda: F.conv1d(cr.randn(1, 3, 4), cr.randn(2, 2, 2)),
        ValueError,
        r"conv1d: expected input with 2 channels \(weight \(2, 2, 2\), groups=1\), got input "
        r"shape \(1, 3, 4\)",
    ),
    (
        lambda: F.conv1d(cr.randn(1, 2, 2), cr.randn(2, 2, 3), dilation=2, padding=1),
        ValueError,
        r"conv1d: the kernel 3 \(dilation 2\) does not fit the padded input: input length 2 "
        r"with padding=1",
    ),
    (
        lambda: F.conv1d(cr.randn(1, 4, 4), cr.randn(3, 2, 2), groups=2),
        ValueError,
        r"conv1d: out_channels must be divisible by groups, got weight shape \(3, 2, 2\)",
    ),
    (
        lambda: F.conv1d(cr.randn(1, 2, 4), cr.randn(2, 2, 2), cr.randn(3)),
        ValueError,
        r"conv1d: expected bias of shape \(2,\), got \(3,\)",
    ),
    (
        lambda: F.conv1d(cr.randn(1, 2, 4), cr.randn(2, 2, 2), stride=2, padding="same"),
        ValueError,
        r"conv1d: padding='same' needs stride 1, got stride=2",
    ),
    (
        lambda: F.conv1d(cr.randn(1, 2, 4), cr.randn(2, 2, 2), padding="full"),
        ValueError,
        r"conv1d: padding must be 'valid', 'same', an int or a 1-tuple, got padding='full'",
    ),
]


@pytest.mark.parametrize(
    "call, error, pattern", CONV1D_ERRORS, ids=[p.split(":")[0] for _, _, p in CONV1D_ERRORS]
)
def test_conv1d_errors_name_the_1d_function_and_the_shapes_passed(
    call: Callable[[], Any], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern) as caught:
        call()
    assert "2d" not in str(caught.value)


def test_conv_transpose1d_still_matches_pytorch() -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(2, 4, 5)), rng.normal(size=(4, 3, 3)), rng.normal(size=6)]
    ours, theirs = _values_and_grads(
        lambda lib, f, x, w, b: f.conv_transpose1d(
            x, w, b, stride=2, padding=1, output_padding=1, groups=2
        ),
        arrays,
    )
    _assert_same(ours, theirs)


# ---------------------------------------------------------------- distance errors


def test_cosine_similarity_names_itself_and_both_shapes_when_they_do_not_broadcast() -> None:
    pattern = r"cosine_similarity: expected x1 and x2 that broadcast together, got shapes " + (
        r"\(2, 3\) and \(2, 4\)"
    )
    with pytest.raises(ValueError, match=pattern):
        F.cosine_similarity(cr.randn(2, 3), cr.randn(2, 4))
    with pytest.raises(ValueError, match=pattern):
        nn.CosineSimilarity()(cr.randn(2, 3), cr.randn(2, 4))


def test_cosine_similarity_names_itself_for_a_dim_out_of_range() -> None:
    with pytest.raises(IndexError, match=r"cosine_similarity: dim must be in \[-2, 1\] .*dim=3"):
        nn.CosineSimilarity(dim=3)(cr.randn(2, 3), cr.randn(2, 3))


def test_pairwise_distance_names_itself_when_shapes_do_not_broadcast() -> None:
    pattern = r"pairwise_distance: expected x1 and x2 that broadcast together, got shapes"
    with pytest.raises(ValueError, match=pattern):
        nn.PairwiseDistance()(cr.randn(2, 3), cr.randn(2, 4))
    with pytest.raises(ValueError, match=r"pairwise_distance: p must be a number .*p=nan"):
        F.pairwise_distance(cr.randn(2, 3), cr.randn(2, 3), p=float("nan"))
    with pytest.raises(ValueError, match=r"triplet_margin_loss: expected x1 and x2 that"):
        F.triplet_margin_loss(cr.randn(2, 3), cr.randn(2, 4), cr.randn(2, 3))


# --------------------------------------------------------- pad with negative widths

PAD_WIDTHS = [
    (-1, 2),
    (2, -1),
    (-2, -1),
    (-3, 1),
    (1, -2, -1, 2),
    (-1, 2, 1, -2),
    (0, -1, -2, 0),
    (-1, -1, 1, 1, -1, 2),
    (2, -1, 0, -2, 1, -1),
]


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("widths", PAD_WIDTHS, ids=str)
def test_negative_widths_crop_in_every_mode_as_in_pytorch(
    mode: str, widths: tuple[int, ...]
) -> None:
    # PyTorch pads the last k axes of (N, C, *k axes) input in these modes
    shape = (2, 3, 4, 5, 6)[3 - len(widths) // 2 :]
    x = np.random.default_rng(1).normal(size=shape)
    ours, theirs = _values_and_grads(lambda lib, f, t: f.pad(t, widths, mode=mode), [x])
    _assert_same(ours, theirs)


def test_reflection_pad_layer_takes_negative_widths() -> None:
    x = np.random.default_rng(2).normal(size=(2, 3, 5, 6))
    ours = nn.ReflectionPad2d((-1, 2, 1, -2))(cr.tensor(x))
    theirs = torch.nn.ReflectionPad2d((-1, 2, 1, -2))(torch.tensor(x))
    assert ours.shape == (2, 3, 4, 7)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    for layer, torch_layer in (
        (nn.ReplicationPad1d((-2, 3)), torch.nn.ReplicationPad1d((-2, 3))),
        (nn.CircularPad1d((2, -3)), torch.nn.CircularPad1d((2, -3))),
    ):
        np.testing.assert_array_equal(
            layer(cr.tensor(x[0])).numpy(), torch_layer(torch.tensor(x[0])).numpy()
        )


def test_pad_refuses_crops_that_pytorch_refuses() -> None:
    x = cr.ones(1, 2, 5)
    with pytest.raises(ValueError, match=r"pad: the widths \(-2, -3\) leave axis 2 \(size 5\) wi"):
        F.pad(x, (-2, -3), mode="reflect")
    with pytest.raises(ValueError, match=r"pad: the widths \(-3, -3\) leave axis 2 .* 'replic"):
        F.pad(x, (-3, -3), mode="replicate")
    with pytest.raises(ValueError, match=r"pad: circular padding of axis 2 \(size 5, 2 after"):
        F.pad(x, (-3, 4), mode="circular")
    with pytest.raises(ValueError, match=r"pad: the widths \(-6, 4\) crop more than the 5 ele"):
        F.pad(x, (-6, 4), mode="circular")
    assert F.pad(x, (-2, -3), mode="circular").shape == (1, 2, 0)  # as PyTorch


# ------------------------------------------------------------ pairwise_distance's p


@pytest.mark.parametrize("eps", [1e-6, 0.0])
@pytest.mark.parametrize("p", [0, -1, -2.5, 0.5, 1, 2, 3, float("inf"), float("-inf")], ids=str)
def test_pairwise_distance_takes_every_p_as_pytorch(p: float, eps: float) -> None:
    rng = np.random.default_rng(3)
    x1 = rng.normal(size=(4, 5))
    x2 = rng.normal(size=(4, 5))
    x2[0, 1] = x1[0, 1]  # a zero difference (without eps)
    x2[1, :2] = x1[1, :2] + 0.5  # a tie for the smallest and largest |difference|
    x2[1, 2:] = x1[1, 2:] + 3.0
    ours, theirs = _values_and_grads(
        lambda lib, f, a, b: f.pairwise_distance(a, b, p=p, eps=eps), [x1, x2]
    )
    _assert_same(ours, theirs)


@pytest.mark.parametrize("p", [0, -1.5, float("-inf")], ids=str)
def test_pairwise_distance_layer_keeps_the_dim_for_every_p(p: float) -> None:
    x1, x2 = np.ones((3, 4)), np.arange(12.0).reshape(3, 4)
    ours = nn.PairwiseDistance(p=p, keepdim=True)(cr.tensor(x1), cr.tensor(x2))
    theirs = torch.nn.PairwiseDistance(p=p, keepdim=True)(torch.tensor(x1), torch.tensor(x2))
    assert ours.shape == (3, 1)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
