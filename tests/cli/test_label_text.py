"""Labels written as codes (``007``, ``1.0``, ``+3``) come back from ``predict`` exactly as
the table wrote them, ``evaluate`` finds them, and model files written while such text
became numbers still predict what they did."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cli_helpers
import pandas as pd
import pytest
from cli_helpers import Run, succeeds

from chainrule.io import load, read_metadata, save

# Fixtures, taken from cli_helpers (a conftest.py here would break doctest collection).
chainrule = cli_helpers.chainrule
data_dir = cli_helpers.data_dir

FAST = ("--epochs", "10", "--patience", "0", "--quiet")
CODES = {"setosa": "007", "versicolor": "012", "virginica": "100"}


def read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def coded_iris(data_dir: Path, folder: Path, codes: dict[str, str]) -> pd.DataFrame:
    """iris.csv with its species written as ``codes``, saved as ``coded.csv``."""
    table = pd.read_csv(data_dir / "iris.csv")
    table["species"] = table["species"].map(codes)
    table.to_csv(folder / "coded.csv", index=False)
    return pd.read_csv(folder / "coded.csv", dtype=str, keep_default_na=False)


@pytest.mark.parametrize(
    "codes",
    [
        CODES,
        {"setosa": "1.0", "versicolor": "2.0", "virginica": "3.0"},
        {"setosa": "+3", "versicolor": "5", "virginica": "1e3"},
    ],
    ids=["leading-zeros", "decimal-point", "sign-and-exponent"],
)
def test_code_labels_come_back_as_written(
    chainrule: Run, data_dir: Path, tmp_path: Path, codes: dict[str, str]
) -> None:
    table = coded_iris(data_dir, tmp_path, codes)
    succeeds(chainrule("train", "coded.csv", "--target", "species", *FAST))

    result = chainrule("predict", "model.safetensors", "coded.csv", "--proba")
    predicted = read_csv(succeeds(result))
    labels = sorted(codes.values())
    assert list(predicted.columns) == ["prediction", *(f"proba_{label}" for label in labels)]
    assert set(predicted["prediction"]) <= set(labels)
    accuracy = float((predicted["prediction"] == table["species"]).mean())
    assert accuracy >= 0.6  # the labels line up with the rows they belong to

    scores = json.loads(succeeds(chainrule("evaluate", "model.safetensors", "coded.csv", "--json")))
    assert scores["rows"] == 150
    assert scores["accuracy"] == pytest.approx(accuracy)
    assert read_metadata(tmp_path / "model.safetensors")["classes"] == labels
    info = succeeds(chainrule("info", "model.safetensors"))
    assert f"into 3 classes: {', '.join(labels)}" in info


def test_evaluate_finds_code_labels_in_a_table_of_one_of_them(
    chainrule: Run, data_dir: Path, tmp_path: Path
) -> None:
    """Rows labelled only ``100`` read as the number 100 on their own; they are still the
    class ``100``, and ``12`` is not the class ``012``."""
    table = coded_iris(data_dir, tmp_path, CODES)
    succeeds(chainrule("train", "coded.csv", "--target", "species", *FAST))
    table[table["species"] == "100"].to_csv(tmp_path / "hundreds.csv", index=False)
    result = chainrule("evaluate", "model.safetensors", "hundreds.csv", "--json")
    assert json.loads(succeeds(result))["rows"] == 50
    assert "never saw" not in result.stderr

    table["species"] = table["species"].str.lstrip("0")
    table.to_csv(tmp_path / "unpadded.csv", index=False)
    result = chainrule("evaluate", "model.safetensors", "unpadded.csv")
    succeeds(result)
    assert "100 rows have labels the model never saw (such as '7')" in result.stderr


def test_a_model_file_from_before_still_predicts_what_it_did(
    chainrule: Run, data_dir: Path, tmp_path: Path
) -> None:
    """Before labels kept their text, ``007`` was stored as the class 7. Such a file (the
    same weights and metadata, classes as numbers) predicts numbers, as it did, and reads
    the coded table it was trained on."""
    coded_iris(data_dir, tmp_path, CODES)
    succeeds(chainrule("train", "coded.csv", "--target", "species", *FAST))
    model, metadata = load(tmp_path / "model.safetensors", with_metadata=True)
    metadata["classes"] = metadata["target_encoding"]["classes"] = [7, 12, 100]
    save(model, tmp_path / "old.safetensors", metadata=metadata)

    new = read_csv(succeeds(chainrule("predict", "model.safetensors", "coded.csv", "--proba")))
    old = read_csv(succeeds(chainrule("predict", "old.safetensors", "coded.csv", "--proba")))
    assert list(old.columns) == ["prediction", "proba_7", "proba_12", "proba_100"]
    assert old["prediction"].tolist() == [str(int(label)) for label in new["prediction"]]
    assert old.iloc[:, 1:].to_numpy().tolist() == new.iloc[:, 1:].to_numpy().tolist()
    assert succeeds(chainrule("evaluate", "old.safetensors", "coded.csv")) == succeeds(
        chainrule("evaluate", "model.safetensors", "coded.csv")
    )


def test_a_regression_target_written_as_text_numbers(
    chainrule: Run, data_dir: Path, tmp_path: Path
) -> None:
    """Numbers written with leading zeros and signs are still numbers to learn."""
    table = pd.read_csv(data_dir / "diabetes.csv")
    table["progression"] = [f"+{value:08.2f}" for value in table["progression"]]
    table.to_csv(tmp_path / "padded.csv", index=False)
    assert (tmp_path / "padded.csv").read_text().splitlines()[1].endswith(",+00151.00")
    succeeds(chainrule("train", "padded.csv", "--target", "progression", *FAST))
    assert read_metadata(tmp_path / "model.safetensors")["task"] == "regression"

    predicted = read_csv(succeeds(chainrule("predict", "model.safetensors", "padded.csv")))
    assert pd.to_numeric(predicted["prediction"]).notna().all()
    padded = chainrule("evaluate", "model.safetensors", "padded.csv")
    plain = chainrule("evaluate", "model.safetensors", data_dir / "diabetes.csv")
    assert succeeds(padded) == succeeds(plain)
