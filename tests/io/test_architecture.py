"""The table of built-in layers: complete, exact, and the only thing build_model builds."""

from __future__ import annotations

import inspect
import json
import math
from typing import Any

import numpy as np
import pytest
from layer_zoo import every_layer_model

from chainrule import nn
from chainrule.io import CONTAINERS, LAYERS, build_model, describe_model
from chainrule.io._codec import decode, encode


def test_every_builtin_layer_is_in_the_table() -> None:
    """A layer added to chainrule.nn must be added to the table (losses have no weights)."""
    exported = {
        name
        for name, obj in vars(nn).items()
        if inspect.isclass(obj)
        and issubclass(obj, nn.Module)
        and obj is not nn.Module
        and not name.endswith("Loss")
    }
    # ParameterList and ParameterDict hold parameters for a custom module's own forward,
    # and such a model is saved with its weights and no architecture, as any custom module.
    assert exported == set(LAYERS) | set(CONTAINERS) | {"ParameterList", "ParameterDict"}
    for name, entry in LAYERS.items():
        assert entry.cls is getattr(nn, name)


def test_every_layer_is_described_and_rebuilt_exactly() -> None:
    model = every_layer_model()
    spec = describe_model(model)
    assert json.loads(json.dumps(spec)) == spec  # plain JSON
    rebuilt = build_model(spec)
    assert repr(rebuilt) == repr(model)
    assert [type(m) for m in rebuilt.modules()] == [type(m) for m in model.modules()]


@pytest.mark.parametrize(
    "layer",
    [
        nn.Linear(3, 4),
        nn.Linear(3, 4, bias=False, dtype=np.float64),
        nn.Embedding(5, 2, padding_idx=-1),
        nn.BatchNorm1d(3),
        nn.BatchNorm1d(3, affine=False),
        nn.BatchNorm1d(3, bias=False),
        nn.BatchNorm1d(3, track_running_stats=False),
        nn.BatchNorm1d(3, affine=False, track_running_stats=False),
        nn.LayerNorm([2, 3]),
        nn.LayerNorm(3, bias=False),
        nn.LayerNorm(3, elementwise_affine=False),
    ],
    ids=repr,
)
def test_element_counts_are_exact(layer: nn.Module) -> None:
    """The guard against forged sizes counts what the layer really holds."""
    spec = describe_model(layer)
    config = decode(spec["config"], None, "test")
    held = sum(t.data.size for t in layer.state_dict().values())
    assert LAYERS[spec["type"]].n_elements(config) == held
    build_model(spec, max_elements=held)
    if held == 0:
        return
    with pytest.raises(ValueError, match="no more numbers than the file holds"):
        build_model(spec, max_elements=held - 1)


def test_non_finite_settings_survive_json() -> None:
    spec = describe_model(nn.Sequential(nn.Hardtanh(-math.inf, 3.0)))
    rebuilt: Any = build_model(json.loads(json.dumps(spec, allow_nan=False)))
    assert rebuilt[0].min_val == -math.inf and rebuilt[0].max_val == 3.0


def test_errors() -> None:
    with pytest.raises(TypeError, match="describe_model: expected a chainrule Module, got int"):
        describe_model(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="build_model: max_elements must be >= 0 or None, got -1"):
        build_model({"type": "ReLU", "config": {}}, max_elements=-1)
    leaf = nn.Linear(2, 2)
    leaf.inner = nn.ReLU()
    with pytest.raises(
        ValueError, match=r"Linear at the top to have no submodules, got \['inner'\]"
    ):
        describe_model(leaf)


def test_codec_reports_where_a_bad_value_is() -> None:
    with pytest.raises(TypeError, match=r"here: expected JSON values .* got complex at x\.a\.0"):
        encode({"a": [1j]}, "x", None, "here")
    with pytest.raises(ValueError, match="malformed '\\$float' entry"):
        decode({"$float": "big"}, None, "here")
    with pytest.raises(ValueError, match="expected \\[key, value\\] pairs"):
        decode({"$dict": [[1]]}, None, "here")
    with pytest.raises(ValueError, match="expected hashable keys"):
        decode({"$dict": [[[1], 2]]}, None, "here")
    with pytest.raises(ValueError, match="a 0-d tensor 'a' for a scalar, got shape \\(2,\\)"):
        decode({"$scalar": "a"}, {"a": np.zeros(2)}, "here")
