"""adaptive_max_pool2d's indices, found for every bin at once, are PyTorch's (ties, NaN,
-inf); the hook-based weight_norm and spectral_norm refuse a second hook as PyTorch does;
Module.type's error names what it takes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.nn.utils import spectral_norm, weight_norm

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.mark.parametrize("seed", range(40))
def test_adaptive_max_pool2d_indices_match_pytorch_with_ties_nan_and_inf(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = (int(n) for n in rng.integers(1, 12, 2))
    size = tuple(int(n) for n in rng.integers(1, 14, 2))
    x = rng.integers(-2, 3, (2, 3, h, w)).astype(np.float64)  # many ties
    x[rng.random(x.shape) < 0.1] = np.nan
    x[rng.random(x.shape) < 0.1] = -np.inf
    if seed % 4 == 0:
        x[0] = -np.inf  # bins of -inf alone
    values, indices = F.adaptive_max_pool2d(cr.tensor(x), size, return_indices=True)
    expected_values, expected_indices = TF.adaptive_max_pool2d(
        torch.tensor(x), size, return_indices=True
    )
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
    np.testing.assert_array_equal(values.numpy(), expected_values.numpy())


def test_adaptive_max_pool1d_indices_of_an_empty_batch() -> None:
    values, indices = F.adaptive_max_pool1d(cr.zeros(0, 2, 5), 3, return_indices=True)
    assert values.shape == indices.shape == (0, 2, 3)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_a_second_norm_hook_on_one_weight_is_refused_as_in_pytorch() -> None:
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
        torch.nn.utils.weight_norm(torch.nn.utils.weight_norm(torch.nn.Linear(3, 2)))
    with pytest.raises(
        RuntimeError, match="cannot register two weight_norm hooks on the same parameter weight"
    ):
        weight_norm(weight_norm(nn.Linear(3, 2)))
    with pytest.raises(
        RuntimeError, match="cannot register two spectral_norm hooks on the same parameter weight"
    ):
        spectral_norm(spectral_norm(nn.Linear(3, 2)))
    # another parameter of the same layer may have its own
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        layer = weight_norm(weight_norm(nn.Linear(3, 2)), "bias", dim=None)
    assert {"weight_g", "weight_v", "bias_g", "bias_v"} <= {n for n, _ in layer.named_parameters()}


def test_module_type_error_names_dtypes_and_type_names() -> None:
    with pytest.raises(
        TypeError, match=r"Module\.type: expected a floating-point dtype or its type name"
    ):
        nn.Linear(2, 2).type("cpu")
    with pytest.raises(
        TypeError, match=r"Module\.to: expected a floating-point dtype or the device"
    ):
        nn.Linear(2, 2).to(object())
    assert nn.Linear(2, 2).type(cr.float64).weight.dtype == np.float64
    assert nn.Linear(2, 2).type("torch.DoubleTensor").weight.dtype == np.float64
