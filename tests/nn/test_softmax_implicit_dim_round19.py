"""Softmax, LogSoftmax and Softmin without ``dim`` pick PyTorch's implicit axis, with its
warning: axis 0 for inputs of 0, 1 or 3 dimensions, axis 1 otherwise, so that PyTorch code
written without ``dim`` gives PyTorch's numbers on 3-d and 4-d input too."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

SHAPES = [(), (5,), (3, 5), (2, 3, 4), (2, 3, 4, 5)]
WARNING = r"Implicit dimension choice for {} has been deprecated\. Change the call to include"


def _torch(call: Any) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # its deprecation, checked below
        return call().numpy()


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
def test_functional_without_dim_matches_pytorch_and_warns(name: str, shape: Any) -> None:
    x = np.random.default_rng(0).standard_normal(shape)
    expected = _torch(lambda: getattr(TF, name)(torch.tensor(x)))
    with pytest.warns(UserWarning, match=WARNING.format(name)) as caught:
        got = getattr(F, name)(cr.tensor(x)).numpy()
    assert caught[0].filename == __file__  # the warning names the caller's line
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("shape", SHAPES[1:], ids=str)
@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax", "Softmin"])
def test_layers_default_to_dim_none_as_pytorch(name: str, shape: Any) -> None:
    x = np.random.default_rng(1).standard_normal(shape)
    ours, theirs = getattr(nn, name)(), getattr(torch.nn, name)()
    assert repr(ours) == repr(theirs) == f"{name}(dim=None)"
    expected = _torch(lambda: theirs(torch.tensor(x)))
    snake = {"Softmax": "softmax", "LogSoftmax": "log_softmax", "Softmin": "softmin"}[name]
    with pytest.warns(UserWarning, match=WARNING.format(snake)) as caught:
        got = ours(cr.tensor(x)).numpy()
    assert caught[0].filename == __file__
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_a_4d_input_is_normalized_over_the_channels_not_the_last_axis() -> None:
    x = cr.tensor(np.random.default_rng(2).standard_normal((2, 3, 4, 5)))
    with pytest.warns(UserWarning):
        y = nn.Softmax()(x).numpy()
    np.testing.assert_allclose(y.sum(axis=1), np.ones((2, 4, 5)), rtol=1e-12)
    assert not np.allclose(y.sum(axis=-1), 1)


def test_an_explicit_dim_is_silent_and_unchanged() -> None:
    x = np.random.default_rng(3).standard_normal((2, 3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = [
            F.softmax(cr.tensor(x), dim=-1).numpy(),
            F.log_softmax(cr.tensor(x), -1).numpy(),
            F.softmin(cr.tensor(x), axis=2).numpy(),
            nn.Softmax(dim=-1)(cr.tensor(x)).numpy(),
            cr.tensor(x).softmax(-1).numpy(),
        ]
    expected = [
        TF.softmax(torch.tensor(x), dim=-1).numpy(),
        TF.log_softmax(torch.tensor(x), -1).numpy(),
        TF.softmin(torch.tensor(x), 2).numpy(),
        torch.nn.Softmax(dim=-1)(torch.tensor(x)).numpy(),
        torch.tensor(x).softmax(-1).numpy(),
    ]
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_a_saved_model_keeps_dim_none(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax())
    cr.save(model, tmp_path / "m.safetensors")
    loaded = cr.load(tmp_path / "m.safetensors")
    assert loaded[1].dim is None and repr(loaded[1]) == "LogSoftmax(dim=None)"
    x = cr.tensor(np.random.default_rng(4).standard_normal((2, 5, 4)), dtype=cr.float32)
    with pytest.warns(UserWarning):
        expected = model(x).numpy()
    with pytest.warns(UserWarning):
        np.testing.assert_array_equal(loaded(x).numpy(), expected)
