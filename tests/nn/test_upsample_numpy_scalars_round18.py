"""Round 18: ``nn.Upsample`` and its 2-D forms take NumPy scalars for ``scale_factor`` and
``size`` (as ``F.interpolate`` and PyTorch do), and still refuse what is not a positive
number."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

FACTORS = [
    np.float32(2),
    np.int64(2),
    np.float16(1.5),
    np.float64(3),
    (np.float32(2), np.int64(3)),
]


@pytest.mark.parametrize("factor", FACTORS, ids=repr)
@pytest.mark.parametrize(
    ("layer", "torch_layer"),
    [
        (nn.Upsample, torch.nn.Upsample),
        (nn.UpsamplingNearest2d, torch.nn.UpsamplingNearest2d),
        (nn.UpsamplingBilinear2d, torch.nn.UpsamplingBilinear2d),
    ],
    ids=["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"],
)
def test_numpy_scale_factors_match_pytorch(factor: Any, layer: Any, torch_layer: Any) -> None:
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 4))
    ours, theirs = layer(scale_factor=factor), torch_layer(scale_factor=factor)
    assert ours.scale_factor == theirs.scale_factor
    np.testing.assert_allclose(
        ours(cr.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("size", [np.int64(5), (np.int32(5), np.int64(7))], ids=repr)
def test_numpy_sizes_match_pytorch(size: Any) -> None:
    x = np.random.default_rng(1).standard_normal((1, 2, 3, 4))
    y = nn.Upsample(size=size)(cr.tensor(x)).numpy()
    np.testing.assert_array_equal(y, torch.nn.Upsample(size=size)(torch.tensor(x)).numpy())


@pytest.mark.parametrize(
    "factor", [np.float32(0), np.float64(-2), np.float64("nan"), True, np.bool_(True), "2"]
)
def test_what_is_not_a_positive_number_is_refused(factor: Any) -> None:
    with pytest.raises(ValueError, match=r"^Upsample: scale_factor must be positive numbers, got"):
        nn.Upsample(scale_factor=factor)
    with pytest.raises(ValueError, match=r"^Upsample: scale_factor must be positive numbers, got"):
        nn.Upsample(scale_factor=(2, factor))
