"""Tables and habits a user brings that the issue does not spell out: a CSV saved by a
spreadsheet set for decimal commas, lines ending in a comma, an identifier column, and the
usual ``--version``; and mistakes that stay one line even where notes come first."""

from __future__ import annotations

import io
from pathlib import Path

import cli_helpers
import pandas as pd
import pytest
from cli_helpers import Run, fails, succeeds

from chainrule import __version__
from chainrule.cli.tables import read_table

# Fixtures, taken from cli_helpers (a conftest.py here would break doctest collection).
chainrule = cli_helpers.chainrule
data_dir = cli_helpers.data_dir

FAST = ("--epochs", "3", "--patience", "0")


def read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def test_a_semicolon_csv_with_decimal_commas(
    chainrule: Run, data_dir: Path, tmp_path: Path
) -> None:
    """What Excel writes in much of Europe: ``5,1;3,5;...``. Its numbers stay numbers, and a
    model trained on the usual CSV predicts the same from it."""
    iris = pd.read_csv(data_dir / "iris.csv")
    iris.to_csv(tmp_path / "iris_eu.csv", sep=";", decimal=",", index=False)
    assert (tmp_path / "iris_eu.csv").read_text().splitlines()[1] == "5,1;3,5;1,4;0,2;setosa"

    succeeds(chainrule("train", "iris_eu.csv", "--target", "species", "--quiet", *FAST))
    info = succeeds(chainrule("info", "model.safetensors"))
    assert "4 columns -> 4 inputs" in info

    common = ("--target", "species", "--quiet", *FAST, "--out", "usual.safetensors")
    succeeds(chainrule("train", data_dir / "iris.csv", *common))
    # The same numbers as the usual CSV's: each column's statistics alike.
    usual_info = succeeds(chainrule("info", "usual.safetensors"))
    numeric = [line for line in info.splitlines() if " numeric " in line]
    assert len(numeric) == 4
    assert numeric == [line for line in usual_info.splitlines() if " numeric " in line]
    usual = succeeds(chainrule("predict", "usual.safetensors", data_dir / "iris.csv", "--proba"))
    european = succeeds(chainrule("predict", "usual.safetensors", "iris_eu.csv", "--proba"))
    assert european == usual


def test_lines_ending_in_a_comma_add_no_column_to_ask_for(
    chainrule: Run, data_dir: Path, tmp_path: Path
) -> None:
    """A trailing comma makes an unnamed empty column: it is left out of the features, so a
    table without it predicts too."""
    lines = (data_dir / "iris.csv").read_text().splitlines()
    (tmp_path / "trailing.csv").write_text("".join(f"{line},\n" for line in lines))
    result = chainrule("train", "trailing.csv", "--target", "species", *FAST)
    succeeds(result)
    assert "train: left out column '': it has no values" in result.stderr
    assert "from 4 columns (4 numeric, 0 categorical) -> 4 inputs" in result.stderr

    predicted = read_csv(succeeds(chainrule("predict", "model.safetensors", data_dir / "iris.csv")))
    assert len(predicted) == 150


def test_an_identifier_column_is_pointed_out(chainrule: Run, data_dir: Path) -> None:
    wine = data_dir / "wine.csv"
    result = chainrule("train", wine, "--target", "cultivar", *FAST)
    succeeds(result)
    assert (
        "train: column 'id' has a different value in every row, like an identifier, and cannot "
        "help predict new rows; --drop id leaves it out"
    ) in result.stderr

    result = chainrule("train", wine, "--target", "cultivar", "--drop", "id", *FAST)
    assert "identifier" not in succeeds(result) + result.stderr


def test_a_single_class_of_text_suggests_no_regression(chainrule: Run, tmp_path: Path) -> None:
    (tmp_path / "one.csv").write_text("a,y\n1,x\n2,x\n3,x\n")
    message = fails(
        chainrule("train", "one.csv", "--target", "y"),
        "train: --target 'y': expected at least 2 classes to tell apart, got 1 ('x')",
    )
    assert "regression" not in message


def test_version(chainrule: Run) -> None:
    result = chainrule("--version")
    assert succeeds(result) == f"chainrule {__version__}\n"


def test_evaluate_reports_a_missing_column_in_one_line(
    chainrule: Run, data_dir: Path, tmp_path: Path
) -> None:
    """The notes about rows without a target or with unknown labels do not come before the
    error about a column the model needs."""
    succeeds(chainrule("train", data_dir / "iris.csv", "--target", "species", "--quiet", *FAST))
    table = pd.read_csv(data_dir / "iris.csv").drop(columns=["petal width (cm)"])
    table.loc[0, "species"] = None
    table.loc[1, "species"] = "unknown"
    table.to_csv(tmp_path / "partial.csv", index=False)
    fails(
        chainrule("evaluate", "model.safetensors", "partial.csv"),
        "evaluate: expected the feature column 'petal width (cm)' that the model was trained "
        "with in 'partial.csv', got a table without it",
    )


def test_a_refused_resume_is_one_line_and_makes_no_folder(
    chainrule: Run, data_dir: Path, tmp_path: Path
) -> None:
    iris = data_dir / "iris.csv"
    common = ("--target", "species", *FAST, "--checkpoint-dir")
    fails(
        chainrule("train", iris, *common, "nowhere", "--resume"),
        "train: --resume: expected a checkpoint in 'nowhere', got none",
    )
    assert not (tmp_path / "nowhere").exists()

    succeeds(chainrule("train", iris, *common, "ck", "--quiet"))
    fails(
        chainrule("train", iris, *common, "ck", "--resume", "--hidden", "8"),
        "train: --resume: expected a checkpoint of this run in 'ck', got one of another network",
    )


@pytest.mark.parametrize("header", ["a|b", "dose;mg", "name\twith tab"])
def test_a_one_column_file_whose_header_holds_another_separator_stays_one_column(
    tmp_path: Path, header: str
) -> None:
    path = tmp_path / "one.csv"
    path.write_text(f"{header}\n1\n2\n")
    frame = read_table(str(path), "train")
    assert list(frame.columns) == [header]
    assert frame[header].tolist() == ["1", "2"]
