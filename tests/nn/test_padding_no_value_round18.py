"""Reflection, replication and circular padding take no fill value, as in PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

BORDER_LAYERS = [
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "CircularPad1d",
    "CircularPad2d",
]


@pytest.mark.parametrize("name", BORDER_LAYERS)
def test_a_value_is_a_type_error_naming_the_layer(name: str) -> None:
    torch = pytest.importorskip("torch")
    for args, kwargs in (((1, 9.0), {}), ((1,), {"value": 9.0})):
        with pytest.raises(TypeError):
            getattr(torch.nn, name)(*args, **kwargs)
        with pytest.raises(TypeError, match=rf"^{name}\.__init__\(\)"):
            getattr(nn, name)(*args, **kwargs)


@pytest.mark.parametrize("name", BORDER_LAYERS)
def test_padding_alone_matches_pytorch(name: str) -> None:
    torch = pytest.importorskip("torch")
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    if name.endswith("1d"):
        x = x[:, :, 0]
    ours = getattr(nn, name)(padding=(2, 1) if name.endswith("1d") else (2, 1, 1, 2))
    theirs = getattr(torch.nn, name)(padding=(2, 1) if name.endswith("1d") else (2, 1, 1, 2))
    np.testing.assert_array_equal(ours(cr.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy())
    assert repr(ours) == repr(theirs)


def test_constant_padding_still_takes_its_value() -> None:
    assert nn.ConstantPad1d(1, value=9.0)(cr.zeros(1, 1)).tolist() == [[9.0, 0.0, 9.0]]
