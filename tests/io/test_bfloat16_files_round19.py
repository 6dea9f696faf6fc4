"""A bfloat16 safetensors file (``safetensors.torch.save_file`` of a bfloat16 state dict, the
usual dtype of Hugging Face's files) was refused by every reader ("got BF16; convert it
before saving"), while ``load_state_dict`` took the same tensors in memory: the readers now
take it too, as float32, exactly as PyTorch's ``tensor.float()`` gives it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.io import load_weights

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")


def _torch_model() -> object:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))


def _as_float32(state_dict: dict[str, object]) -> dict[str, np.ndarray]:
    return {k: v.detach().float().numpy() for k, v in state_dict.items()}  # type: ignore[attr-defined]


def test_a_bfloat16_file_loads_into_a_model_as_pytorchs_float(tmp_path: Path) -> None:
    source = _torch_model().to(torch.bfloat16)  # type: ignore[attr-defined]
    path = tmp_path / "bf16.safetensors"
    safetensors_torch.save_file(source.state_dict(), str(path))
    expected = _as_float32(source.state_dict())

    model = cr.load_state_dict_file(
        nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)), path
    )
    for name, value in model.state_dict().items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value.numpy(), expected[name])

    # and the model computes what PyTorch's does with the same weights in float32
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    with torch.no_grad():
        reference = source.float()(torch.from_numpy(x)).numpy()  # type: ignore[attr-defined]
    with cr.no_grad():
        np.testing.assert_allclose(model(cr.tensor(x)).numpy(), reference, rtol=1e-5, atol=1e-6)


def test_every_reader_takes_bfloat16_as_float32(tmp_path: Path) -> None:
    values = torch.tensor([1.0, -2.5, 3.140625, float("inf"), 1e-40, -0.0])
    tensors = {
        "b": values.to(torch.bfloat16),
        "scalar": torch.tensor(0.5, dtype=torch.bfloat16),
        "none": torch.zeros(0, 3, dtype=torch.bfloat16),
        "f": torch.arange(4, dtype=torch.float32),
    }
    path = tmp_path / "mixed.safetensors"
    safetensors_torch.save_file(tensors, str(path))
    expected = {k: v.float().numpy() for k, v in tensors.items()}

    for loaded in (
        load_weights(path),
        {k: v.numpy() for k, v in cr.load(path, weights_only=True).items()},
    ):
        assert list(loaded) == ["b", "f", "none", "scalar"]
        for name, array in loaded.items():
            assert array.dtype == np.float32 and array.shape == expected[name].shape
            np.testing.assert_array_equal(array, expected[name])
        assert np.signbit(loaded["b"][-1])  # -0.0 keeps its sign
        loaded["b"][0] = 7.0  # writable, as every array read

    # what was read can be saved back, as float32
    again = tmp_path / "again.safetensors"
    cr.save(cr.load(path, weights_only=True), again)
    np.testing.assert_array_equal(load_weights(again)["b"], expected["b"])


def test_a_bfloat16_array_is_still_refused_on_write_with_a_way_out(tmp_path: Path) -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    path = tmp_path / "w.safetensors"
    with pytest.raises(
        TypeError,
        match=r"save: expected tensors of dtype .* got bfloat16 for 'w'; chainrule writes no "
        r"bfloat16 \(it reads it as float32\): convert it with \.astype\(np\.float32\)",
    ):
        cr.save({"w": np.ones(2, ml_dtypes.bfloat16)}, path)
    assert not path.exists()


def test_a_float8_file_is_still_refused_by_name(tmp_path: Path) -> None:
    if not hasattr(torch, "float8_e4m3fn"):
        pytest.skip("this torch has no float8")
    path = tmp_path / "f8.safetensors"
    safetensors_torch.save_file({"w": torch.ones(2).to(torch.float8_e4m3fn)}, str(path))
    with pytest.raises(
        ValueError, match=r"load_weights: expected tensor 'w' .* BF16 is read as float32\), got F8"
    ):
        load_weights(path)
