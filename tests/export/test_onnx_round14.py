"""Round 14 of outside-in testing of ONNX export: a zero output_scale is refused, an
integer example through a model without weights is cast first, a non-module is refused,
and each layer's train/eval mode is as it was after export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import to_onnx

ort = pytest.importorskip("onnxruntime")


def run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"input": x})[0])


def test_a_zero_output_scale_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected a nonzero output_scale"):
        to_onnx(
            nn.Linear(3, 2), tmp_path / "m.onnx", np.zeros((2, 3), np.float32), output_scale=[0, 1]
        )
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("layer", [nn.Hardtanh, nn.Sigmoid, nn.ReLU, nn.Tanh])
def test_integer_rows_into_a_model_without_weights(tmp_path: Path, layer: type) -> None:
    x = np.array([[1, -2, 3], [0, 5, -7]])
    path = to_onnx(nn.Sequential(layer()), tmp_path / "m.onnx", x)
    expected = nn.Sequential(layer())(cr.tensor(x)).numpy()
    np.testing.assert_allclose(run(path, x), expected, rtol=1e-5)


def test_only_modules_are_exported(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="to_onnx: expected a chainrule Module, got function"):
        to_onnx(lambda t: t, tmp_path / "m.onnx", np.zeros((1, 2), np.float32))  # type: ignore[arg-type]


def test_export_leaves_each_layer_in_its_own_mode(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.Dropout(0.5))
    model[1].eval()  # a frozen batch norm inside a model that trains
    to_onnx(model, tmp_path / "m.onnx", np.zeros((2, 3), np.float32))
    assert [m.training for m in model] == [True, False, True] and model.training


@pytest.mark.parametrize("rows", [1, 3])
def test_batch_norm_without_running_statistics_is_refused_by_name(
    tmp_path: Path, rows: int
) -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4, track_running_stats=False))
    with pytest.raises(ValueError, match="cannot export layer 1 \\(BatchNorm1d without running"):
        to_onnx(model, tmp_path / "m.onnx", np.zeros((rows, 4), np.float32))
