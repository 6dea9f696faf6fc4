"""Round 18: ``small_cnn`` takes ``batch_norm`` and ``activation`` and several hidden widths
(what ``chainrule train --arch cnn`` builds from its flags), and its defaults build the same
network, weight for weight, as before."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.conv import small_cnn


def _kinds(model: nn.Module) -> list[str]:
    return [type(m).__name__ for m in model.children()]


def test_defaults_spelled_out_build_the_same_weights() -> None:
    default = small_cnn((1, 8, 8), 10, generator=3)
    spelled = small_cnn(
        (1, 8, 8), 10, hidden=[128], dropout=0.25, generator=3, batch_norm=True,
        activation=nn.ReLU,
    )  # fmt: skip
    assert _kinds(default) == _kinds(spelled)
    assert _kinds(default) == [
        "Unflatten", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Conv2d", "BatchNorm2d",
        "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU", "Dropout", "Linear",
    ]  # fmt: skip
    for (name, a), (_, b) in zip(
        default.state_dict().items(), spelled.state_dict().items(), strict=True
    ):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_batch_norm_activation_and_hidden_shape_the_network() -> None:
    model = small_cnn(
        (1, 8, 8), 3, hidden=(32, 16), dropout=0.1, batch_norm=False, activation=nn.Tanh,
        generator=0,
    )  # fmt: skip
    assert _kinds(model) == [
        "Unflatten", "Conv2d", "Tanh", "MaxPool2d", "Conv2d", "Tanh", "MaxPool2d", "Flatten",
        "Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear",
    ]  # fmt: skip
    linears = [m for m in model.children() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(256, 32), (32, 16), (16, 3)]
    assert all(m.p == 0.1 for m in model.children() if isinstance(m, nn.Dropout))
    assert model(cr.ones(4, 64)).shape == (4, 3)


def test_no_hidden_layer_goes_straight_to_the_logits() -> None:
    model = small_cnn((1, 8, 8), 10, hidden=(), activation=lambda: nn.LeakyReLU(0.1))
    assert _kinds(model)[-3:] == ["MaxPool2d", "Flatten", "Linear"]
    assert "Dropout" not in _kinds(model)
    assert model(cr.ones(2, 64)).shape == (2, 10)


@pytest.mark.parametrize("hidden", [0, [64, -1], 2.5, "128"])
def test_bad_hidden_widths_are_named(hidden: object) -> None:
    with pytest.raises(ValueError, match=r"small_cnn: hidden must be a positive int or a seq"):
        small_cnn((1, 8, 8), 10, hidden=hidden)  # type: ignore[arg-type]
