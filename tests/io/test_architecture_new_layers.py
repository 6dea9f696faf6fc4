"""Model files with the layers added after the first table: transposed convolutions, fold and
unfold, padding, pixel shuffles, upsampling, adaptive max pooling, max pools with indices and
max unpools, instance, RMS and local response norms, Bilinear, the distances, attention and
the Transformer stacks, RReLU, Softmax2d and the dropouts of round 16, the LPPools and
ChannelShuffle. Each saved and loaded comes back with the same repr and weights and
predicts the same; each is counted exactly by the guard against forged sizes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.io import LAYERS, build_model, describe_model
from chainrule.io._codec import decode

F64 = np.float64


def _normal(*shape: int) -> np.ndarray:
    return np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)


def _in_sequential(layer: nn.Module) -> nn.Module:
    """A small model holding ``layer``, as a user saves one."""
    return nn.Sequential(nn.Identity(), layer)


# (the model, its inputs): a model of one input is a Sequential holding the layer; one of
# two or three inputs (Bilinear, the distances, attention, decoders) is the layer itself.
Case = tuple[Callable[[], nn.Module], Callable[[], tuple[np.ndarray, ...]]]


def _one(layer: Callable[[], nn.Module], *shape: int) -> Any:
    return pytest.param(
        lambda: _in_sequential(layer()), lambda: (_normal(*shape),), id=repr(layer())
    )


def _many(layer: Callable[[], nn.Module], *shapes: tuple[int, ...]) -> Any:
    return pytest.param(layer, lambda: tuple(_normal(*s) for s in shapes), id=repr(layer()))


def _pooled(shape: tuple[int, ...], *pool: Any, squeeze: bool = False, **options: Any) -> Any:
    """A max pool's output and indices, the inputs of a max unpool (1-d: ``squeeze``)."""
    y, indices = nn.functional.max_pool2d(_normal(*shape), *pool, **options, return_indices=True)
    if squeeze:
        y, indices = y.squeeze(-2), indices.squeeze(-2)
    return y.numpy(), indices.numpy()


def _encoder(norm: bool, **kwargs: Any) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, generator=0, **kwargs)
    dtype = kwargs.get("dtype", np.float32)
    final = nn.LayerNorm(8, eps=1e-4, bias=False, dtype=dtype) if norm else None
    return nn.TransformerEncoder(layer, 2, norm=final, enable_nested_tensor=norm)


def _decoder(norm: bool, **kwargs: Any) -> nn.TransformerDecoder:
    layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, generator=0, **kwargs)
    final = nn.LayerNorm(8, dtype=kwargs.get("dtype", np.float32)) if norm else None
    return nn.TransformerDecoder(layer, 3, norm=final)


CASES = [
    _one(lambda: nn.ConvTranspose1d(3, 4, 3, generator=0), 2, 3, 5),
    _one(
        lambda: nn.ConvTranspose1d(
            4, 6, 2, stride=2, padding=1, output_padding=1, groups=2, bias=False, generator=0
        ),
        2,
        4,
        5,
    ),
    _one(lambda: nn.ConvTranspose1d(2, 3, 3, dilation=2, dtype=F64, generator=0), 1, 2, 4),
    _one(lambda: nn.ConvTranspose2d(3, 4, 3, generator=0), 2, 3, 4, 5),
    _one(
        lambda: nn.ConvTranspose2d(
            4,
            6,
            (2, 3),
            stride=(2, 1),
            padding=(1, 0),
            output_padding=(1, 0),
            groups=2,
            bias=False,
            dilation=(1, 2),
            dtype=F64,
            generator=0,
        ),
        2,
        4,
        3,
        4,
    ),
    _one(lambda: nn.Unfold(kernel_size=(2, 3)), 1, 2, 5, 6),
    _one(lambda: nn.Unfold(2, dilation=(1, 2), padding=1, stride=2), 1, 2, 5, 6),
    _one(lambda: nn.Fold(output_size=(4, 5), kernel_size=2), 1, 12, 12),
    _one(lambda: nn.Fold(4, (2, 2), stride=2), 1, 12, 4),
    _one(lambda: nn.ZeroPad1d(2), 1, 2, 5),
    _one(lambda: nn.ZeroPad1d((1, 0)), 1, 2, 5),
    _one(lambda: nn.ZeroPad2d((1, 0, 2, 1)), 1, 2, 4, 5),
    _one(lambda: nn.ConstantPad1d((0, 2), 3.5), 1, 2, 5),
    _one(lambda: nn.ConstantPad2d(1, -1.0), 1, 2, 4, 5),
    _one(lambda: nn.ReflectionPad1d((2, 1)), 1, 2, 5),
    _one(lambda: nn.ReflectionPad2d(1), 1, 2, 4, 5),
    _one(lambda: nn.ReplicationPad1d(3), 1, 2, 5),
    _one(lambda: nn.ReplicationPad2d((0, 1, 2, 3)), 1, 2, 4, 5),
    _one(lambda: nn.CircularPad1d((1, 2)), 1, 2, 5),
    _one(lambda: nn.CircularPad2d(1), 1, 2, 4, 5),
    _one(lambda: nn.PixelShuffle(2), 1, 8, 3, 3),
    _one(lambda: nn.PixelUnshuffle(2), 1, 2, 4, 6),
    _one(lambda: nn.UpsamplingNearest2d(scale_factor=2), 1, 2, 3, 4),
    _one(lambda: nn.UpsamplingNearest2d(size=(3, 5)), 1, 2, 3, 4),
    _one(lambda: nn.UpsamplingBilinear2d(size=3), 1, 2, 2, 4),
    _one(lambda: nn.UpsamplingBilinear2d(scale_factor=(2.0, 3.0)), 1, 2, 2, 3),
    _one(lambda: nn.MaxPool2d(3, 2, 1, return_indices=True, ceil_mode=True), 2, 3, 5, 6),
    _one(lambda: nn.MaxPool1d(2, return_indices=True), 2, 3, 7),
    pytest.param(
        lambda: nn.MaxUnpool2d((2, 3), padding=(0, 1)),
        lambda: _pooled((2, 3, 4, 4), (2, 3), padding=(0, 1)),
        id="MaxUnpool2d(kernel_size=(2, 3), stride=(2, 3), padding=(0, 1))",
    ),
    pytest.param(
        lambda: nn.MaxUnpool1d(3, 2),
        lambda: _pooled((2, 3, 1, 7), (1, 3), (1, 2), squeeze=True),
        id="MaxUnpool1d(kernel_size=(3,), stride=(2,), padding=(0,))",
    ),
    _one(lambda: nn.AdaptiveMaxPool1d(3), 2, 3, 7),
    _one(lambda: nn.AdaptiveMaxPool2d((2, None)), 2, 3, 5, 4),
    _one(lambda: nn.AdaptiveMaxPool2d(3), 2, 3, 5, 4),
    _one(lambda: nn.AdaptiveMaxPool1d(2, return_indices=True), 2, 3, 7),
    _one(lambda: nn.InstanceNorm1d(3), 2, 3, 5),
    _one(lambda: nn.InstanceNorm1d(3, eps=1e-3, affine=True), 2, 3, 5),
    _one(
        lambda: nn.InstanceNorm1d(3, momentum=0.3, affine=True, track_running_stats=True), 2, 3, 5
    ),
    _one(lambda: nn.InstanceNorm1d(3, momentum=None, track_running_stats=True), 2, 3, 5),
    _one(lambda: nn.InstanceNorm2d(3, affine=True, bias=False, dtype=F64), 2, 3, 4, 5),
    _one(
        lambda: nn.InstanceNorm2d(3, affine=True, track_running_stats=True, dtype=F64), 2, 3, 4, 5
    ),
    _one(lambda: nn.RMSNorm(4), 2, 3, 4),
    _one(lambda: nn.RMSNorm([3, 4], eps=1e-3, elementwise_affine=False), 2, 3, 4),
    _one(lambda: nn.RMSNorm((4,), dtype=F64), 2, 4),
    _one(lambda: nn.LocalResponseNorm(2), 2, 4, 5),
    _one(lambda: nn.LocalResponseNorm(3, alpha=1e-3, beta=0.5, k=2.0), 2, 4, 5, 3),
    _many(lambda: nn.Bilinear(3, 4, 2, generator=0), (5, 3), (5, 4)),
    _many(lambda: nn.Bilinear(3, 4, 2, bias=False, dtype=F64, generator=0), (5, 3), (5, 4)),
    _many(lambda: nn.CosineSimilarity(), (5, 3), (5, 3)),
    _many(lambda: nn.CosineSimilarity(dim=0, eps=1e-6), (5, 3), (5, 3)),
    _many(lambda: nn.PairwiseDistance(), (5, 3), (5, 3)),
    _many(lambda: nn.PairwiseDistance(p=1.0, eps=0.0, keepdim=True), (5, 3), (5, 3)),
    _many(lambda: nn.MultiheadAttention(8, 2, generator=0), (4, 2, 8), (6, 2, 8), (6, 2, 8)),
    _many(
        lambda: nn.MultiheadAttention(
            8,
            2,
            dropout=0.1,
            bias=False,
            add_bias_kv=True,
            add_zero_attn=True,
            kdim=5,
            vdim=3,
            batch_first=True,
            dtype=F64,
            generator=0,
        ),
        (2, 4, 8),
        (2, 6, 5),
        (2, 6, 3),
    ),
    _one(lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, generator=0), 4, 2, 8),
    _one(
        lambda: nn.TransformerEncoderLayer(
            8,
            4,
            dim_feedforward=6,
            dropout=0.0,
            activation="gelu",
            layer_norm_eps=1e-6,
            batch_first=True,
            norm_first=True,
            bias=False,
            dtype=F64,
            generator=0,
        ),
        2,
        4,
        8,
    ),
    _many(
        lambda: nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, generator=0),
        (4, 2, 8),
        (6, 2, 8),
    ),
    _many(
        lambda: nn.TransformerDecoderLayer(
            8,
            2,
            dim_feedforward=16,
            activation="gelu",
            batch_first=True,
            norm_first=True,
            bias=False,
            dtype=F64,
            generator=0,
        ),
        (2, 4, 8),
        (2, 6, 8),
    ),
    _one(lambda: _encoder(norm=False), 4, 2, 8),
    _one(lambda: _encoder(norm=True, batch_first=True, dtype=F64), 2, 4, 8),
    _many(lambda: _decoder(norm=False), (4, 2, 8), (6, 2, 8)),
    _many(lambda: _decoder(norm=True, norm_first=True, bias=False), (4, 2, 8), (6, 2, 8)),
    _one(lambda: nn.RReLU(0.1, 0.3, generator=0), 2, 3),
    _one(lambda: nn.RReLU(inplace=True), 2, 3, 4),
    _one(nn.Softmax2d, 2, 3, 4, 5),
    _one(lambda: nn.Dropout1d(0.3, generator=0), 2, 3, 4),
    _one(lambda: nn.AlphaDropout(0.2, inplace=True), 2, 3),
    _one(lambda: nn.FeatureAlphaDropout(0.4, generator=0), 2, 3, 4, 4),
    _one(lambda: nn.LPPool2d(2, 3), 2, 3, 6, 7),
    _one(lambda: nn.LPPool2d(1.5, (2, 3), stride=(1, 2), ceil_mode=True), 2, 3, 6, 7),
    _one(lambda: nn.LPPool2d(float("inf"), 2, 1), 2, 3, 4, 5),
    _one(lambda: nn.LPPool1d(3, 2), 2, 3, 7),
    _one(lambda: nn.LPPool1d(-float("inf"), (3,), stride=(2,), ceil_mode=True), 2, 3, 8),
    _one(lambda: nn.ChannelShuffle(2), 2, 4, 3, 3),
    _one(lambda: nn.ChannelShuffle(3), 2, 6, 5),
]


def _output(model: nn.Module, inputs: tuple[np.ndarray, ...]) -> Any:
    out = model(*inputs)
    return out[0] if isinstance(out, tuple) else out  # attention: (output, weights)


def _train_step(model: nn.Module, inputs: tuple[np.ndarray, ...]) -> None:
    """One step of SGD, which also moves the running statistics of tracking norms."""
    model.train()
    out = _output(model, inputs)
    parameters = list(model.parameters())
    if not parameters:
        return
    (out * out).sum().backward()
    cr.optim.SGD(parameters, lr=0.1).step()


def _assert_same_state(loaded: nn.Module, model: nn.Module) -> None:
    expected, got = model.state_dict(), loaded.state_dict()
    assert list(got) == list(expected)
    for key, value in expected.items():
        assert got[key].dtype == value.dtype, key
        np.testing.assert_array_equal(np.asarray(got[key].data), np.asarray(value.data))


def _round_trip(model: nn.Module, path: Path) -> nn.Module:
    cr.save(model, path)
    loaded = cr.load(path)
    assert isinstance(loaded, nn.Module)
    return loaded


@pytest.mark.parametrize(("make", "inputs"), CASES)
def test_round_trip_gives_the_same_model(
    tmp_path: Path,
    make: Callable[[], nn.Module],
    inputs: Callable[[], tuple[np.ndarray, ...]],
) -> None:
    model = make()
    _train_step(model, inputs())
    loaded = _round_trip(model, tmp_path / "model.safetensors")
    assert repr(loaded) == repr(model)
    assert [type(m) for m in loaded.modules()] == [type(m) for m in model.modules()]
    _assert_same_state(loaded, model)
    model.eval()
    loaded.eval()
    with cr.no_grad():
        expected, got = _output(model, inputs()), _output(loaded, inputs())
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got.data, expected.data)


def test_transformer_classifier_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    layer = nn.TransformerEncoderLayer(
        16, 4, dim_feedforward=32, dropout=0.1, batch_first=True, generator=rng
    )
    model = nn.Sequential(
        nn.Linear(6, 16, generator=rng),
        nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(16)),
        nn.Flatten(),
        nn.Linear(5 * 16, 3, generator=rng),
    )
    x, y = _normal(8, 5, 6), np.arange(8) % 3
    optimizer = cr.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(2):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    spec = describe_model(model)
    assert json.loads(json.dumps(spec)) == spec
    assert spec["children"][1][1]["config"]["num_layers"] == 2
    loaded = _round_trip(model, tmp_path / "classifier.safetensors")
    assert repr(loaded) == repr(model)
    _assert_same_state(loaded, model)
    model.eval()
    loaded.eval()
    with cr.no_grad():
        np.testing.assert_array_equal(loaded(x).data, model(x).data)


def _tanh(x: Any) -> Any:
    return x.tanh()


def _differing_layers() -> nn.TransformerEncoder:
    encoder = _encoder(norm=False)
    encoder.layers[1] = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.2)
    return encoder


def _foreign_layer() -> nn.TransformerEncoder:
    encoder = _encoder(norm=False)
    encoder.layers[1] = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16)
    return encoder


def _no_layers() -> nn.TransformerEncoder:
    encoder = _encoder(norm=False)
    encoder.layers = nn.ModuleList()
    return encoder


def _changed_dropout() -> nn.TransformerEncoderLayer:
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    layer.dropout1.p = 0.5
    return layer


def _replaced_linear() -> nn.TransformerEncoderLayer:
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    layer.linear1 = nn.Sequential(nn.Linear(8, 16))  # type: ignore[assignment]
    return layer


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: nn.TransformerEncoderLayer(8, 2, 16, activation=_tanh),
            r"TransformerEncoderLayer at '1' with activation=<function _tanh .*, a callable "
            r"other than chainrule's relu and gelu; it is a custom module",
        ),
        (
            lambda: nn.TransformerEncoder(
                nn.TransformerEncoderLayer(8, 2, 16, activation=_tanh), 2
            ),
            r"TransformerEncoder at '1' with activation=<function _tanh",
        ),
        (
            lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 1, nn.RMSNorm(8)),
            r"TransformerDecoder at '1' with norm a RMSNorm, not a LayerNorm or None",
        ),
        (
            _differing_layers,
            r"TransformerEncoder at '1' with layers.1 configured unlike layers.0",
        ),
        (
            _foreign_layer,
            r"TransformerEncoder at '1' with layers.1 a TransformerDecoderLayer, not a "
            r"TransformerEncoderLayer",
        ),
        (_no_layers, r"TransformerEncoder at '1' with no layers"),
        (
            _changed_dropout,
            r"TransformerEncoderLayer at '1' to hold the submodules its arguments build, got "
            r"submodules changed after it was built",
        ),
        (
            _replaced_linear,
            r"TransformerEncoderLayer at '1' to hold the submodules its constructor built, got "
            r"one replaced",
        ),
    ],
    ids=[
        "activation",
        "stack activation",
        "norm",
        "differing layers",
        "foreign layer",
        "no layers",
        "changed",
        "replaced",
    ],
)
def test_undescribable_transformers_are_refused(
    tmp_path: Path, make: Callable[[], nn.Module], match: str
) -> None:
    model = _in_sequential(make())
    with pytest.raises(ValueError, match=f"describe_model: expected .*{match}"):
        describe_model(model)
    # Saved with its weights only, with a warning; loading it as a model says why.
    path = tmp_path / "custom.safetensors"
    with pytest.warns(
        UserWarning, match=f"save: wrote the weights without the architecture.*{match}"
    ):
        cr.save(model, path)
    with pytest.raises(ValueError, match=match):
        cr.load(path)


def test_nested_configs_are_checked_with_their_path() -> None:
    spec = describe_model(_encoder(norm=True))
    spec["config"]["encoder_layer"]["nhead"] = "2"
    with pytest.raises(
        ValueError,
        match=r"expected nhead of kind 'count' \(count: an int >= 1 and < 2\*\*31\) for the "
        r"TransformerEncoderLayer at "
        r"'encoder_layer', got '2'",
    ):
        build_model(spec)
    spec = describe_model(_encoder(norm=True))
    del spec["config"]["norm"]["eps"]
    with pytest.raises(ValueError, match=r"arguments .* for the LayerNorm at 'norm', got"):
        build_model(spec)
    spec = describe_model(_encoder(norm=True))
    spec["config"]["norm"] = [8]
    with pytest.raises(ValueError, match=r"expected norm of kind 'layer:LayerNorm\?'"):
        build_model(spec)


def test_files_of_default_stacks_keep_their_arguments() -> None:
    """PyTorch's switches without effect are written only when not the default."""
    assert {"enable_nested_tensor", "mask_check"}.isdisjoint(
        describe_model(_encoder(norm=True))["config"]
    )
    config = describe_model(_encoder(norm=False))["config"]
    assert config["enable_nested_tensor"] is False
    assert "mask_check" not in config


# Every entry of the table, several for those whose count depends on their arguments.
SAMPLES: list[Callable[[], nn.Module]] = [
    lambda: nn.Linear(3, 4),
    lambda: nn.Linear(3, 4, bias=False, dtype=F64),
    nn.Identity,
    nn.Flatten,
    nn.Dropout,
    lambda: nn.BatchNorm1d(3),
    lambda: nn.BatchNorm1d(3, affine=False, track_running_stats=False),
    lambda: nn.BatchNorm2d(3, bias=False),
    lambda: nn.LayerNorm([2, 3]),
    lambda: nn.LayerNorm(3, bias=False),
    lambda: nn.Embedding(5, 2),
    nn.ReLU,
    nn.LeakyReLU,
    nn.ELU,
    nn.SELU,
    nn.GELU,
    nn.SiLU,
    nn.Softplus,
    nn.Sigmoid,
    nn.Tanh,
    nn.Hardtanh,
    nn.Softmax,
    nn.LogSoftmax,
    nn.ReLU6,
    nn.Hardsigmoid,
    nn.Hardswish,
    nn.Mish,
    nn.LogSigmoid,
    nn.Softsign,
    nn.Tanhshrink,
    nn.CELU,
    lambda: nn.Threshold(0.1, 0.0),
    nn.Hardshrink,
    nn.Softshrink,
    nn.GLU,
    nn.Softmin,
    lambda: nn.PReLU(3),
    lambda: nn.Conv2d(4, 6, (2, 3), groups=2),
    lambda: nn.Conv1d(3, 4, 3, bias=False),
    lambda: nn.MaxPool2d(2),
    lambda: nn.AvgPool2d(2),
    lambda: nn.AdaptiveAvgPool2d(2),
    lambda: nn.MaxPool1d(2),
    lambda: nn.AvgPool1d(2),
    lambda: nn.AdaptiveAvgPool1d(2),
    lambda: nn.GroupNorm(2, 4),
    nn.Dropout2d,
    lambda: nn.Unflatten(1, (2, 2)),
    lambda: nn.RNN(3, 4, num_layers=2),
    lambda: nn.GRU(3, 4, bidirectional=True, bias=False),
    lambda: nn.LSTM(3, 4, num_layers=2, proj_size=2, bidirectional=True),
    lambda: nn.RNNCell(3, 4),
    lambda: nn.GRUCell(3, 4),
    lambda: nn.LSTMCell(3, 4, bias=False),
    lambda: nn.Upsample(scale_factor=2),
    lambda: nn.Upsample(size=(3, 4), mode="bicubic", align_corners=True),
    lambda: nn.Upsample(scale_factor=0.5, mode="area"),
    lambda: nn.Upsample(scale_factor=1.5, mode="nearest-exact", recompute_scale_factor=True),
    lambda: nn.UpsamplingNearest2d(size=3),
    lambda: nn.UpsamplingBilinear2d(scale_factor=2),
    lambda: nn.ConvTranspose1d(4, 6, 3, groups=2),
    lambda: nn.ConvTranspose2d(4, 6, (2, 3), groups=2, bias=False),
    lambda: nn.ConvTranspose2d(3, 5, 2),
    lambda: nn.Unfold(2),
    lambda: nn.Fold(4, 2),
    lambda: nn.ZeroPad1d(1),
    lambda: nn.ZeroPad2d(1),
    lambda: nn.ConstantPad1d(1, 2.0),
    lambda: nn.ConstantPad2d(1, 2.0),
    lambda: nn.ReflectionPad1d(1),
    lambda: nn.ReflectionPad2d(1),
    lambda: nn.ReplicationPad1d(1),
    lambda: nn.ReplicationPad2d(1),
    lambda: nn.CircularPad1d(1),
    lambda: nn.CircularPad2d(1),
    lambda: nn.PixelShuffle(2),
    lambda: nn.PixelUnshuffle(2),
    lambda: nn.AdaptiveMaxPool1d(2),
    lambda: nn.AdaptiveMaxPool2d(2),
    lambda: nn.MaxPool2d(2, return_indices=True),
    lambda: nn.AdaptiveMaxPool2d((2, None), return_indices=True),
    lambda: nn.MaxUnpool2d(2),
    lambda: nn.MaxUnpool2d((2, 3), stride=1, padding=(1, 0)),
    lambda: nn.MaxUnpool1d(2),
    lambda: nn.InstanceNorm1d(3),
    lambda: nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
    lambda: nn.InstanceNorm2d(3, affine=True, bias=False),
    lambda: nn.InstanceNorm2d(3, track_running_stats=True),
    lambda: nn.RMSNorm([2, 3]),
    lambda: nn.RMSNorm(3, elementwise_affine=False),
    lambda: nn.LocalResponseNorm(2),
    lambda: nn.Bilinear(3, 4, 2),
    lambda: nn.Bilinear(3, 4, 2, bias=False),
    nn.CosineSimilarity,
    nn.PairwiseDistance,
    lambda: nn.MultiheadAttention(8, 2),
    lambda: nn.MultiheadAttention(8, 2, bias=False, add_bias_kv=True, kdim=5, vdim=3),
    lambda: nn.MultiheadAttention(8, 4, add_bias_kv=True, vdim=3),
    lambda: nn.TransformerEncoderLayer(8, 2, 16),
    lambda: nn.TransformerEncoderLayer(8, 2, 16, bias=False),
    lambda: nn.TransformerDecoderLayer(8, 2, 16),
    lambda: nn.TransformerDecoderLayer(8, 2, 12, bias=False),
    lambda: _encoder(norm=False),
    lambda: _encoder(norm=True),
    lambda: _decoder(norm=False),
    lambda: _decoder(norm=True, bias=False),
    lambda: nn.Transformer(8, 2, 2, 1, 16),
    lambda: nn.Transformer(8, 2, 1, 3, 12, bias=False),
    nn.RReLU,
    nn.Softmax2d,
    nn.Dropout1d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
    lambda: nn.EmbeddingBag(5, 2),
    lambda: nn.EmbeddingBag(6, 3, mode="max", include_last_offset=True, padding_idx=2),
    lambda: nn.LPPool1d(2, 3),
    lambda: nn.LPPool2d(2.5, (2, 3), stride=1, ceil_mode=True),
    lambda: nn.ChannelShuffle(4),
]


def test_samples_cover_the_table() -> None:
    assert {type(make()).__name__ for make in SAMPLES} == set(LAYERS)


@pytest.mark.parametrize("make", SAMPLES, ids=lambda make: repr(make()).split("\n")[0])
def test_element_counts_are_exact(make: Callable[[], nn.Module]) -> None:
    """``n_elements`` counts exactly what the built layer holds, so that a file holding as
    many numbers builds, and one holding fewer is refused before anything is allocated."""
    layer = make()
    spec = describe_model(layer)
    config = decode(spec["config"], None, "test")
    held = sum(t.data.size for t in layer.state_dict().values())
    assert LAYERS[spec["type"]].n_elements(config) == held
    rebuilt = build_model(spec, max_elements=held)
    assert sum(t.data.size for t in rebuilt.state_dict().values()) == held
    if held:
        with pytest.raises(ValueError, match="no more numbers than the file holds"):
            build_model(spec, max_elements=held - 1)
