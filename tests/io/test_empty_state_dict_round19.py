"""``chainrule.save(nn.ReLU().state_dict(), path)`` was refused ("got OrderedDict that is
empty"), where ``torch.save({}, path)`` writes the empty state dict, so code that saves every
layer's state dict broke on the layers without weights. An empty state dict (and an empty
dict, list or tuple) is written now, and read back as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import chainrule as cr
from chainrule import nn
from chainrule.io import load_weights


def test_the_state_dict_of_a_layer_without_weights_saves_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "relu.safetensors"
    cr.save(nn.ReLU().state_dict(), path, metadata={"layer": "relu"})
    assert cr.load(path) == {}
    assert cr.load(path, weights_only=True, with_metadata=True) == ({}, {"layer": "relu"})
    assert load_weights(path) == {}
    layer = cr.load_state_dict_file(nn.ReLU(), path)
    assert isinstance(layer, nn.ReLU)
    assert str(nn.Flatten().load_state_dict(cr.load(path))) == "<All keys matched successfully>"
    # a layer with weights finds them missing, by name
    with pytest.raises(RuntimeError, match=r"load_state_dict_file: .*'weight'.*'bias'"):
        cr.load_state_dict_file(nn.Linear(2, 2), path)


def test_every_layers_state_dict_saves(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Dropout(0.5), nn.Linear(3, 1))
    for index, layer in enumerate(model):
        path = tmp_path / f"{index}.safetensors"
        cr.save(layer.state_dict(), path)
        assert list(cr.load(path)) == list(layer.state_dict())


@pytest.mark.parametrize("value", [{}, [], ()], ids=["dict", "list", "tuple"])
def test_empty_values_come_back_as_they_were(value: Any, tmp_path: Path) -> None:
    path = tmp_path / "empty.safetensors"
    cr.save(value, path)
    loaded = cr.load(path)
    assert loaded == value and type(loaded) is type(value)
