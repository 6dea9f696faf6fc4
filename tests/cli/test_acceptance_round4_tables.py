"""Tables as people have them, round 4: numbers written as spreadsheets write them
(``$1,200``, ``12%``, ``1,234.5``, and ``1.234,5`` in a ``;`` file), date columns, and comment
lines above the header."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cli_helpers
import numpy as np
import pytest

from chainrule.data.tabular import parse_numbers

# Fixtures, taken from cli_helpers (a conftest.py here would break doctest collection).
run = cli_helpers.main_in_folder

Main = Callable[..., SimpleNamespace]
FAST = ("--epochs", "2", "--patience", "0", "--hidden", "8", "--quiet")


def _rows(n: int = 40) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    price = rng.normal(size=n) * 1000 + 1500
    labels = ["yes" if v > 0 else "no" for v in x]
    return x, price, labels


def _ok(result: SimpleNamespace) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return str(result.stdout)


def _one_line_error(result: SimpleNamespace, *fragments: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def test_money_percentages_and_thousands_commas_are_numbers(run: Main, tmp_path: Path) -> None:
    """``"$1,063.56"``, ``12.5%`` and ``"1,234.5"`` are numbers to anyone reading the sheet:
    the model takes them as numeric columns (one input each, not a category per value), and
    predicts for prices it never saw."""
    x, price, labels = _rows()
    lines = ["share,price,count,y"]
    for i in range(len(x)):
        lines.append(f'{abs(x[i]) * 10:.1f}%,"${price[i]:,.2f}","{price[i] * 10:,.1f}",{labels[i]}')
    (tmp_path / "sheet.csv").write_text("\n".join(lines) + "\n")
    assert '"$1,' in (tmp_path / "sheet.csv").read_text()

    _ok(run("train", "sheet.csv", "--target", "y", *FAST))
    info = _ok(run("info", "model.safetensors"))
    assert "3 columns -> 3 inputs" in info
    assert "  share  numeric" in info and "  count  numeric" in info

    (tmp_path / "new.csv").write_text('share,price,count\n3%,"$12,345.00","-1,000.5"\n')
    result = run("predict", "model.safetensors", "new.csv")
    assert _ok(result).splitlines()[0] == "prediction"
    assert "no category" not in result.stderr


def test_a_semicolon_csv_with_thousands_points_and_decimal_commas(
    run: Main, tmp_path: Path
) -> None:
    """A decimal-comma spreadsheet writes 1063.6 as ``1.063,6``: read as that number, not as
    a category per row."""
    x, price, labels = _rows()
    lines = ["a;price;y"]
    for i in range(len(x)):
        text = f"{price[i]:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
        lines.append(f"{x[i]:.3f}".replace(".", ",") + f";{text};{labels[i]}")
    (tmp_path / "eu.csv").write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    assert any("." in line.split(";")[1] for line in lines[1:])

    _ok(run("train", "eu.csv", "--target", "y", *FAST))
    info = _ok(run("info", "model.safetensors"))
    assert "2 columns -> 2 inputs" in info
    median = float(np.median(np.round(price, 1)))
    assert f"  price  numeric      median {median:.4g}" in info


def test_a_comma_between_digits_not_in_thousands_stays_text() -> None:
    """``1,5`` is not fifteen: a comma counts as a thousands separator only between groups of
    three digits, and text beside a number is still text."""
    assert parse_numbers(np.array(["1,5", "2,25"], dtype=object)) is None
    assert parse_numbers(np.array(["12 apples"], dtype=object)) is None
    assert parse_numbers(np.array(["2024-01-05"], dtype=object)) is None
    numbers = parse_numbers(np.array(["1,234,567.5", "-$3", "€ 4.5", ""], dtype=object))
    assert numbers is not None
    np.testing.assert_array_equal(numbers, [1234567.5, -3.0, 4.5, np.nan])


def test_a_price_target_is_a_regression_in_its_units(run: Main, tmp_path: Path) -> None:
    """A target written ``$1,063.56`` is a price to predict, not one class per price."""
    x, price, _ = _rows()
    lines = ["a,price"] + [f'{x[i]:.3f},"${price[i]:,.2f}"' for i in range(len(x))]
    (tmp_path / "prices.csv").write_text("\n".join(lines) + "\n")
    result = run("train", "prices.csv", "--target", "price", *FAST[:-1])
    _ok(result)
    assert "regression of 'price'" in result.stderr
    predicted = _ok(run("predict", "model.safetensors", "prices.csv")).splitlines()
    assert predicted[0] == "prediction" and len(predicted) == len(x) + 1
    assert all(float(value) == float(value) for value in predicted[1:])


def test_a_date_column_gets_a_note_that_says_what_to_do(run: Main, tmp_path: Path) -> None:
    """Dates become categories; the note says so and how to make them useful, rather than
    calling them identifiers."""
    x, _, labels = _rows()
    lines = ["day,a,y"] + [f"2024-01-{i % 28 + 1:02d},{x[i]:.3f},{labels[i]}" for i in range(40)]
    (tmp_path / "dated.csv").write_text("\n".join(lines) + "\n")
    result = run("train", "dated.csv", "--target", "y", *FAST[:-1])
    _ok(result)
    notes = [line for line in result.stderr.splitlines() if "'day'" in line]
    assert len(notes) == 1, result.stderr
    assert "holds dates, read as categories" in notes[0] and "--drop day" in notes[0]


@pytest.mark.parametrize("cells", ["2024-01-05 13:30:00", "05/01/2024"])
def test_dates_with_times_or_slashes_get_the_note_too(
    run: Main, tmp_path: Path, cells: str
) -> None:
    x, _, labels = _rows(24)
    lines = ["when,a,y"] + [f"{cells},{x[i]:.3f},{labels[i]}" for i in range(24)]
    (tmp_path / "dated.csv").write_text("\n".join(lines) + "\n")
    result = run("train", "dated.csv", "--target", "y", *FAST[:-1])
    _ok(result)
    assert "column 'when' holds dates" in result.stderr


def test_comment_lines_above_the_header_are_named_in_the_error(run: Main, tmp_path: Path) -> None:
    x, _, labels = _rows()
    lines = ["# exported 2024-01-05", "a,b,y"] + [
        f"{v:.3f},{v:.3f},{y}" for v, y in zip(x, labels, strict=True)
    ]
    (tmp_path / "commented.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "model.safetensors").write_bytes(b"keep")
    result = run("train", "commented.csv", "--target", "y", *FAST)
    _one_line_error(
        result,
        "expected 1 field on every line of 'commented.csv'",
        "got 3 on line 2",
        "'# exported 2024-01-05' looks like a comment",
        "delete the lines above the column names",
    )
    assert (tmp_path / "model.safetensors").read_bytes() == b"keep"


def test_a_target_with_a_class_per_row_says_why_nothing_can_be_held_out(
    run: Main, tmp_path: Path
) -> None:
    """Forty rows are plenty to hold out a fifth of; forty classes of one row each are not,
    and the error says so rather than asking for more rows."""
    x, _, _ = _rows()
    lines = ["a,code"] + [f"{v:.3f},c{i}" for i, v in enumerate(x)]
    (tmp_path / "codes.csv").write_text("\n".join(lines) + "\n")
    _one_line_error(
        run("train", "codes.csv", "--target", "code", *FAST),
        "--val-split: expected classes with rows enough to hold out 0.2 of each",
        "got 40 rows in 40 classes",
        "pass --val-split 0, or --task regression",
    )


@pytest.mark.parametrize("written", ["{:.4f}", "${:,.2f}"])
def test_numbers_with_one_stray_word_get_one_note_not_two(
    run: Main, tmp_path: Path, written: str
) -> None:
    """A column of distinct numbers (plain or as money) with one word in it: the note names
    the word that makes it categories, and no second note calls it an identifier."""
    x, _, labels = _rows()
    cells = [f'"{written.format(abs(v) * 1000)}"' for v in x]
    cells[5] = "unknown"
    lines = ["a,price,y"] + [f"{x[i]:.3f},{cells[i]},{labels[i]}" for i in range(len(x))]
    (tmp_path / "typo.csv").write_text("\n".join(lines) + "\n")
    result = run("train", "typo.csv", "--target", "y", *FAST[:-1])
    _ok(result)
    notes = [line for line in result.stderr.splitlines() if "'price'" in line]
    assert notes == [
        "train: column 'price' is read as categories, not numbers, because of a value that is "
        "not a number: 'unknown' in row 6; leave a missing value empty (or write NA or ?) to "
        "keep the column numeric"
    ]
