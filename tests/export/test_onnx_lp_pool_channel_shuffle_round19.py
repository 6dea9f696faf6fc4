"""ONNX export of LPPool1d, LPPool2d and ChannelShuffle: onnxruntime gives chainrule's
outputs (PyTorch's signs included: no absolute value, NaN for a negative window sum) at
every opset, on any batch size; a float64 LPPool of finite p is a valid file that
onnxruntime's CPU provider cannot run (it has no float64 AveragePool), as documented."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import to_onnx
from chainrule.export.onnx import OPSETS

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

INF = float("inf")

CASES: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], bool]] = {
    # name: (layer, batched input shape, whether the input may be negative)
    "2d_p2": (lambda: nn.LPPool2d(2, 3), (2, 3, 7, 8), True),
    "2d_p3_stride_ceil": (
        lambda: nn.LPPool2d(3, (2, 3), (2, 1), ceil_mode=True),
        (2, 3, 7, 8),
        True,
    ),
    "2d_p1_5": (lambda: nn.LPPool2d(1.5, 2), (2, 3, 6, 6), False),
    "2d_p_minus_2": (lambda: nn.LPPool2d(-2, 2, 1), (2, 2, 5, 5), True),
    "2d_inf": (lambda: nn.LPPool2d(INF, 3, 2, ceil_mode=True), (2, 3, 7, 8), True),
    "2d_minus_inf": (lambda: nn.LPPool2d(-INF, 2), (2, 3, 6, 6), True),
    "1d_p2": (lambda: nn.LPPool1d(2, 3), (2, 3, 9), True),
    "1d_p4_stride_ceil": (lambda: nn.LPPool1d(4, (3,), stride=2, ceil_mode=True), (2, 3, 8), True),
    "1d_inf": (lambda: nn.LPPool1d(INF, 2), (2, 3, 8), True),
    "shuffle_2d": (lambda: nn.ChannelShuffle(3), (2, 6, 4, 5), True),
    "shuffle_1d": (lambda: nn.ChannelShuffle(2), (2, 4, 5), True),
    "shuffle_3d": (lambda: nn.ChannelShuffle(2), (2, 4, 2, 3, 2), True),
    "shuffle_4d": (lambda: nn.ChannelShuffle(2), (2, 4, 2, 1, 3, 2), True),
}


def _runs_in_float64(layer: nn.Module) -> bool:
    return not isinstance(layer, nn.LPPool1d | nn.LPPool2d) or abs(layer.norm_type) == INF


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(CASES))
def test_onnxruntime_gives_chainrules_outputs(
    name: str, dtype: Any, opset: int, tmp_path: Path
) -> None:
    make, shape, signed = CASES[name]
    model = nn.Sequential(make())
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape).astype(dtype)
    x = x if signed else np.abs(x)
    path = tmp_path / "model.onnx"
    to_onnx(model, path, x, opset=opset)
    onnx.checker.check_model(str(path), full_check=True)
    if dtype == np.float64 and not _runs_in_float64(model[0]):
        return
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    tolerance = {np.float32: 1e-5, np.float64: 1e-12}[dtype]
    other = rng.normal(size=(shape[0] + 3, *shape[1:])).astype(dtype)
    for batch in (x, other if signed else np.abs(other)):
        expected = model(cr.tensor(batch)).numpy()
        (actual,) = session.run(None, {"input": batch})
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance)


def test_negative_sums_and_zero_windows_export_as_the_layer_computes_them(
    tmp_path: Path,
) -> None:
    x = np.array([[[[1.0, -1.0, -1.0, -2.0], [0.0, 0.0, 0.5, 0.25]]]], dtype=np.float32)
    for layer in (nn.LPPool2d(3, 2), nn.LPPool2d(2, 2), nn.LPPool2d(-1, 2)):
        path = tmp_path / "lp.onnx"
        to_onnx(layer, path, x)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (actual,) = session.run(None, {"input": x})
        expected = layer(cr.tensor(x)).numpy()
        np.testing.assert_allclose(actual, expected, rtol=1e-6, equal_nan=True)
    assert np.isnan(nn.LPPool2d(3, 2)(cr.tensor(x)).numpy()[0, 0, 0, 1])  # (-9.125)**(1/3)


def test_unbatched_examples_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"layer model \(LPPool2d\) needs a batched example"):
        to_onnx(nn.LPPool2d(2, 2), tmp_path / "m.onnx", np.ones((3, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"channel_shuffle: expected input of shape \(N, C, \*\)"):
        to_onnx(nn.ChannelShuffle(2), tmp_path / "m.onnx", np.ones((4, 4), np.float32))
