"""`--arch cnn` trains a convolutional network; `--diagnostics` writes a gradient-health report."""

from __future__ import annotations

from pathlib import Path

import cli_helpers
from cli_helpers import Run, fails, metrics_table, succeeds

chainrule = cli_helpers.chainrule
data_dir = cli_helpers.data_dir


def test_cnn_on_the_digits_reaches_97_percent(chainrule: Run, tmp_path: Path) -> None:
    out = succeeds(
        chainrule(
            "train",
            "--dataset",
            "digits",
            "--arch",
            "cnn",
            "--epochs",
            "12",
            "--out",
            "cnn.safetensors",
            "--quiet",
        )
    )
    assert metrics_table(out)["test"]["accuracy"] >= 0.97
    info = succeeds(chainrule("info", "cnn.safetensors"))
    assert "Conv2d" in info or "cnn" in info


def test_cnn_needs_square_images(chainrule: Run, data_dir: Path) -> None:
    fails(
        chainrule("train", data_dir / "cancer.csv", "--target", "diagnosis", "--arch", "cnn"),
        "--arch cnn: expected a classification of square one-channel images",
    )
    fails(  # 4 columns make 2x2 images: too small to pool twice
        chainrule("train", data_dir / "iris.csv", "--target", "species", "--arch", "cnn"),
        "train: --arch cnn: expected images of at least 4x4 pixels (16 numeric columns) for "
        "the network's two 2x2 poolings, got 2x2 (4 inputs); use --arch mlp",
    )


def test_diagnostics_report_is_written(chainrule: Run, data_dir: Path, tmp_path: Path) -> None:
    out = succeeds(
        chainrule(
            "train",
            data_dir / "iris.csv",
            "--target",
            "species",
            "--epochs",
            "5",
            "--patience",
            "0",
            "--diagnostics",
            "health.html",
            "--quiet",
        )
    )
    assert "gradient health report in health.html" in out
    page = (tmp_path / "health.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
