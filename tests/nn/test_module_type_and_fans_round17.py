"""``Module.type(dtype)`` and ``nn.init._calculate_fan_in_and_fan_out``, which PyTorch
tutorials call, checked against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _model(nn: object) -> object:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))  # type: ignore[attr-defined]


@pytest.mark.parametrize("dst_type", ["float64", "torch.DoubleTensor", "DoubleTensor"])
def test_module_type_casts_parameters_and_buffers_and_returns_self(dst_type: str) -> None:
    ours, theirs = _model(cr.nn), _model(torch.nn)
    weight = ours[0].weight
    ours_arg = {"float64": cr.float64, "DoubleTensor": cr.DoubleTensor}.get(dst_type, dst_type)
    theirs_arg = {"float64": torch.float64, "DoubleTensor": torch.DoubleTensor}.get(
        dst_type, dst_type
    )
    assert ours.type(ours_arg) is ours and theirs.type(theirs_arg) is theirs
    assert ours[0].weight is weight  # optimizers built before still hold it
    state, their_state = ours.state_dict(), theirs.state_dict()
    for key in ("0.weight", "0.bias", "1.weight", "1.running_mean", "1.running_var"):
        assert state[key].dtype == cr.float64 and their_state[key].dtype == torch.float64
    # PyTorch's makes this float64 too; chainrule keeps the count an integer, as to() does.
    assert state["1.num_batches_tracked"].dtype == cr.int64
    out = ours(cr.tensor(np.ones((2, 3))))
    assert out.dtype == cr.float64


def test_module_type_refuses_an_integer_dtype() -> None:
    message = r"Module\.type: expected a floating-point dtype, got int64"
    with pytest.raises(TypeError, match=message):
        cr.nn.Linear(2, 2).type(cr.int64)


@pytest.mark.parametrize("shape", [(4, 3), (8, 3, 5, 5), (6, 2, 7), (5, 1, 1)])
def test_calculate_fan_in_and_fan_out_as_pytorch(shape: tuple[int, ...]) -> None:
    ours = cr.nn.init._calculate_fan_in_and_fan_out(cr.ones(*shape))
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.ones(*shape))
    assert ours == theirs
    assert cr.nn.init._calculate_fan_in_and_fan_out(np.ones(shape)) == theirs  # weight.data


def test_calculate_fan_in_and_fan_out_refuses_fewer_than_two_dimensions() -> None:
    with pytest.raises(ValueError, match="Fan in and fan out"):
        torch.nn.init._calculate_fan_in_and_fan_out(torch.ones(3))
    with pytest.raises(ValueError, match="fan in and fan out need a tensor with at least 2"):
        cr.nn.init._calculate_fan_in_and_fan_out(cr.ones(3))
