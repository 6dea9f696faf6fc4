"""ONNX export of the transposed convolutions, instance norm, padding layers, pixel
shuffles, upsampling layers, LocalResponseNorm and RMSNorm: onnxruntime gives chainrule's
outputs (evaluation mode) at every opset, on any batch size."""

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


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x})
    return np.asarray(out)


def _check(model: nn.Module, shape: tuple[int, ...], path: Path, opset: int, dtype: Any) -> None:
    """Export, check the file, and compare onnxruntime with chainrule on two batch sizes."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape).astype(dtype)
    to_onnx(model, path, x, opset=opset)
    onnx.checker.check_model(str(path), full_check=True)
    model.eval()
    tolerance = {np.float16: 2e-3, np.float32: 1e-5, np.float64: 1e-12}[dtype]
    for batch in (x, rng.normal(size=(shape[0] + 3, *shape[1:])).astype(dtype)):
        expected = model(cr.tensor(batch)).numpy()
        actual = _run(path, batch)
        assert actual.dtype == expected.dtype
        assert actual.shape == expected.shape
        np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance)


def _affine(layer: Any, channels: int) -> Any:
    """``layer`` with random scale and shift (and running statistics from a few batches)."""
    rng = np.random.default_rng(0)
    if layer.running_mean is not None:
        layer.train()
        for _ in range(3):
            shape = (4, channels, *([6] * (layer._ranks[1] - 2)))
            layer(cr.tensor(rng.normal(1.0, 2.0, size=shape).astype(np.float32)))
    if layer.weight is not None:
        layer.weight.data[...] = rng.uniform(0.5, 2, channels)
    if layer.bias is not None:
        layer.bias.data[...] = rng.normal(size=channels)
    return layer


Case = tuple[Callable[[], nn.Module], tuple[int, ...]]

CONV_TRANSPOSE: dict[str, Case] = {
    "1d": (lambda: nn.ConvTranspose1d(3, 4, 3), (2, 3, 7)),
    "1d_stride_padding_output_padding": (
        lambda: nn.ConvTranspose1d(3, 4, 4, stride=3, padding=2, output_padding=1),
        (2, 3, 6),
    ),
    "1d_groups_dilation_no_bias": (
        lambda: nn.ConvTranspose1d(4, 6, 3, groups=2, dilation=2, bias=False),
        (2, 4, 5),
    ),
    "2d": (lambda: nn.ConvTranspose2d(3, 4, 3), (2, 3, 5, 4)),
    "2d_stride_padding_output_padding": (
        lambda: nn.ConvTranspose2d(3, 4, (3, 4), stride=(2, 3), padding=(1, 2), output_padding=1),
        (2, 3, 4, 5),
    ),
    "2d_groups_dilation_no_bias": (
        lambda: nn.ConvTranspose2d(
            4, 6, 3, stride=2, groups=2, dilation=(2, 1), output_padding=(1, 0), bias=False
        ),
        (2, 4, 4, 3),
    ),
    "2d_depthwise": (lambda: nn.ConvTranspose2d(3, 3, 2, stride=2, groups=3), (2, 3, 3, 3)),
}

INSTANCE_NORM: dict[str, Case] = {
    "1d": (lambda: _affine(nn.InstanceNorm1d(3), 3), (2, 3, 7)),
    "1d_affine": (lambda: _affine(nn.InstanceNorm1d(3, affine=True), 3), (2, 3, 7)),
    "1d_affine_no_bias": (
        lambda: _affine(nn.InstanceNorm1d(3, affine=True, bias=False), 3),
        (2, 3, 7),
    ),
    "1d_tracked": (lambda: _affine(nn.InstanceNorm1d(3, track_running_stats=True), 3), (2, 3, 7)),
    "2d": (lambda: _affine(nn.InstanceNorm2d(4, eps=1e-3), 4), (2, 4, 5, 3)),
    "2d_affine": (lambda: _affine(nn.InstanceNorm2d(4, affine=True), 4), (2, 4, 5, 3)),
    "2d_affine_tracked": (
        lambda: _affine(nn.InstanceNorm2d(4, affine=True, track_running_stats=True), 4),
        (2, 4, 5, 3),
    ),
}

PADDING: dict[str, Case] = {}
for _mode, (_one, _two) in {
    "zero": (nn.ZeroPad1d, nn.ZeroPad2d),
    "reflection": (nn.ReflectionPad1d, nn.ReflectionPad2d),
    "replication": (nn.ReplicationPad1d, nn.ReplicationPad2d),
    "circular": (nn.CircularPad1d, nn.CircularPad2d),
}.items():
    PADDING[f"{_mode}_1d"] = (lambda k=_one: k(2), (2, 3, 5))
    PADDING[f"{_mode}_1d_uneven_crop"] = (lambda k=_one: k((-1, 3)), (2, 3, 5))
    PADDING[f"{_mode}_2d"] = (lambda k=_two: k((1, 2, 3, 0)), (2, 3, 5, 4))
    PADDING[f"{_mode}_2d_crop"] = (lambda k=_two: k((-1, 2, 1, -2)), (2, 3, 5, 4))
    PADDING[f"{_mode}_2d_only_crop"] = (lambda k=_two: k((-1, 0, 0, -2)), (2, 3, 5, 4))
PADDING["constant_1d"] = (lambda: nn.ConstantPad1d((2, -1), 3.5), (2, 3, 5))
PADDING["constant_1d_rank_2"] = (lambda: nn.ConstantPad1d(1, -2.0), (2, 5))
PADDING["constant_2d"] = (lambda: nn.ConstantPad2d((1, 0, -1, 2), 0.25), (2, 3, 5, 4))
PADDING["constant_2d_rank_5"] = (lambda: nn.ConstantPad2d(1, 1.0), (2, 2, 3, 5, 4))
PADDING["reflection_1d_unbatched_rows"] = (lambda: nn.ReflectionPad1d((3, 1)), (3, 5))

OTHERS: dict[str, Case] = {
    "pixel_shuffle": (lambda: nn.PixelShuffle(2), (2, 12, 3, 4)),
    "pixel_shuffle_3": (lambda: nn.PixelShuffle(3), (2, 9, 2, 3)),
    "pixel_unshuffle": (lambda: nn.PixelUnshuffle(2), (2, 3, 4, 6)),
    "pixel_unshuffle_3": (lambda: nn.PixelUnshuffle(3), (2, 2, 6, 3)),
    "pixel_round_trip": (
        lambda: nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(12, 12, 1), nn.PixelShuffle(2)),
        (2, 3, 4, 6),
    ),
    "upsampling_nearest": (lambda: nn.UpsamplingNearest2d(scale_factor=2), (2, 3, 4, 5)),
    "upsampling_nearest_size": (lambda: nn.UpsamplingNearest2d(size=(7, 3)), (2, 3, 4, 5)),
    "upsampling_bilinear": (lambda: nn.UpsamplingBilinear2d(scale_factor=2), (2, 3, 4, 5)),
    "upsampling_bilinear_size": (lambda: nn.UpsamplingBilinear2d(size=(3, 8)), (2, 3, 4, 5)),
    "lrn_odd_images": (lambda: nn.LocalResponseNorm(3, alpha=0.5, beta=0.6, k=2.0), (2, 5, 3, 4)),
    "lrn_even_images": (lambda: nn.LocalResponseNorm(2, alpha=0.5, beta=0.75), (2, 5, 3, 4)),
    "lrn_sequences": (lambda: nn.LocalResponseNorm(5, alpha=0.3), (2, 6, 4)),
    "lrn_wider_than_channels": (lambda: nn.LocalResponseNorm(4, alpha=1.0), (2, 3, 2, 2, 2)),
    "rms_norm": (lambda: nn.RMSNorm(6), (2, 6)),
    "rms_norm_eps": (lambda: _rms_weighted(nn.RMSNorm((3, 4), eps=1e-3)), (2, 5, 3, 4)),
    "rms_norm_no_weight": (lambda: nn.RMSNorm(4, elementwise_affine=False), (2, 3, 4)),
}


def _rms_weighted(layer: nn.RMSNorm) -> nn.RMSNorm:
    assert layer.weight is not None
    layer.weight.data[...] = np.random.default_rng(0).uniform(0.5, 2, layer.weight.shape)
    return layer


CASES = {
    **{f"conv_transpose_{k}": v for k, v in CONV_TRANSPOSE.items()},
    **{f"instance_norm_{k}": v for k, v in INSTANCE_NORM.items()},
    **{f"pad_{k}": v for k, v in PADDING.items()},
    **OTHERS,
}
FLOAT64_CASES = [
    name for name in CASES if not name.startswith("conv_transpose") and name != "pixel_round_trip"
]
"""onnxruntime's CPU provider has no float64 ConvTranspose (nor Conv)."""


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("name", list(CASES))
def test_layer_runs_in_onnxruntime_as_in_chainrule(tmp_path: Path, name: str, opset: int) -> None:
    build, shape = CASES[name]
    model = nn.Sequential(nn.Identity(), build(), nn.Tanh())
    _check(model, shape, tmp_path / "m.onnx", opset, np.float32)


@pytest.mark.parametrize("opset", [min(OPSETS), max(OPSETS)])
@pytest.mark.parametrize("name", FLOAT64_CASES)
def test_float64_layer_runs_in_onnxruntime(tmp_path: Path, name: str, opset: int) -> None:
    build, shape = CASES[name]
    model = nn.Sequential(build(), nn.Tanh()).to(np.float64)
    _check(model, shape, tmp_path / "m.onnx", opset, np.float64)


@pytest.mark.parametrize(
    "name",
    [
        "conv_transpose_2d_stride_padding_output_padding",
        "instance_norm_2d_affine",
        "instance_norm_2d_affine_tracked",
        "pad_reflection_2d_crop",
        "pixel_shuffle",
        "lrn_odd_images",
        "rms_norm_eps",
    ],
)
def test_float16_layer_runs_in_onnxruntime(tmp_path: Path, name: str) -> None:
    build, shape = CASES[name]
    _check(nn.Sequential(build()).to(np.float16), shape, tmp_path / "m.onnx", 17, np.float16)


def test_float64_conv_transpose_writes_a_valid_file(tmp_path: Path) -> None:
    model = nn.Sequential(nn.ConvTranspose2d(3, 4, 3, stride=2)).to(np.float64)
    path = to_onnx(model, tmp_path / "m.onnx", np.ones((1, 3, 4, 4)))
    onnx.checker.check_model(str(path), full_check=True)
    (output,) = onnx.load(str(path)).graph.output
    assert output.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


@pytest.mark.parametrize("opset", OPSETS)
def test_circular_padding_uses_wrap_from_opset_19(tmp_path: Path, opset: int) -> None:
    path = to_onnx(nn.CircularPad2d(1), tmp_path / "m.onnx", np.ones((1, 2, 3, 3)), opset=opset)
    nodes = onnx.load(str(path)).graph.node
    modes = [a.s for n in nodes if n.op_type == "Pad" for a in n.attribute if a.name == "mode"]
    assert (modes == [b"wrap"]) == (opset >= 19)
    assert any(n.op_type == "Concat" for n in nodes) == (opset < 19)


def test_instance_norm_with_running_statistics_is_a_batch_norm(tmp_path: Path) -> None:
    layer = _affine(nn.InstanceNorm2d(3, affine=True, track_running_stats=True), 3)
    path = to_onnx(nn.Sequential(layer), tmp_path / "m.onnx", np.ones((1, 3, 4, 4)))
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert "BatchNormalization" in ops and "InstanceNormalization" not in ops
    assert layer.training  # the model's modes come back after the export


def test_instance_norm_with_tracking_switched_off_uses_the_input_statistics(
    tmp_path: Path,
) -> None:
    layer = _affine(nn.InstanceNorm1d(3, track_running_stats=True), 3)
    layer.track_running_stats = False  # as in PyTorch: buffers kept, not used
    _check(nn.Sequential(layer), (2, 3, 6), tmp_path / "m.onnx", 17, np.float32)


def _dcgan_generator() -> nn.Sequential:
    latent, width = 8, 16
    return nn.Sequential(
        nn.Unflatten(1, (latent, 1, 1)),
        nn.ConvTranspose2d(latent, width * 2, 4, 1, 0, bias=False),
        _trained(nn.BatchNorm2d(width * 2)),
        nn.ReLU(),
        nn.ConvTranspose2d(width * 2, width, 4, 2, 1, bias=False),
        _trained(nn.BatchNorm2d(width)),
        nn.ReLU(),
        nn.ConvTranspose2d(width, 3, 4, 2, 1, bias=False),
        nn.Tanh(),
    )


def _trained(layer: nn.BatchNorm2d) -> nn.BatchNorm2d:
    rng = np.random.default_rng(0)
    shape = (4, layer.num_features, 3, 3)
    for _ in range(3):
        layer(cr.tensor(rng.normal(0.5, 2.0, size=shape).astype(np.float32)))
    return layer


def _style_transfer_net() -> nn.Sequential:
    def block(n_in: int, n_out: int, kernel: int, stride: int = 1) -> list[nn.Module]:
        return [
            nn.ReflectionPad2d(kernel // 2),
            nn.Conv2d(n_in, n_out, kernel, stride),
            _affine(nn.InstanceNorm2d(n_out, affine=True), n_out),
            nn.ReLU(),
        ]

    return nn.Sequential(
        *block(3, 8, 9),
        *block(8, 16, 3, stride=2),
        nn.UpsamplingNearest2d(scale_factor=2),
        *block(16, 8, 3),
        nn.ReflectionPad2d(4),
        nn.Conv2d(8, 3, 9),
    )


@pytest.mark.parametrize("opset", [min(OPSETS), max(OPSETS)])
def test_dcgan_generator_exports_end_to_end(tmp_path: Path, opset: int) -> None:
    model = _dcgan_generator()
    _check(model, (3, 8), tmp_path / "generator.onnx", opset, np.float32)
    assert model(cr.randn(2, 8, generator=0)).shape == (2, 3, 16, 16)


@pytest.mark.parametrize("opset", [min(OPSETS), max(OPSETS)])
def test_style_transfer_net_exports_end_to_end(tmp_path: Path, opset: int) -> None:
    _check(_style_transfer_net(), (2, 3, 12, 10), tmp_path / "style.onnx", opset, np.float32)


@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (nn.ConvTranspose2d(3, 4, 3), (3, 5, 5), r"ConvTranspose2d\) needs a batched example"),
        (nn.InstanceNorm1d(3), (3, 5), r"InstanceNorm1d\) needs a batched example of rank 3"),
        (nn.ZeroPad2d(1), (5, 5), r"ZeroPad2d\) needs a batched example of rank 3 or 4 or 5"),
        (nn.PixelShuffle(2), (4, 2, 2), r"PixelShuffle\) needs a batched example of rank 4"),
        (nn.RMSNorm((2, 3)), (2, 3), r"RMSNorm\) needs a batched example with more axes"),
    ],
)
def test_an_unbatched_example_is_refused(
    tmp_path: Path, layer: nn.Module, shape: tuple[int, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        to_onnx(nn.Sequential(layer), tmp_path / "m.onnx", np.ones(shape, dtype=np.float32))


def test_the_refusal_lists_the_new_layers(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="supported layers: ") as error:
        to_onnx(nn.Sequential(nn.Fold(4, 2)), tmp_path / "m.onnx", np.ones((1, 4, 9)))
    for name in (
        "CircularPad2d",
        "ConvTranspose1d",
        "InstanceNorm2d",
        "LocalResponseNorm",
        "PixelUnshuffle",
        "RMSNorm",
        "UpsamplingBilinear2d",
        "ZeroPad1d",
    ):
        assert name in str(error.value)
