"""chainrule.save / chainrule.load: round trips, metadata, custom modules, PyTorch interop."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors
import safetensors.numpy
from layer_zoo import SEQ, every_layer_model, tokens

import chainrule as cr
from chainrule import nn
from chainrule.io import load, load_weights, read_metadata, save


def train_a_little(model: nn.Module) -> None:
    """Move BatchNorm's running statistics away from their initial values."""
    model.train()
    with cr.no_grad():
        for _ in range(3):
            model(tokens(8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_every_layer(tmp_path: Path, dtype: Any) -> None:
    model = every_layer_model(dtype)
    train_a_little(model)
    model.eval()
    path = tmp_path / "model.safetensors"
    save(model, path)
    restored = load(path)
    assert repr(restored) == repr(model)
    assert not any(m.training for m in restored.modules())
    original_state, restored_state = model.state_dict(), restored.state_dict()
    assert list(restored_state) == list(original_state)
    for key, tensor in original_state.items():
        assert restored_state[key].dtype == tensor.dtype, key
        assert np.array_equal(restored_state[key].data, tensor.data), key
    assert np.array_equal(restored(tokens()).data, model(tokens()).data)


def test_state_dict_names_are_pytorchs(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save(every_layer_model(), path)
    assert set(load_weights(path)) == {
        "0.weight",
        "2.weight",
        "2.bias",
        "3.weight",
        "3.bias",
        "3.running_mean",
        "3.running_var",
        "3.num_batches_tracked",
        "4.weight",
        "12.weight",
    }


def test_settings_changed_after_construction_are_kept(tmp_path: Path) -> None:
    model = nn.Sequential(nn.LeakyReLU(), nn.Dropout(), nn.Hardtanh(), nn.BatchNorm1d(2))
    model[0].negative_slope = 0.3
    model[1].p = 0.1
    model[2].min_val, model[2].max_val = -math.inf, 2.0
    model[3].momentum = None
    save(model, tmp_path / "m.safetensors")
    restored = load(tmp_path / "m.safetensors")
    assert restored[0].negative_slope == 0.3  # type: ignore[index]
    assert restored[1].p == 0.1  # type: ignore[index]
    assert restored[2].min_val == -math.inf  # type: ignore[index]
    assert restored[3].momentum is None  # type: ignore[index]


def test_nested_containers_and_names(tmp_path: Path) -> None:
    model = nn.Sequential(
        OrderedDict(
            [
                ("encoder", nn.Sequential(nn.Linear(3, 4, generator=0), nn.ReLU())),
                ("heads", nn.ModuleDict({"a": nn.Linear(4, 1, generator=1), "b": nn.Identity()})),
                ("blocks", nn.ModuleList([nn.LayerNorm([2, 2]), nn.Sequential()])),
                ("norm", nn.BatchNorm1d(4, affine=False, track_running_stats=False)),
                ("bn", nn.BatchNorm1d(4, affine=False)),
                ("ln", nn.LayerNorm(4, elementwise_affine=False)),
            ]
        )
    )
    save(model, tmp_path / "m.safetensors")
    restored = load(tmp_path / "m.safetensors")
    assert repr(restored) == repr(model)
    assert list(restored.state_dict()) == list(model.state_dict())
    assert isinstance(restored.heads, nn.ModuleDict)  # type: ignore[attr-defined]
    assert isinstance(restored.blocks, nn.ModuleList)  # type: ignore[attr-defined]
    for key, tensor in model.state_dict().items():
        assert np.array_equal(restored.state_dict()[key].data, tensor.data), key


def test_a_single_layer_is_a_model_too(tmp_path: Path) -> None:
    save(nn.Linear(3, 2, generator=0), tmp_path / "m.safetensors")
    assert isinstance(load(tmp_path / "m.safetensors"), nn.Linear)


def test_metadata_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    metadata = {
        "classes": ["cat", "dog"],
        "task": "classification",
        "scaler": {"mean": [0.5, 1.5], "scale": [2.0, 3.0]},
        "shape": (8, 8),
        "best_loss": math.inf,
        "accuracy": np.float32(0.75),  # NumPy scalars become Python numbers
        "n": np.int64(3),
        "by_label": {0: "cat", 1: "dog"},
        "$weird": None,
    }
    save(nn.Linear(2, 2, generator=0), path, metadata=metadata)
    expected = dict(metadata, accuracy=0.75, n=3)
    assert read_metadata(path) == expected
    model, got = load(path, with_metadata=True)
    assert got == expected and isinstance(got["shape"], tuple)
    assert isinstance(model, nn.Linear)


def test_metadata_defaults_to_empty(tmp_path: Path) -> None:
    save(nn.Linear(2, 2, generator=0), tmp_path / "m.safetensors")
    assert read_metadata(tmp_path / "m.safetensors") == {}


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"w": np.zeros(3)}, r"got ndarray at metadata\.w"),
        ({"a": [1, {"b": object()}]}, r"got object at metadata\.a\.1\.b"),
        ({"f": print}, "got builtin_function_or_method at metadata.f"),
        ({"s": {1, 2}}, "got set at metadata.s"),
    ],
)
def test_metadata_that_json_cannot_hold(tmp_path: Path, metadata: Any, message: str) -> None:
    with pytest.raises(TypeError, match=r"save: expected JSON values .*" + message):
        save(nn.Linear(2, 2, generator=0), tmp_path / "m.safetensors", metadata=metadata)
    assert not (tmp_path / "m.safetensors").exists()


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="save: metadata must be a dict or None, got list"):
        save(nn.Linear(2, 2), tmp_path / "m.safetensors", metadata=[1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"save: expected a chainrule Module, .* got set"):
        save({1, 2}, tmp_path / "m.safetensors")  # type: ignore[arg-type]


class TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(3, 4, generator=0)
        self.out = nn.Linear(4, 1, generator=1)

    def forward(self, x: Any) -> Any:
        return self.out(cr.relu(self.hidden(x)))


def test_custom_module_keeps_weights_but_not_architecture(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    model = TwoLayer()
    save(model, path, metadata={"note": "custom"})
    with pytest.raises(ValueError, match="TwoLayer") as info:
        load(path)
    message = str(info.value)
    assert str(path) in message
    assert "load_state_dict(chainrule.io.load_weights(path))" in message
    fresh = TwoLayer()
    fresh.out.reset_parameters(5)
    fresh.load_state_dict(load_weights(path))
    x = cr.ones(2, 3)
    assert np.array_equal(fresh(x).data, model(x).data)
    assert read_metadata(path) == {"note": "custom"}


class MyLinear(nn.Linear):
    def forward(self, x: Any) -> Any:
        return super().forward(x) * 2


def test_subclass_of_a_builtin_layer_is_custom(tmp_path: Path) -> None:
    save(nn.Sequential(MyLinear(2, 2)), tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match=r"custom module .*MyLinear at '0'"):
        load(tmp_path / "m.safetensors")


def test_tied_weights_are_not_rebuilt(tmp_path: Path) -> None:
    # A layer used twice is rebuilt shared (test_shared_modules_round16.py); one parameter
    # set into two layers is not something the architecture describes.
    tied = nn.Sequential(nn.Linear(2, 2, generator=0), nn.Linear(2, 2, generator=1))
    tied[1].weight = tied[0].weight  # type: ignore[attr-defined]
    with pytest.warns(UserWarning, match=r"without the architecture .*\(tied weights\)"):
        save(tied, tmp_path / "tied.safetensors")
    with pytest.raises(ValueError, match=r"'1.weight' shared with '0.weight' \(tied weights\)"):
        load(tmp_path / "tied.safetensors")


def test_extra_parameter_on_a_builtin_layer_is_not_rebuilt(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(2, 2, generator=0))
    model[0].scale = nn.Parameter(np.ones(2, dtype=np.float32))
    with pytest.warns(UserWarning, match=r"without the architecture .*differences in"):
        save(model, tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match=r"differences in \['0.scale'\]"):
        load(tmp_path / "m.safetensors")


def test_file_layout(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save(nn.Sequential(nn.Linear(2, 3, generator=0)), path, metadata={"k": 1})
    with safetensors.safe_open(path, framework="np") as f:
        raw = f.metadata()
    assert list(raw) == ["chainrule"]
    document = json.loads(raw["chainrule"])
    assert document["format"] == "chainrule.model"
    assert document["format_version"] == 1
    assert document["chainrule_version"] == cr.__version__
    assert document["metadata"] == {"k": 1}
    assert document["architecture_error"] is None
    assert document["architecture"] == {
        "type": "Sequential",
        "children": [
            [
                "0",
                {
                    "type": "Linear",
                    "config": {
                        "in_features": 2,
                        "out_features": 3,
                        "bias": True,
                        "dtype": "float32",
                    },
                },
            ]
        ],
    }


SAVE_SCRIPT = """
import sys
import numpy as np
from chainrule import nn
from chainrule.io import save
gen = np.random.default_rng(42)
model = nn.Sequential(nn.Linear(5, 7, generator=gen), nn.BatchNorm1d(7), nn.ReLU(),
                      nn.Linear(7, 3, dtype=np.float64, generator=gen), nn.LogSoftmax())
save(model, sys.argv[1], metadata={"b": [1, 2], "a": {"z": 1.5, "y": None}})
"""


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    """Two processes (different hash seeds) building the same model write the same bytes."""
    paths = [tmp_path / "a.safetensors", tmp_path / "b.safetensors"]
    for seed, path in zip(("1", "2"), paths, strict=True):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        subprocess.run([sys.executable, "-c", SAVE_SCRIPT, str(path)], check=True, env=env)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    save(
        load(paths[0]),
        tmp_path / "c.safetensors",
        metadata={"a": {"y": None, "z": 1.5}, "b": [1, 2]},
    )
    assert (tmp_path / "c.safetensors").read_bytes() == paths[0].read_bytes()


# ------------------------------------------------------------------------------ PyTorch
def torch_twin(torch: Any, dtype: Any) -> Any:
    tnn = torch.nn
    return tnn.Sequential(
        tnn.Embedding(10, 4, padding_idx=0),
        tnn.Flatten(),
        tnn.Linear(SEQ * 4, 8),
        tnn.BatchNorm1d(8, eps=1e-3, momentum=0.2),
        tnn.LayerNorm(8, eps=1e-4, bias=False),
        tnn.ReLU(),
        tnn.LeakyReLU(0.2),
        tnn.ELU(alpha=0.5),
        tnn.SELU(),
        tnn.GELU(approximate="tanh"),
        tnn.SiLU(),
        tnn.Softplus(beta=2.0, threshold=10.0),
        tnn.Linear(8, 6, bias=False),
        tnn.Sigmoid(),
        tnn.Tanh(),
        tnn.Hardtanh(-0.5, 0.5),
        tnn.Dropout(0.25),
        tnn.Identity(),
        tnn.LogSoftmax(dim=-1),
        tnn.Softmax(dim=1),
    ).to(dtype)


def test_pytorch_reads_the_weights(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    import safetensors.torch

    model = every_layer_model(np.float64)
    train_a_little(model)
    model.eval()
    path = tmp_path / "model.safetensors"
    save(model, path)
    twin = torch_twin(torch, torch.float64)
    twin.load_state_dict(safetensors.torch.load_file(path))
    twin.eval()
    x = tokens(6)
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(load(path)(x).data, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model(x).data, expected, rtol=1e-10, atol=1e-12)


def test_weights_saved_by_pytorch_load_into_chainrule(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    import safetensors.torch

    torch.manual_seed(0)
    twin = torch_twin(torch, torch.float64)
    twin.train()
    with torch.no_grad():
        twin(torch.from_numpy(tokens(8)))  # running statistics
    twin.eval()
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(twin.state_dict(), path)
    model = every_layer_model(np.float64)
    model.load_state_dict(load_weights(path))
    model.eval()
    x = tokens(6)
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(x).data, expected, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="without chainrule metadata"):
        load(path)


def test_numpy_reader_gets_the_same_arrays(tmp_path: Path) -> None:
    model = every_layer_model()
    save(model, tmp_path / "m.safetensors")
    plain = safetensors.numpy.load_file(tmp_path / "m.safetensors")
    for key, tensor in model.state_dict().items():
        assert np.array_equal(plain[key], tensor.data) and plain[key].dtype == tensor.dtype


def test_dtypes_safetensors_cannot_hold(tmp_path: Path) -> None:
    model = nn.Linear(2, 2, generator=0)
    model.register_buffer("labels", cr.Tensor(np.array([1 + 2j])))
    with pytest.raises(
        TypeError, match=r"save: expected tensors of dtype bool, .* got complex128 for 'labels'"
    ):
        save(model, tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []
