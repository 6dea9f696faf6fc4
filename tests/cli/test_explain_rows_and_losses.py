"""``chainrule explain`` as an outside tester found it: row numbers in messages about the
table, the loss of a model trained with ``--loss``, and mistakes in ``--rows``, ``--seed``
and ``--lr``."""

from __future__ import annotations

from pathlib import Path

import cli_helpers
import numpy as np
import pandas as pd
import pytest
from cli_helpers import Run, fails, run_chainrule, succeeds

chainrule_cli = cli_helpers.chainrule

FAST = ("--epochs", "2", "--quiet", "--val-split", "0")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``table.csv`` (a number, a category, a class label and a number to predict), a
    classifier and regressors trained on it with each regression loss, and ``bad.csv``:
    the same table with a word in row 5's number, row 6's label unknown and row 7's target
    missing (rows counted from 0)."""
    path = tmp_path_factory.mktemp("explain")
    rng = np.random.default_rng(0)
    n = 40
    table = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n).round(1),
            "color": rng.choice(["red", "green", "blue"], n),
        }
    )
    table["label"] = np.where(table["age"] > 40, "yes", "no")
    table["price"] = (table["age"] * 3 + rng.normal(0, 1, n)).round(2)
    table.to_csv(path / "table.csv", index=False)
    bad = table.astype(object)
    bad.loc[5, "age"] = "abc"
    bad.loc[6, "label"] = "maybe"
    bad.loc[7, "price"] = None
    bad.to_csv(path / "bad.csv", index=False)
    for out, target, drop, loss in (
        ("cls", "label", "price", "auto"),
        ("mse", "price", "label", "mse"),
        ("huber", "price", "label", "huber"),
        ("mae", "price", "label", "mae"),
    ):
        succeeds(
            run_chainrule(
                "train", "table.csv", "--target", target, "--drop", drop, "--loss", loss,
                *FAST, "--out", f"{out}.safetensors", cwd=path,
            )
        )  # fmt: skip
    return path


@pytest.mark.parametrize(
    ("model", "rows", "message"),
    [
        # the word in row 5, chosen as the second of rows 4:7
        ("cls", "4:7", "expected numbers in column 'age', got 'abc' in row 5 (counted from 0"),
        ("cls", "6:8", "got 'maybe' in row 6 (counted from 0, as --rows counts)"),
        ("mse", "6:9", "expected numbers, got a missing value in row 7 (counted from 0"),
    ],
)
def test_a_bad_value_is_named_by_its_row_in_the_table(
    folder: Path, model: str, rows: str, message: str
) -> None:
    # The library counts from 1 within the rows it was given; --rows counts the table from 0.
    fails(
        run_chainrule("explain", f"{model}.safetensors", "bad.csv", "--rows", rows, cwd=folder),
        message,
    )


@pytest.mark.parametrize(
    ("model", "loss"), [("mse", "MSELoss"), ("huber", "HuberLoss"), ("mae", "L1Loss")]
)
def test_the_step_uses_the_loss_the_model_was_trained_with(
    folder: Path, model: str, loss: str
) -> None:
    text = succeeds(
        run_chainrule("explain", f"{model}.safetensors", "table.csv", "--rows", "0:4", cwd=folder)
    )
    assert f"\n{loss}: L = " in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--rows=",), "explain: --rows: expected START:END with whole numbers (such as 0:4)"),
        (("--rows= ",), "explain: --rows: expected START:END with whole numbers"),
    ],
)
def test_empty_rows_are_refused_not_read_as_row_0(
    folder: Path, args: tuple[str, ...], message: str
) -> None:
    fails(run_chainrule("explain", "cls.safetensors", "table.csv", *args, cwd=folder), message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--seed", "-1"), "explain: --seed: expected a whole number >= 0, got -1"),
        (("--lr", "inf"), "explain: --lr: expected a number > 0, got inf"),
        (("--lr", "nan"), "explain: --lr: expected a number > 0, got nan"),
    ],
)
def test_xor_settings_out_of_range_are_refused(
    chainrule_cli: Run, args: tuple[str, ...], message: str
) -> None:
    fails(chainrule_cli("explain", "--dataset", "xor", *args), message)
