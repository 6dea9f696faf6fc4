"""A data scientist's day with real tables, round 7: the command line on a messy table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cli_helpers
import numpy as np
import pandas as pd

# Fixtures, taken from cli_helpers (a conftest.py here would break doctest collection).
run = cli_helpers.main_in_folder

Main = Callable[..., SimpleNamespace]
FAST = ("--epochs", "2", "--patience", "0", "--hidden", "8", "--quiet")


def _table(folder: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    frame = pd.DataFrame(
        {"row id": np.arange(1000, 1060), "x": x, "color": rng.choice(["a", "b"], 60)}
    )
    frame["label"] = np.where(x > 0, "up ü", "down")
    frame.to_csv(folder / "day.csv", index=False)


def test_drop_given_twice_leaves_out_both_columns(run: Main, tmp_path: Path) -> None:
    """``--drop 'row id' --drop color`` leaves out both, as ``--drop 'row id',color`` does;
    the first was silently kept as a feature (the last flag won)."""
    _table(tmp_path)
    result = run("train", "day.csv", "--target", "label", "--drop", "row id", "--drop", "color",
                 "--out", "m.safetensors", *FAST)  # fmt: skip
    assert result.returncode == 0, result.stderr
    pd.DataFrame({"x": [-1.0, 2.0]}).to_csv(tmp_path / "new.csv", index=False)
    predicted = run("predict", "m.safetensors", "new.csv")
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.splitlines()[0] == "prediction"
    assert len(predicted.stdout.splitlines()) == 3
    info = run("info", "m.safetensors")
    assert "1 columns -> 1 inputs" in info.stdout


def test_predict_id_column_is_carried_as_written(run: Main, tmp_path: Path) -> None:
    """``--id`` carries the identifiers as the file writes them: a country code ``NA``
    (Namibia), ``null`` or ``?`` came out blank, read as missing values, so that the
    predictions could no longer be joined back to their rows."""
    _table(tmp_path)
    trained = run("train", "day.csv", "--target", "label", "--drop", "row id", "--out",
                  "m.safetensors", *FAST)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    codes = ["NA", "FR", "?", "null", "007", ""]
    new = pd.DataFrame({"country": codes, "x": [0.5, -1.0, 1.0, -0.5, 0.2, 0.1], "color": "a"})
    new.to_csv(tmp_path / "new.csv", index=False)
    result = run("predict", "m.safetensors", "new.csv", "--id", "country", "--output", "p.csv")
    assert result.returncode == 0, result.stderr
    written = pd.read_csv(tmp_path / "p.csv", dtype=str, keep_default_na=False)
    assert list(written.columns) == ["country", "prediction"]
    assert written["country"].tolist() == codes
    assert set(written["prediction"]) <= {"up ü", "down"}
