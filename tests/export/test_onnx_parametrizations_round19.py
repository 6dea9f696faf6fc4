"""to_onnx exported layers normalized by the older, hook-based ``nn.utils.weight_norm`` and
``spectral_norm``, but refused the same layers normalized by the ones PyTorch now
recommends, ``nn.utils.parametrizations.weight_norm`` and ``spectral_norm`` ("cannot export
layer 0 (ParametrizedLinear)"). They export now: the weight they compute in evaluation mode
is a constant of the graph, checked in onnxruntime against the model's eval forward.
Parametrizations of the user's are still refused, by the layer's name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import to_onnx
from chainrule.nn.utils import parametrizations, parametrize

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    return np.asarray(ort.InferenceSession(str(path)).run(None, {"input": x})[0])


def _eval_forward(model: nn.Module, x: np.ndarray) -> np.ndarray:
    model.eval()
    with cr.no_grad():
        return model(cr.tensor(x)).numpy()


def _weight_norm(layer: nn.Module, **options: Any) -> nn.Module:
    return parametrizations.weight_norm(layer, **options)


def _spectral_norm(layer: nn.Module, **options: Any) -> nn.Module:
    return parametrizations.spectral_norm(layer, **options)


def _both(layer: nn.Module) -> nn.Module:
    return _spectral_norm(_weight_norm(layer))


MODELS: dict[str, tuple[Callable[[Any], nn.Module], tuple[int, ...]]] = {
    "weight_norm Linear": (
        lambda dt: nn.Sequential(
            _weight_norm(nn.Linear(4, 5, dtype=dt, generator=0)),
            nn.Tanh(),
            _weight_norm(nn.Linear(5, 2, dtype=dt, generator=1), dim=None),
        ),
        (6, 4),
    ),
    "weight_norm dim=1": (
        lambda dt: _weight_norm(nn.Linear(4, 3, dtype=dt, generator=0), dim=1),
        (6, 4),
    ),
    "spectral_norm Linear": (
        lambda dt: nn.Sequential(
            _spectral_norm(nn.Linear(4, 5, dtype=dt, generator=0)),
            nn.ReLU(),
            _spectral_norm(nn.Linear(5, 2, dtype=dt, generator=1), n_power_iterations=3),
        ),
        (6, 4),
    ),
    "spectral_norm of the bias": (
        lambda dt: _spectral_norm(nn.Linear(4, 3, dtype=dt, generator=0), name="bias"),
        (6, 4),
    ),
    "both on one weight": (lambda dt: _both(nn.Linear(4, 3, dtype=dt, generator=0)), (6, 4)),
    "Conv2d": (
        lambda dt: nn.Sequential(
            _weight_norm(nn.Conv2d(2, 3, 3, padding=1, dtype=dt, generator=0)),
            nn.ReLU(),
            _spectral_norm(nn.Conv2d(3, 2, 2, dtype=dt, generator=1)),
            nn.Flatten(),
        ),
        (3, 2, 5, 5),
    ),
    "Conv1d": (lambda dt: _spectral_norm(nn.Conv1d(2, 4, 3, dtype=dt, generator=0)), (3, 2, 7)),
    "ConvTranspose1d": (
        lambda dt: _weight_norm(nn.ConvTranspose1d(2, 3, 3, dtype=dt, generator=0)),
        (3, 2, 5),
    ),
}


# onnxruntime's CPU provider has no float64 Conv or ConvTranspose kernel.
CASES = [
    (name, dtype)
    for name in MODELS
    for dtype in (np.float32, np.float64)
    if dtype == np.float32 or "Conv" not in name
]


@pytest.mark.parametrize(("name", "dtype"), CASES)
def test_parametrized_layers_export_their_eval_weight(
    name: str, dtype: Any, tmp_path: Path
) -> None:
    make, shape = MODELS[name]
    model = make(dtype)
    model.train()
    model(cr.tensor(np.ones(shape, dtype)))  # a training step moves spectral_norm's u, v
    state = {k: v.data.copy() for k, v in model.state_dict().items()}
    x = np.random.default_rng(2).normal(size=shape).astype(dtype)
    path = to_onnx(model, tmp_path / "m.onnx", x)
    assert model.training  # the export gives the model back in its own mode
    for key, value in model.state_dict().items():  # and changes no buffer (u, v)
        np.testing.assert_array_equal(value.data, state[key])
    got = _run(path, x)
    assert got.dtype == dtype
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, _eval_forward(model, x), rtol=tolerance, atol=tolerance)


def test_parametrized_embedding_exports(tmp_path: Path) -> None:
    model = nn.Sequential(
        _weight_norm(nn.Embedding(7, 3, dtype=np.float64, generator=0)),
        nn.Flatten(),
        _spectral_norm(nn.Linear(6, 2, dtype=np.float64, generator=1)),
    )
    x = np.array([[0, 6], [3, 3], [5, 1]], dtype=np.int64)
    path = to_onnx(model, tmp_path / "m.onnx", x)
    np.testing.assert_allclose(_run(path, x), _eval_forward(model, x), rtol=1e-12, atol=1e-12)


def test_the_export_equals_that_of_the_layer_with_its_weight_folded_in(tmp_path: Path) -> None:
    model = nn.Sequential(_both(nn.Linear(4, 3, generator=0)), nn.ReLU())
    x = np.random.default_rng(3).normal(size=(5, 4)).astype(np.float32)
    got = _run(to_onnx(model, tmp_path / "p.onnx", x), x)
    model.eval()
    parametrize.remove_parametrizations(model[0], "weight")
    assert type(model[0]) is nn.Linear
    np.testing.assert_array_equal(got, _run(to_onnx(model, tmp_path / "f.onnx", x), x))


class _Symmetric(nn.Module):
    def forward(self, weight: cr.Tensor) -> cr.Tensor:
        return weight.triu() + weight.triu(1).T


def test_a_parametrization_of_the_users_is_refused_by_the_layers_name(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 3, generator=0), nn.ReLU(), nn.Linear(3, 3, generator=1))
    parametrize.register_parametrization(model[2], "weight", _Symmetric())
    path = tmp_path / "m.onnx"
    with pytest.raises(
        ValueError,
        match=r"^to_onnx: cannot export layer 2 \(ParametrizedLinear\): its 'weight' is "
        r"parametrized by _Symmetric, which the export does not know \(it exports those of "
        r"nn\.utils\.parametrizations\.weight_norm and spectral_norm\); fold it into the "
        r"layer first with nn\.utils\.parametrize\.remove_parametrizations\(layer, 'weight'\)$",
    ):
        to_onnx(model, path, np.ones((2, 3), np.float32))
    assert not path.exists()


def test_a_known_parametrization_does_not_cover_a_users_one_beside_it(tmp_path: Path) -> None:
    layer = _weight_norm(nn.Linear(3, 3, generator=0))
    parametrize.register_parametrization(layer, "bias", _Scaled())
    with pytest.raises(
        ValueError,
        match=r"^to_onnx: cannot export layer model \(ParametrizedLinear\): its 'bias' is "
        r"parametrized by _Scaled",
    ):
        to_onnx(layer, tmp_path / "m.onnx", np.ones((2, 3), np.float32))


class _Scaled(nn.Module):
    def forward(self, bias: cr.Tensor) -> cr.Tensor:
        return bias * 2
