"""A label written ``1.0`` in a decimal-comma table is a label, not a sign that the table
writes decimal points: ``predict`` reads the features as the model's training table wrote
them whatever the target column holds, and a ``;`` table gets no note claiming otherwise."""

from __future__ import annotations

import io
from pathlib import Path

import cli_helpers
import pandas as pd
from cli_helpers import succeeds

TRAIN = "a\tb\ty\n" + "".join(
    f"{a}\t{b}\t{y}\n"
    for a, b, y in [
        ("0,125", "x", "1"), ("0,5", "y", "1.0"), ("0,75", "x", "0"), ("1,25", "z", "0"),
        ("0,3", "y", "1"), ("0,9", "x", "0"), ("0,1", "z", "1.0"), ("0,6", "y", "0"),
    ]
)  # fmt: skip


def _predict(folder: Path, table: str, name: str) -> tuple[pd.DataFrame, str]:
    (folder / name).write_text(table)
    done = cli_helpers.run_chainrule(
        "predict", "m.safetensors", name, "--proba", "-o", "-", cwd=folder
    )
    return pd.read_csv(io.StringIO(succeeds(done))), done.stderr


def test_a_label_written_with_a_point_leaves_the_features_decimal_commas(tmp_path: Path) -> None:
    (tmp_path / "d.tsv").write_text(TRAIN)
    arguments = ("train", "d.tsv", "--target", "y", "--epochs", "2", "--val-split", "0")
    succeeds(cli_helpers.run_chainrule(*arguments, "-o", "m.safetensors", "--quiet", cwd=tmp_path))
    plain, _ = _predict(tmp_path, "a\tb\ty\n1,250\tx\t1\n2,500\tx\t0\n", "q3.tsv")
    pointed, notes = _predict(tmp_path, "a\tb\ty\n1,250\tx\t1.0\n2,500\tx\t0\n", "q4.tsv")
    pd.testing.assert_frame_equal(plain, pointed)
    assert "decimal point" not in notes


def test_a_semicolon_table_gets_no_note_about_decimal_points(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text(TRAIN.replace("\t", ";"))
    arguments = ("train", "d.csv", "--target", "y", "--epochs", "2", "--val-split", "0")
    succeeds(cli_helpers.run_chainrule(*arguments, "-o", "m.safetensors", "--quiet", cwd=tmp_path))
    done = cli_helpers.run_chainrule("evaluate", "m.safetensors", "d.csv", cwd=tmp_path)
    succeeds(done)
    assert "decimal point" not in done.stderr
