"""The input is named ``input``, as in PyTorch, in the functional activations and in the
layers' ``forward``: ``F.relu(input=x)`` and ``nn.Linear(4, 2)(input=x)`` run unchanged."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# name, keyword arguments besides the input
FUNCTIONALS: list[tuple[str, dict[str, Any]]] = [
    ("relu", {}),
    ("relu6", {}),
    ("leaky_relu", {"negative_slope": 0.1}),
    ("elu", {"alpha": 0.5}),
    ("selu", {}),
    ("celu", {"alpha": 0.5}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
    ("mish", {}),
    ("softplus", {"beta": 2.0, "threshold": 10.0}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("hardtanh", {"min_val": -0.5, "max_val": 0.5}),
    ("hardswish", {}),
    ("hardsigmoid", {}),
    ("logsigmoid", {}),
    ("softsign", {}),
    ("tanhshrink", {}),
    ("softmax", {"dim": 1}),
    ("log_softmax", {"dim": 1}),
    ("softmin", {"dim": 0}),
    ("glu", {"dim": 1}),
    ("threshold", {"threshold": 0.1, "value": -1.0}),
    ("hardshrink", {"lambd": 0.3}),
    ("softshrink", {"lambd": 0.3}),
]


@pytest.mark.parametrize(("name", "kwargs"), FUNCTIONALS, ids=[f[0] for f in FUNCTIONALS])
def test_functional_activations_take_input_by_name(name: str, kwargs: dict[str, Any]) -> None:
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert next(iter(inspect.signature(getattr(F, name)).parameters)) == "input"
    expected = getattr(TF, name)(input=torch.tensor(x), **kwargs).numpy()
    got = getattr(F, name)(input=cr.tensor(x), **kwargs).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_linear_and_prelu_functionals_take_input_by_name() -> None:
    x, w, b = (np.random.default_rng(1).standard_normal(s) for s in ((3, 4), (2, 4), (2,)))
    expected = TF.linear(input=torch.tensor(x), weight=torch.tensor(w), bias=torch.tensor(b))
    got = F.linear(input=cr.tensor(x), weight=cr.tensor(w), bias=cr.tensor(b))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)
    slopes = np.array([0.1, 0.2, 0.3, 0.4])
    expected = TF.prelu(input=torch.tensor(x), weight=torch.tensor(slopes))
    got = F.prelu(input=cr.tensor(x), weight=cr.tensor(slopes))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)


LAYERS = [
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Softplus",
    "Sigmoid", "Tanh", "Hardtanh", "Hardswish", "Hardsigmoid", "LogSigmoid", "Softsign",
    "Tanhshrink", "Hardshrink", "Softshrink", "RReLU", "PReLU", "Softmax2d", "Identity",
    "Flatten", "Dropout", "Dropout1d", "Dropout2d", "AlphaDropout", "FeatureAlphaDropout",
]  # fmt: skip
BUILT = {
    "Softmax": lambda: nn.Softmax(dim=1),
    "LogSoftmax": lambda: nn.LogSoftmax(dim=1),
    "Softmin": lambda: nn.Softmin(dim=1),
    "GLU": lambda: nn.GLU(),
    "Threshold": lambda: nn.Threshold(0.1, 0.0),
    "Linear": lambda: nn.Linear(4, 2, dtype=cr.float64),
    "BatchNorm1d": lambda: nn.BatchNorm1d(4, dtype=cr.float64),
    "LayerNorm": lambda: nn.LayerNorm(4, dtype=cr.float64),
    "GroupNorm": lambda: nn.GroupNorm(2, 4, dtype=cr.float64),
    "LocalResponseNorm": lambda: nn.LocalResponseNorm(2),
    "Unflatten": lambda: nn.Unflatten(1, (2, 2)),
    "Sequential": lambda: nn.Sequential(nn.Linear(4, 4, dtype=cr.float64), nn.ReLU()),
}


@pytest.mark.parametrize("name", LAYERS + list(BUILT))
def test_layers_forward_takes_input_by_name_as_pytorch(name: str) -> None:
    theirs = inspect.signature(getattr(torch.nn, name).forward).parameters
    ours = inspect.signature(getattr(nn, name).forward).parameters
    assert list(ours) == list(theirs)
    layer = BUILT[name]() if name in BUILT else getattr(nn, name)()
    layer.eval()  # dropout and RReLU deterministic
    x = cr.tensor(np.random.default_rng(2).standard_normal((3, 4)))
    if name in ("Softmax2d", "LocalResponseNorm"):
        x = x.reshape(3, 4, 1, 1)
    elif name in ("Dropout1d", "Dropout2d", "FeatureAlphaDropout"):
        x = x.reshape(1, 3, 4)
    np.testing.assert_array_equal(layer(input=x).numpy(), layer(x).numpy())


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Conv2d(2, 3, 3),
        lambda: nn.MaxPool2d(2),
        lambda: nn.AvgPool2d(2),
        lambda: nn.AdaptiveAvgPool2d(2),
        lambda: nn.InstanceNorm2d(2),
        lambda: nn.BatchNorm2d(2),
        lambda: nn.Upsample(scale_factor=2),
    ],
    ids=["Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "InstanceNorm2d",
         "BatchNorm2d", "Upsample"],
)  # fmt: skip
def test_image_layers_forward_takes_input_by_name(make: Any) -> None:
    layer = make().eval()
    name = type(layer).__name__
    theirs = inspect.signature(getattr(torch.nn, name).forward).parameters
    assert list(inspect.signature(type(layer).forward).parameters) == list(theirs)
    x = cr.randn(1, 2, 6, 6, generator=0)
    np.testing.assert_array_equal(layer(input=x).numpy(), layer(x).numpy())


def test_embedding_forward_takes_input_by_name() -> None:
    theirs = inspect.signature(torch.nn.Embedding.forward).parameters
    assert list(inspect.signature(nn.Embedding.forward).parameters) == list(theirs)
    layer = nn.Embedding(5, 3)
    indices = cr.tensor([[0, 4], [2, 2]])
    np.testing.assert_array_equal(layer(input=indices).numpy(), layer(indices).numpy())
