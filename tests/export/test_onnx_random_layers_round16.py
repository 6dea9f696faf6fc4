"""Round 16: the new layers export as they compute in evaluation mode (RReLU as the leaky
ReLU of its mean slope, the dropouts as the identity, Softmax2d as a softmax over the
channels), and onnxruntime gives chainrule's outputs, float32 and float64."""

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


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x})
    return np.asarray(out)


MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "rrelu": (lambda: nn.Sequential(nn.Linear(4, 6), nn.RReLU(), nn.Linear(6, 2)), (9, 4)),
    "rrelu_wide": (
        lambda: nn.Sequential(nn.Linear(4, 6), nn.RReLU(-0.3, 0.9, inplace=True)),
        (9, 4),
    ),
    "alpha_dropout": (
        lambda: nn.Sequential(nn.Linear(4, 6), nn.SELU(), nn.AlphaDropout(0.3), nn.Linear(6, 2)),
        (9, 4),
    ),
    # Linear layers on the last axis: onnxruntime runs no float64 convolution.
    "dropout1d": (
        lambda: nn.Sequential(nn.Linear(8, 5), nn.Dropout1d(0.5), nn.Flatten()),
        (5, 2, 8),
    ),
    "feature_alpha_dropout": (
        lambda: nn.Sequential(nn.Linear(6, 4), nn.SELU(), nn.FeatureAlphaDropout(0.4)),
        (5, 2, 6, 6),
    ),
    "softmax2d": (lambda: nn.Sequential(nn.Linear(6, 5), nn.Softmax2d()), (5, 3, 4, 6)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(MODELS))
def test_new_layers_match_onnxruntime(name: str, dtype: type, tmp_path: Path) -> None:
    make, shape = MODELS[name]
    model = make().to(dtype)
    model.reset_parameters(generator=0)
    assert model.training  # exported in evaluation mode, and left in training mode
    x = np.random.default_rng(1).normal(scale=3.0, size=shape).astype(dtype)
    path = to_onnx(model, tmp_path / "m.onnx", x[:1])
    assert all(m.training for m in model.modules())
    model.eval()
    expected = model(cr.tensor(x)).numpy()
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    got = _run(path, x)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


def test_rrelu_exports_its_mean_slope(tmp_path: Path) -> None:
    model = nn.Sequential(nn.RReLU(0.1, 0.5))
    x = np.array([[-2.0, -0.5, 0.0, 3.0]], dtype=np.float32)
    path = to_onnx(model, tmp_path / "m.onnx", x)
    np.testing.assert_allclose(_run(path, x), [[-0.6, -0.15, 0.0, 3.0]], rtol=1e-6)


def test_conv_then_softmax2d_and_channel_dropouts(tmp_path: Path) -> None:
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3),
        nn.FeatureAlphaDropout(0.2),
        nn.Softmax2d(),
        nn.Flatten(2, 3),
        nn.Conv1d(4, 3, 2),
        nn.Dropout1d(0.3),
    )
    model.reset_parameters(generator=0)
    x = np.random.default_rng(2).normal(size=(3, 2, 6, 6)).astype(np.float32)
    path = to_onnx(model, tmp_path / "m.onnx", x[:1])
    expected = model.eval()(cr.tensor(x)).numpy()
    np.testing.assert_allclose(_run(path, x), expected, rtol=1e-5, atol=1e-6)


def test_softmax2d_needs_a_batched_example(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"to_onnx: layer 0 \(Softmax2d\) needs a batched example of rank 4, got shape "
        r"\(2, 3, 4\); add the batch axis first",
    ):
        to_onnx(nn.Sequential(nn.Softmax2d()), tmp_path / "m.onnx", np.ones((2, 3, 4)))
