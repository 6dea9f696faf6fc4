"""Exports a user tries beyond the layer list: ceil_mode pools against PyTorch, models whose
dtype shows only in buffers or in the input, and an unbatched example."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x})
    return np.asarray(out)


CEIL_GRID = [
    (pool, kernel, stride, padding, include_pad)
    for pool, kernel, stride, padding, include_pad in itertools.product(
        ["MaxPool2d", "AvgPool2d"], [2, 3], [1, 2, 3, 4], [0, 1], [True, False]
    )
    if pool == "AvgPool2d" or include_pad
]


@pytest.mark.parametrize("opset", [17, 21])
@pytest.mark.parametrize("options", CEIL_GRID, ids=lambda v: "-".join(map(str, v)))
def test_ceil_mode_pools_match_pytorch_in_onnxruntime(
    options: tuple[Any, ...], opset: int, tmp_path: Path
) -> None:
    # ONNX keeps a last ceil_mode window that starts in the right padding; PyTorch drops it
    pool, kernel, stride, padding, include_pad = options
    kwargs: dict[str, Any] = {"stride": stride, "padding": padding, "ceil_mode": True}
    if pool == "AvgPool2d":
        kwargs["count_include_pad"] = include_pad
    x = np.random.default_rng(0).normal(size=(2, 3, 7, 6)).astype(np.float32)
    expected = getattr(torch.nn, pool)(kernel, **kwargs)(torch.from_numpy(x)).numpy()
    path = to_onnx(
        nn.Sequential(getattr(nn, pool)(kernel, **kwargs)), tmp_path / "m.onnx", x, opset
    )
    actual = _run(path, x)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, atol=1e-6)


def test_dilated_ceil_mode_max_pool_pads_past_the_kernel(tmp_path: Path) -> None:
    # the last window reaches 2 columns and 3 rows past the input: onnxruntime wants pads < 2
    layer = nn.MaxPool2d(2, stride=5, dilation=4, ceil_mode=True)
    x = np.random.default_rng(1).normal(size=(1, 2, 7, 8)).astype(np.float32)
    expected = torch.nn.MaxPool2d(2, stride=5, dilation=4, ceil_mode=True)(torch.from_numpy(x))
    path = to_onnx(nn.Sequential(layer), tmp_path / "m.onnx", x)
    np.testing.assert_array_equal(_run(path, x), expected.numpy())


def test_a_model_without_parameters_keeps_a_float64_input(tmp_path: Path) -> None:
    model = nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Softmax(dim=1))
    x = np.random.default_rng(2).normal(size=(3, 2, 4, 6))
    path = to_onnx(model, tmp_path / "m.onnx", x)
    with cr.no_grad():
        expected = model(cr.tensor(x)).numpy()
    actual = _run(path, x)
    assert actual.dtype == np.float64
    np.testing.assert_allclose(actual, expected, rtol=1e-12)


def test_a_batch_norm_without_affine_exports_in_its_buffers_dtype(tmp_path: Path) -> None:
    layer = nn.BatchNorm2d(3, affine=False, dtype=np.float64)
    layer(cr.tensor(np.random.default_rng(3).normal(2.0, 3.0, size=(8, 3, 4, 4))))
    x = np.random.default_rng(4).normal(size=(2, 3, 4, 4)).astype(np.float32)
    path = to_onnx(nn.Sequential(layer), tmp_path / "m.onnx", x)
    with cr.no_grad():
        expected = layer.eval()(cr.tensor(x)).numpy()
    actual = _run(path, x.astype(np.float64))
    assert actual.dtype == expected.dtype == np.float64
    np.testing.assert_allclose(actual, expected, rtol=1e-12)


def test_an_unbatched_example_is_refused_by_name(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3))
    with pytest.raises(ValueError, match=r"layer 0 \(Conv2d\) needs a batched example of rank 4"):
        to_onnx(model, tmp_path / "m.onnx", np.ones((1, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"layer 0 \(Conv1d\) needs a batched example of rank 3"):
        to_onnx(nn.Sequential(nn.Conv1d(1, 2, 3)), tmp_path / "m.onnx", np.ones((1, 5)))
