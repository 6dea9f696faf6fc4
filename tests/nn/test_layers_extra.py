"""Bilinear, CosineSimilarity and PairwiseDistance (modules and functions) against PyTorch,
and the loss, sampling and in-place functions added with them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from torch_oracle import DTYPE_IDS, DTYPES, compare_function, compare_module

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional


def _data(*shape: int, dtype: Any = np.float64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _torch_dtype(dtype: Any) -> Any:
    return getattr(torch, np.dtype(dtype).name)


# --------------------------------------------------------------------- Bilinear

BILINEAR_SHAPES = [((5, 3), (5, 4)), ((2, 3, 3), (2, 3, 4)), ((3,), (4,))]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("shapes", BILINEAR_SHAPES, ids=["batch", "leading-axes", "unbatched"])
def test_bilinear_matches_torch(shapes: Any, bias: bool, dtype: Any) -> None:
    layer = nn.Bilinear(3, 4, 2, bias=bias, dtype=dtype, generator=0)
    twin = tnn.Bilinear(3, 4, 2, bias=bias, dtype=_torch_dtype(dtype))
    assert list(layer.state_dict()) == list(twin.state_dict())
    assert repr(layer) == repr(twin)
    a, b = (_data(*shape, dtype=dtype, seed=k) for k, shape in enumerate(shapes))
    compare_module(layer, twin, [a, b])


def test_bilinear_initialization_is_uniform_within_one_over_sqrt_in1() -> None:
    layer = nn.Bilinear(16, 5, 40, generator=0)
    bound = 1 / math.sqrt(16)
    assert layer.weight.shape == (40, 16, 5)
    assert layer.bias is not None and layer.bias.shape == (40,)
    for values in (layer.weight.numpy(), layer.bias.numpy()):
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.9 * bound
    assert abs(float(layer.weight.numpy().mean())) < 0.02
    again = nn.Bilinear(16, 5, 40, generator=0)
    np.testing.assert_array_equal(layer.weight.numpy(), again.weight.numpy())


def test_functional_bilinear_matches_torch() -> None:
    x1, x2 = _data(4, 3), _data(4, 2, seed=1)
    w, b = _data(5, 3, 2, seed=2), _data(5, seed=3)
    compare_function(F.bilinear, TF.bilinear, [x1, x2, w, b])
    compare_function(F.bilinear, TF.bilinear, [x1, x2, w])


def test_bilinear_errors() -> None:
    w = cr.randn(5, 3, 2)
    with pytest.raises(ValueError, match=r"bilinear: expected input1 of shape \(\*, 3\)"):
        F.bilinear(cr.randn(4, 2), cr.randn(4, 2), w)
    with pytest.raises(ValueError, match="with the same leading axes"):
        F.bilinear(cr.randn(4, 3), cr.randn(3, 2), w)
    with pytest.raises(ValueError, match=r"expected weight of shape \(out_features"):
        F.bilinear(cr.randn(4, 3), cr.randn(4, 2), cr.randn(3, 2))
    with pytest.raises(ValueError, match=r"expected bias of shape \(5,\)"):
        F.bilinear(cr.randn(4, 3), cr.randn(4, 2), w, cr.randn(4))
    with pytest.raises(ValueError, match="in2_features must be a positive integer"):
        nn.Bilinear(3, 0, 2)


# --------------------------------------------------------------------- distances


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("dim", "shapes"),
    [(1, ((4, 5), (4, 5))), (-1, ((2, 3, 4), (1, 3, 4))), (0, ((5,), (5,))), (2, ((2, 3, 4),) * 2)],
)
def test_cosine_similarity_module_matches_torch(dim: int, shapes: Any, dtype: Any) -> None:
    layer, twin = nn.CosineSimilarity(dim=dim, eps=1e-6), tnn.CosineSimilarity(dim=dim, eps=1e-6)
    assert repr(layer) == repr(twin)
    a, b = (_data(*shape, dtype=dtype, seed=k) for k, shape in enumerate(shapes))
    compare_module(layer, twin, [a, b])


def test_cosine_similarity_defaults() -> None:
    layer = nn.CosineSimilarity()
    assert (layer.dim, layer.eps) == (1, 1e-8)
    zero = layer(cr.zeros(2, 3), cr.ones(2, 3))
    assert zero.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    "options", [{}, {"p": 1.0}, {"p": 3.0, "keepdim": True}, {"eps": 0.1}, {"p": math.inf}]
)
@pytest.mark.parametrize("shapes", [((4, 5), (4, 5)), ((5,), (5,)), ((4, 5), (5,))])
def test_pairwise_distance_module_matches_torch(
    shapes: Any, options: dict[str, Any], dtype: Any
) -> None:
    layer, twin = nn.PairwiseDistance(**options), tnn.PairwiseDistance(**options)
    assert repr(layer) == repr(twin)
    assert (layer.norm, layer.eps, layer.keepdim) == (twin.norm, twin.eps, twin.keepdim)
    a, b = (_data(*shape, dtype=dtype, seed=k) for k, shape in enumerate(shapes))
    compare_module(layer, twin, [a, b])


def test_distance_errors() -> None:
    with pytest.raises(TypeError, match="pairwise_distance: expected a floating-point x1"):
        nn.PairwiseDistance()(cr.tensor(np.ones((2, 3), dtype=np.int64)), cr.ones(2, 3))
    with pytest.raises(TypeError, match="cosine_similarity: expected a floating-point x2"):
        nn.CosineSimilarity()(cr.ones(2, 3), cr.tensor(np.ones((2, 3), dtype=np.int64)))
