"""Exported image layers run in onnxruntime with chainrule's outputs (1e-5), any batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import to_onnx
from chainrule.nn.conv import digits_cnn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x})
    return np.asarray(out)


def _trained_batchnorm2d(channels: int) -> nn.BatchNorm2d:
    layer = nn.BatchNorm2d(channels)
    rng = np.random.default_rng(0)
    for _ in range(3):
        layer(cr.tensor(rng.normal(1.0, 2.0, size=(8, channels, 5, 5)).astype(np.float32)))
    assert layer.weight is not None and layer.bias is not None
    layer.weight.data[...] = rng.uniform(0.5, 2, channels)
    layer.bias.data[...] = rng.normal(size=channels)
    return layer


CASES: dict[str, Any] = {
    "conv": lambda: nn.Sequential(nn.Conv2d(3, 4, 3)),
    "conv_stride_padding_dilation": lambda: nn.Sequential(
        nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(2, 1), dilation=(1, 2))
    ),
    "conv_groups_no_bias": lambda: nn.Sequential(nn.Conv2d(3, 6, 3, groups=3, bias=False)),
    "conv_same_even_kernel": lambda: nn.Sequential(nn.Conv2d(3, 4, (2, 4), padding="same")),
    "conv_reflect": lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding=2, padding_mode="reflect")),
    "conv_replicate": lambda: nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=(1, 2), padding_mode="replicate")
    ),
    "conv_circular": lambda: nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=(2, 1), padding_mode="circular")
    ),
    "conv_circular_same": lambda: nn.Sequential(
        nn.Conv2d(3, 4, (3, 2), padding="same", padding_mode="circular")
    ),
    "max_pool": lambda: nn.Sequential(nn.MaxPool2d(2)),
    "max_pool_options": lambda: nn.Sequential(
        nn.MaxPool2d(3, stride=2, padding=1, dilation=1, ceil_mode=True)
    ),
    "max_pool_dilation": lambda: nn.Sequential(nn.MaxPool2d(2, stride=1, dilation=2)),
    "avg_pool": lambda: nn.Sequential(nn.AvgPool2d(2)),
    "avg_pool_padding": lambda: nn.Sequential(nn.AvgPool2d(3, stride=2, padding=1)),
    "avg_pool_exclude_pad": lambda: nn.Sequential(
        nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
    ),
    "avg_pool_ceil": lambda: nn.Sequential(nn.AvgPool2d(2, ceil_mode=True)),
    "avg_pool_divisor": lambda: nn.Sequential(nn.AvgPool2d(2, stride=1, divisor_override=3)),
    # ceil_mode windows past the padding: PyTorch's sizes and divisors
    "avg_pool_ceil_padding": lambda: nn.Sequential(
        nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True)
    ),
    "avg_pool_ceil_divisor": lambda: nn.Sequential(
        nn.AvgPool2d(3, stride=2, ceil_mode=True, divisor_override=4)
    ),
    "avg_pool_ceil_exclude_pad": lambda: nn.Sequential(
        nn.AvgPool2d(3, stride=(2, 4), padding=1, ceil_mode=True, count_include_pad=False)
    ),
    "max_pool_ceil_past_padding": lambda: nn.Sequential(
        nn.MaxPool2d((3, 2), stride=(2, 4), padding=1, ceil_mode=True)
    ),
    "adaptive_global": lambda: nn.Sequential(nn.AdaptiveAvgPool2d(1)),
    "adaptive_even": lambda: nn.Sequential(nn.AdaptiveAvgPool2d((3, 1))),
    "adaptive_uneven": lambda: nn.Sequential(nn.AdaptiveAvgPool2d((4, None))),
    "batchnorm2d": lambda: nn.Sequential(nn.Conv2d(3, 4, 1), _trained_batchnorm2d(4)),
    "dropout2d": lambda: nn.Sequential(nn.Dropout2d(0.5), nn.Conv2d(3, 2, 1)),
    # (N, 3, 12) sequences
    "conv1d": lambda: nn.Sequential(nn.Conv1d(3, 4, 5, stride=2, padding=2)),
    "conv1d_reflect": lambda: nn.Sequential(
        nn.Conv1d(3, 4, 3, padding="same", padding_mode="reflect")
    ),
    "conv1d_circular": lambda: nn.Sequential(
        nn.Conv1d(3, 4, 4, padding=3, padding_mode="circular")
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_image_layer_matches_onnxruntime(name: str, tmp_path: Path) -> None:
    model = CASES[name]()
    if "batchnorm" not in name:
        model.reset_parameters(1)
    shape = (3, 12) if name.startswith("conv1d") else (3, 6, 6)
    x = np.random.default_rng(2).normal(size=(2, *shape)).astype(np.float32)
    path = to_onnx(model, tmp_path / "model.onnx", x)
    onnx.checker.check_model(str(path), full_check=True)
    more = np.random.default_rng(3).normal(size=(5, *shape)).astype(np.float32)  # any batch
    with cr.no_grad():
        expected = model.eval()(cr.tensor(more)).numpy()
    actual = _run(path, more)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_digits_network_with_probabilities(tmp_path: Path) -> None:
    model = digits_cnn(generator=0)
    rows = np.random.default_rng(4).uniform(0, 16, size=(7, 64)).astype(np.float32)
    with cr.no_grad():
        model(cr.tensor(rows / 16))  # running statistics
    path = to_onnx(
        model,
        tmp_path / "digits.onnx",
        rows,
        input_scale=np.full(64, 16.0, np.float32),
        output="softmax",
    )
    with cr.no_grad():
        expected = cr.softmax(model.eval()(cr.tensor(rows / 16)), axis=-1).numpy()
    np.testing.assert_allclose(_run(path, rows), expected, atol=1e-5)


def test_layers_onnx_cannot_express_are_refused(tmp_path: Path) -> None:
    x = np.zeros((1, 3, 6, 6), np.float32)
    model = nn.Sequential(nn.BatchNorm2d(3, track_running_stats=False))
    with pytest.raises(ValueError, match=r"BatchNorm2d without running statistics"):
        to_onnx(model, tmp_path / "m.onnx", x)
    with pytest.raises(ValueError, match=r"Unflatten of the batch axis"):
        to_onnx(nn.Sequential(nn.Unflatten(0, (1, 1))), tmp_path / "m.onnx", x)
