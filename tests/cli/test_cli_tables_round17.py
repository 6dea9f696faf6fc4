"""Round 17 at the command line, the tables: thousands written with points in a file of
decimal commas are whole numbers, not decimals; a tab-separated file (Excel's "Unicode
Text") reads its decimal commas too; a column name holding a comma no longer makes a
``;`` file comma-separated; Excel's ``sep=;`` first line names the separator."""

from __future__ import annotations

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
data_dir = cli_helpers.data_dir

Main = Callable[..., SimpleNamespace]
FAST = ("--epochs", "1", "--patience", "0", "--hidden", "8", "--quiet")


def _ok(result: SimpleNamespace) -> str:
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


def _numbers(frame: pd.DataFrame, name: str) -> list[float]:
    numbers = parse_numbers(frame[name].to_numpy(dtype=object))
    assert numbers is not None, frame[name].tolist()
    return numbers.tolist()


def _write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def test_points_grouping_thousands_in_a_file_of_decimal_commas_are_whole_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a German spreadsheet writes for 4327, 810 and 2800 next to 1911.5: the points
    group thousands, as in the column of decimal commas beside it."""
    path = _write(
        tmp_path / "eu.csv",
        ["price;amount;y", "4.327;1.911,5;hi", "810;810,5;lo", "2.800;123,5;hi"],
    )
    frame = read_table(str(path), "train")
    assert _numbers(frame, "price") == [4327.0, 810.0, 2800.0]
    assert _numbers(frame, "amount") == [1911.5, 810.5, 123.5]
    assert capsys.readouterr().err == ""


def test_points_that_do_not_all_group_thousands_stay_decimal_points(tmp_path: Path) -> None:
    """``1.5`` cannot be a thousands group, so the column's points are decimal points."""
    path = _write(tmp_path / "eu.csv", ["a;b;y", "4.327;1,5;hi", "1.5;2,5;lo", "2.800;3,5;hi"])
    frame = read_table(str(path), "train")
    assert _numbers(frame, "a") == [4.327, 1.5, 2.8]


def test_a_semicolon_file_without_decimal_commas_notes_a_column_of_grouped_points(
    run: Main, tmp_path: Path
) -> None:
    """Without a decimal comma to go by, ``4.327`` is read as a decimal, and a note says
    that it may be thousands."""
    lines = ["price;size;y"] + [
        f"{1 + i % 9}.{100 + 7 * i};{i % 5};{'ab'[i % 2]}" for i in range(30)
    ]
    path = _write(tmp_path / "semi.csv", lines)
    notes: list[str] = []
    frame = read_table(str(path), "train", notes)
    assert _numbers(frame, "price")[0] == 1.1
    assert len(notes) == 1
    assert notes[0].startswith("column 'price' holds numbers such as '1.100', read with a ")
    assert "if the points group thousands (1100)" in notes[0]

    result = run("train", "semi.csv", "--target", "y", *FAST[:-1])
    _ok(result)
    assert "train: column 'price' holds numbers such as '1.100'" in result.stderr
    quiet = run("train", "semi.csv", "--target", "y", *FAST)
    _ok(quiet)
    assert quiet.stderr == ""


def test_a_utf16_tab_separated_file_with_decimal_commas_keeps_its_numbers(
    run: Main, data_dir: Path, tmp_path: Path
) -> None:
    """Excel's "Unicode Text": UTF-16 with a byte-order mark, tabs between fields, and in
    much of Europe decimal commas. Its numbers stay numbers, and predict the same as the
    usual CSV."""
    iris = pd.read_csv(data_dir / "iris.csv")
    text = iris.to_csv(sep="\t", decimal=",", index=False, lineterminator="\r\n")
    (tmp_path / "iris.txt").write_bytes(text.encode("utf-16"))
    assert (tmp_path / "iris.txt").read_bytes()[:2] == b"\xff\xfe"

    _ok(run("train", "iris.txt", "--target", "species", *FAST))
    info = _ok(run("info", "model.safetensors"))
    assert "4 columns -> 4 inputs" in info

    common = ("--target", "species", *FAST, "--out", "usual.safetensors")
    _ok(run("train", data_dir / "iris.csv", *common))
    # The same numbers as the usual CSV's: each column's statistics alike.
    usual_info = _ok(run("info", "usual.safetensors"))
    assert _feature_lines(info) == _feature_lines(usual_info)
    assert "  sepal length (cm)  numeric      median" in info
    usual = _ok(run("predict", "usual.safetensors", data_dir / "iris.csv", "--proba"))
    assert _ok(run("predict", "usual.safetensors", "iris.txt", "--proba")) == usual


@pytest.mark.parametrize(("suffix", "separator"), [(".tsv", "\t"), (".csv", "|")])
def test_decimal_commas_in_tab_and_pipe_files(tmp_path: Path, suffix: str, separator: str) -> None:
    lines = ["a;b;y", "3,5;1.234,5;x", "-0,25;2;z", "4;12,5 %;x"]
    path = _write(tmp_path / f"t{suffix}", [line.replace(";", separator) for line in lines])
    frame = read_table(str(path), "train")
    assert _numbers(frame, "a") == [3.5, -0.25, 4.0]
    assert _numbers(frame, "b") == [1234.5, 2.0, 12.5]


def test_a_tab_file_with_thousands_commas_only_keeps_them_thousands(tmp_path: Path) -> None:
    """Where no number needs a decimal comma, the commas of a tab-separated file group
    thousands, as in the US: ``1,234`` is 1234."""
    path = _write(tmp_path / "us.tsv", ["a\tb", "1,234\t0.5", "12,000\t2.25"])
    frame = read_table(str(path), "train")
    assert _numbers(frame, "a") == [1234.0, 12000.0]
    assert _numbers(frame, "b") == [0.5, 2.25]


def test_decimal_commas_in_a_comma_separated_file_are_noted(run: Main, tmp_path: Path) -> None:
    """Quoted ``"1,5"`` in a comma-separated file stays text (a category), and a note says
    why instead of the column silently turning into categories."""
    lines = ["a,b,y"] + [f'"{i % 7},{i % 3}",{i},{"ab"[i % 2]}' for i in range(30)]
    (tmp_path / "q.csv").write_text("\n".join(lines) + "\n")
    result = run("train", "q.csv", "--target", "y", *FAST[:-1])
    _ok(result)
    assert (
        "train: column 'a' holds numbers written with decimal commas, such as '0,0', and is "
        "read as categories" in result.stderr
    )
    assert "(1 numeric, 1 categorical)" in result.stderr


def test_a_column_name_with_a_comma_in_a_semicolon_file(run: Main, tmp_path: Path) -> None:
    """``Länge, cm;Breite;Klasse``: the comma is in a name, the separator is ``;``."""
    rng = np.random.default_rng(0)
    rows = [
        f"{a:.1f};{b:.2f};{'gross' if a > 5 else 'klein'}".replace(".", ",")
        for a, b in zip(rng.uniform(4, 6, 30), rng.uniform(1, 4, 30), strict=True)
    ]
    _write(tmp_path / "de.csv", ["Länge, cm;Breite;Klasse", *rows])
    frame = read_table(str(tmp_path / "de.csv"), "train")
    assert list(frame.columns) == ["Länge, cm", "Breite", "Klasse"]
    _ok(run("train", "de.csv", "--target", "Klasse", *FAST))
    info = _ok(run("info", "model.safetensors"))
    assert "2 columns -> 2 inputs" in info and "  Länge, cm  numeric" in info


def test_excel_sep_line_names_the_separator(run: Main, tmp_path: Path) -> None:
    """Excel may write ``sep=;`` above the header: it is no row of the table."""
    rows = [f"{i},5;{i % 4};{'ab'[i % 2]}" for i in range(30)]
    _write(tmp_path / "x.csv", ["sep=;", "Länge, cm;Breite;Klasse", *rows])
    frame = read_table(str(tmp_path / "x.csv"), "train")
    assert list(frame.columns) == ["Länge, cm", "Breite", "Klasse"]
    assert len(frame) == 30 and _numbers(frame, "Länge, cm")[:2] == [0.5, 1.5]
    _ok(run("train", "x.csv", "--target", "Klasse", *FAST))

    _write(tmp_path / "bad.csv", ["sep=;", "a;b", "1;2", "3;4;5"])
    _fails(
        run("train", "bad.csv", "--target", "b", *FAST),
        "expected 2 fields on every line of 'bad.csv' (as in its header), got 3 on line 4",
    )


def test_a_ragged_comma_file_still_names_its_line(run: Main, tmp_path: Path) -> None:
    """A comma file with a row too long is still read as comma-separated, and the row is
    named, in the singular for a table of one column."""
    (tmp_path / "r.csv").write_text("a,b;c\n1,2\n3,4,5\n")
    _fails(
        run("train", "r.csv", "--target", "a", *FAST),
        "expected 2 fields on every line of 'r.csv' (as in its header), got 3 on line 3",
    )
    (tmp_path / "one.csv").write_text("a\n1\n2,3\n")
    _fails(
        run("train", "one.csv", "--target", "a", *FAST),
        "expected 1 field on every line of 'one.csv' (as in its header), got 2 on line 3",
    )


def _feature_lines(info: str) -> list[str]:
    """The lines of ``chainrule info`` that describe the input columns."""
    return [line for line in info.splitlines() if " numeric " in line]
