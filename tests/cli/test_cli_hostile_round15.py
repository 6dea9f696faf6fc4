"""Round 15 of forged model files at the command line: a network that asks for more memory
than there is when called, one whose probe row comes out infinite, and a config nested too
deep are each refused in one line, without a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cli_helpers
import numpy as np
import pandas as pd
import pytest
import safetensors.numpy
from safetensors import safe_open

run = cli_helpers.main_in_folder
Main = Callable[..., SimpleNamespace]


@pytest.fixture
def trained(run: Main, tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": x[:, 0] - x[:, 1]})
    frame.to_csv(tmp_path / "data.csv", index=False)
    result = run("train", "data.csv", "--target", "y", "--epochs", "1", "-o", "m.st", "--quiet")
    assert result.returncode == 0, result.stderr
    return tmp_path / "m.st"


def _forge(path: Path, append: list[dict[str, Any]], replace: str | None = None) -> None:
    """Append layers to the trained network (or splice raw JSON text for ``"DEEP"``)."""
    with safe_open(str(path), "np") as file:
        text = file.metadata()["chainrule"]
    tensors = safetensors.numpy.load_file(str(path))
    document = json.loads(text)
    children = document["architecture"]["children"]
    for layer in append:
        children.append([str(len(children)), layer])
    text = json.dumps(document)
    if replace is not None:
        text = text.replace('"DEEP"', replace)
    safetensors.numpy.save_file(tensors, str(path), metadata={"chainrule": text})


def _one_line(result: SimpleNamespace) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: "), result.stderr
    return str(lines[0])


def test_a_network_too_large_to_call_is_one_line(run: Main, trained: Path) -> None:
    upsample = {"size": None, "scale_factor": 1e13, "mode": "nearest"}
    _forge(
        trained,
        [
            {"type": "Unflatten", "config": {"dim": 1, "unflattened_size": [1, 1]}},
            {"type": "Upsample", "config": {**upsample, "recompute_scale_factor": None}},
        ],
    )
    line = _one_line(run("predict", "m.st", "data.csv"))
    assert "predict: expected a network that one row can go through in" in line
    assert "MemoryError" in line


def test_a_network_with_infinite_outputs_is_refused(run: Main, trained: Path) -> None:
    # finite arguments, but log(2) / 1e-45 overflows float32
    _forge(trained, [{"type": "Softplus", "config": {"beta": 1e-45, "threshold": 20.0}}])
    line = _one_line(run("info", "m.st"))
    assert "expected finite outputs for one row of zeros" in line


def test_a_config_nested_too_deep_is_one_line(run: Main, trained: Path) -> None:
    unflatten = {"type": "Unflatten", "config": {"dim": 1, "unflattened_size": "DEEP"}}
    _forge(trained, [unflatten], replace="[" * 600 + "]" * 600)
    for command in (("predict", "m.st", "data.csv"), ("info", "m.st")):
        line = _one_line(run(*command))
        assert "nested at most 100 deep" in line


def test_main_turns_memory_and_arithmetic_errors_into_one_line(
    run: Main, trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chainrule.cli import bundle

    def overflowing(self: Any, x: Any) -> Any:
        raise OverflowError("cannot convert float infinity to integer")

    monkeypatch.setattr(bundle.Trained, "outputs", overflowing)
    line = _one_line(run("predict", "m.st", "data.csv"))
    assert "OverflowError" in line
