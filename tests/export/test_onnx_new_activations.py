"""The activation layers added after the exporter was written run in onnxruntime with
chainrule's outputs, float32 and float64, at inputs spread over their kinks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import to_onnx

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu6": nn.ReLU6,
    "hardsigmoid": nn.Hardsigmoid,
    "hardswish": nn.Hardswish,
    "mish": nn.Mish,
    "logsigmoid": nn.LogSigmoid,
    "softsign": nn.Softsign,
    "tanhshrink": nn.Tanhshrink,
    "celu": lambda: nn.CELU(alpha=0.7),
    "threshold": lambda: nn.Threshold(0.3, -2.0),
    "softshrink": lambda: nn.Softshrink(0.4),
    "hardshrink": lambda: nn.Hardshrink(0.4),
    "softmin": lambda: nn.Softmin(dim=1),
    "softmin_implicit_dim": nn.Softmin,
    "prelu_one": nn.PReLU,
    "prelu_per_feature": lambda: nn.PReLU(6, init=0.1),
    "glu": nn.GLU,
}


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x})
    return np.asarray(out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.filterwarnings("ignore:Implicit dimension choice for softmin:UserWarning")
def test_each_new_activation_matches_onnxruntime(name: str, dtype: type, tmp_path: Path) -> None:
    activation = ACTIVATIONS[name]()
    width_after = 3 if name == "glu" else 6
    model = nn.Sequential(nn.Linear(4, 6), activation, nn.Linear(width_after, 2)).to(dtype)
    model.reset_parameters(generator=0)
    if name.startswith("prelu"):
        weight = model[1].weight
        weight.data[...] = np.linspace(-0.5, 0.8, weight.numel())
    model.eval()
    x = np.random.default_rng(1).normal(scale=3.0, size=(9, 4)).astype(dtype)
    path = to_onnx(model, tmp_path / "m.onnx", x[:1])
    expected = model(cr.tensor(x)).numpy()
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(_run(path, x), expected, rtol=tolerance, atol=tolerance)


def test_per_channel_prelu_after_a_convolution(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.PReLU(3), nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    model.reset_parameters(generator=0)
    model[1].weight.data[...] = [-0.5, 0.2, 0.9]
    model.eval()
    x = np.random.default_rng(2).normal(size=(5, 1, 6, 6)).astype(np.float32)
    path = to_onnx(model, tmp_path / "m.onnx", x[:1])
    np.testing.assert_allclose(_run(path, x), model(cr.tensor(x)).numpy(), rtol=1e-5, atol=1e-5)
