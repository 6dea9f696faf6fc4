"""Round 19: what ``parse_numbers`` takes for a number and how labels become classes.

A comma groups thousands only after a first group that is not 0 (``0,125`` is a decimal
comma, not 125); only ASCII digits make numbers (``1_000`` and ``١٢`` are text in pandas and
spreadsheets, though Python's ``float`` reads them); and a target that writes one number
both as ``1`` and as ``1.0`` has one class for it."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from chainrule.data.tabular import TabularPreprocessor, TargetEncoder, parse_numbers


def _column(*cells: object) -> np.ndarray:
    return np.array(cells, dtype=object)


# --- a leading group of 0 is no thousands group ----------------------------------------------


@pytest.mark.parametrize("cell", ["0,125", "000,125", "-0,5", "0,637", "$0,125"])
def test_a_comma_after_a_zero_does_not_group_thousands(cell: str) -> None:
    assert parse_numbers(_column(cell, "2")) is None


def test_commas_grouping_thousands_still_read() -> None:
    numbers = parse_numbers(_column("1,250", "12,345.5", "$1,200", "-7,000"))
    assert numbers is not None
    assert numbers.tolist() == [1250.0, 12345.5, 1200.0, -7000.0]


# --- ASCII digits only ------------------------------------------------------------------------


ARABIC_INDIC_12 = "\u0661\u0662"
FULLWIDTH_12 = "\uff11\uff12"


@pytest.mark.parametrize(
    "cell", ["1_000", "1_000.5", ARABIC_INDIC_12, ARABIC_INDIC_12 + ".5", "$1_000", FULLWIDTH_12]
)
def test_text_that_only_python_reads_as_a_number_is_text(cell: str) -> None:
    """pandas reads such a column as text, as a spreadsheet does."""
    read = pd.read_csv(io.StringIO(f"x\n{cell}\n2\n"))
    assert not pd.api.types.is_numeric_dtype(read["x"])
    assert parse_numbers(_column(cell, "2")) is None
    assert parse_numbers(np.array([cell, "2"])) is None  # a NumPy text array too
    pre = TabularPreprocessor().fit({"x": [cell, "2", "3"]})
    assert sorted(pre.feature_names_out) == sorted(["x=2", "x=3", f"x={cell}"])


def test_numbers_with_spaces_and_infinities_read_as_before() -> None:
    numbers = parse_numbers(_column(" 1.5 ", "\u00a012", "1e3", "inf", None, ""))
    assert numbers is not None
    np.testing.assert_array_equal(numbers, [1.5, 12.0, 1000.0, np.nan, np.nan, np.nan])


# --- one number written two ways is one class ---------------------------------------------


def test_labels_1_and_1_0_are_one_class_as_pandas_reads_them() -> None:
    text = "y\n0\n1\n0.0\n1.0\n1\n"
    classes = np.unique(pd.read_csv(io.StringIO(text))["y"])
    assert classes.tolist() == [0.0, 1.0]
    labels = pd.read_csv(io.StringIO(text), dtype=str)["y"]
    encoder = TargetEncoder().fit(labels)
    assert encoder.classes == [0, 1]
    np.testing.assert_array_equal(encoder.encode(labels), [0, 1, 0, 1, 1])
    np.testing.assert_array_equal(encoder.encode(["1.0", "0"]), [1, 0])


def test_a_number_beside_its_float_text_is_one_class() -> None:
    encoder = TargetEncoder("classification").fit(np.array([1, "1.0", 2], dtype=object))
    assert encoder.classes == [1, 2]


def test_codes_stay_text_and_their_float_spelling_joins_them() -> None:
    """``03`` is a code, not 3; ``2.0`` beside ``2`` is that label, and finds it later."""
    encoder = TargetEncoder().fit(["03", "1", "2", "2.0", "3", "1"])
    assert encoder.classes == ["03", "1", "2", "3"]
    np.testing.assert_array_equal(encoder.encode(["2.0", "3.0", "03"]), [2, 3, 0])
    with pytest.raises(ValueError, match=r"expected one of the classes .*, got '3.00' in row 1"):
        encoder.encode(["3.00"])


def test_float_labels_alone_still_come_back_as_written() -> None:
    assert TargetEncoder().fit(["1.0", "2.0", "1.0"]).classes == ["1.0", "2.0"]
