"""Tied weights saved once by safetensors' ``save_model`` load into the same tied model, and
a model whose layout a file cannot carry (a None submodule, a non-persistent buffer) is
saved without an architecture instead of coming back without them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.io import describe_model, load_weights

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")


def _tied_chainrule() -> nn.Sequential:
    model = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 5, bias=False))
    model[1].weight = model[0].weight
    return model


def _tied_torch() -> torch.nn.Sequential:
    model = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Linear(3, 5, bias=False))
    model[1].weight = model[0].weight
    return model


def test_tied_weights_saved_once_by_save_model_load(tmp_path: Path) -> None:
    source = _tied_torch()
    path = tmp_path / "tied.safetensors"
    safetensors_torch.save_model(source, str(path))
    assert list(load_weights(path)) == ["0.weight"]  # stored once
    twin = _tied_torch()
    assert safetensors_torch.load_model(twin, str(path)) == (set(), [])  # PyTorch's way
    model = _tied_chainrule()
    assert cr.load_state_dict_file(model, path) is model
    expected = source[0].weight.detach().numpy()
    np.testing.assert_array_equal(model[0].weight.numpy(), expected)
    assert model[1].weight is model[0].weight


def test_an_untied_model_still_needs_every_key(tmp_path: Path) -> None:
    path = tmp_path / "tied.safetensors"
    safetensors_torch.save_model(_tied_torch(), str(path))
    untied = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 5, bias=False))
    with pytest.raises(RuntimeError, match=r"missing keys \['1.weight'\]"):
        cr.load_state_dict_file(untied, path)
    assert cr.load_state_dict_file(untied, path, strict=False) is untied


def test_tied_chainrule_file_loads_into_pytorch(tmp_path: Path) -> None:
    # chainrule stores a tied tensor under each of its names, as torch's state_dict lists
    # them: PyTorch's load_state_dict takes the file as it is.
    model = _tied_chainrule()
    path = tmp_path / "tied.safetensors"
    with pytest.warns(UserWarning, match=r"without the architecture .*\(tied weights\)"):
        cr.save(model, path)
    twin = _tied_torch()
    assert str(twin.load_state_dict(safetensors_torch.load_file(str(path)))) == (
        "<All keys matched successfully>"
    )
    np.testing.assert_array_equal(twin[1].weight.detach().numpy(), model[0].weight.numpy())


def test_a_none_submodule_is_not_lost(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 3))
    model.add_module("skip", None)
    with pytest.raises(ValueError, match=r"same submodules and buffers, got differences"):
        describe_model(model)
    path = tmp_path / "m.safetensors"
    with pytest.warns(UserWarning, match=r"without the architecture .*None submodule"):
        cr.save(model, path)
    with pytest.raises(ValueError, match=r"None submodule .* build it in code"):
        cr.load(path)
    rebuilt = nn.Sequential(nn.Linear(3, 3))
    rebuilt.add_module("skip", None)
    rebuilt.load_state_dict(load_weights(path))
    np.testing.assert_array_equal(rebuilt[0].weight.numpy(), model[0].weight.numpy())


def test_a_non_persistent_buffer_is_not_lost(tmp_path: Path) -> None:
    model = nn.Linear(2, 2)
    model.register_buffer("scale", cr.ones(2), persistent=False)
    path = tmp_path / "m.safetensors"
    with pytest.warns(UserWarning, match=r"without the architecture .*non-persistent one"):
        cr.save(model, path)
    assert list(load_weights(path)) == ["bias", "weight"]  # as torch's state_dict
    with pytest.raises(ValueError, match=r"non-persistent one, added after it was built"):
        cr.load(path)


def test_built_in_layers_still_round_trip(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 4, bias=False), nn.BatchNorm1d(4), nn.ReLU())
    path = tmp_path / "m.safetensors"
    cr.save(model, path)
    restored = cr.load(path)
    assert repr(restored) == repr(model)
    assert restored[0].bias is None
