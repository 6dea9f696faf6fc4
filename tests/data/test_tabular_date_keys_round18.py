"""Dates as categories match whichever way each side spells them: ``2024-01-01 12:30``
learned finds ``2024-01-01 12:30:00`` (as well as the reverse), and a column of
``datetime.date`` (pandas's Parquet ``date32``) finds dates learned as instants or text."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from chainrule.data import TabularPreprocessor


def _encoded(learned: list[object], given: list[object]) -> tuple[np.ndarray, np.ndarray]:
    """The one-hot rows of ``given`` and of ``learned`` itself, by a preprocessor fitted on
    ``learned`` as a categorical column."""
    pre = TabularPreprocessor().fit(pd.DataFrame({"d": learned}), categorical=["d"])
    return pre.transform(pd.DataFrame({"d": given})), pre.transform(pd.DataFrame({"d": learned}))


@pytest.mark.parametrize(
    ("learned", "given"),
    [
        (["2024-01-01 12:30", "2024-01-02 08:00"], ["2024-01-01 12:30:00", "2024-01-02 08:00:00"]),
        (["2024-01-01 12:30:00", "2024-01-02 08:00:00"], ["2024-01-01 12:30", "2024-01-02T08:00"]),
        (
            list(pd.to_datetime(["2024-01-01", "2024-01-02"])),
            [datetime.date(2024, 1, 1), datetime.date(2024, 1, 2)],
        ),
        (
            ["2024-01-01T00:00:00", "2024-01-02T00:00:00"],
            [datetime.date(2024, 1, 1), datetime.date(2024, 1, 2)],
        ),
        (
            [datetime.date(2024, 1, 1), datetime.date(2024, 1, 2)],
            list(pd.to_datetime(["2024-01-01", "2024-01-02"])),
        ),
    ],
)
def test_dates_match_in_either_spelling(learned: list[object], given: list[object]) -> None:
    got, expected = _encoded(learned, given)
    np.testing.assert_array_equal(got, expected)
    assert got.sum() == len(given)  # no date is an unknown category


def test_a_datetime64_model_encodes_a_date32_column() -> None:
    """The hunter's path: fitted on datetime64 dates, given the same dates as
    ``datetime.date`` objects (what ``pandas.read_parquet`` gives for ``date32``)."""
    train = pd.DataFrame({"d": pd.to_datetime(["2024-01-01", "2024-01-02"]), "x": [1.0, 2.0]})
    pre = TabularPreprocessor().fit(train)
    new = pd.DataFrame(
        {"d": [datetime.date(2024, 1, 1), datetime.date(2024, 1, 2)], "x": [1.0, 2.0]}
    )
    np.testing.assert_array_equal(pre.transform(new), pre.transform(train))


def test_other_dates_stay_unknown() -> None:
    got, _ = _encoded(["2024-01-01 12:30"], ["2024-01-01 12:31", datetime.date(2024, 1, 1)])
    assert got.sum() == 0
