"""PyTorch's recipe "Saving and loading a general checkpoint", with chainrule.save/load:
a dict of the epoch, the model's and the optimizer's state dicts and the loss, written as
safetensors and JSON (no pickle), that resumes training exactly."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim


def _setup() -> tuple[nn.Module, optim.Optimizer, Any, Any]:
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    model.reset_parameters(generator=0)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.normal(size=(16, 4)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 3, size=16))
    return model, optimizer, x, y


def _train(model: nn.Module, optimizer: optim.Optimizer, x: Any, y: Any, steps: int) -> Any:
    loss = None
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return loss


def test_a_general_checkpoint_resumes_training_exactly(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.safetensors"
    model, optimizer, x, y = _setup()
    loss = _train(model, optimizer, x, y, 5)
    cr.save(
        {
            "epoch": 5,
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(),
            "loss": loss,
        },
        path,
    )
    _train(model, optimizer, x, y, 5)  # the run that never stopped

    resumed, resumed_optimizer, _, _ = _setup()
    checkpoint = cr.load(path, weights_only=True)
    resumed.load_state_dict(checkpoint["model_state_dict"])
    resumed_optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
    assert checkpoint["epoch"] == 5
    assert isinstance(checkpoint["loss"], cr.Tensor)
    assert checkpoint["loss"].item() == loss.item()
    _train(resumed, resumed_optimizer, x, y, 5)
    for a, b in zip(resumed.parameters(), model.parameters(), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_nested_values_come_back_with_their_types(tmp_path: Path) -> None:
    path = tmp_path / "values.safetensors"
    saved = {
        "count": 3,
        "rate": 0.5,
        "limits": (-math.inf, math.inf),
        "name": "run-1",
        "nothing": None,
        "flag": True,
        "by_class": {0: 1.5, 2: 0.25},
        "history": [1.0, 0.5, 0.25],
        "weights": cr.tensor([[1.0, 2.0]], dtype=cr.float64),
        "labels": cr.tensor([1, 0, 2]),
        "array": np.arange(4, dtype=np.int16),
        "scalar": np.float32(1.25),
    }
    cr.save(saved, path)
    loaded = cr.load(path)
    assert list(loaded) == list(saved)
    for key in ("count", "rate", "limits", "name", "nothing", "flag", "by_class", "history"):
        assert loaded[key] == saved[key] and type(loaded[key]) is type(saved[key])
    for key in ("weights", "labels"):
        assert isinstance(loaded[key], cr.Tensor) and loaded[key].dtype == saved[key].dtype
        np.testing.assert_array_equal(loaded[key].numpy(), saved[key].numpy())
    assert type(loaded["array"]) is np.ndarray and loaded["array"].dtype == np.int16
    assert loaded["scalar"] == np.float32(1.25) and loaded["scalar"].dtype == np.float32
    assert cr.load([path][0], with_metadata=True)[1] == {}


def test_a_list_of_tensors_and_the_file_is_plain_safetensors(tmp_path: Path) -> None:
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "list.safetensors"
    cr.save([cr.ones(2), cr.zeros(3)], path)
    first, second = cr.load(path)
    np.testing.assert_array_equal(first.numpy(), np.ones(2, dtype=np.float32))
    np.testing.assert_array_equal(second.numpy(), np.zeros(3, dtype=np.float32))
    assert sorted(safetensors_numpy.load_file(str(path))) == [".0", ".1"]


def test_pytorchs_map_location_forms_load_on_the_cpu(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    cr.save({"w": cr.ones(2), "step": 1}, path)
    assert cr.load(path, map_location=lambda storage, location: storage)["step"] == 1
    assert cr.load(path, map_location={"cuda:0": "cpu"})["step"] == 1
    assert cr.load(path, map_location=cr.device("cpu"))["step"] == 1
    with pytest.raises(ValueError, match="load: chainrule runs on the CPU only"):
        cr.load(path, map_location={"cpu": "cuda:0"})
