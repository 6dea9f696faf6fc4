"""Round 18: a column of dates is one set of categories whether it was read as instants
(Parquet, a DataFrame of datetime64) or as text (the same dates in a CSV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chainrule.data import TabularPreprocessor

DATES = pd.date_range("2024-01-01", periods=6, freq="D")


def _fitted(values: object) -> TabularPreprocessor:
    table = pd.DataFrame({"when": values, "x": np.arange(6.0)})
    return TabularPreprocessor().fit(table, categorical=["when"])


def test_dates_fitted_as_instants_find_their_text() -> None:
    """A model fitted on datetime64 dates one-hot encodes the same dates written as
    pandas writes them to CSV (``2024-01-01``), or with a time."""
    pre = _fitted(DATES)
    expected = pre.transform(pd.DataFrame({"when": DATES, "x": np.arange(6.0)}))
    for texts in (
        [d.strftime("%Y-%m-%d") for d in DATES],
        [d.strftime("%Y-%m-%d %H:%M:%S") for d in DATES],
        [d.isoformat() for d in DATES],
    ):
        table = pd.DataFrame({"when": texts, "x": np.arange(6.0)})
        np.testing.assert_array_equal(pre.transform(table), expected)
        assert not pre.columns[0].unknown(texts).any()


def test_dates_fitted_as_text_find_their_instants() -> None:
    pre = _fitted([d.strftime("%Y-%m-%d") for d in DATES])
    expected = pre.transform(
        pd.DataFrame({"when": [d.strftime("%Y-%m-%d") for d in DATES], "x": np.arange(6.0)})
    )
    table = pd.DataFrame({"when": DATES, "x": np.arange(6.0)})
    np.testing.assert_array_equal(pre.transform(table), expected)
    assert not pre.columns[0].unknown(DATES.to_numpy()).any()


def test_other_dates_and_texts_stay_unknown() -> None:
    pre = _fitted(DATES)
    others = ["2023-12-31", "01/01/2024", "2024-01-01 12:00:00", "red"]
    assert pre.columns[0].unknown(others).tolist() == [True, True, True, True]


def test_a_model_trained_on_parquet_dates_predicts_from_csv(tmp_path: Path) -> None:
    """The user's path: train on Parquet (dates as instants), predict on the CSV of the
    same table (dates as text): no date is an unknown category."""
    pytest.importorskip("pyarrow")
    from chainrule.cli import main
    from chainrule.io import load

    rng = np.random.default_rng(0)
    when = pd.date_range("2024-01-01", periods=4, freq="D")
    frame = pd.DataFrame({"when": rng.choice(when, 80), "x": rng.normal(size=80)})
    frame["y"] = np.where(frame["x"] > 0, "a", "b")
    frame.to_parquet(tmp_path / "t.parquet")
    frame.to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "m.safetensors"
    args = ["--epochs", "1", "--patience", "0", "--hidden", "4", "--quiet", "--out", str(out)]
    assert main(["train", str(tmp_path / "t.parquet"), "--target", "y", *args]) == 0
    _, metadata = load(str(out), with_metadata=True)
    (column,) = [
        c
        for c in TabularPreprocessor.from_dict(metadata["preprocessing"]).columns
        if c.name == "when"
    ]
    csv = pd.read_csv(tmp_path / "t.csv", dtype=str)
    assert not column.unknown(csv["when"].to_numpy(dtype=object)).any()
