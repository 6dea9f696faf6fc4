"""Forged architectures are refused before anything is allocated: every size a layer's
element count multiplies is checked to be an int >= 0 (a count, such as num_layers, an
int >= 1) before counting, so that a negative factor cannot shrink the count below what
the constructor then allocates."""

from __future__ import annotations

import dataclasses
import json
import re
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy

from chainrule import nn
from chainrule.io import LAYERS, build_model, describe_model, load

PEAK_BYTES = 5 * 2**20
"""The most a refused build may allocate: far less than any of the layers asked for."""


def _refused_cheaply(build: Callable[[], Any], pattern: str) -> None:
    """``build()`` raises a ValueError matching ``pattern``, having allocated little."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as info:
            build()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"allocated {peak} bytes before refusing: {info.value}"
    assert re.search(pattern, str(info.value)), str(info.value)


def _spec(model: nn.Module, **config: Any) -> dict[str, Any]:
    """``model``'s description with ``config`` written over its arguments (a dotted name
    reaches into a nested layer's config)."""
    spec = json.loads(json.dumps(describe_model(model)))
    for name, value in config.items():
        *outer, last = name.split(".")
        target = spec["config"]
        for key in outer:
            target = target[key]
        target[last] = value
    return spec


def _encoder_layer() -> nn.Module:
    return nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, generator=0)


def _decoder_layer() -> nn.Module:
    return nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, generator=0)


def _encoder() -> nn.Module:
    return nn.TransformerEncoder(_encoder_layer(), num_layers=2, enable_nested_tensor=False)


def _decoder() -> nn.Module:
    return nn.TransformerDecoder(_decoder_layer(), num_layers=2)


_SIZE_WORDS = r"size: an int >= 0 and < 2\*\*31"
_COUNT_WORDS = r"count: an int >= 1 and < 2\*\*31"
SIZE = rf"of kind '[^']*size[^']*' \({_SIZE_WORDS}(; {_COUNT_WORDS})?\)"
COUNT = rf"of kind '[^']*count[^']*' \(({_SIZE_WORDS}; )?{_COUNT_WORDS}\)"

FORGED = {
    # The count of each of these is small or negative, while the layer built first would be
    # hundreds of megabytes.
    "encoder layer, negative feedforward": (
        lambda: _spec(_encoder_layer(), d_model=4096, dim_feedforward=-8192),
        f"dim_feedforward {SIZE}",
    ),
    "decoder layer, negative feedforward": (
        lambda: _spec(_decoder_layer(), d_model=4096, dim_feedforward=-8192),
        f"dim_feedforward {SIZE}",
    ),
    "encoder layer, negative width": (
        lambda: _spec(_encoder_layer(), d_model=-4096, nhead=1),
        f"d_model {SIZE}",
    ),
    "encoder layer, no heads": (lambda: _spec(_encoder_layer(), nhead=0), f"nhead {COUNT}"),
    "encoder, negative layers": (
        lambda: _spec(_encoder(), num_layers=-1, **{"encoder_layer.d_model": 4096}),
        f"num_layers {COUNT}",
    ),
    "encoder, no layers": (
        lambda: _spec(_encoder(), num_layers=0, **{"encoder_layer.d_model": 4096}),
        f"num_layers {COUNT}",
    ),
    "decoder, negative layers": (
        lambda: _spec(_decoder(), num_layers=-3, **{"decoder_layer.d_model": 4096}),
        f"num_layers {COUNT}",
    ),
    "decoder, no layers": (
        lambda: _spec(_decoder(), num_layers=0, **{"decoder_layer.d_model": 4096}),
        f"num_layers {COUNT}",
    ),
    "encoder, nested negative feedforward": (
        lambda: _spec(
            _encoder(), **{"encoder_layer.d_model": 4096, "encoder_layer.dim_feedforward": -8192}
        ),
        f"dim_feedforward {SIZE} for the TransformerEncoderLayer at 'encoder_layer'",
    ),
    "decoder, nested negative feedforward": (
        lambda: _spec(
            _decoder(), **{"decoder_layer.d_model": 4096, "decoder_layer.dim_feedforward": -8192}
        ),
        f"dim_feedforward {SIZE} for the TransformerDecoderLayer at 'decoder_layer'",
    ),
    "encoder, nested negative norm": (
        lambda: _spec(
            nn.TransformerEncoder(_encoder_layer(), 1, norm=nn.LayerNorm(8)),
            **{"norm.normalized_shape": [-4096, -4096]},
        ),
        f"normalized_shape {SIZE}",
    ),
    "attention, negative kdim": (
        lambda: _spec(nn.MultiheadAttention(8, 2, kdim=4, generator=0), embed_dim=4096, kdim=-8191),
        f"kdim {SIZE}",
    ),
    "attention, no heads": (
        lambda: _spec(nn.MultiheadAttention(8, 2, generator=0), num_heads=-2),
        f"num_heads {COUNT}",
    ),
    "LSTM, negative input": (
        lambda: _spec(nn.LSTM(3, 4, generator=0), hidden_size=4096, input_size=-8191),
        f"input_size {SIZE}",
    ),
    "LSTM, negative layers": (
        lambda: _spec(nn.LSTM(3, 4, generator=0), hidden_size=4096, num_layers=-1),
        f"num_layers {COUNT}",
    ),
    "LSTM, negative projection": (
        lambda: _spec(nn.LSTM(3, 4, proj_size=2, generator=0), hidden_size=4096, proj_size=-4095),
        f"proj_size {SIZE}",
    ),
    "GRU cell, negative input": (
        lambda: _spec(nn.GRUCell(3, 4, generator=0), hidden_size=4096, input_size=-4097),
        f"input_size {SIZE}",
    ),
    "Linear, negative width": (
        lambda: _spec(nn.Linear(2, 3, generator=0), in_features=-(10**6), out_features=-(10**6)),
        f"in_features {SIZE}",
    ),
    "Conv2d, negative kernel": (
        lambda: _spec(nn.Conv2d(2, 4, 3, generator=0), kernel_size=[-512, -512]),
        f"kernel_size {SIZE}",
    ),
    "Conv2d, no groups": (lambda: _spec(nn.Conv2d(2, 4, 3, generator=0), groups=0), COUNT),
    "ConvTranspose2d, negative channels": (
        lambda: _spec(nn.ConvTranspose2d(2, 4, 3, generator=0), in_channels=-(10**4)),
        f"in_channels {SIZE}",
    ),
    "Embedding, negative rows": (
        lambda: _spec(nn.Embedding(5, 3, generator=0), num_embeddings=-(10**6), embedding_dim=-64),
        f"num_embeddings {SIZE}",
    ),
    "Bilinear, negative inputs": (
        lambda: _spec(
            nn.Bilinear(2, 3, 4, generator=0), in1_features=-4096, in2_features=-4096, bias=False
        ),
        f"in1_features {SIZE}",
    ),
    "LayerNorm, negative shape": (
        lambda: _spec(nn.LayerNorm(4), normalized_shape=[-4096, -4096]),
        f"normalized_shape {SIZE}",
    ),
    "GroupNorm, no groups": (lambda: _spec(nn.GroupNorm(2, 4), num_groups=0), COUNT),
}


@pytest.mark.parametrize("case", list(FORGED))
def test_negative_sizes_are_refused_before_allocating(case: str) -> None:
    make_spec, pattern = FORGED[case]
    spec = make_spec()
    _refused_cheaply(lambda: build_model(spec, max_elements=100_000), f"build_model: .*{pattern}")
    # Without a budget too: a negative size is never a layer.
    _refused_cheaply(lambda: build_model(spec), pattern)


HUGE = {
    "Linear": lambda: _spec(nn.Linear(2, 3), in_features=10**6, out_features=10**6),
    "LSTM": lambda: _spec(nn.LSTM(3, 4), input_size=10**5, hidden_size=10**5),
    "attention": lambda: _spec(nn.MultiheadAttention(8, 2), embed_dim=10**6),
    "encoder layer": lambda: _spec(_encoder_layer(), d_model=4096, dim_feedforward=10**6),
    "encoder": lambda: _spec(_encoder(), num_layers=10**6),
    "decoder": lambda: _spec(_decoder(), **{"decoder_layer.d_model": 4096}),
    "Conv2d": lambda: _spec(nn.Conv2d(2, 4, 3), out_channels=4096, kernel_size=[512, 512]),
    "Embedding": lambda: _spec(nn.Embedding(5, 3), num_embeddings=10**9),
}


@pytest.mark.parametrize("case", list(HUGE))
def test_huge_sizes_are_refused_by_a_small_budget(case: str) -> None:
    spec = HUGE[case]()
    _refused_cheaply(
        lambda: build_model(spec, max_elements=1000),
        "expected the layers to need no more numbers than the file holds",
    )


def test_zero_sizes_pass_the_kinds_and_reach_the_constructor() -> None:
    """A size may be 0, as PyTorch allows (``nn.Linear(0, 3)``, built since round 19); a
    layer that refuses 0 (``Bilinear``'s in1_features, as PyTorch's) refuses it itself,
    before allocating."""
    assert repr(build_model(_spec(nn.Linear(2, 3), in_features=0))) == repr(nn.Linear(0, 3))
    spec = _spec(nn.Bilinear(2, 2, 3), in1_features=0)
    _refused_cheaply(lambda: build_model(spec), "valid arguments for the Bilinear")


def test_a_forged_file_is_refused_before_allocating(tmp_path: Path) -> None:
    architecture = _spec(_encoder(), num_layers=-1, **{"encoder_layer.d_model": 4096})
    document = {
        "format": "chainrule.model",
        "format_version": 1,
        "chainrule_version": "0.1.0",
        "architecture": architecture,
        "architecture_error": None,
        "metadata": {},
    }
    path = tmp_path / "forged.safetensors"
    arrays = {"w": np.zeros(1000, np.float32)}
    path.write_bytes(safetensors.numpy.save(arrays, metadata={"chainrule": json.dumps(document)}))
    _refused_cheaply(lambda: load(path), f"load: expected .*num_layers {COUNT}")


def test_a_negative_count_is_refused_not_clamped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a table entry leave a factor unchecked, counting refuses a negative total."""
    entry = LAYERS["Linear"]
    loose = {**entry.arguments, "in_features": "int"}
    monkeypatch.setitem(LAYERS, "Linear", dataclasses.replace(entry, arguments=loose))
    spec = _spec(nn.Linear(2, 3), in_features=-(10**6), out_features=4)
    _refused_cheaply(
        lambda: build_model(spec, max_elements=100),
        r"build_model: expected sizes >= 0 for the Linear at the top, got .* which counts "
        r"-3999996 numbers",
    )


def test_files_written_by_describe_still_build() -> None:
    """The kinds tightened only past what the layers themselves accept."""
    models = [
        _encoder(),
        _decoder(),
        nn.LSTM(3, 4, num_layers=2, proj_size=2, bidirectional=True, generator=0),
        nn.Conv2d(4, 6, (1, 3), stride=2, padding=1, groups=2, generator=0),
        nn.ConvTranspose2d(4, 6, 3, padding=1, output_padding=1, dilation=2, generator=0),
        nn.MultiheadAttention(8, 2, kdim=3, vdim=5, generator=0),
        nn.Fold((4, 5), 2),
        nn.Upsample(size=(3, 4)),
        nn.AdaptiveAvgPool2d((2, None)),
        nn.MaxPool1d(3, 1, 1),
    ]
    for model in models:
        spec = describe_model(model)
        held = sum(int(np.prod(v.shape)) for v in model.state_dict().values())
        assert repr(build_model(spec, max_elements=held)) == repr(model)
