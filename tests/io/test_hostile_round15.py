"""Round 15 of forged model files: ``load`` refuses them quickly, with little memory and a
ValueError naming the file. The builder charges each layer its numbers, their bytes at the
layer's dtype, its state-dict entries and one module of ``MAX_MODULES``; values nest at most
``MAX_NESTING`` deep; float arguments are finite (infinite only where a layer gives an
infinity a meaning); ints are below 2**31; 2-D layers take pairs, not triples."""

from __future__ import annotations

import json
import re
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy

import chainrule as cr
from chainrule import nn
from chainrule.io import build_model, load, read_metadata, save
from chainrule.io.architecture import MAX_MODULES

PEAK_BYTES = 20 * 2**20


def _refused_cheaply(call: Callable[[], Any], pattern: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as info:
            call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert re.search(pattern, str(info.value)), str(info.value)
    assert peak < PEAK_BYTES, f"allocated {peak} bytes before refusing: {info.value}"


def _forge(path: Path, architecture: Any, tensors: dict[str, Any], **document: Any) -> Path:
    text = json.dumps(
        {
            "format": "chainrule.model",
            "format_version": 1,
            "architecture": architecture,
            "metadata": {},
            **document,
        }
    )
    safetensors.numpy.save_file(tensors, str(path), metadata={"chainrule": text})
    return path


def _layer(kind: str, **config: Any) -> dict[str, Any]:
    return {"type": kind, "config": config}


_ENCODER_LAYER = {
    "d_model": 1,
    "nhead": 1,
    "dim_feedforward": 1,
    "dropout": 0.0,
    "activation": "relu",
    "layer_norm_eps": 1e-5,
    "batch_first": False,
    "norm_first": False,
    "bias": False,
    "dtype": "float32",
}
_DEEP_ENCODER = _layer(
    "TransformerEncoder", encoder_layer=_ENCODER_LAYER, num_layers=20_000, norm=None
)
_DEEP_RNN = _layer(
    "RNN",
    input_size=1,
    hidden_size=1,
    num_layers=100_000,
    bias=False,
    batch_first=False,
    dropout=0.0,
    dtype="float32",
    nonlinearity="tanh",
)


@pytest.mark.parametrize(
    ("architecture", "pad", "pattern"),
    [
        # 8 numbers a layer, paid for in booleans: a byte each, not the 4 of float32
        (_DEEP_ENCODER, np.zeros(8 * 20_000, np.bool_), "no more bytes of weights"),
        # paid for in float32, but in one tensor, not six a layer
        (_DEEP_ENCODER, np.zeros(8 * 20_000, np.float32), "no more tensors .* needing 120000"),
        (_DEEP_RNN, np.zeros(2 * 100_000, np.bool_), "no more bytes of weights"),
        (_DEEP_RNN, np.zeros(2 * 100_000, np.float32), "no more tensors .* needing 200000"),
    ],
)
def test_deep_stacks_of_tiny_layers_need_their_tensors_in_the_file(
    tmp_path: Path, architecture: dict[str, Any], pad: Any, pattern: str
) -> None:
    path = _forge(tmp_path / "deep.st", architecture, {"pad": pad})
    _refused_cheaply(lambda: load(path), rf"^load: .*'{re.escape(str(path))}'.*{pattern}")


def test_one_byte_of_booleans_cannot_pay_for_eight_of_float64(tmp_path: Path) -> None:
    linear = _layer("Linear", in_features=100, out_features=100, bias=False, dtype="float64")
    path = _forge(tmp_path / "amplified.st", linear, {"weight": np.zeros(10_000, np.uint8)})
    _refused_cheaply(lambda: load(path), "bytes of weights .* needing 80000; the architecture")


def test_more_modules_than_the_cap_are_refused_before_any_is_built() -> None:
    relu = {"type": "ReLU", "config": {}}
    spec = {"type": "Sequential", "children": [[str(i), relu] for i in range(MAX_MODULES + 1)]}
    _refused_cheaply(
        lambda: build_model(spec, max_elements=0),
        rf"at most {MAX_MODULES} layers and containers in all, got more at the top",
    )


def test_models_save_writes_still_load(tmp_path: Path) -> None:
    model = nn.Sequential(
        nn.LSTM(3, 4, num_layers=2, bidirectional=True, generator=0),
        nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8, generator=1), num_layers=2),
        nn.BatchNorm1d(4, dtype="float16"),
        nn.Hardtanh(-float("inf"), 1.0),
        nn.Softplus(threshold=float("inf")),
        nn.PairwiseDistance(p=float("inf")),
        nn.Linear(2, 2, bias=False, dtype="float64", generator=2),
    )
    save(model, tmp_path / "m.st")
    restored = load(tmp_path / "m.st")
    assert repr(restored) == repr(model)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(restored.state_dict()[key].data, value.data)


def _deep_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def _raw_document(architecture: str, metadata: str = "{}") -> str:
    """A document whose architecture and metadata are JSON text, nested beyond json.dumps."""
    head = '{"format": "chainrule.model", "format_version": 1, "architecture": '
    return head + architecture + ', "metadata": ' + metadata + "}"


def _unflatten_to(size: str) -> str:
    return '{"type": "Unflatten", "config": {"dim": 1, "unflattened_size": ' + size + "}}"


def test_deeply_nested_config_is_a_value_error_naming_the_file(tmp_path: Path) -> None:
    text = _raw_document(_unflatten_to(_deep_list(600)))
    path = tmp_path / "deep.st"
    safetensors.numpy.save_file({}, str(path), metadata={"chainrule": text})
    with pytest.raises(ValueError, match=r"^load: .*deep\.st.*nested at most 100 deep"):
        load(path)


def test_deeply_nested_metadata_is_a_value_error_naming_the_file(tmp_path: Path) -> None:
    text = _raw_document('{"type": "ReLU", "config": {}}', '{"x": ' + _deep_list(600) + "}")
    path = tmp_path / "deepmeta.st"
    safetensors.numpy.save_file({}, str(path), metadata={"chainrule": text})
    with pytest.raises(ValueError, match=r"^load: .*deepmeta\.st.*nested at most 100 deep"):
        load(path, with_metadata=True)
    with pytest.raises(ValueError, match=r"^read_metadata: .*deepmeta\.st.*nested at most 100"):
        read_metadata(path)


def test_deep_tuple_tags_give_a_short_message(tmp_path: Path) -> None:
    config = '{"$tuple": ' * 900 + "[]" + "}" * 900
    text = _raw_document(_unflatten_to(config))
    path = tmp_path / "tuple.st"
    safetensors.numpy.save_file({}, str(path), metadata={"chainrule": text})
    with pytest.raises(ValueError, match=r"malformed '\$tuple' entry: a dict of 1 entries$"):
        load(path)


def test_save_refuses_what_load_would_not_read(tmp_path: Path) -> None:
    deep: list[Any] = []
    for _ in range(150):
        deep = [deep]
    with pytest.raises(TypeError, match="save: expected values nested at most 100 deep"):
        save(nn.ReLU(), tmp_path / "m.st", metadata={"deep": deep})


@pytest.mark.parametrize(
    ("layer", "pattern"),
    [
        (_layer("Dropout", p={"$float": "nan"}), "p of kind 'float' \\(float: a finite number"),
        (_layer("LeakyReLU", negative_slope={"$float": "inf"}), "negative_slope of kind 'float'"),
        (_layer("Threshold", threshold=0.0, value=10**400), "value of kind 'float\\+inf\\+nan'"),
        (_layer("Threshold", threshold=10**400, value=0.0), "threshold of kind 'float\\+inf'"),
        (_layer("Hardtanh", min_val=-(10**400), max_val=1.0), "min_val of kind 'float\\+inf'"),
        (_layer("Hardtanh", min_val={"$float": "nan"}, max_val=1.0), "min_val of kind"),
        (
            _layer("LocalResponseNorm", size=2, alpha={"$float": "nan"}, beta=0.75, k=1.0),
            "alpha of kind 'float'",
        ),
        (
            _layer(
                "Upsample",
                size=None,
                scale_factor=[{"$float": "inf"}],
                mode="nearest",
                recompute_scale_factor=None,
            ),
            "scale_factor of kind",
        ),
        # sizes used only when called
        (_layer("ZeroPad1d", padding=[10**10, 0]), "padding of kind 'ints' \\(ints: ints of"),
        (
            _layer(
                "Fold", output_size=[10**12, 10**12], kernel_size=1, dilation=1, padding=0, stride=1
            ),
            "output_size of kind 'size\\|list:size' \\(size: an int >= 0 and < 2\\*\\*31\\)",
        ),
        (_layer("PixelShuffle", upscale_factor=10**18), "upscale_factor of kind 'count'"),
        (_layer("Softmax", dim=10**30), "dim of kind 'int\\?' \\(int: an int of magnitude"),
        # 2-D layers take pairs
        (
            _layer("Fold", output_size=4, kernel_size=[2, 2, 2], dilation=1, padding=0, stride=1),
            "Fold: kernel_size must be an int or a pair",
        ),
        (
            _layer("Fold", output_size=[4, 4, 4], kernel_size=2, dilation=1, padding=0, stride=1),
            "Fold: output_size must be an int or a pair",
        ),
        (
            _layer("Unfold", kernel_size=2, dilation=[1, 1, 1], padding=0, stride=1),
            "Unfold: dilation must be an int or a pair",
        ),
        (
            _layer(
                "AvgPool1d",
                kernel_size=[2, 3],
                stride=[2],
                padding=[0],
                ceil_mode=False,
                count_include_pad=True,
            ),
            "AvgPool1d: kernel_size must be a positive integer or a 1-tuple",
        ),
    ],
)
def test_forged_arguments_are_refused(tmp_path: Path, layer: Any, pattern: str) -> None:
    path = _forge(tmp_path / "arguments.st", layer, {})
    with pytest.raises(ValueError, match=rf"^load: .*arguments\.st.*{pattern}"):
        load(path)


def test_infinite_bounds_keep_their_meaning() -> None:
    x = cr.tensor([[-5.0, 0.5, 5.0]])
    clamp = load_round_trip(nn.Hardtanh(-float("inf"), 1.0))
    np.testing.assert_array_equal(clamp(x).data, [[-5.0, 0.5, 1.0]])


def load_round_trip(model: nn.Module) -> nn.Module:
    from chainrule.io import describe_model

    return build_model(json.loads(json.dumps(describe_model(model), allow_nan=False)))
