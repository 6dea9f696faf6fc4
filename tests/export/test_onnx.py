"""Exported ONNX files run in onnxruntime with chainrule's outputs, layer by layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x})
    return np.asarray(out)


def _trained_batchnorm(features: int, three_d: bool = False, affine: bool = True) -> nn.BatchNorm1d:
    layer = nn.BatchNorm1d(features, affine=affine)
    rng = np.random.default_rng(0)
    shape = (16, features, 5) if three_d else (16, features)
    for _ in range(3):  # running statistics away from their initial 0 and 1
        layer(cr.tensor(rng.normal(2.0, 3.0, size=shape).astype(np.float32)))
    if affine:
        assert layer.weight is not None and layer.bias is not None
        layer.weight.data[...] = rng.uniform(0.5, 2, features)
        layer.bias.data[...] = rng.normal(size=features)
    return layer


CASES: dict[str, Any] = {
    "linear": lambda: nn.Sequential(nn.Linear(6, 4)),
    "linear_no_bias": lambda: nn.Sequential(nn.Linear(6, 4, bias=False)),
    "relu": lambda: nn.Sequential(nn.Linear(6, 4), nn.ReLU()),
    "leaky_relu": lambda: nn.Sequential(nn.Linear(6, 4), nn.LeakyReLU(0.2)),
    "elu": lambda: nn.Sequential(nn.Linear(6, 4), nn.ELU(0.5)),
    "selu": lambda: nn.Sequential(nn.Linear(6, 4), nn.SELU()),
    "gelu": lambda: nn.Sequential(nn.Linear(6, 4), nn.GELU()),
    "gelu_tanh": lambda: nn.Sequential(nn.Linear(6, 4), nn.GELU("tanh")),
    "silu": lambda: nn.Sequential(nn.Linear(6, 4), nn.SiLU()),
    "softplus": lambda: nn.Sequential(nn.Linear(6, 4), nn.Softplus(beta=2.0, threshold=1.0)),
    "sigmoid": lambda: nn.Sequential(nn.Linear(6, 4), nn.Sigmoid()),
    "tanh": lambda: nn.Sequential(nn.Linear(6, 4), nn.Tanh()),
    "hardtanh": lambda: nn.Sequential(nn.Linear(6, 4), nn.Hardtanh(-0.3, 0.4)),
    "softmax": lambda: nn.Sequential(nn.Linear(6, 4), nn.Softmax(dim=1)),
    "log_softmax": lambda: nn.Sequential(nn.Linear(6, 4), nn.LogSoftmax(dim=-1)),
    "dropout": lambda: nn.Sequential(nn.Linear(6, 4), nn.Dropout(0.5)),
    "identity": lambda: nn.Sequential(nn.Identity(), nn.Linear(6, 4)),
    "batchnorm": lambda: nn.Sequential(nn.Linear(6, 4), _trained_batchnorm(4)),
    "batchnorm_no_affine": lambda: nn.Sequential(_trained_batchnorm(6, affine=False)),
    "layernorm": lambda: nn.Sequential(nn.Linear(6, 4), nn.LayerNorm(4)),
    "layernorm_no_bias": lambda: nn.Sequential(nn.LayerNorm(6, bias=False), nn.Linear(6, 2)),
    "layernorm_plain": lambda: nn.Sequential(nn.LayerNorm(6, elementwise_affine=False)),
    "nested": lambda: nn.Sequential(
        nn.Sequential(nn.Linear(6, 8), nn.ReLU()), nn.Sequential(nn.Linear(8, 3), nn.Tanh())
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_supported_layer_matches_onnxruntime(name: str, tmp_path: Path) -> None:
    model = CASES[name]()
    if "batchnorm" not in name:  # keep the trained statistics
        model.reset_parameters(1)
    x = np.random.default_rng(2).normal(size=(5, 6)).astype(np.float32)
    path = to_onnx(model, tmp_path / "model.onnx", x)
    onnx.checker.check_model(str(path), full_check=True)
    more_rows = np.random.default_rng(3).normal(size=(11, 6)).astype(np.float32)  # dynamic batch
    with cr.no_grad():
        expected = model.eval()(cr.tensor(more_rows)).numpy()
    np.testing.assert_allclose(_run(path, more_rows), expected, atol=1e-5)


def test_three_dimensional_inputs(tmp_path: Path) -> None:
    model = nn.Sequential(_trained_batchnorm(3, three_d=True), nn.Flatten(), nn.Linear(15, 2))
    x = np.random.default_rng(4).normal(size=(4, 3, 5)).astype(np.float32)
    path = to_onnx(model, tmp_path / "m.onnx", x)
    with cr.no_grad():
        expected = model.eval()(cr.tensor(x)).numpy()
    np.testing.assert_allclose(_run(path, x), expected, atol=1e-5)
    batched = nn.Sequential(nn.Linear(5, 2), nn.ReLU(), nn.Flatten(0, 1))
    path = to_onnx(batched, tmp_path / "b.onnx", x)
    with cr.no_grad():
        np.testing.assert_allclose(_run(path, x), batched(cr.tensor(x)).numpy(), atol=1e-5)


def test_embedding_takes_integer_indices(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Embedding(10, 3, generator=0), nn.Flatten(), nn.Linear(6, 2))
    idx = np.array([[1, 2], [9, 0], [4, 4]], dtype=np.int64)
    path = to_onnx(model, tmp_path / "e.onnx", idx)
    with cr.no_grad():
        np.testing.assert_allclose(_run(path, idx), model(cr.tensor(idx)).numpy(), atol=1e-5)


def test_standardization_and_probabilities_around_the_network(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 4))
    model.reset_parameters(0)
    mean, scale = np.array([1.0, -2.0, 10.0], np.float32), np.array([2.0, 0.5, 4.0], np.float32)
    raw = np.random.default_rng(5).normal(size=(6, 3)).astype(np.float32) * 3
    path = to_onnx(
        model,
        tmp_path / "c.onnx",
        raw,
        input_mean=mean,
        input_scale=scale,
        output="softmax",
        doc_string="columns: a, b, c",
    )
    with cr.no_grad():
        expected = cr.softmax(model(cr.tensor((raw - mean) / scale)), axis=-1).numpy()
    np.testing.assert_allclose(_run(path, raw), expected, atol=1e-5)
    assert onnx.load(str(path)).graph.doc_string == "columns: a, b, c"
    path = to_onnx(
        model,
        tmp_path / "r.onnx",
        raw,
        output_mean=np.float32(100.0),
        output_scale=np.float32(10.0),
    )
    with cr.no_grad():
        np.testing.assert_allclose(
            _run(path, raw), model(cr.tensor(raw)).numpy() * 10 + 100, atol=1e-4
        )


def test_opset_and_ir_version_are_pinned(tmp_path: Path) -> None:
    path = to_onnx(
        nn.Sequential(nn.Linear(2, 2)), tmp_path / "m.onnx", np.zeros((1, 2), np.float32)
    )
    proto = onnx.load(str(path))
    assert proto.ir_version == 8
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 17)]
    with pytest.raises(ValueError, match="opset must be one of"):
        to_onnx(nn.Sequential(nn.Linear(2, 2)), tmp_path / "x.onnx", np.zeros((1, 2)), opset=9)


def test_an_unsupported_layer_is_named(tmp_path: Path) -> None:
    class Squash(nn.Module):
        def forward(self, x: cr.Tensor) -> cr.Tensor:
            return x * 0.5

    model = nn.Sequential(nn.Linear(2, 2), Squash())
    with pytest.raises(ValueError, match=r"cannot export layer 1 \(Squash\); supported layers"):
        to_onnx(model, tmp_path / "m.onnx", np.zeros((1, 2), np.float32))
    assert not (tmp_path / "m.onnx").exists()


def test_batchnorm_without_running_statistics_is_refused(tmp_path: Path) -> None:
    model = nn.Sequential(nn.BatchNorm1d(2, track_running_stats=False))
    with pytest.raises(ValueError, match="cannot export layer 0 \\(BatchNorm1d without running"):
        to_onnx(model, tmp_path / "m.onnx", np.zeros((3, 2), np.float32))


def test_flatten_of_later_axes_keeps_the_leading_ones(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Flatten(start_dim=2))
    x = np.random.default_rng(6).normal(size=(2, 3, 4, 5)).astype(np.float32)
    path = to_onnx(model, tmp_path / "f.onnx", x)
    np.testing.assert_allclose(_run(path, x), x.reshape(2, 3, 20), atol=0)
