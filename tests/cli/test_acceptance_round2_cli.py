"""The command line as a new user meets it, with the CSV files users have: missing values
written ``?`` or `` NA``, a stray word in a column of numbers, the index pandas writes, UTF-16
and Windows-1252 files, a model and a table passed the wrong way round, categories never seen
in training; and ``evaluate`` against scikit-learn. The command runs in this process (a
subprocess per call would take minutes), with no standard input, as in CI; one test runs the
real console script.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cli_helpers
import numpy as np
import pandas as pd
import pytest
from cli_helpers import fails, succeeds
from sklearn import metrics

from chainrule.cli.tables import read_table
from chainrule.data.tabular import CategoricalColumn, NumericColumn, TabularPreprocessor

FAST = ("--epochs", "3", "--hidden", "16", "--patience", "0", "--quiet")
Run = Callable[..., Any]


main_in_folder = cli_helpers.main_in_folder  # the fixture `run`


def people(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    """A table as users have them: numbers, text categories, text with commas and quotes,
    and a target whose name holds a space."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows).astype(float)
    return pd.DataFrame(
        {
            "age": age,
            "income": rng.normal(50, 10, rows).round(2),
            "city": rng.choice(["Paris", "Oslo", "Rome"], rows),
            "note": rng.choice(["a, b", 'c "q"', "d"], rows),
            "bought it": np.where(age + rng.normal(0, 5, rows) > 45, "yes", "no"),
        }
    )


def read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def info_json(run: Run, model: str = "model.safetensors") -> dict[str, Any]:
    document: dict[str, Any] = json.loads(succeeds(run("info", model, "--json")))
    return document


def kinds(document: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["kind"] for c in document["preprocessing"]["columns"]}


# --- help --------------------------------------------------------------------------------------


def test_the_console_script_runs_without_standard_input(run: Run, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", "--help"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert succeeds(result).startswith("usage: chainrule")


@pytest.mark.parametrize(
    "command", ["demo", "train", "predict", "evaluate", "info", "explain", "export"]
)
def test_every_command_has_help(run: Run, capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(command, "--help")
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: chainrule {command}")


def test_the_help_of_train_says_what_a_missing_value_is(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        run("train", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "an empty cell, NA or ? is a missing value" in text


def test_output_flags_are_spelled_alike_in_every_command(run: Run, tmp_path: Path) -> None:
    """``-o`` and ``--output`` write the model of train, ``--out`` the predictions."""
    people().to_csv(tmp_path / "people.csv", index=False)
    succeeds(run("train", "people.csv", "--target", "bought it", *FAST, "-o", "a.st"))
    succeeds(run("train", "people.csv", "--target", "bought it", *FAST, "--output", "b.st"))
    assert (tmp_path / "a.st").read_bytes() == (tmp_path / "b.st").read_bytes()
    result = run("predict", "a.st", "people.csv", "--out", "p.csv")
    assert succeeds(result) == ""
    assert "predict: 120 predictions written to p.csv" in result.stderr
    assert (tmp_path / "p.csv").read_text().startswith("prediction\n")


# --- missing values ----------------------------------------------------------------------------


def test_question_marks_and_spaced_NA_are_missing_values(run: Run, tmp_path: Path) -> None:
    """UCI's ``?`` and a ``, NA`` written with a space leave a column of numbers numeric (both
    made it a column of categories, one per distinct number)."""
    table = people().astype(object)
    table.loc[::7, "age"] = "?"
    table.loc[3::11, "income"] = " NA"
    table.loc[5::13, "city"] = " ?"
    table.to_csv(tmp_path / "marked.csv", index=False)
    result = run("train", "marked.csv", "--target", "bought it", *FAST[:-1])
    succeeds(result)
    assert "from 4 columns (2 numeric, 2 categorical) -> 9 inputs" in result.stderr
    document = info_json(run)
    assert kinds(document) == {
        "age": "numeric", "income": "numeric", "city": "categorical", "note": "categorical"
    }  # fmt: skip
    city = document["preprocessing"]["columns"][2]
    assert city["categories"] == ["Oslo", "Paris", "Rome"] and city["missing"]

    # At prediction time too: a '?' takes the median, as an empty cell does.
    new = "age,income,city,note\n?,50,Paris,d\n,50,Paris,d\n NA ,50,?,d\n"
    (tmp_path / "new.csv").write_text(new)
    predicted = read_csv(succeeds(run("predict", "model.safetensors", "new.csv", "--proba")))
    assert predicted.iloc[0].tolist() == predicted.iloc[1].tolist()
    assert len(predicted) == 3


def test_read_table_marks_missing_values_whatever_the_spaces(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("x,y\n ?,a\nNA ,b\nn/a,c\n3, ?!\n 4,None\n")
    frame = read_table(str(path), "train")
    assert frame["x"].isna().tolist() == [True, True, True, False, False]
    assert frame["y"].tolist()[:4] == ["a", "b", "c", " ?!"]  # only whole cells are markers
    assert pd.isna(frame["y"].iloc[4])  # pandas's own marker, as before


def test_a_target_written_with_question_marks_leaves_those_rows_out(
    run: Run, tmp_path: Path
) -> None:
    table = people().astype(object)
    table.loc[:9, "bought it"] = "?"
    table.to_csv(tmp_path / "t.csv", index=False)
    result = run("train", "t.csv", "--target", "bought it", *FAST[:-1])
    succeeds(result)
    assert "train: left out 10 rows without a 'bought it' value" in result.stderr
    assert info_json(run)["classes"] == ["no", "yes"]
    result = run("evaluate", "model.safetensors", "t.csv", "--json")
    assert json.loads(succeeds(result))["rows"] == 110
    assert "evaluate: left out 10 rows without a 'bought it' value" in result.stderr


def test_a_stray_word_in_a_column_of_numbers_is_named_and_never_breaks_the_split(
    run: Run, tmp_path: Path
) -> None:
    """One 'unknown' among the ages: wherever the split puts its row, training succeeds (it
    failed with a ``TabularPreprocessor.transform`` message when the row was held out for
    validation), the column is categorical, and a note says which value made it so."""
    table = people(60).astype(object)
    table.loc[17, "age"] = "unknown"
    table.to_csv(tmp_path / "stray.csv", index=False)
    for seed in range(8):  # half the rows validate: the row is held out in about 4 of 8
        result = run(
            "train", "stray.csv", "--target", "bought it", "--val-split", "0.5",
            "--seed", str(seed), *FAST[:-1],
        )  # fmt: skip
        succeeds(result)
        assert (
            "train: column 'age' is read as categories, not numbers, because of a value that "
            "is not a number: 'unknown' in row 18; leave a missing value empty (or write NA "
            "or ?) to keep the column numeric"
        ) in result.stderr
        assert "(1 numeric, 3 categorical)" in result.stderr


def test_the_kind_of_a_column_can_be_given_to_the_preprocessor() -> None:
    training = {"age": ["30", "40", "50"], "city": ["Oslo", "Rome", "Oslo"]}
    pre = TabularPreprocessor().fit(training, categorical=["age"])
    assert pre.columns[0] == CategoricalColumn("age", ("30", "40", "50"), False)
    assert isinstance(TabularPreprocessor().fit(training).columns[0], NumericColumn)
    # A value never seen maps to zeros, as any unseen category does; no error.
    assert pre.transform({"age": ["unknown"], "city": ["Oslo"]}).tolist() == [[0, 0, 0, 1, 0]]
    assert pre.columns[1].unknown(["Oslo", " Bergen", None]).tolist() == [False, True, False]


# --- columns -----------------------------------------------------------------------------------


def test_an_unnamed_index_column_is_left_out(run: Run, tmp_path: Path) -> None:
    """``DataFrame.to_csv`` without ``index=False`` writes the row numbers in a column with
    no name: it cannot be named to --drop, and new data does not have it."""
    table = people()
    table.to_csv(tmp_path / "indexed.csv")
    assert (tmp_path / "indexed.csv").read_text().startswith(",age,")
    result = run("train", "indexed.csv", "--target", "bought it", *FAST[:-1])
    succeeds(result)
    assert "train: left out column '': it has no name and numbers the rows" in result.stderr
    assert info_json(run)["feature_columns"] == ["age", "income", "city", "note"]
    table.drop(columns=["bought it"]).to_csv(tmp_path / "new.csv", index=False)
    assert len(read_csv(succeeds(run("predict", "model.safetensors", "new.csv")))) == 120


def test_a_named_row_number_column_is_pointed_out(run: Run, tmp_path: Path) -> None:
    table = people()
    table.insert(0, "id", range(1, len(table) + 1))
    table.to_csv(tmp_path / "ids.csv", index=False)
    result = run("train", "ids.csv", "--target", "bought it", *FAST[:-1])
    succeeds(result)
    assert "column 'id' has a different value in every row" in result.stderr
    assert "--drop id leaves it out" in result.stderr


def test_columns_in_another_order_extra_ones_and_unseen_categories(
    run: Run, tmp_path: Path
) -> None:
    table = people()
    table.to_csv(tmp_path / "people.csv", index=False)
    succeeds(run("train", "people.csv", "--target", "bought it", *FAST))
    first = read_csv(succeeds(run("predict", "model.safetensors", "people.csv")))

    new = table.drop(columns=["bought it"])[["note", "city", "income", "age"]].copy()
    new["extra"] = "anything"
    new.loc[[0, 5], "city"] = "Berlin"
    new.to_csv(tmp_path / "new.csv", index=False)
    result = run("predict", "model.safetensors", "new.csv", "--id", "note")
    predicted = read_csv(succeeds(result))
    assert list(predicted.columns) == ["note", "prediction"]
    assert predicted["note"].tolist() == table["note"].tolist()  # commas and quotes kept
    same = ~predicted.index.isin([0, 5])
    assert predicted["prediction"][same].tolist() == first["prediction"][same].tolist()
    assert result.stderr == (
        "predict: column 'city' holds 2 values the model has no category for (such as "
        "'Berlin' in row 1); they count as none of its categories\n"
    )

    new.drop(columns=["city", "age"]).to_csv(tmp_path / "fewer.csv", index=False)
    fails(
        run("predict", "model.safetensors", "fewer.csv"),
        "predict: expected the feature columns 'age', 'city' that the model was trained with "
        "in 'fewer.csv', got a table without them",
    )


# --- files as users have them ------------------------------------------------------------------


def test_bom_windows_line_ends_and_unicode_names_read_as_the_plain_file(
    run: Run, tmp_path: Path
) -> None:
    table = people().rename(columns={"age": "âge", "city": "ville 🏙", "bought it": "acheté ?"})
    table.to_csv(tmp_path / "plain.csv", index=False)
    table.to_csv(tmp_path / "excel.csv", index=False, encoding="utf-8-sig", lineterminator="\r\n")
    assert (tmp_path / "excel.csv").read_bytes().startswith(b"\xef\xbb\xbf\xc3\xa2ge,")
    succeeds(run("train", "excel.csv", "--target", "acheté ?", *FAST))
    assert info_json(run)["feature_columns"] == ["âge", "income", "ville 🏙", "note"]
    plain = succeeds(run("predict", "model.safetensors", "plain.csv", "--proba"))
    assert plain == succeeds(run("predict", "model.safetensors", "excel.csv", "--proba"))
    assert "\r" not in plain


def test_a_utf16_table_from_excel_reads_as_the_utf8_one(run: Run, tmp_path: Path) -> None:
    """Excel's "Unicode Text": UTF-16 with a byte-order mark, tab-separated."""
    table = people()
    table.to_csv(tmp_path / "plain.csv", index=False)
    table.to_csv(tmp_path / "unicode.txt", sep="\t", index=False, encoding="utf-16")
    succeeds(run("train", "plain.csv", "--target", "bought it", *FAST))
    plain = succeeds(run("predict", "model.safetensors", "plain.csv", "--proba"))
    assert plain == succeeds(run("predict", "model.safetensors", "unicode.txt", "--proba"))


def test_a_windows_1252_table_is_named_as_such(run: Run, tmp_path: Path) -> None:
    rows = "".join(f"{city},{i},{'ab'[i % 2]}\n" for i, city in enumerate(["Montréal"] * 30))
    (tmp_path / "latin.csv").write_bytes(("ville,x,y\n" + rows).encode("cp1252"))
    fails(
        run("train", "latin.csv", "--target", "y"),
        "train: expected a text table in UTF-8 in 'latin.csv', got text in another encoding "
        "(byte 0xe9 on line 2; Windows-1252 or Latin-1?); save it as 'CSV UTF-8'",
    )
    # Binary data past the first 8 KiB is found on its line, not at a byte of some chunk.
    (tmp_path / "late.csv").write_bytes(b"a,y\n" + b"1,x\n2,y\n" * 2000 + b"\x00\xff\xfe,x\n")
    fails(
        run("train", "late.csv", "--target", "y"),
        "got bytes that are not text (0xff on line 4002); is it a binary file?",
    )


def test_a_model_and_a_table_the_wrong_way_round(run: Run, tmp_path: Path) -> None:
    people().to_csv(tmp_path / "people.csv", index=False)
    succeeds(run("train", "people.csv", "--target", "bought it", *FAST))
    for command in ("predict", "evaluate"):
        fails(
            run(command, "people.csv", "model.safetensors"),
            f"{command}: expected a model file written by `chainrule train` in 'people.csv', "
            f"got a text file (a table?); the model comes first: chainrule {command} MODEL DATA",
        )
        fails(
            run(command, "model.safetensors", "model.safetensors"),
            f"{command}: expected a table (CSV, TSV or Parquet) in 'model.safetensors', got a "
            f"model file; the table comes after the model",
        )
    fails(
        run("train", "model.safetensors", "--target", "y", "--out", "new.safetensors"),
        "train: expected a table (CSV, TSV or Parquet) in 'model.safetensors', got a model file",
    )
    fails(
        run("info", "people.csv"),
        "info: expected a model file written by `chainrule train` in 'people.csv', got a text "
        "file (a table?)",
    )
    (tmp_path / "folder.safetensors").mkdir()
    fails(run("info", "folder.safetensors"), "got the folder 'folder.safetensors'")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"a,b,y\n1,2,3.5\n", "--val-split: expected enough rows to hold out 0.2 of them, got 1"),
        (b"a,b,y\n", "expected at least one row of data in 't.csv', got only the header line"),
        (
            b'{"a": [1, 2],\n "y": [3, 4]}\n',
            "fields on every line of 't.csv' (as in its header), got 2 on line 2",
        ),
    ],
    ids=["single-row", "header-only", "json"],
)
def test_tables_too_small_or_not_tables(
    run: Run, tmp_path: Path, content: bytes, fragment: str
) -> None:
    (tmp_path / "t.csv").write_bytes(content)
    fails(run("train", "t.csv", "--target", "y"), fragment)


def test_a_single_row_predicts(run: Run, tmp_path: Path) -> None:
    table = people()
    table.to_csv(tmp_path / "people.csv", index=False)
    succeeds(run("train", "people.csv", "--target", "bought it", *FAST))
    table.drop(columns=["bought it"]).iloc[:1].to_csv(tmp_path / "one.csv", index=False)
    out = succeeds(run("predict", "model.safetensors", "one.csv"))
    assert out.splitlines()[0] == "prediction" and len(out.splitlines()) == 2


# --- targets -----------------------------------------------------------------------------------


def test_a_target_of_a_few_whole_numbers_says_how_to_predict_numbers(
    run: Run, tmp_path: Path
) -> None:
    table = people().drop(columns=["bought it"])
    table["rooms"] = (table["age"] // 20).astype(int)  # 0..3: four classes
    table.to_csv(tmp_path / "rooms.csv", index=False)
    result = run("train", "rooms.csv", "--target", "rooms", *FAST[:-1])
    succeeds(result)
    assert (
        "train: 'rooms' holds 4 distinct whole numbers, so each is a class; --task regression "
        "predicts numbers instead"
    ) in result.stderr
    result = run("train", "rooms.csv", "--target", "rooms", "--task", "regression", *FAST[:-1])
    succeeds(result)
    assert "regression of 'rooms'" in result.stderr and "distinct whole" not in result.stderr

    # Two classes of 0/1 are a yes/no, not a quantity: no note.
    table["rooms"] = (table["age"] > 45).astype(int)
    table.to_csv(tmp_path / "binary.csv", index=False)
    result = run("train", "binary.csv", "--target", "rooms", *FAST[:-1])
    assert "distinct whole" not in result.stderr and "from 4 columns" in result.stderr


def test_large_regression_predictions_are_plain_numbers(run: Run, tmp_path: Path) -> None:
    table = people().drop(columns=["bought it"])
    table["price"] = 1e7 + 1e5 * table["age"]
    table.to_csv(tmp_path / "prices.csv", index=False)
    succeeds(run("train", "prices.csv", "--target", "price", *FAST))
    predicted = read_csv(succeeds(run("predict", "model.safetensors", "prices.csv")))
    assert not predicted["prediction"].str.contains("e").any()
    values = predicted["prediction"].astype(float)
    assert values.between(5e6, 2e7).all()


# --- evaluate against scikit-learn --------------------------------------------------------------


def test_evaluate_matches_scikit_learn_for_a_classifier(run: Run, tmp_path: Path) -> None:
    table = people()
    table.to_csv(tmp_path / "people.csv", index=False)
    succeeds(run("train", "people.csv", "--target", "bought it", *FAST))
    labelled = table.iloc[:40].copy()
    labelled.loc[labelled.index[:3], "bought it"] = "maybe"  # a label the model never saw
    labelled.to_csv(tmp_path / "labelled.csv", index=False)
    result = run("evaluate", "model.safetensors", "labelled.csv", "--json")
    scores = json.loads(succeeds(result))
    assert "3 rows have labels the model never saw (such as 'maybe')" in result.stderr

    predicted = read_csv(succeeds(run("predict", "model.safetensors", "labelled.csv", "--proba")))
    truth = labelled["bought it"]
    known = truth.isin(["no", "yes"]).to_numpy()
    proba = predicted[["proba_no", "proba_yes"]].astype(float).to_numpy()
    assert scores["rows"] == 40
    assert scores["accuracy"] == pytest.approx(
        metrics.accuracy_score(truth, predicted["prediction"])
    )
    # Two classes: f1 of the second ('yes'), as scikit-learn's pos_label; 'maybe' is not it.
    assert scores["positive_class"] == "yes"
    assert scores["f1"] == pytest.approx(
        metrics.f1_score(truth == "yes", predicted["prediction"] == "yes")
    )
    assert scores["log_loss"] == pytest.approx(
        metrics.log_loss(truth[known], proba[known], labels=["no", "yes"]), rel=1e-5
    )


def test_evaluate_matches_scikit_learn_for_regression(run: Run, tmp_path: Path) -> None:
    table = people().drop(columns=["bought it"])
    table["spend"] = (table["income"] * 3 + table["age"]).round(1)
    table.to_csv(tmp_path / "spend.csv", index=False)
    succeeds(run("train", "spend.csv", "--target", "spend", *FAST))
    scores = json.loads(succeeds(run("evaluate", "model.safetensors", "spend.csv", "--json")))
    predicted = read_csv(succeeds(run("predict", "model.safetensors", "spend.csv")))
    values = predicted["prediction"].astype(float)
    truth = table["spend"]
    # predict writes 7 significant digits; evaluate scores the unrounded values
    assert scores["rmse"] == pytest.approx(metrics.root_mean_squared_error(truth, values), rel=1e-5)
    assert scores["mae"] == pytest.approx(metrics.mean_absolute_error(truth, values), rel=1e-5)
    assert scores["r2"] == pytest.approx(metrics.r2_score(truth, values), rel=1e-4, abs=1e-5)
