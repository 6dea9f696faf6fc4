"""Model files of built-in layers with infinite or NaN arguments rebuild; a model of
chainrule's own classes that cannot be described is saved with a warning, not quietly;
saving and loading draw no random initial weights, so they leave the default generator
as it was and the loaded model is bit for bit the saved one."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import safetensors

import chainrule as cr
from chainrule import nn
from chainrule.io import build_model, describe_model

torch = pytest.importorskip("torch")

INF = math.inf


def _padded_max_pool() -> nn.Module:
    return nn.Sequential(nn.ConstantPad2d((0, 1, 0, 1), -INF), nn.MaxPool2d(2))


MODELS: dict[str, tuple[Callable[[], nn.Module], Callable[[], np.ndarray]]] = {
    "ConstantPad2d -inf then MaxPool2d": (
        _padded_max_pool,
        lambda: np.random.default_rng(0).normal(size=(2, 3, 5, 5)),
    ),
    "ConstantPad1d nan": (
        lambda: nn.Sequential(nn.ConstantPad1d(2, math.nan)),
        lambda: np.ones((2, 3, 4)),
    ),
    "ConstantPad2d inf": (
        lambda: nn.Sequential(nn.ConstantPad2d(1, INF)),
        lambda: np.ones((1, 2, 3, 3)),
    ),
    "Threshold to -inf": (
        lambda: nn.Sequential(nn.Threshold(0.0, -INF)),
        lambda: np.linspace(-1, 1, 8).reshape(2, 4),
    ),
    "Threshold to nan": (
        lambda: nn.Sequential(nn.Threshold(0.0, math.nan)),
        lambda: np.linspace(-1, 1, 8).reshape(2, 4),
    ),
    "Embedding max_norm with the inf norm": (
        lambda: nn.Sequential(nn.Embedding(10, 3, max_norm=1.0, norm_type=INF)),
        lambda: np.array([[1, 2, 3]]),
    ),
    "Embedding max_norm inf": (
        lambda: nn.Sequential(nn.Embedding(10, 3, max_norm=INF)),
        lambda: np.array([[1, 2, 3]]),
    ),
    "Embedding -inf norm": (
        lambda: nn.Sequential(nn.Embedding(10, 3, max_norm=1.0, norm_type=-INF)),
        lambda: np.array([[1, 2, 3]]),
    ),
    "EmbeddingBag with the inf norm": (
        lambda: nn.Sequential(nn.EmbeddingBag(10, 3, max_norm=0.5, norm_type=INF)),
        lambda: np.array([[1, 2, 3], [4, 5, 6]]),
    ),
}


@pytest.mark.parametrize("case", MODELS)
def test_infinite_and_nan_arguments_round_trip(case: str, tmp_path: Path) -> None:
    make, inputs = MODELS[case]
    model = make()
    path = tmp_path / "m.safetensors"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cr.save(model, path)
    restored = cr.load(path)
    assert repr(restored) == repr(model)
    x = cr.tensor(inputs())
    np.testing.assert_array_equal(restored(x).numpy(), model(x).numpy())


def test_padding_with_minus_inf_matches_pytorch_after_loading(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    cr.save(_padded_max_pool(), path)
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 5))
    twin = torch.nn.Sequential(torch.nn.ConstantPad2d((0, 1, 0, 1), -INF), torch.nn.MaxPool2d(2))
    np.testing.assert_array_equal(
        cr.load(path)(cr.tensor(x)).numpy(), twin(torch.from_numpy(x)).numpy()
    )


@pytest.mark.parametrize(
    ("argument", "value"), [("norm_type", {"$float": "nan"}), ("max_norm", {"$float": "nan"})]
)
def test_a_nan_norm_is_still_refused(argument: str, value: object) -> None:
    spec = describe_model(nn.Embedding(4, 2, max_norm=1.0, norm_type=3.0))
    spec["config"][argument] = value
    with pytest.raises(ValueError, match=rf"expected {argument} of kind 'float\+inf'"):
        build_model(spec)


def _architecture_of(path: Path) -> object:
    with safetensors.safe_open(path, framework="np") as f:
        return json.loads(f.metadata()["chainrule"])["architecture"]


def test_a_model_of_chainrule_layers_saved_without_architecture_warns(tmp_path: Path) -> None:
    tied = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    tied[1].weight = tied[0].weight  # type: ignore[attr-defined]
    path = tmp_path / "tied.safetensors"
    with pytest.warns(UserWarning, match=r"save: wrote the weights without the architecture"):
        cr.save(tied, path)
    assert _architecture_of(path) is None
    rebuilt = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    rebuilt[1].weight = rebuilt[0].weight  # type: ignore[attr-defined]
    cr.load_state_dict_file(rebuilt, path)
    np.testing.assert_array_equal(rebuilt[1].weight.numpy(), tied[0].weight.numpy())


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return x + self.linear(x)


def test_a_model_with_custom_modules_is_saved_without_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "custom.safetensors"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cr.save(nn.Sequential(Residual(), nn.ReLU()), path)
    assert _architecture_of(path) is None


def test_save_and_load_leave_the_default_generator_as_it_was(tmp_path: Path) -> None:
    # As torch.save and torch.load: a checkpoint written while training does not change
    # the random numbers (shuffling, dropout) that come after it.
    model = nn.Sequential(nn.Linear(3, 4, generator=0), nn.Embedding(5, 2, generator=1))
    path = tmp_path / "m.safetensors"
    cr.manual_seed(0)
    expected = cr.randn(5).numpy()
    cr.manual_seed(0)
    cr.save(model, path)
    cr.load(path)
    describe_model(model)
    np.testing.assert_array_equal(cr.randn(5).numpy(), expected)


ZOO: dict[str, Callable[[], nn.Module]] = {
    "embedding and LSTM": lambda: nn.Sequential(
        nn.Embedding(7, 4, padding_idx=0), nn.LSTM(4, 5, batch_first=True)
    ),
    "convolution to transformer": lambda: nn.Sequential(
        nn.Conv2d(1, 3, 3),
        nn.BatchNorm2d(3),
        nn.Flatten(),
        nn.Linear(12, 4),
        nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, batch_first=True),
    ),
}


@pytest.mark.parametrize("case", ZOO)
def test_loaded_weights_are_bit_for_bit_the_saved_ones(case: str, tmp_path: Path) -> None:
    model = ZOO[case]()
    path = tmp_path / "m.safetensors"
    cr.save(model, path)
    saved, loaded = model.state_dict(), cr.load(path).state_dict()
    assert list(loaded) == list(saved)
    for key, tensor in saved.items():
        assert loaded[key].dtype == tensor.dtype
        np.testing.assert_array_equal(loaded[key].numpy(), tensor.numpy(), err_msg=key)
