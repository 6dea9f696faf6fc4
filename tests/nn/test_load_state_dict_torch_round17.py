"""``load_state_dict`` takes PyTorch's own tensors as PyTorch does (detached, bfloat16 cast),
names a key it cannot read, and has PyTorch's ``assign=True``."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")


def test_tensors_that_require_grad_load_as_in_pytorch() -> None:
    source = torch.nn.Linear(3, 4)
    state = dict(source.named_parameters())  # parameters: requires_grad=True
    torch.nn.Linear(3, 4).load_state_dict(state)  # PyTorch takes them
    layer = nn.Linear(3, 4)
    assert str(layer.load_state_dict(state)) == "<All keys matched successfully>"
    np.testing.assert_array_equal(layer.weight.numpy(), source.weight.detach().numpy())
    np.testing.assert_array_equal(layer.bias.numpy(), source.bias.detach().numpy())


def test_bfloat16_state_dict_is_cast_to_the_parameter_dtype() -> None:
    source = torch.nn.Linear(3, 4).to(torch.bfloat16)
    twin = torch.nn.Linear(3, 4)
    twin.load_state_dict(source.state_dict())  # PyTorch casts to float32
    layer = nn.Linear(3, 4)
    layer.load_state_dict(source.state_dict())
    assert layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.numpy(), twin.weight.detach().numpy())


def test_a_tensor_numpy_cannot_read_is_named() -> None:
    layer = nn.Linear(3, 4)
    before = layer.weight.numpy().copy()
    state = {"weight": torch.zeros(4, 3, dtype=torch.float8_e4m3fn), "bias": torch.zeros(4)}
    with pytest.raises(RuntimeError, match=r"'weight' could not be read as numbers: .*Float8"):
        layer.load_state_dict(state)
    np.testing.assert_array_equal(layer.weight.numpy(), before)  # nothing copied


def test_assign_makes_the_values_the_parameters_as_in_pytorch() -> None:
    weight, bias = np.ones((4, 3)), np.zeros(4)  # float64, as PyTorch keeps the given dtype
    twin = torch.nn.Linear(3, 4)
    twin.bias.requires_grad_(False)
    twin_weight = torch.from_numpy(weight.copy())
    twin.load_state_dict({"weight": twin_weight, "bias": torch.from_numpy(bias)}, assign=True)
    layer = nn.Linear(3, 4)
    layer.bias.requires_grad_(False)
    old = layer.weight
    layer.load_state_dict({"weight": weight, "bias": bias}, assign=True)
    assert twin.weight.data_ptr() == twin_weight.data_ptr()
    assert layer.weight.data is weight and layer.bias.data is bias
    assert layer.weight is not old and isinstance(layer.weight, nn.Parameter)
    assert str(layer.weight.dtype) == str(twin.weight.dtype).removeprefix("torch.") == "float64"
    assert layer.weight.requires_grad is twin.weight.requires_grad is True
    assert layer.bias.requires_grad is twin.bias.requires_grad is False
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer(cr.ones(2, 3, dtype=np.float64)).dtype == np.float64


def test_assign_takes_a_tensor_itself_for_a_buffer() -> None:
    norm, twin = nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)
    mean, twin_mean = cr.ones(2), torch.ones(2)
    norm.load_state_dict({**norm.state_dict(), "running_mean": mean}, assign=True)
    twin.load_state_dict({**twin.state_dict(), "running_mean": twin_mean}, assign=True)
    assert twin.running_mean is twin_mean
    assert norm.running_mean is mean
    assert next(iter(norm.buffers())) is mean


def test_assign_with_the_default_copies() -> None:
    layer = nn.Linear(3, 4)
    old, weight = layer.weight, np.ones((4, 3))
    layer.load_state_dict({"weight": weight, "bias": np.zeros(4)})
    assert layer.weight is old and layer.weight.data is not weight
    assert layer.weight.dtype == np.float32


def test_assign_refuses_integers_for_a_parameter_that_requires_grad() -> None:
    layer = nn.Linear(3, 4)
    old = layer.weight
    with pytest.raises(RuntimeError, match=r"'weight' expected floating-point values .* int64"):
        layer.load_state_dict(
            {"weight": np.ones((4, 3), dtype=np.int64), "bias": np.zeros(4)}, assign=True
        )
    assert layer.weight is old
