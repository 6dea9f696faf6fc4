"""Whole workflows a data scientist runs, checked against scikit-learn: tables made from
scikit-learn's bundled datasets written as CSV and TSV, ``train`` with the documented options,
then ``predict``, ``evaluate``, ``info``, ``export`` (run with onnxruntime) and ``explain``;
the metrics printed equal scikit-learn's on the predictions written; a seed repeats a run
byte for byte; a config file and flags combine; a resumed run is the uninterrupted one; and
each user mistake is one line on stderr with exit status 2. The command runs in this process
with no standard input (a subprocess per call would take minutes); one test runs the real
console script with standard input closed.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cli_helpers
import numpy as np
import pandas as pd
import pytest
from cli_helpers import fails, metrics_table, succeeds
from sklearn import datasets, metrics

Run = Callable[..., Any]
QUICK = ("--hidden", "8", "--patience", "0", "--quiet")


main_in_folder = cli_helpers.main_in_folder  # the fixture `run`


def sklearn_table(name: str, rows: int | None = None) -> pd.DataFrame:
    """A scikit-learn dataset as a user's table: an ``id`` column, the features, ``y``."""
    bunch = getattr(datasets, f"load_{name}")()
    names = [str(n) for n in bunch.feature_names]
    frame = pd.DataFrame(bunch.data, columns=names)
    frame["y"] = bunch.target
    frame.insert(0, "id", [f"r{i}" for i in range(len(frame))])
    return frame if rows is None else frame.sample(rows, random_state=0).reset_index(drop=True)


def probabilities(predictions: pd.DataFrame) -> np.ndarray:
    """The ``proba_*`` columns, rows rescaled to sum to 1 (the CSV rounds them)."""
    proba = predictions.filter(like="proba_").to_numpy()
    return proba / proba.sum(axis=1, keepdims=True)


# --- workflows against scikit-learn ------------------------------------------------------------


def test_a_classifier_trained_on_csv_scores_as_sklearn_does_on_its_predictions(
    run: Run, tmp_path: Path
) -> None:
    table = sklearn_table("wine")
    table.to_csv(tmp_path / "wine.csv", index=False)
    # New rows: a TSV file, columns in another order, without the target.
    new = table.drop(columns="y")[table.columns[::-1].drop("y")]
    new.to_csv(tmp_path / "new.tsv", sep="\t", index=False)
    options = ("--hidden", "16,8", "--activation", "tanh", "--optimizer", "momentum")
    options += ("--lr", "0.05", "--batch-size", "16", "--epochs", "8", "--val-split", "0")
    options += ("--patience", "0", "--seed", "3", "--drop", "id", "--task", "classification")
    printed = metrics_table(succeeds(run("train", "wine.csv", "--target", "y", *options)))

    result = run("predict", "model.safetensors", "new.tsv", "--proba", "--id", "id", "-o", "p.csv")
    assert succeeds(result) == ""
    predictions = pd.read_csv(tmp_path / "p.csv")
    assert list(predictions.columns) == ["id", "prediction", "proba_0", "proba_1", "proba_2"]
    assert list(predictions["id"]) == list(table["id"])
    y, predicted = table["y"], predictions["prediction"]
    # Without validation or test parts, the training rows are the whole file.
    expected = {
        "accuracy": metrics.accuracy_score(y, predicted),
        "f1_macro": metrics.f1_score(y, predicted, average="macro"),  # three classes
        "log_loss": metrics.log_loss(y, probabilities(predictions)),
    }
    assert printed["training"] == pytest.approx(expected, abs=1e-4)
    scores = json.loads(succeeds(run("evaluate", "model.safetensors", "wine.csv", "--json")))
    assert scores["rows"] == len(table)
    assert {k: scores[k] for k in expected} == pytest.approx(expected, abs=1e-5)


def test_a_regressor_scores_as_sklearn_does_and_its_onnx_file_predicts_the_same(
    run: Run, tmp_path: Path
) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    table = sklearn_table("diabetes")
    table.to_csv(tmp_path / "diabetes.tsv", sep="\t", index=False)
    options = ("--loss", "huber", "--optimizer", "adamw", "--epochs", "6", "--val-split", "0")
    train = run("train", "diabetes.tsv", "--target", "y", "--drop", "id", *options, *QUICK)
    printed = metrics_table(succeeds(train))
    succeeds(run("predict", "model.safetensors", "diabetes.tsv", "--output", "p.csv"))
    predicted = pd.read_csv(tmp_path / "p.csv")["prediction"].to_numpy()
    y = table["y"].to_numpy()
    expected = {
        "rmse": np.sqrt(metrics.mean_squared_error(y, predicted)),
        "mae": metrics.mean_absolute_error(y, predicted),
        "r2": metrics.r2_score(y, predicted),
    }
    assert printed["training"] == pytest.approx(expected, rel=1e-4, abs=1e-4)

    succeeds(run("export", "model.safetensors", "--format", "onnx", "--output", "m.onnx"))
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    raw = table.drop(columns=["id", "y"]).to_numpy(np.float32)
    (onnx_predicted,) = session.run(None, {session.get_inputs()[0].name: raw})
    np.testing.assert_allclose(onnx_predicted.ravel(), predicted, rtol=1e-4, atol=1e-3)


def test_a_held_out_test_part_is_reported_and_info_describes_the_run(
    run: Run, tmp_path: Path
) -> None:
    sklearn_table("breast_cancer").to_csv(tmp_path / "cancer.csv", index=False)
    options = ("--test-split", "0.25", "--val-split", "0.2", "--epochs", "3", "--seed", "1")
    printed = metrics_table(succeeds(run("train", "cancer.csv", "--target", "y", "--drop", "id",
                                         *options, *QUICK)))  # fmt: skip
    assert set(printed) == {"training", "validation", "test"}
    info = succeeds(run("info", "model.safetensors"))
    assert "classification of 'y' into 2 classes: 0, 1" in info
    parts = re.search(
        r"(\d+) rows for training, (\d+) rows for validation, (\d+) rows for test", info
    )
    assert parts is not None, info
    training, validation, test = map(int, parts.groups())
    assert test + training + validation == 569
    assert test in (142, 143)  # a quarter of 569
    assert validation in (85, 86)  # a fifth of the rest
    assert "test_split 0.25" in info


def test_explain_traces_a_step_of_a_trained_model_on_rows_of_a_file(
    run: Run, tmp_path: Path
) -> None:
    sklearn_table("iris").to_csv(tmp_path / "iris.csv", index=False)
    succeeds(run("train", "iris.csv", "--target", "y", "--drop", "id", "--epochs", "2", *QUICK))
    text = succeeds(run("explain", "model.safetensors", "iris.csv", "--rows", "10:13"))
    assert "3 samples" in text
    assert "Forward pass" in text


def test_a_cnn_trains_on_digits_pixels_and_predicts(run: Run, tmp_path: Path) -> None:
    sklearn_table("digits", rows=300).to_csv(tmp_path / "digits.csv", index=False)
    options = ("--arch", "cnn", "--epochs", "1", "--val-split", "0", "--drop", "id", "--quiet")
    succeeds(run("train", "digits.csv", "--target", "y", *options))
    result = run("predict", "model.safetensors", "digits.csv", "--proba")
    predictions = pd.read_csv(io.StringIO(succeeds(result)))
    assert len(predictions) == 300
    assert [c for c in predictions.columns if c.startswith("proba_")] == [
        f"proba_{k}" for k in range(10)
    ]


# --- repeatability, config files, resume -------------------------------------------------------


def test_the_same_seed_writes_the_same_model_file_and_another_seed_another(
    run: Run, tmp_path: Path
) -> None:
    sklearn_table("iris").to_csv(tmp_path / "iris.csv", index=False)
    for seed, out in (("5", "a.st"), ("5", "b.st"), ("6", "c.st")):
        succeeds(run("train", "iris.csv", "--target", "y", "--drop", "id", "--epochs", "3",
                     "--seed", seed, "--out", out, *QUICK))  # fmt: skip
    assert (tmp_path / "a.st").read_bytes() == (tmp_path / "b.st").read_bytes()
    assert (tmp_path / "a.st").read_bytes() != (tmp_path / "c.st").read_bytes()


def test_a_config_file_sets_options_and_flags_given_too_win(run: Run, tmp_path: Path) -> None:
    sklearn_table("iris").to_csv(tmp_path / "iris.csv", index=False)
    (tmp_path / "run.toml").write_text(
        'target = "y"\ndrop = ["id"]\nepochs = 4\nhidden = [12, 6]\nactivation = "gelu"\n'
        "batch_norm = false\nquiet = true\nseed = 2\n"
    )
    result = run("train", "iris.csv", "--config", "run.toml", "--epochs", "2", "--hidden", "5")
    succeeds(result)
    assert result.stderr == ""  # quiet, from the file
    info = " ".join(succeeds(run("info", "model.safetensors")).split())
    for setting in ("activation gelu", "batch_norm no", "epochs 2", "hidden 5", "seed 2"):
        assert setting in info


def test_a_resumed_run_writes_the_file_of_the_uninterrupted_run(run: Run, tmp_path: Path) -> None:
    sklearn_table("wine").to_csv(tmp_path / "wine.csv", index=False)
    common = ("wine.csv", "--target", "y", "--drop", "id", "--seed", "4", *QUICK)
    succeeds(run("train", *common, "--epochs", "4", "--out", "whole.st"))
    succeeds(run("train", *common, "--epochs", "2", "--checkpoint-dir", "ck", "--out", "half.st"))
    succeeds(run("train", *common, "--epochs", "4", "--checkpoint-dir", "ck", "--resume",
                 "--out", "resumed.st"))  # fmt: skip
    assert (tmp_path / "resumed.st").read_bytes() == (tmp_path / "whole.st").read_bytes()


def test_resuming_with_fewer_epochs_than_the_checkpoint_has_done_is_refused(
    run: Run, tmp_path: Path
) -> None:
    """The checkpoint's weights are past the run asked for: writing them would give a model
    of 3 epochs whose settings say 2."""
    sklearn_table("wine").to_csv(tmp_path / "wine.csv", index=False)
    common = ("wine.csv", "--target", "y", "--drop", "id", "--checkpoint-dir", "ck", *QUICK)
    succeeds(run("train", *common, "--epochs", "3", "--out", "three.st"))
    fails(run("train", *common, "--epochs", "2", "--resume", "--out", "two.st"),
          "--epochs: expected at least the 3 epochs the checkpoint", "got 2")  # fmt: skip
    assert not (tmp_path / "two.st").exists()


# --- files the run writes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (("--plot", "iris.csv"), "--plot: expected a path other than the data's"),
        (("--diagnostics", "./iris.csv"), "--diagnostics: expected a path other than the data's"),
        (("--plot", "m.st"), "--plot: expected a path other than --out's"),
        (("--diagnostics", "m.st"), "--diagnostics: expected a path other than --out's"),
        (("--plot", "x.png", "--diagnostics", "x.png"), "expected a path other than --plot's"),
        (("--checkpoint-dir", "."), "--checkpoint-dir: expected a path other than --out's"),
    ],
)
def test_a_plot_or_report_is_never_written_over_the_data_or_the_model(
    run: Run, tmp_path: Path, flags: tuple[str, ...], fragment: str
) -> None:
    sklearn_table("iris").to_csv(tmp_path / "iris.csv", index=False)
    before = (tmp_path / "iris.csv").read_bytes()
    out = "checkpoint.safetensors" if "--checkpoint-dir" in flags else "m.st"
    result = run("train", "iris.csv", "--target", "y", "--epochs", "1", "--out", out, *flags)
    fails(result, fragment)
    assert (tmp_path / "iris.csv").read_bytes() == before
    assert not (tmp_path / out).exists()


def test_a_diagnostics_path_in_a_missing_folder_fails_before_training(
    run: Run, tmp_path: Path
) -> None:
    sklearn_table("iris").to_csv(tmp_path / "iris.csv", index=False)
    result = run("train", "iris.csv", "--target", "y", "--epochs", "1", "--out", "m.st",
                 "--diagnostics", "nowhere/report.html")  # fmt: skip
    fails(result, "train: --diagnostics: expected a path in an existing folder", "nowhere")
    assert not (tmp_path / "m.st").exists()


# --- user mistakes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ('epochs = "ten"', "epochs: expected a positive integer, got 'ten'"),
        ("epochs = 2.5", "epochs: expected a positive integer, got 2.5"),
        ('hidden = [8, "x"]', "hidden: expected layer widths"),
        ("lr = true", "lr: expected a number > 0, got True"),
        ('quiet = "yes"', "quiet: expected true or false, got 'yes'"),
        ("drop = [5]", "drop: expected column names"),
        ("epoch = 5", "expected a known option, got 'epoch'; did you mean 'epochs'?"),
        ("epochs = ", "expected TOML in 'run.toml', got a syntax error"),
    ],
)
def test_a_config_file_with_a_wrong_value_is_one_line(
    run: Run, tmp_path: Path, toml: str, fragment: str
) -> None:
    sklearn_table("iris").to_csv(tmp_path / "iris.csv", index=False)
    (tmp_path / "run.toml").write_text(toml + "\n")
    fails(run("train", "iris.csv", "--target", "y", "--config", "run.toml"), fragment)
    assert not (tmp_path / "model.safetensors").exists()


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (
            ("--target", "Y"),
            "--target: expected a column of 'iris.csv', got 'Y'; did you mean 'y'?",
        ),
        (("--target", "y", "--epochs", "-1"), "--epochs: expected a positive integer, got '-1'"),
        (("--target", "y", "--lr", "abc"), "--lr: expected a number > 0, got 'abc'"),
        (("--target", "y", "--batch-size", "0"), "--batch-size: expected a positive integer"),
        (("--target", "y", "--val-split", "1"), "--val-split: expected a fraction in [0, 1)"),
        (("--target", "y", "--hidden", "8,,4"), "--hidden: expected layer widths"),
        (("--target", "y", "--activation", "swish"), "--activation: expected one of relu"),
        (("--target", "y", "--drop", "nope"), "--drop: expected columns of 'iris.csv'"),
        (("--target", "name", "--task", "regression"), "expected numbers for a regression target"),
        (("--target", "y", "--loss", "mse"), "--loss: expected cross_entropy for classification"),
    ],
)
def test_a_training_mistake_is_one_line(
    run: Run, tmp_path: Path, flags: tuple[str, ...], fragment: str
) -> None:
    table = sklearn_table("iris")
    table["name"] = np.array(["setosa", "versicolor", "virginica"])[table["y"]]
    table.to_csv(tmp_path / "iris.csv", index=False)
    fails(run("train", "iris.csv", *flags), "chainrule: error: train: ", fragment)


def test_predicting_on_a_table_without_a_feature_column_names_it(run: Run, tmp_path: Path) -> None:
    table = sklearn_table("iris")
    table.to_csv(tmp_path / "iris.csv", index=False)
    table.drop(columns="petal width (cm)").to_csv(tmp_path / "new.csv", index=False)
    succeeds(run("train", "iris.csv", "--target", "y", "--drop", "id", "--epochs", "1", *QUICK))
    fails(run("predict", "model.safetensors", "new.csv"), "'petal width (cm)'", "'new.csv'")
    fails(run("evaluate", "model.safetensors", "new.csv"), "'petal width (cm)'")


def test_the_console_script_fails_with_one_line_when_standard_input_is_closed(
    tmp_path: Path,
) -> None:
    sklearn_table("iris").to_csv(tmp_path / "iris.csv", index=False)
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", "train", "iris.csv", "--target", "species"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    fails(result, "--target: expected a column of 'iris.csv', got 'species'")
