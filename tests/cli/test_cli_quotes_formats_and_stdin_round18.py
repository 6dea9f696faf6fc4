"""Round 18, second hunt, at the command line: a cell of text over several lines whose
lines split like rows (an address) reads, a stray quote is still refused; a table that
shows decimal points is not read by the decimal commas of the model's training table;
messages name standard input as such; ``train --out`` refuses more foreign suffixes."""

from __future__ import annotations

import io
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

run = cli_helpers.main_in_folder
data_dir = cli_helpers.data_dir

Main = Callable[..., SimpleNamespace]
FAST = ("--epochs", "2", "--patience", "0", "--hidden", "8", "--quiet")
DECIMAL_COMMA = {"decimal": ",", "thousands": "."}


def _ok(result: SimpleNamespace) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return str(result.stdout)


def _fails(result: SimpleNamespace, *fragments: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --- quoted cells over several lines ----------------------------------------------------


def test_an_address_over_lines_trains(run: Main) -> None:
    """``Springfield, IL`` splits into two fields, as a row of this table would: still a
    line of the address, as pandas reads it."""
    Path("addr.csv").write_text(
        'address,y\n"12 Main St\nSpringfield, IL\nUSA",a\n"Elm Rd",b\n"Oak",a\n"Pine",b\n'
    )
    _ok(run("train", "addr.csv", "--target", "y", *FAST))


@pytest.mark.parametrize(
    ("text", "column", "expected"),
    [
        (
            'id,note,y\n1,"line one\nmore, text, here\nend",a\n2,"x",b\n',
            "note",
            ["line one\nmore, text, here\nend", "x"],
        ),
        (
            'address,y\n"12 Main St, Apt 4\nSpringfield, IL\nUSA",a\nOak,b\n',
            "address",
            ["12 Main St, Apt 4\nSpringfield, IL\nUSA", "Oak"],
        ),
    ],
)
def test_text_over_lines_that_split_like_rows_reads(
    tmp_path: Path, text: str, column: str, expected: list[str]
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text)
    frame = read_table(str(path), "train", [])
    assert frame[column].tolist() == expected
    assert frame[column].tolist() == pd.read_csv(path)[column].tolist()


def test_a_stray_quote_closed_by_another_before_a_tab_is_refused(run: Main) -> None:
    """The quote of ``"Paris`` closes at ``Paris"`` two rows down, before a tab: the rows in
    between would vanish into one cell."""
    Path("q.tsv").write_text(
        'id\tage\tincome\tcity\tcolor\na\t30\t5\tParis\tred\nb\t31\t5\t"Paris\tred\n'
        'c\t32\t5\tParis\tred\nd\t33\t5\tParis"\tred\ne\t34\t5\tParis\tred\n'
    )
    _fails(
        run("train", "q.tsv", "--target", "color"),
        "got an unclosed quote starting on line 3: its cell takes in lines 4-5",
    )


# --- the training table's decimal commas and a table with decimal points ----------------


def test_a_table_with_decimal_points_is_read_with_them(run: Main) -> None:
    """After training on decimal commas, ``1.250`` in a table that also writes ``3.5`` is
    1.25 (as ``1.25`` is), not 1250; a note says the formats differ."""
    rng = np.random.default_rng(0)
    weight = rng.uniform(0.1, 3, 200).round(3)
    frame = pd.DataFrame({"price": rng.uniform(1, 20, 200).round(2), "weight": weight})
    frame["y"] = (10 * weight).round(3)
    Path("train.tsv").write_text(frame.to_csv(sep="\t", decimal=",", index=False))
    _ok(run("train", "train.tsv", "--target", "y", *FAST))
    Path("plain.tsv").write_text("price\tweight\n3.5\t1.25\n")
    Path("grouped.tsv").write_text("price\tweight\n3.5\t1.250\n")
    expected = _ok(run("predict", "model.safetensors", "plain.tsv"))
    result = run("predict", "model.safetensors", "grouped.tsv")
    assert _ok(result) == expected
    assert "writes numbers with a decimal point, such as '3.5'" in result.stderr


def test_read_table_sets_the_recorded_format_aside_for_decimal_points(tmp_path: Path) -> None:
    path = tmp_path / "p.tsv"
    path.write_text("a\tb\ty\n1.500\t0.25\t1\n2.345\t3.14\t0\n")
    notes: list[str] = []
    frame = read_table(str(path), "predict", notes, number_format=DECIMAL_COMMA)
    assert parse_numbers(frame["a"].to_numpy(dtype=object)).tolist() == [1.5, 2.345]
    assert parse_numbers(frame["b"].to_numpy(dtype=object)).tolist() == [0.25, 3.14]
    assert len(notes) == 1 and "decimal commas" in notes[0]
    # Without a decimal point of its own, the table is read as the model's was.
    alone = tmp_path / "alone.tsv"
    alone.write_text("a\ty\n1.500\t1\n2.345\t0\n")
    frame = read_table(str(alone), "predict", [], number_format=DECIMAL_COMMA)
    assert parse_numbers(frame["a"].to_numpy(dtype=object)).tolist() == [1500.0, 2345.0]


# --- messages about standard input ------------------------------------------------------


def test_messages_name_standard_input(
    run: Main, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        sys, "stdin", io.TextIOWrapper(io.BytesIO((data_dir / "iris.csv").read_bytes()))
    )
    line = _fails(
        run("train", "-", "--target", "nope"),
        "--target: expected a column of standard input, got 'nope'",
    )
    assert "'-'" not in line


# --- train --out ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".joblib", ".npz", ".tflite", ".ckpt", ".sav"])
def test_train_out_refuses_other_formats_suffixes(run: Main, data_dir: Path, suffix: str) -> None:
    _fails(
        run("train", data_dir / "iris.csv", "--target", "species", "--out", f"m{suffix}"),
        f"got 'm{suffix}', the suffix of",
        "pass --out m.safetensors",
    )
    assert not Path(f"m{suffix}").exists()


def test_train_out_suggests_the_safetensors_name_it_holds(run: Main, data_dir: Path) -> None:
    line = _fails(
        run("train", data_dir / "iris.csv", "--target", "species", "--out", "m.safetensors.pt"),
        "pass --out m.safetensors",
    )
    assert "m.safetensors.safetensors" not in line
    _fails(
        run("train", data_dir / "iris.csv", "--target", "species", "--out", "model.v2.pt"),
        "pass --out model.v2.safetensors",
    )
