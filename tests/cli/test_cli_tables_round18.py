"""Round 18 at the command line: a model remembers how its training table wrote numbers
(decimal commas), a text cell longer than 128 KiB reads, DATA comes from a pipe or from
standard input (``-``), an unclosed quote is reported where it starts, ``predict -o -``
writes to standard output, ``info`` lists the parts of the table in the run's order, and
the messages for a CNN on a table, a column whose name differs in case, and ``train --out
model.onnx``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cli_helpers
import numpy as np
import pandas as pd
import pytest

from chainrule.cli.tables import read_table
from chainrule.data.tabular import parse_numbers

# Fixtures, taken from cli_helpers (a conftest.py here would break doctest collection).
run = cli_helpers.main_in_folder
chainrule = cli_helpers.chainrule
data_dir = cli_helpers.data_dir

DECIMAL_COMMA = {"decimal": ",", "thousands": "."}  # as a model file records it
Main = Callable[..., SimpleNamespace]
FAST = ("--epochs", "2", "--patience", "0", "--hidden", "8", "--quiet")


def _ok(result: SimpleNamespace | subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return str(result.stdout)


def _fails(result: SimpleNamespace, *fragments: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


# --- 1. the number format of the training table -----------------------------------------


def _decimal_comma_tables(folder: Path) -> None:
    """A tab-separated table written with decimal commas (``1,174`` is 1.174), and two
    tables to predict: one whose ``3,5`` shows its decimal commas, one that does not."""
    rng = np.random.default_rng(0)
    price = rng.uniform(1, 20, 200).round(2)
    weight = rng.uniform(0.1, 3, 200).round(3)
    frame = pd.DataFrame({"price": price, "weight": weight, "y": (10 * weight).round(3)})
    text = frame.to_csv(sep="\t", decimal=",", index=False)
    (folder / "train.tsv").write_text(text)
    (folder / "shows.tsv").write_text("price\tweight\n3,5\t1,250\n")
    (folder / "hides.tsv").write_text("price\tweight\n3\t1,250\n")
    (folder / "points.tsv").write_text("price\tweight\n3\t1.25\n")


def test_predict_reads_decimal_commas_as_the_training_table_wrote_them(
    run: Main, tmp_path: Path
) -> None:
    """``1,250`` in a table that does not show its decimal commas is 1.25, as in the table
    the model learned from, not 1250: the same prediction as for weight 1.25."""
    _decimal_comma_tables(tmp_path)
    _ok(run("train", "train.tsv", "--target", "y", *FAST))
    expected = _ok(run("predict", "model.safetensors", "points.tsv"))
    assert _ok(run("predict", "model.safetensors", "hides.tsv")) == expected
    shown = pd.read_csv(io.StringIO(_ok(run("predict", "model.safetensors", "shows.tsv"))))
    assert shown["prediction"].notna().all()

    info = _ok(run("info", "model.safetensors"))
    assert "numbers       decimal commas, points grouping thousands (1.234,5)" in info
    document = json.loads(_ok(run("info", "model.safetensors", "--json")))
    assert document["number_format"] == {"decimal": ",", "thousands": "."}

    (tmp_path / "scored.tsv").write_text("price\tweight\ty\n3\t1,250\t12,5\n4\t2,125\t21,25\n")
    scored = json.loads(_ok(run("evaluate", "model.safetensors", "scored.tsv", "--json")))
    (tmp_path / "scored_points.tsv").write_text(
        "price\tweight\ty\n3\t1.25\t12.5\n4\t2.125\t21.25\n"
    )
    by_points = json.loads(_ok(run("evaluate", "model.safetensors", "scored_points.tsv", "--json")))
    assert scored == by_points


def test_a_model_without_a_number_format_guesses_as_before(run: Main, data_dir: Path) -> None:
    """A table whose numbers show no format records none; a model file of an earlier
    version lacks the field: the table to predict is read by its own look."""
    _ok(run("train", data_dir / "iris.csv", "--target", "species", *FAST))
    document = json.loads(_ok(run("info", "model.safetensors", "--json")))
    assert "number_format" not in document
    assert "numbers   " not in _ok(run("info", "model.safetensors"))


def test_read_table_takes_a_number_format(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("a\tb\n1,250\t1.234\n2,5\t7\n")
    frame = read_table(str(path), "predict", [], number_format=DECIMAL_COMMA)
    assert parse_numbers(frame["a"].to_numpy(dtype=object)).tolist() == [1.25, 2.5]
    assert parse_numbers(frame["b"].to_numpy(dtype=object)).tolist() == [1234.0, 7.0]
    alone = tmp_path / "alone.tsv"
    alone.write_text("a\tb\n1,250\t1.234\n")
    frame = read_table(str(alone), "predict", [], number_format=DECIMAL_COMMA)
    assert parse_numbers(frame["a"].to_numpy(dtype=object)).tolist() == [1.25]
    assert parse_numbers(frame["b"].to_numpy(dtype=object)).tolist() == [1234.0]
    # A comma-separated table writes decimal points whatever the model's table did.
    comma = tmp_path / "c.csv"
    comma.write_text('a,b\n"1,250",1.234\n')
    frame = read_table(str(comma), "predict", [], number_format=DECIMAL_COMMA)
    assert parse_numbers(frame["b"].to_numpy(dtype=object)).tolist() == [1.234]


# --- 2. a cell longer than the csv module's 128 KiB -------------------------------------


@pytest.mark.parametrize("row", [1, 12])
def test_a_text_cell_over_128_kib_reads(
    run: Main, data_dir: Path, tmp_path: Path, row: int
) -> None:
    """pandas reads such a cell; so does every command (in the first lines, which decide the
    delimiter, or further down)."""
    _ok(run("train", data_dir / "wine.csv", "--target", "cultivar", "--drop", "id", *FAST))
    wine = pd.read_csv(data_dir / "wine.csv").head(20)
    wine["color"] = wine["color"].astype(object)
    wine.loc[row - 1, "color"] = "P" * 200_000
    wine.to_csv(tmp_path / "long.csv", index=False)
    result = run("predict", "model.safetensors", "long.csv")
    predicted = pd.read_csv(io.StringIO(_ok(result)))
    assert len(predicted) == 20
    # The note names the unknown category, cut short.
    assert len(result.stderr) < 400 and "PPP..." in result.stderr


# --- 3. DATA from a pipe, or '-' for standard input -------------------------------------


def test_data_from_a_pipe_or_standard_input(
    chainrule: cli_helpers.Run, data_dir: Path, tmp_path: Path
) -> None:
    iris = data_dir / "iris.csv"
    _ok(chainrule("train", iris, "--target", "species", *FAST))
    expected = _ok(chainrule("predict", "model.safetensors", iris, "--proba"))
    for data in ("-", "/dev/stdin"):
        piped = subprocess.run(
            [sys.executable, "-m", "chainrule", "predict", "model.safetensors", data, "--proba"],
            cwd=tmp_path,
            input=iris.read_bytes(),
            capture_output=True,
            check=False,
        )
        assert piped.returncode == 0, piped.stderr
        assert piped.stdout.decode() == expected

    scores = _ok(chainrule("evaluate", "model.safetensors", iris, "--json"))
    piped = subprocess.run(
        [sys.executable, "-m", "chainrule", "evaluate", "model.safetensors", "-", "--json"],
        cwd=tmp_path,
        input=iris.read_bytes(),
        capture_output=True,
        check=False,
    )
    assert piped.returncode == 0 and piped.stdout.decode() == scores


def test_train_reads_standard_input(
    run: Main, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tsv = pd.read_csv(data_dir / "iris.csv").to_csv(sep="\t", index=False).encode()
    _ok(run("train", data_dir / "iris.csv", "--target", "species", *FAST, "--out", "a.st"))
    _stdin(monkeypatch, tsv)
    _ok(run("train", "-", "--target", "species", *FAST, "--out", "b.st"))
    assert (Path("a.st").stat().st_size) == Path("b.st").stat().st_size
    assert "standard input: " in _ok(run("info", "b.st"))
    _stdin(monkeypatch, b"")
    _fails(run("predict", "b.st", "-"), "in standard input, got an empty file")


# --- 4. an unclosed quote ---------------------------------------------------------------


@pytest.mark.parametrize(
    "lines",
    [
        ["age,income,city", '30,5,"Paris', "31,6,Rome", "32,7,Oslo"],  # open to the end
        ["age,income,city", '30,5,"Paris', "31,6,Rome", "32,7,Oslo", '33,8,Li"ma', "34,9,Nice"],
    ],
)
def test_an_unclosed_quote_is_reported_where_it_starts(
    run: Main, tmp_path: Path, lines: list[str]
) -> None:
    """pandas and csv take the rows after a stray quote into one cell: rows vanish
    silently. Each line taken in splits like the header, so the quote is reported."""
    (tmp_path / "q.csv").write_text("\n".join(lines) + "\n")
    _fails(
        run("train", "q.csv", "--target", "city"),
        "got an unclosed quote starting on line 2: its cell takes in line",
    )


def test_cells_over_several_lines_still_read(tmp_path: Path) -> None:
    """A cell of text over lines (an address, a note) is no stray quote."""
    path = tmp_path / "notes.csv"
    path.write_text('id,note,n\n1,"first\nsecond\nthird",2\n2,"a, b\nc",3\n3,plain,4\n')
    frame = read_table(str(path), "train", [])
    assert frame["note"].tolist() == ["first\nsecond\nthird", "a, b\nc", "plain"]


def test_a_field_count_error_names_the_line_where_the_record_starts(
    run: Main, tmp_path: Path
) -> None:
    (tmp_path / "f.csv").write_text('a,b,c\n1,2,3\n4,"x\ny",5,6\n7,8,9\n')
    _fails(
        run("train", "f.csv", "--target", "c"),
        "expected 3 fields on every line of 'f.csv' (as in its header), got 4 on the record "
        "of lines 3-4",
    )


# --- 5. predict -o - --------------------------------------------------------------------


def test_predict_output_dash_is_standard_output(run: Main, data_dir: Path) -> None:
    _ok(run("train", data_dir / "iris.csv", "--target", "species", *FAST))
    expected = _ok(run("predict", "model.safetensors", data_dir / "iris.csv"))
    result = run("predict", "model.safetensors", data_dir / "iris.csv", "-o", "-")
    assert _ok(result) == expected
    assert not Path("-").exists()


# --- 7. info's order, the CNN's message; a column's case; train --out model.onnx --------


def test_info_lists_the_parts_in_the_order_of_the_run(run: Main, data_dir: Path) -> None:
    _ok(run("train", data_dir / "iris.csv", "--target", "species", "--test-split", "0.2", *FAST))
    line = next(
        line for line in _ok(run("info", "model.safetensors")).splitlines() if "trained on" in line
    )
    assert line.index("training") < line.index("validation") < line.index("test")


def test_cnn_on_a_table_says_its_width_is_no_square(run: Main, data_dir: Path) -> None:
    _fails(
        run("train", data_dir / "cancer.csv", "--target", "diagnosis", "--arch", "cnn"),
        "got 30 inputs, not a square number of pixels; use --arch mlp",
    )


def test_predict_suggests_a_column_that_differs_in_case(
    run: Main, data_dir: Path, tmp_path: Path
) -> None:
    _ok(run("train", data_dir / "iris.csv", "--target", "species", *FAST))
    iris = pd.read_csv(data_dir / "iris.csv").rename(
        columns={"sepal width (cm)": "Sepal Width (cm)"}
    )
    iris.to_csv(tmp_path / "cased.csv", index=False)
    _fails(
        run("predict", "model.safetensors", "cased.csv"),
        "got a table without it; did you mean 'Sepal Width (cm)' for 'sepal width (cm)'?",
    )


@pytest.mark.parametrize("name", ["model.onnx", "model.pt", "model.PTH"])
def test_train_refuses_another_format_s_suffix(run: Main, data_dir: Path, name: str) -> None:
    message = _fails(
        run("train", data_dir / "iris.csv", "--target", "species", "--out", name),
        "train: --out: expected a path for a chainrule model file, which is safetensors",
        f"got '{name}'",
    )
    if name.endswith(".onnx"):
        assert "`chainrule export model.safetensors --output model.onnx`" in message
    assert not Path(name).exists()
