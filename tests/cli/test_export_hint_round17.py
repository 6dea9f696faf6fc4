"""``chainrule export`` on a model saved from Python names the Python call that exports it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cli_helpers
import pytest

import chainrule as cr
from chainrule import nn

run = cli_helpers.main_in_folder

Main = Callable[..., SimpleNamespace]


def test_export_of_a_python_saved_model_names_to_onnx(run: Main, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    cr.save(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), tmp_path / "conv.safetensors")
    result = run("export", "conv.safetensors", "--output", "conv.onnx")
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("chainrule: error: export: expected a model file written by")
    assert "chainrule.load" in lines[0]
    assert "chainrule.export.to_onnx(model, path, example_input)" in lines[0]
    assert not (tmp_path / "conv.onnx").exists()


def test_predict_on_it_keeps_its_message(run: Main, tmp_path: Path) -> None:
    cr.save(nn.Linear(2, 1), tmp_path / "lin.safetensors")
    (tmp_path / "rows.csv").write_text("a,b\n1,2\n")
    result = run("predict", "lin.safetensors", "rows.csv")
    assert result.returncode == 2
    assert "load it from Python with chainrule.load" in result.stderr
    assert "to_onnx" not in result.stderr
