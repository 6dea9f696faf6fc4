"""Every activation module, every option, against PyTorch: values and gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from torch_oracle import DTYPE_IDS, DTYPES, compare_module

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")
tnn = torch.nn

# (id, chainrule module, torch module) - built lazily so each test gets fresh ones.
ACTIVATIONS: list[tuple[str, Callable[[], nn.Module], Callable[[], Any]]] = [
    ("ReLU", nn.ReLU, tnn.ReLU),
    ("LeakyReLU", nn.LeakyReLU, tnn.LeakyReLU),
    ("LeakyReLU(0.2)", lambda: nn.LeakyReLU(0.2), lambda: tnn.LeakyReLU(0.2)),
    ("ELU", nn.ELU, tnn.ELU),
    ("ELU(0.5)", lambda: nn.ELU(alpha=0.5), lambda: tnn.ELU(alpha=0.5)),
    ("SELU", nn.SELU, tnn.SELU),
    ("GELU", nn.GELU, tnn.GELU),
    ("GELU(tanh)", lambda: nn.GELU("tanh"), lambda: tnn.GELU("tanh")),
    ("SiLU", nn.SiLU, tnn.SiLU),
    ("Softplus", nn.Softplus, tnn.Softplus),
    ("Softplus(2,1)", lambda: nn.Softplus(2.0, 1.0), lambda: tnn.Softplus(2.0, 1.0)),
    ("Softplus(0.5,3)", lambda: nn.Softplus(0.5, 3.0), lambda: tnn.Softplus(0.5, 3.0)),
    ("Sigmoid", nn.Sigmoid, tnn.Sigmoid),
    ("Tanh", nn.Tanh, tnn.Tanh),
    ("Hardtanh", nn.Hardtanh, tnn.Hardtanh),
    ("Hardtanh(-2,0.5)", lambda: nn.Hardtanh(-2.0, 0.5), lambda: tnn.Hardtanh(-2.0, 0.5)),
    ("Softmax", lambda: nn.Softmax(dim=-1), lambda: tnn.Softmax(dim=-1)),
    ("Softmax(0)", lambda: nn.Softmax(0), lambda: tnn.Softmax(0)),
    ("Softmax(1)", lambda: nn.Softmax(dim=1), lambda: tnn.Softmax(dim=1)),
    ("LogSoftmax", lambda: nn.LogSoftmax(dim=-1), lambda: tnn.LogSoftmax(dim=-1)),
    ("LogSoftmax(0)", lambda: nn.LogSoftmax(0), lambda: tnn.LogSoftmax(0)),
    ("LogSoftmax(1)", lambda: nn.LogSoftmax(dim=1), lambda: tnn.LogSoftmax(dim=1)),
]


def inputs(dtype: Any) -> np.ndarray:
    """Values on both sides of every kink and threshold, and large ones, in (3, 4, 5)."""
    x = np.random.default_rng(0).standard_normal((3, 4, 5)) * 3
    x.flat[:12] = [-30.0, -5.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 10.0, 30.0]
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("name", "make", "make_torch"), ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS]
)
def test_activation_matches_torch(
    name: str, make: Callable[[], nn.Module], make_torch: Callable[[], Any], dtype: Any
) -> None:
    module = make()
    assert list(module.parameters()) == []
    out, _ = compare_module(module, make_torch(), [inputs(dtype)])
    assert out.dtype == dtype


@pytest.mark.parametrize(
    ("name", "make", "make_torch"), ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS]
)
def test_activation_repr_matches_torch(
    name: str, make: Callable[[], nn.Module], make_torch: Callable[[], Any]
) -> None:
    assert repr(make()) == repr(make_torch())


@pytest.mark.parametrize("inplace", [False, True])
def test_inplace_changes_the_input_only_when_asked_as_in_pytorch(inplace: bool) -> None:
    # This test once asserted that inplace=True changed nothing; PyTorch changes the input.
    x, tx = cr.tensor([-1.0, 0.5, 2.0]), torch.tensor([-1.0, 0.5, 2.0])
    for module in (nn.ReLU(inplace), nn.LeakyReLU(0.1, inplace), nn.ELU(1.0, inplace)):
        module(x)
    for twin in (tnn.ReLU(inplace), tnn.LeakyReLU(0.1, inplace), tnn.ELU(1.0, inplace)):
        twin(tx)
    np.testing.assert_array_equal(x.numpy(), tx.numpy())


def test_activation_option_errors() -> None:
    with pytest.raises(ValueError, match=r"GELU: approximate must be 'none' or 'tanh', got 'fast'"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match=r"Hardtanh: min_val must be less than max_val"):
        nn.Hardtanh(1.0, -1.0)
