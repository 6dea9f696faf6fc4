"""``set_default_dtype``: the dtype of Python floats, float factories, integer promotion and
new layers, as in PyTorch; what already exists keeps its dtype."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn


@pytest.fixture
def float64_default() -> Iterator[None]:
    cr.set_default_dtype(cr.float64)
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        cr.set_default_dtype(cr.float32)
        torch.set_default_dtype(torch.float32)


def test_float32_is_the_default() -> None:
    assert cr.get_default_dtype() == np.float32
    assert cr.tensor([1.5]).dtype == np.float32


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.tensor([1.5, 2]),
        lambda m: m.tensor(2.5),
        lambda m: m.zeros(2),
        lambda m: m.ones(2, 3),
        lambda m: m.empty(2),
        lambda m: m.randn(2),
        lambda m: m.rand(2),
        lambda m: m.arange(0, 1, 0.25),
        lambda m: m.linspace(0, 1, 3),
        lambda m: m.eye(2),
        lambda m: m.full((2,), 1.5),
        lambda m: m.normal(0.0, 1.0, size=(2,)),
        lambda m: m.Tensor(2, 3),
        lambda m: m.tensor([1, 2]).exp(),
        lambda m: m.tensor([1, 2]).sigmoid(),
        lambda m: m.tensor([1, 2]) / m.tensor([2, 2]),
        lambda m: m.tensor([1, 2]) * 0.5,
        lambda m: m.nn.Linear(2, 3).weight,
        lambda m: m.nn.Conv2d(1, 2, 3).bias,
        lambda m: m.nn.LSTM(2, 3).weight_hh_l0,
        lambda m: m.nn.BatchNorm1d(3).running_var,
        lambda m: m.nn.LayerNorm(3).weight,
        lambda m: m.nn.Embedding(4, 2).weight,
        lambda m: m.nn.PReLU().weight,
    ],
)
def test_what_pytorch_makes_in_the_default_dtype(float64_default: None, make) -> None:  # type: ignore[no-untyped-def]
    assert str(make(torch).dtype) == "torch.float64"
    assert make(cr).dtype == np.float64


def test_explicit_dtypes_and_numpy_data_keep_theirs(float64_default: None) -> None:
    assert cr.zeros(2, dtype=cr.float32).dtype == np.float32
    assert cr.tensor(np.ones(2, dtype=np.float32)).dtype == np.float32
    assert cr.tensor([1, 2]).dtype == np.int64
    assert cr.tensor([1.0], dtype=cr.float32).float().dtype == np.float32


def test_tensors_and_layers_made_before_keep_their_dtype() -> None:
    before, layer = cr.tensor([1.5]), nn.Linear(2, 2)
    cr.set_default_dtype(cr.float64)
    try:
        after = nn.Linear(2, 2)
        assert before.dtype == np.float32 and layer.weight.dtype == np.float32
        assert after.weight.dtype == np.float64
    finally:
        cr.set_default_dtype(cr.float32)
    assert nn.Linear(2, 2).weight.dtype == np.float32


def test_repr_leaves_out_the_default_dtype_only(float64_default: None) -> None:
    assert repr(cr.tensor([1.5])) == "tensor([1.5000])"
    assert "dtype=float32" in repr(cr.tensor([1.5], dtype=cr.float32))


def test_float64_default_checks_a_network_gradient_tightly(float64_default: None) -> None:
    """The usual reason to switch: a model built with no dtype anywhere agrees with
    PyTorch's to float64 rounding."""
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    reference = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    with torch.no_grad():
        for ours, theirs in zip(model.parameters(), reference.parameters(), strict=True):
            theirs.copy_(torch.from_numpy(ours.data))
    x = [[0.1, -0.2, 0.3], [1.0, 0.5, -1.5]]
    cr_loss = model(cr.tensor(x)).pow(2).mean()
    torch_loss = reference(torch.tensor(x)).pow(2).mean()
    cr_loss.backward()
    torch_loss.backward()
    for ours, theirs in zip(model.parameters(), reference.parameters(), strict=True):
        assert ours.grad is not None and ours.grad.dtype == np.float64
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_half_precision_default_draws_random_numbers() -> None:
    cr.set_default_dtype(cr.float16)
    try:
        assert cr.randn(3).dtype == np.float16
        assert cr.rand(3, generator=0).dtype == np.float16
    finally:
        cr.set_default_dtype(cr.float32)


@pytest.mark.parametrize("bad", [cr.int64, "int32", cr.bool, None, 3, "nonsense"])
def test_other_dtypes_are_refused(bad: object) -> None:
    with pytest.raises(TypeError, match="set_default_dtype: expected a floating-point dtype"):
        cr.set_default_dtype(bad)  # type: ignore[arg-type]
    assert cr.get_default_dtype() == np.float32
