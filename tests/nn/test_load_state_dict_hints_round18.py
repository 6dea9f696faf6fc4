"""load_state_dict says how to load what it refuses: a state dict whose keys carry a prefix
(PyTorch's DataParallel saves ``module.0.weight``), and a model passed for its state dict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def _model() -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 2, generator=0), nn.BatchNorm1d(2))


def test_a_prefixed_state_dict_gets_the_way_to_strip_the_prefix() -> None:
    source = {f"module.{k}": v for k, v in _model().state_dict().items()}
    model = nn.Sequential(nn.Linear(3, 2, generator=1), nn.BatchNorm1d(2))
    with pytest.raises(
        RuntimeError,
        match=r"missing keys \['0.weight'.*; unexpected keys \['module.0.weight'.*\. The state "
        r"dict holds the missing keys under the prefix 'module.' \(as PyTorch's DataParallel "
        r"names them\): pass \{k.removeprefix\('module.'\): v for k, v in state_dict.items\(\)\}",
    ):
        model.load_state_dict(source)
    # the hint works as written
    state_dict = source
    model.load_state_dict({k.removeprefix("module."): v for k, v in state_dict.items()})
    np.testing.assert_array_equal(model[0].weight.numpy(), _model()[0].weight.numpy())


def test_a_prefix_hint_needs_every_missing_key_under_the_prefix() -> None:
    source = {f"module.{k}": v for k, v in _model().state_dict().items()}
    del source["module.0.bias"]
    with pytest.raises(RuntimeError, match=r"unexpected keys \[[^]]*\]$"):
        _model().load_state_dict(source)


def test_a_prefixed_file_gets_one_hint_for_the_file(tmp_path: Path) -> None:
    path = tmp_path / "dp.safetensors"
    cr.save({f"module.{k}": v for k, v in _model().state_dict().items()}, path)
    with pytest.raises(RuntimeError) as info:
        cr.load_state_dict_file(_model(), path)
    message = str(info.value)
    assert "The file holds the model's weights under the prefix 'module.'" in message
    assert "The state dict holds" not in message


def test_a_model_passed_for_its_state_dict_is_refused_with_the_fix() -> None:
    with pytest.raises(
        TypeError,
        match=r"load_state_dict: expected a mapping of names to arrays, got Sequential; pass "
        r"model.state_dict\(\)",
    ):
        _model().load_state_dict(_model())  # type: ignore[arg-type]


def test_other_values_are_refused_as_before() -> None:
    with pytest.raises(TypeError, match=r"expected a mapping of names to arrays, got list$"):
        _model().load_state_dict([])  # type: ignore[arg-type]
