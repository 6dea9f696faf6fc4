"""train -> predict -> evaluate -> info, through the real command, on the kinds of tables a
user has: string labels, integer labels, categories with missing values, regression."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cli_helpers
import numpy as np
import pandas as pd
import pytest
from cli_helpers import Run, fails, metrics_table, succeeds

# Fixtures, taken from cli_helpers (a conftest.py here would break doctest collection).
chainrule = cli_helpers.chainrule
data_dir = cli_helpers.data_dir

# A few epochs: these tests are about what goes in and out, not about accuracy.
FAST = ("--epochs", "15", "--patience", "0")


def read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def test_digits_is_the_main_job(chainrule: Run, tmp_path: Path) -> None:
    """The README's main command: 97% or better on the held-out test part, well under a
    minute, a table on stdout and progress on stderr."""
    started = time.perf_counter()
    out = succeeds(chainrule("train", "--dataset", "digits"))
    elapsed = time.perf_counter() - started
    table = metrics_table(out)
    assert set(table) == {"training", "validation", "test"}
    assert table["test"]["accuracy"] >= 0.97, out
    assert elapsed < 60
    assert out.strip().splitlines()[-1].startswith("model written to model.safetensors (")
    assert (tmp_path / "model.safetensors").is_file()

    info = succeeds(chainrule("info", "model.safetensors"))
    assert "classification of 'target' into 10 classes: 0, 1, 2, 3" in info
    assert "dataset digits: " in info and "rows for test" in info


def test_string_labels_round_trip(chainrule: Run, data_dir: Path, tmp_path: Path) -> None:
    iris = data_dir / "iris.csv"
    result = chainrule("train", iris, "--target", "species", "--out", "iris.safetensors", *FAST)
    out = succeeds(result)
    assert set(metrics_table(out)) == {"training", "validation"}
    assert out.strip().endswith("model written to iris.safetensors (9,475 parameters)")
    assert "epoch 15/15" in result.stderr  # progress goes to stderr, one line per epoch here

    predicted = read_csv(succeeds(chainrule("predict", "iris.safetensors", iris)))
    truth = pd.read_csv(iris)["species"]
    assert list(predicted.columns) == ["prediction"]
    assert set(predicted["prediction"]) <= {"setosa", "versicolor", "virginica"}
    accuracy = float((predicted["prediction"] == truth).mean())
    assert accuracy >= 0.8

    with_proba = read_csv(
        succeeds(chainrule("predict", "iris.safetensors", iris, "--proba", "--id", "species"))
    )
    assert list(with_proba.columns) == [
        "species",
        "prediction",
        "proba_setosa",
        "proba_versicolor",
        "proba_virginica",
    ]
    assert with_proba["species"].tolist() == truth.tolist()
    proba = with_proba.filter(like="proba_").astype(float).to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (with_proba["prediction"] == predicted["prediction"]).all()

    written = chainrule("predict", "iris.safetensors", iris, "--output", "predictions.csv")
    assert succeeds(written) == ""
    assert "150 predictions written to predictions.csv" in written.stderr
    assert read_csv((tmp_path / "predictions.csv").read_text()).equals(predicted)

    scores = json.loads(succeeds(chainrule("evaluate", "iris.safetensors", iris, "--json")))
    assert scores["rows"] == 150
    assert scores["accuracy"] == pytest.approx(accuracy)
    assert set(scores) == {"rows", "log_loss", "accuracy", "f1_macro"}
    text = succeeds(chainrule("evaluate", "iris.safetensors", iris, "--target", "species"))
    assert f"accuracy  {accuracy:.4f}" in text

    info = succeeds(chainrule("info", "iris.safetensors"))
    for fragment in (
        "classification of 'species' into 3 classes: setosa, versicolor, virginica",
        "iris.csv: 120 rows for training, 30 rows for validation",
        "parameters    9,475",
        "(0): Linear(in_features=4, out_features=128, bias=True)",
        "hidden 128,64",
        "sepal length (cm)",
        "numeric      median 5.",
        "validation",
    ):
        assert fragment in info, fragment
    document = json.loads(succeeds(chainrule("info", "iris.safetensors", "--json")))
    assert document["classes"] == ["setosa", "versicolor", "virginica"]
    assert document["parameters"] == 9475
    assert document["settings"]["epochs"] == 15
    assert document["architecture"]["type"] == "Sequential"


def test_categories_with_missing_values_and_columns_in_any_order(
    chainrule: Run, data_dir: Path, tmp_path: Path
) -> None:
    wine = data_dir / "wine.csv"
    succeeds(chainrule("train", wine, "--target", "cultivar", "--drop", "id", *FAST))
    info = succeeds(chainrule("info", "model.safetensors"))
    assert "color                         categorical  deep, medium, pale, <missing>" in info
    assert "13 columns -> 16 inputs" in info

    original = read_csv(succeeds(chainrule("predict", "model.safetensors", wine, "--id", "id")))
    assert original["id"].tolist() == [f"w{i:03d}" for i in range(178)]

    # Columns reversed and without the target; some colors never seen, some cells empty.
    frame = pd.read_csv(wine, dtype=str).drop(columns=["cultivar"])
    frame = frame[list(reversed(frame.columns))]
    changed = [3, 50, 120]
    frame.loc[changed[:2], "color"] = "ultraviolet"
    frame.loc[changed[2], ["color", "alcohol"]] = np.nan
    frame.to_csv(tmp_path / "new.csv", index=False)
    again = read_csv(succeeds(chainrule("predict", "model.safetensors", "new.csv", "--id", "id")))
    same = ~original.index.isin(changed)
    assert again[same].equals(original[same])
    assert set(again["prediction"]) <= {"barbera", "barolo", "grignolino"}

    # A label the model never saw counts as an error, with a note.
    truth = pd.read_csv(wine, dtype=str)
    truth.loc[0, "cultivar"] = "nebbiolo"
    truth.to_csv(tmp_path / "relabelled.csv", index=False)
    result = chainrule("evaluate", "model.safetensors", "relabelled.csv", "--json")
    assert json.loads(succeeds(result))["rows"] == 178
    assert "1 rows have labels the model never saw (such as 'nebbiolo')" in result.stderr


def test_integer_labels_stay_integers(chainrule: Run, data_dir: Path) -> None:
    cancer = data_dir / "cancer.csv"
    succeeds(chainrule("train", cancer, "--target", "diagnosis", *FAST))
    predicted = read_csv(succeeds(chainrule("predict", "model.safetensors", cancer, "--proba")))
    assert list(predicted.columns) == ["prediction", "proba_0", "proba_1"]
    assert set(predicted["prediction"]) == {"0", "1"}
    truth = pd.read_csv(cancer)["diagnosis"].astype(str)
    assert float((predicted["prediction"] == truth).mean()) >= 0.9


def test_regression_round_trip(chainrule: Run, data_dir: Path) -> None:
    diabetes = data_dir / "diabetes.csv"
    result = chainrule("train", diabetes, "--target", "progression", "--epochs", "40")
    table = metrics_table(succeeds(result))
    assert set(table["training"]) == {"rmse", "mae", "r2"}
    assert "regression of 'progression' from 10 columns" in result.stderr

    predicted = read_csv(succeeds(chainrule("predict", "model.safetensors", diabetes)))
    values = predicted["prediction"].astype(float)
    assert values.min() > 25 and values.max() < 350  # in the target's units, not scaled
    scores = json.loads(succeeds(chainrule("evaluate", "model.safetensors", diabetes, "--json")))
    assert set(scores) == {"rows", "rmse", "mae", "r2"}
    assert scores["r2"] > 0.3
    assert "regression of 'progression' (mean 1" in succeeds(chainrule("info", "model.safetensors"))
    fails(
        chainrule("predict", "model.safetensors", diabetes, "--proba"),
        "predict: --proba: expected a classification model, got a regression model",
    )


def test_a_seeded_run_repeated_writes_the_same_bytes(
    chainrule: Run, data_dir: Path, tmp_path: Path
) -> None:
    wine = data_dir / "wine.csv"
    common = ("train", wine, "--target", "cultivar", "--drop", "id", *FAST, "--quiet")
    first = succeeds(chainrule(*common, "--out", "a.safetensors"))
    second = succeeds(chainrule(*common, "--out", "b.safetensors"))
    assert first.replace("a.safetensors", "b.safetensors") == second
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    succeeds(chainrule(*common, "--out", "c.safetensors", "--seed", "1"))
    assert (tmp_path / "a.safetensors").read_bytes() != (tmp_path / "c.safetensors").read_bytes()


def test_config_file_with_flags_that_override_it(
    chainrule: Run, data_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "run.toml").write_text(
        f'data = "{(data_dir / "iris.csv").as_posix()}"\n'
        'target = "species"\n'
        "hidden = [16]\n"
        "epochs = 3\n"
        "batch-size = 16\n"
        "batch_norm = false\n"
        'optimizer = "momentum"\n'
        "quiet = true\n"
        'out = "configured.safetensors"\n'
    )
    result = chainrule("train", "--config", "run.toml", "--hidden", "8,4")
    succeeds(result)
    assert result.stderr == ""
    settings = json.loads(succeeds(chainrule("info", "configured.safetensors", "--json")))
    assert settings["settings"]["hidden"] == [8, 4]
    assert settings["settings"]["epochs"] == 3
    assert settings["settings"]["batch_size"] == 16
    assert settings["settings"]["batch_norm"] is False
    assert settings["settings"]["optimizer"] == "momentum"
    assert settings["settings"]["lr"] == 0.01


def test_plot_and_table_formats(chainrule: Run, data_dir: Path, tmp_path: Path) -> None:
    iris = data_dir / "iris.csv"
    pd.read_csv(iris).to_csv(tmp_path / "iris.tsv", sep="\t", index=False)
    out = succeeds(chainrule("train", "iris.tsv", "--target", "species", *FAST, "--plot", "c.png"))
    assert out.strip().endswith("; curves plotted to c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    pd.read_csv(iris).to_csv(tmp_path / "iris.csv", index=False)
    parquet = tmp_path / "iris.parquet"
    try:
        pd.read_csv(iris).to_parquet(parquet)
    except ImportError:
        parquet.write_bytes(b"PAR1")
        fails(chainrule("predict", "model.safetensors", parquet), "needs pyarrow")
    else:  # pragma: no cover - where pyarrow is installed
        predicted = succeeds(chainrule("predict", "model.safetensors", parquet))
        assert predicted == succeeds(chainrule("predict", "model.safetensors", "iris.csv"))


def test_entry_points(tmp_path: Path) -> None:
    module = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", "predict", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert module.returncode == 0 and "--proba" in module.stdout
    script = shutil.which("chainrule", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the chainrule console script is not installed next to this Python")
    result = subprocess.run(
        [script, "demo", "--epochs", "10"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "loss fell from" in result.stdout
