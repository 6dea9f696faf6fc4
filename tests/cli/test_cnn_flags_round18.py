"""Round 18: ``chainrule train --arch cnn`` builds its network from --hidden, --dropout,
--activation and --no-batch-norm, and ``info`` reports the settings of the network built."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cli_helpers
import pytest
from cli_helpers import Run, succeeds

import chainrule as cr
from chainrule import nn

chainrule = cli_helpers.chainrule
run = cli_helpers.main_in_folder


def _train(chainrule: Run, *flags: str) -> str:
    succeeds(
        chainrule(
            "train", "--dataset", "digits", "--arch", "cnn", "--epochs", "1", "--out",
            "cnn.safetensors", "--quiet", *flags,
        )
    )  # fmt: skip
    return succeeds(chainrule("info", "cnn.safetensors"))


def _settings(info: str) -> str:
    """The ``settings`` block of ``info``, as one line of words."""
    block = info.split("settings", 1)[1].split("features", 1)[0]
    return " ".join(block.split())


def _children(tmp_path: Path) -> list[nn.Module]:
    return list(cr.load(tmp_path / "cnn.safetensors").children())


def test_flags_shape_the_cnn_and_the_stored_settings(chainrule: Run, tmp_path: Path) -> None:
    info = _train(
        chainrule, "--hidden", "32,16", "--dropout", "0.1", "--activation", "tanh",
        "--no-batch-norm",
    )  # fmt: skip
    layers = _children(tmp_path)
    assert not any(isinstance(m, nn.BatchNorm2d | nn.ReLU) for m in layers)
    assert sum(isinstance(m, nn.Tanh) for m in layers) == 4  # two convolutions, two hidden
    linears = [(m.in_features, m.out_features) for m in layers if isinstance(m, nn.Linear)]
    assert linears == [(256, 32), (32, 16), (16, 10)]
    assert [m.p for m in layers if isinstance(m, nn.Dropout)] == [0.1, 0.1]
    settings = _settings(info)
    for words in ("activation tanh", "batch_norm no", "dropout 0.1", "hidden 32,16"):
        assert words in settings, (words, settings)


def test_default_cnn_settings_describe_the_network_built(chainrule: Run, tmp_path: Path) -> None:
    settings = _settings(_train(chainrule))
    layers = _children(tmp_path)
    linears = [(m.in_features, m.out_features) for m in layers if isinstance(m, nn.Linear)]
    assert linears == [(256, 128), (128, 10)]
    assert [m.p for m in layers if isinstance(m, nn.Dropout)] == [0.25]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in layers) == 2
    for words in ("activation relu", "batch_norm yes", "dropout 0.25", "hidden 128 "):
        assert words in settings, (words, settings)


def test_no_hidden_layer_records_no_dropout(chainrule: Run, tmp_path: Path) -> None:
    settings = _settings(_train(chainrule, "--hidden", "none", "--dropout", "0.3"))
    layers = _children(tmp_path)
    assert not any(isinstance(m, nn.Dropout) for m in layers)
    assert [(m.in_features, m.out_features) for m in layers if isinstance(m, nn.Linear)] == [
        (256, 10)
    ]
    assert "dropout 0 " in settings and "hidden none" in settings, settings


def test_hidden_widths_too_large_for_memory_are_a_usage_error(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chainrule.nn.conv

    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(chainrule.nn.conv, "small_cnn", out_of_memory)
    result: SimpleNamespace = run(
        "train", "--dataset", "digits", "--arch", "cnn", "--hidden", "100000000", "--quiet"
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "chainrule: error: train: --hidden 100000000: expected layer widths whose weights fit "
        "in memory, got a convolutional network of 64 inputs that does not"
    )
