"""Acceptance round 11: the command line on messy tables a data analyst brings (stray text
in a numeric target, spreadsheet exports with empty unnamed columns, targets far from zero
or in the billions, category names with commas)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cli_helpers
import numpy as np
import pandas as pd
import pytest
from cli_helpers import Run, succeeds

# Fixtures, taken from cli_helpers (a conftest.py here would break doctest collection).
run = cli_helpers.main_in_folder
chainrule = cli_helpers.chainrule
data_dir = cli_helpers.data_dir

Main = Callable[..., SimpleNamespace]
FAST = ("--epochs", "2", "--patience", "0", "--hidden", "8", "--quiet")


def _fails(result: SimpleNamespace, *fragments: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def _table(stdout: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(stdout), dtype=str, keep_default_na=False)


def test_a_numeric_target_with_one_stray_text_is_refused_and_the_old_model_kept(
    run: Main, data_dir: Path, tmp_path: Path
) -> None:
    """One ``n/a-ish`` among 442 numbers made the target text: 'auto' trained a classifier
    of 215 classes, each number a class, and wrote it over the model at --out."""
    succeeds(run("train", data_dir / "diabetes.csv", "--target", "progression", *FAST))
    saved = (tmp_path / "model.safetensors").read_bytes()
    table = pd.read_csv(data_dir / "diabetes.csv").astype(object)
    table.loc[4, "progression"] = "n/a-ish"
    table.to_csv(tmp_path / "typo.csv", index=False)

    _fails(
        run("train", "typo.csv", "--target", "progression", *FAST),
        "train: --target 'progression': expected numbers to predict or labels of classes, "
        "got numbers but for a value that is not a number: 'n/a-ish' in row 5; ",
        "or pass --task classification",
    )
    assert (tmp_path / "model.safetensors").read_bytes() == saved

    # Told it is a regression, the message names the value and its row too.
    _fails(
        run("train", "typo.csv", "--target", "progression", "--task", "regression", *FAST),
        "train: --target 'progression': expected numbers for a regression target, got text "
        "('n/a-ish' in row 5)",
    )
    # A missing value written as a marker is no stray text: the row is left out.
    table.loc[4, "progression"] = "?"
    table.to_csv(tmp_path / "marked.csv", index=False)
    result = run("train", "marked.csv", "--target", "progression", *FAST[:-1])
    succeeds(result)
    assert "left out 1 rows without a 'progression' value" in result.stderr
    assert "regression of 'progression'" in result.stderr

    # Ratings 1 to 3 and one text are classes whichever way they are read: no refusal.
    ratings = pd.DataFrame({"x": np.arange(31.0), "rating": ["1", "2", "3"] * 10 + ["unsure"]})
    ratings.to_csv(tmp_path / "ratings.csv", index=False)
    result = run("train", "ratings.csv", "--target", "rating", "--val-split", "0", *FAST[:-1])
    succeeds(result)
    assert "classification into 4 classes" in result.stderr


def test_a_spreadsheet_export_with_empty_unnamed_columns_reads(
    run: Main, data_dir: Path, tmp_path: Path
) -> None:
    """Lines ending in ``,,`` (two untouched spreadsheet columns) were refused: "expected
    distinct column names, got '' more than once", and no flag could leave them out."""
    lines = (data_dir / "iris.csv").read_text().splitlines()
    (tmp_path / "export.csv").write_text("".join(f"{line},,\r\n" for line in lines))
    result = run("train", "export.csv", "--target", "species", *FAST[:-1])
    succeeds(result)
    assert "train: left out column '': it has no values" in result.stderr
    assert "from 4 columns (4 numeric, 0 categorical) -> 4 inputs" in result.stderr
    predicted = _table(succeeds(run("predict", "model.safetensors", "export.csv")))
    assert len(predicted) == 150
    assert set(predicted["prediction"]) <= {"setosa", "versicolor", "virginica"}
    scores = succeeds(run("evaluate", "model.safetensors", "export.csv"))
    assert scores.startswith("rows      150\n")

    # pandas's index (an unnamed column of row numbers) and an empty unnamed column
    frame = pd.read_csv(data_dir / "iris.csv")
    text = "".join(f"{line},\n" for line in frame.to_csv().splitlines())
    (tmp_path / "indexed.csv").write_text(text)
    result = run("train", "indexed.csv", "--target", "species", *FAST[:-1])
    succeeds(result)
    assert "left out column '': it has no name and numbers the rows" in result.stderr


def test_two_unnamed_columns_with_values_ask_for_names(run: Main, tmp_path: Path) -> None:
    (tmp_path / "unnamed.csv").write_text("a,,,y\n1,2,3,x\n4,5,,z\n")
    _fails(
        run("train", "unnamed.csv", "--target", "y", *FAST),
        "train: expected a name for each column of 'unnamed.csv' that holds values, got 2 "
        "columns without one; name them in the header line",
    )


def _right_edges(line: str) -> list[int]:
    """Where each blank-separated word of ``line`` ends."""
    return [
        i + 1 for i, c in enumerate(line) if c != " " and (i + 1 == len(line) or line[i + 1] == " ")
    ]


def test_the_metrics_table_stays_aligned_for_a_target_in_the_billions(
    run: Main, data_dir: Path, tmp_path: Path
) -> None:
    """Errors like 47806355755.6069 pushed each row's numbers out from under the header."""
    table = pd.read_csv(data_dir / "diabetes.csv")
    table["progression"] *= 1e9
    table.to_csv(tmp_path / "big.csv", index=False)
    stdout = succeeds(run("train", "big.csv", "--target", "progression", *FAST))
    lines = stdout.splitlines()[:3]
    assert lines[0].split() == ["rmse", "mae", "r2"]
    assert float(lines[1].split()[1]) > 1e9
    assert _right_edges(lines[1])[1:] == _right_edges(lines[0])
    assert _right_edges(lines[2])[1:] == _right_edges(lines[0])

    info = succeeds(run("info", "model.safetensors")).splitlines()
    header = info.index("metrics") + 1
    assert _right_edges(info[header + 1])[1:] == _right_edges(info[header])


def test_predictions_keep_the_digits_of_a_target_far_from_zero(run: Main, tmp_path: Path) -> None:
    """Readings of 1e9 + a thousandth were all written '1000000000' (7 significant digits):
    the predictions carried nothing of what evaluate scored."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    table = pd.DataFrame({"x": x, "reading": [f"{1e9 + 0.001 * v:.6f}" for v in x]})
    table.to_csv(tmp_path / "readings.csv", index=False)
    succeeds(run("train", "readings.csv", "--target", "reading", "--epochs", "40", "--quiet"))
    predicted = _table(succeeds(run("predict", "model.safetensors", "readings.csv")))
    values = predicted["prediction"].astype(float).to_numpy()
    assert len(np.unique(values)) > 100
    rmse = float(np.sqrt(np.mean((values - table["reading"].astype(float)) ** 2)))
    scores = succeeds(run("evaluate", "model.safetensors", "readings.csv", "--json"))
    assert rmse == pytest.approx(pd.read_json(io.StringIO(scores), typ="series")["rmse"], rel=0.01)
    assert rmse < 0.0005  # the spread of the readings is 0.001


def test_a_target_near_1e200_writes_a_model_that_predicts(chainrule: Run, tmp_path: Path) -> None:
    """The target's std overflowed to inf: train wrote a model file that every command then
    called corrupt."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=40)
    table = pd.DataFrame({"x": x, "y": [f"{v * 1e200:.6e}" for v in x]})
    table.to_csv(tmp_path / "huge.csv", index=False)
    assert chainrule("train", "huge.csv", "--target", "y", *FAST).returncode == 0
    info = succeeds(chainrule("info", "model.safetensors"))
    assert "regression of 'y'" in info
    predicted = _table(succeeds(chainrule("predict", "model.safetensors", "huge.csv")))
    values = predicted["prediction"].astype(float).to_numpy()
    assert np.isfinite(values).all() and len(values) == 40


def test_info_quotes_categories_with_commas_and_cuts_long_ones(run: Main, tmp_path: Path) -> None:
    """``New York, NY, Oslo, Paris, France`` read as five cities; a 300-character name ran
    the line on for 300 characters."""
    long_name = "x" * 300
    cities = ["New York, NY", "Oslo", "Paris, France", long_name] * 10
    table = pd.DataFrame({"city": cities, "y": ["a", "b"] * 20})
    table.to_csv(tmp_path / "cities.csv", index=False)
    succeeds(run("train", "cities.csv", "--target", "y", "--val-split", "0", *FAST))
    info = succeeds(run("info", "model.safetensors"))
    line = next(line for line in info.splitlines() if line.startswith("  city"))
    assert line.endswith(f"categorical  'New York, NY', Oslo, 'Paris, France', {'x' * 37}...")

    flags = ("--target", "city", "--val-split", "0", "--out", "city.safetensors", *FAST)
    succeeds(run("train", "cities.csv", *flags))
    info = succeeds(run("info", "city.safetensors"))
    assert f"into 4 classes: 'New York, NY', Oslo, 'Paris, France', {'x' * 37}...\n" in info


def test_explain_names_a_missing_target_as_missing(
    run: Main, data_dir: Path, tmp_path: Path
) -> None:
    """A row without a label was reported as "got None"."""
    succeeds(run("train", data_dir / "iris.csv", "--target", "species", *FAST))
    table = pd.read_csv(data_dir / "iris.csv")
    table.loc[2, "species"] = "NA"
    table.to_csv(tmp_path / "gap.csv", index=False)
    _fails(
        run("explain", "model.safetensors", "gap.csv", "--rows", "0:4"),
        "expected one of the classes ['setosa', 'versicolor', 'virginica'], got a missing "
        "value in row 2 (counted from 0",
    )


def test_labels_pandas_wrote_as_floats_match_the_same_labels_written_whole(
    run: Main, data_dir: Path, tmp_path: Path
) -> None:
    """pandas writes a 0/1 column with a gap as 0.0/1.0: a model trained on that file
    refused the clean file's 0 and 1 ("got none of them (such as '1')")."""
    table = pd.read_csv(data_dir / "cancer.csv")
    gappy = table.astype({"diagnosis": float})
    gappy.loc[3, "diagnosis"] = np.nan
    gappy.to_csv(tmp_path / "gappy.csv", index=False)
    assert ",1.0\n" in (tmp_path / "gappy.csv").read_text()
    succeeds(run("train", "gappy.csv", "--target", "diagnosis", *FAST))
    on_gappy = succeeds(run("evaluate", "model.safetensors", "gappy.csv", "--json"))
    result = run("evaluate", "model.safetensors", data_dir / "cancer.csv", "--json")
    on_clean = pd.read_json(io.StringIO(succeeds(result)), typ="series")
    assert "never saw" not in result.stderr
    assert on_clean["rows"] == 569
    # the one row the gappy file lacks moves accuracy by at most 1/568
    accuracy = pd.read_json(io.StringIO(on_gappy), typ="series")["accuracy"]
    assert on_clean["accuracy"] == pytest.approx(accuracy, abs=2 / 568)


def test_drop_takes_a_column_whose_name_holds_a_comma(
    run: Main, data_dir: Path, tmp_path: Path
) -> None:
    """``--drop "Length, cm"`` was split into 'Length' and 'cm' and refused, with the hint
    "did you mean 'Length, cm'?": the very name given."""
    table = pd.read_csv(data_dir / "iris.csv")
    table.columns = ["Length, cm", "Width, cm", "petal", "petal width", "species"]
    table.to_csv(tmp_path / "units.csv", index=False)
    flags = ("units.csv", "--target", "species", "--val-split", "0", *FAST[:-1])
    result = run("train", *flags, "--drop", "Length, cm", "--drop", "petal,petal width")
    succeeds(result)
    assert "from 1 column (1 numeric, 0 categorical) -> 1 input" in result.stderr
    info = succeeds(run("info", "model.safetensors"))
    assert "1 columns -> 1 inputs" in info and "  Width, cm  numeric" in info

    _fails(
        run("train", *flags, "--drop", "Length, cm,petal"),
        "train: --drop: expected columns of 'units.csv', got 'Length' (from 'Length, cm,petal', "
        "split at its commas); a name with a comma in it takes a --drop of its own; did you "
        "mean 'Length, cm'?",
    )


def test_drop_checks_the_columns_of_a_bundled_dataset(run: Main) -> None:
    """With --dataset, a --drop of no column was ignored without a word."""
    _fails(
        run("train", "--dataset", "iris", "--drop", "petal lenght (cm)", *FAST),
        "train: --drop: expected columns of dataset iris, got 'petal lenght (cm)'; did you "
        "mean 'petal length (cm)'",
    )
    result = run("train", "--dataset", "iris", "--drop", "petal length (cm)", *FAST[:-1])
    succeeds(result)
    assert "from 3 columns (3 numeric, 0 categorical)" in result.stderr


def test_batch_size_one_with_batch_norm_says_which_flags_to_change(
    run: Main, data_dir: Path
) -> None:
    """``--batch-size 1`` ended in the layer's own words ("BatchNorm1d: expected more than 1
    value per channel ..."), naming neither flag."""
    flags = ("train", data_dir / "iris.csv", "--target", "species", "--batch-size", "1", *FAST)
    _fails(
        run(*flags),
        "train: --batch-size: expected at least 2 with batch normalization (on by default), "
        "which needs the statistics of a batch, got 1; pass --no-batch-norm",
    )
    assert "model written" in succeeds(run(*flags, "--no-batch-norm"))


def test_column_names_in_another_unicode_form_are_the_same_columns(
    run: Main, data_dir: Path, tmp_path: Path
) -> None:
    """A file whose 'café' is written as 'e' and an accent (as macOS may) was "a table
    without" the column 'café', or "did you mean 'café'?", though both read the same."""
    import unicodedata

    table = pd.read_csv(data_dir / "wine.csv").drop(columns=["id"])
    table = table.rename(columns={"alcohol": "café", "color": "teinte", "cultivar": "cépage"})
    table.to_csv(tmp_path / "composed.csv", index=False)
    table.columns = [unicodedata.normalize("NFD", c) for c in table.columns]
    table.to_csv(tmp_path / "decomposed.csv", index=False)
    assert "café" not in table.columns

    succeeds(run("train", "composed.csv", "--target", "cépage", *FAST))
    on_composed = succeeds(run("evaluate", "model.safetensors", "composed.csv"))
    assert succeeds(run("evaluate", "model.safetensors", "decomposed.csv")) == on_composed
    predicted = succeeds(run("predict", "model.safetensors", "decomposed.csv"))
    assert predicted == succeeds(run("predict", "model.safetensors", "composed.csv"))
    assert run("explain", "model.safetensors", "decomposed.csv").returncode == 0

    # the names typed (composed) find the file's columns (decomposed)
    result = run("train", "decomposed.csv", "--target", "cépage", "--drop", "café", *FAST[:-1])
    succeeds(result)
    assert "classification into 3 classes of 'cépage' from 12 columns" in result.stderr
