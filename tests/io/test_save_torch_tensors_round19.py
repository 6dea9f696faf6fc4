"""``chainrule.save(torch_model.state_dict(), path)``, PyTorch's idiom, was refused with
"expected JSON values (...), got Tensor at weight; save takes tensors, ...", a message that
contradicts itself. PyTorch's tensors are now taken as ``load_state_dict`` takes them
(detached, bfloat16 as float32), alone or inside a general checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.tensor import Tensor

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")


def test_a_pytorch_state_dict_saves_and_loads_into_both_libraries(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    path = tmp_path / "weights.safetensors"
    cr.save(source.state_dict(), path)  # parameters require grad; a BatchNorm's int64 counter

    loaded = cr.load(path)
    assert list(loaded) == list(source.state_dict())  # in PyTorch's order
    for name, value in source.state_dict().items():
        assert isinstance(loaded[name], Tensor)
        assert str(loaded[name].dtype) == str(value.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(loaded[name].numpy(), value.numpy())
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    assert str(model.load_state_dict(loaded)) == "<All keys matched successfully>"

    # PyTorch reads the file back with its own loader
    again = safetensors_torch.load_file(str(path))
    for name, value in source.state_dict().items():
        assert torch.equal(again[name], value)


def test_bfloat16_and_tensors_inside_a_general_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    layer = torch.nn.Linear(2, 3).to(torch.bfloat16)
    path = tmp_path / "checkpoint.safetensors"
    cr.save({"epoch": 4, "model": layer.state_dict(), "loss": torch.tensor(0.25)}, path)
    checkpoint = cr.load(path)
    assert checkpoint["epoch"] == 4
    assert isinstance(checkpoint["loss"], Tensor) and checkpoint["loss"].item() == 0.25
    weight = checkpoint["model"]["weight"]
    assert isinstance(weight, Tensor) and weight.dtype == np.float32
    np.testing.assert_array_equal(weight.numpy(), layer.weight.detach().float().numpy())

    cr.save(layer.state_dict(), path)
    assert cr.load(path)["bias"].dtype == np.float32


def test_a_torch_tensor_that_numpy_cannot_hold_is_named(tmp_path: Path) -> None:
    if not hasattr(torch, "float8_e4m3fn"):
        pytest.skip("this torch has no float8")
    path = tmp_path / "w.safetensors"
    with pytest.raises(
        TypeError,
        match=r"save: expected a torch\.Tensor NumPy can hold at w, got one of dtype "
        r"torch\.float8_e4m3fn it cannot .*; convert it first, such as with tensor\.float\(\)",
    ):
        cr.save({"w": torch.ones(2).to(torch.float8_e4m3fn)}, path)
    with pytest.raises(TypeError, match=r"save: expected a torch\.Tensor NumPy can hold at x\.w"):
        cr.save({"x": {"w": torch.ones(2).to(torch.float8_e4m3fn)}}, path)
    assert not path.exists()


def test_a_torch_tensor_in_the_metadata_is_named_as_one(tmp_path: Path) -> None:
    with pytest.raises(
        TypeError, match=r"save: expected JSON values .* got torch\.Tensor at metadata\.mean"
    ):
        cr.save(nn.Linear(2, 2), tmp_path / "m.safetensors", metadata={"mean": torch.zeros(2)})
