"""A model that uses one layer at two places saves and loads as one: the file describes the
second place as a reference to the first, and the loaded model shares the layer again, so
that its parameters stay tied while training, as in the model that was saved."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import chainrule as cr
from chainrule import nn
from chainrule.io import build_model, describe_model

torch = pytest.importorskip("torch")


def _shared_model() -> tuple[nn.Sequential, nn.Linear]:
    layer = nn.Linear(3, 3, generator=0)
    return nn.Sequential(layer, nn.Tanh(), layer), layer


def test_a_layer_used_twice_loads_shared(tmp_path: Path) -> None:
    model, _ = _shared_model()
    path = tmp_path / "shared.safetensors"
    cr.save(model, path)
    loaded = cr.load(path)
    assert loaded[0] is loaded[2]
    assert repr(loaded) == repr(model)
    x = cr.tensor(np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32))
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    # one set of parameters, as PyTorch counts them, and both names in the state dict
    assert [name for name, _ in loaded.named_parameters()] == ["0.weight", "0.bias"]
    assert list(loaded.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_the_loaded_layer_trains_as_one(tmp_path: Path) -> None:
    model, _ = _shared_model()
    cr.save(model, tmp_path / "m.safetensors")
    loaded = cr.load(tmp_path / "m.safetensors").train()
    optimizer = cr.optim.SGD(loaded.parameters(), lr=0.1)
    loaded(cr.ones(2, 3)).sum().backward()
    optimizer.step()
    np.testing.assert_array_equal(loaded[0].weight.numpy(), loaded[2].weight.numpy())
    assert not np.array_equal(loaded[0].weight.numpy(), model[0].weight.numpy())


def test_the_file_holds_pytorchs_state_dict_for_the_twin(tmp_path: Path) -> None:
    model, layer = _shared_model()
    path = tmp_path / "m.safetensors"
    cr.save(model, path)
    t_layer = torch.nn.Linear(3, 3)
    twin = torch.nn.Sequential(t_layer, torch.nn.Tanh(), t_layer)
    tensors = safetensors.numpy.load_file(str(path))
    assert sorted(tensors) == sorted(twin.state_dict())
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    np.testing.assert_array_equal(t_layer.weight.detach().numpy(), layer.weight.numpy())
    with safetensors.safe_open(path, framework="np") as f:
        document = json.loads(f.metadata()["chainrule"])
    assert document["architecture_error"] is None
    assert document["architecture"]["children"][2] == ["2", {"shared": "0"}]


def test_a_frozen_shared_layer_comes_back_frozen(tmp_path: Path) -> None:
    model, layer = _shared_model()
    layer.weight.requires_grad_(False)
    cr.save(model, tmp_path / "m.safetensors")
    loaded = cr.load(tmp_path / "m.safetensors")
    assert not loaded[2].weight.requires_grad and loaded[2].bias.requires_grad


def test_shared_containers_and_layers_in_nested_containers_are_rebuilt_shared() -> None:
    block = nn.Sequential(nn.Linear(2, 2, generator=0), nn.ReLU())
    model = nn.Sequential(block, nn.ModuleList([block[0], block]), nn.ModuleDict({"act": block[1]}))
    rebuilt = build_model(describe_model(model))
    assert rebuilt[1][0] is rebuilt[0][0]
    assert rebuilt[1][1] is rebuilt[0]
    assert rebuilt[2]["act"] is rebuilt[0][1]
    assert list(rebuilt.state_dict()) == list(model.state_dict())


def test_a_submodule_a_layer_builds_can_be_shared_after_it() -> None:
    attention = nn.MultiheadAttention(4, 2)
    rebuilt = build_model(describe_model(nn.Sequential(attention, attention.out_proj)))
    assert rebuilt[1] is rebuilt[0].out_proj
    # before it, the layer would build a second out_proj: refused, not silently untied
    with pytest.raises(
        ValueError,
        match=r"describe_model: expected the submodules that the MultiheadAttention at '1' "
        r"builds to be held only there, got '1.out_proj' also at '0'",
    ):
        describe_model(nn.Sequential(attention.out_proj, attention))


def test_a_reference_to_a_module_not_built_before_it_is_refused() -> None:
    relu = {"type": "ReLU", "config": {}}
    forward = {"type": "Sequential", "children": [["0", {"shared": "1"}], ["1", relu]]}
    with pytest.raises(
        ValueError,
        match=r"build_model: expected \{'shared': path\} at '0' to name the path of a module "
        r"built before it, got \{'shared': '1'\}",
    ):
        build_model(forward)
    itself = {"type": "Sequential", "children": [["0", {"shared": ""}]]}
    with pytest.raises(ValueError, match=r"at '0' to name the path of a module built before"):
        build_model(itself)
    extra = {"type": "Sequential", "children": [["0", relu], ["1", {"shared": "0", "x": 1}]]}
    with pytest.raises(ValueError, match=r"at '1' to name the path"):
        build_model(extra)


def test_a_container_inside_itself_is_refused() -> None:
    model = nn.Sequential(nn.ReLU())
    model.append(model)
    with pytest.raises(
        ValueError,
        match="describe_model: expected a model whose modules do not contain themselves, got "
        "the Sequential at '1' inside itself",
    ):
        describe_model(model)
