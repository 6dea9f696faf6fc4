"""Round 17: ``parse_numbers`` converts a column of plain numbers in one NumPy call and
refuses a column of text on its first text, reading cell by cell (``_parse_cells``) only
the rest; both ways give the same result for any column. ``train`` parses each column of
the table once."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from chainrule.data import tabular
from chainrule.data.tabular import _parse_cells, parse_numbers

TRICKY: list[Any] = [
    "1.5", "1e3", "-2.5E-3", " 5 ", "\t7\n", "+3", "-0", ".5", "5.", "1_000", "١٢",
    "inf", "-inf", "Infinity", "nan", "NaN", " nan ", "?", "NA", "n/a", "", "   ",
    "1,5", "3,25", "1,234", "1,234,567.5", "$1,200", "-€3.50", "12%", "12 %", "+-3", "- 3",
    "0x10", "1.2.3", "abc", "True", "1e", None, float("nan"), 2.5, float("inf"),
    True, np.bool_(False), 7, np.int64(3), np.float64(4.5), np.str_("6"), pd.NA,
]  # fmt: skip
"""Cells a table may hold: numbers as people and programs write them, missing markers
(which the command line has made NaN by this point, but a Python caller may not have),
text, booleans, and the scalar types of NumPy and pandas."""


def _same(values: list[Any]) -> None:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    fast, slow = parse_numbers(array), _parse_cells(array)
    if slow is None:
        assert fast is None, (values, fast)
    else:
        assert fast is not None, values
        np.testing.assert_array_equal(fast, slow, err_msg=repr(values))


@pytest.mark.parametrize("cell", TRICKY, ids=repr)
def test_one_tricky_cell_parses_as_cell_by_cell(cell: Any) -> None:
    _same([cell])
    _same([cell, "2"])
    _same([float("nan"), cell, None])


def test_every_pair_of_tricky_cells_parses_as_cell_by_cell() -> None:
    for pair in itertools.product(TRICKY, repeat=2):
        _same(list(pair))


def test_random_columns_of_tricky_cells_parse_as_cell_by_cell() -> None:
    rng = np.random.default_rng(0)
    plain = ["1.5", "-2", "3e2", float("nan"), None, " 4 "]
    for _ in range(300):
        size = int(rng.integers(1, 12))
        cells = [plain[i] for i in rng.integers(0, len(plain), size)]
        cells[int(rng.integers(0, size))] = TRICKY[int(rng.integers(0, len(TRICKY)))]
        _same(cells)


def test_text_and_unicode_arrays_parse_as_cell_by_cell() -> None:
    for values in (["1.5", "2"], ["1", "x"], ["$1,200", "3"], ["", "4"], [" ", "nan"]):
        array = np.array(values)
        assert array.dtype.kind == "U"
        fast, slow = parse_numbers(array), _parse_cells(array)
        assert (fast is None) == (slow is None), values
        if slow is not None:
            np.testing.assert_array_equal(fast, slow)


def test_a_column_of_plain_numbers_is_not_read_cell_by_cell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What pandas reads from a file: text numbers and NaN, converted in one call; a column
    of categories is refused on its first text."""

    def refuse(values: Any) -> None:
        raise AssertionError("read cell by cell")

    monkeypatch.setattr(tabular, "_parse_cells", refuse)
    column = np.array(["1.5", "-2e3", float("nan"), " 4 ", "inf", None], dtype=object)
    np.testing.assert_array_equal(parse_numbers(column), [1.5, -2000, np.nan, 4, np.nan, np.nan])
    assert parse_numbers(np.array(["red", "1", float("nan")], dtype=object)) is None


def test_train_parses_each_column_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deciding a column's kind, whether it numbers the rows or identifies them, reads it as
    numbers once: those readings were most of the time spent before training."""
    from chainrule.cli import main, train

    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame(
        {
            "": np.arange(n),
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.choice(["x", "y"], size=n),
            "y": rng.choice(["p", "q"], size=n),
        }
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    counts: dict[int, int] = {}
    parse = train.parse_numbers

    def counting(values: Any) -> Any:
        counts[len(values)] = counts.get(len(values), 0) + 1
        return parse(values)

    monkeypatch.setattr(train, "parse_numbers", counting)
    out = str(tmp_path / "m.st")
    code = main(["train", str(tmp_path / "t.csv"), "--target", "y", "--epochs", "1", "-o", out])
    assert code == 0, capsys.readouterr().err
    assert counts.get(n) == 4  # the four columns besides the target, once each
