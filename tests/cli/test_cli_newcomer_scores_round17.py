"""Round 17, what newcomers compared at the command line: a two-class ``f1`` that is
scikit-learn's ``f1_score`` with the second label as ``pos_label`` (and says so), a
multiclass one named ``f1_macro``; a regression's loss labelled as that of the standardized
target; ``info`` showing a constant column's std as 0; ``--patience`` without validation
rows noted; the help saying where ``--config`` paths are resolved."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cli_helpers
import numpy as np
import pandas as pd
import pytest

sk = pytest.importorskip("sklearn.metrics")

# Fixtures, taken from cli_helpers (a conftest.py here would break doctest collection).
run = cli_helpers.main_in_folder
data_dir = cli_helpers.data_dir

Main = Callable[..., SimpleNamespace]
FAST = ("--epochs", "3", "--hidden", "8", "--quiet")


def _ok(result: SimpleNamespace) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return str(result.stdout)


def _two_classes(tmp_path: Path) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    table = pd.DataFrame(x, columns=["a", "b", "c"])
    noisy = x[:, 0] + rng.normal(scale=1.0, size=120) > 0.3
    table["diagnosis"] = np.where(noisy, "malignant", "benign")
    table.to_csv(tmp_path / "cells.csv", index=False)
    return table


def test_a_two_class_f1_is_scikit_learns_with_the_second_label_positive(
    run: Main, tmp_path: Path
) -> None:
    table = _two_classes(tmp_path)
    trained = _ok(run("train", "cells.csv", "--target", "diagnosis", "--val-split", "0", *FAST))
    note = "f1 is of class 'malignant', the second in sorted order"
    assert note in trained
    scores = json.loads(_ok(run("evaluate", "model.safetensors", "cells.csv", "--json")))
    predicted = pd.read_csv(
        pd.io.common.StringIO(_ok(run("predict", "model.safetensors", "cells.csv")))
    )["prediction"]
    truth = table["diagnosis"]
    expected = sk.f1_score(truth, predicted, pos_label="malignant")
    assert expected != pytest.approx(sk.f1_score(truth, predicted, average="macro"))
    assert scores["f1"] == pytest.approx(expected)
    assert scores["positive_class"] == "malignant"
    text = _ok(run("evaluate", "model.safetensors", "cells.csv"))
    assert f"f1        {expected:.4f}\n{note}" in text
    info = _ok(run("info", "model.safetensors"))
    assert note in info
    assert json.loads(_ok(run("info", "model.safetensors", "--json")))["positive_class"] == (
        "malignant"
    )


def test_a_multiclass_f1_is_named_f1_macro(run: Main, data_dir: Path) -> None:
    trained = _ok(run("train", data_dir / "iris.csv", "--target", "species", *FAST))
    header = trained.splitlines()[0].split()
    assert header == ["log_loss", "accuracy", "f1_macro"]
    scores = json.loads(_ok(run("evaluate", "model.safetensors", data_dir / "iris.csv", "--json")))
    assert set(scores) == {"rows", "log_loss", "accuracy", "f1_macro"}
    assert "f1_macro" in _ok(run("info", "model.safetensors"))


def test_a_regression_says_its_loss_is_of_the_standardized_target(
    run: Main, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    monkeypatch.setitem(matplotlib.rcParams, "svg.fonttype", "none")  # titles as text
    result = run(
        "train", data_dir / "diabetes.csv", "--target", "progression", "--epochs", "30",
        "--patience", "1", "--hidden", "8", "--plot", "curves.svg",
    )  # fmt: skip
    _ok(result)
    info = _ok(run("info", "model.safetensors"))
    std = info.split(", std ")[1].split(";")[0]
    assert "the network and its loss see the standardized target, (y - mean) / std" in info
    assert "loss and val_loss are the mse of the standardized target, (target - " in (result.stderr)
    assert f"an mse of L is an rmse of {std} * sqrt(L) in the target's units" in result.stderr
    assert "best " in info and "(mse of the standardized target) at epoch" in info
    assert "loss (mse of the standardized target)" in Path("curves.svg").read_text()


def test_the_help_says_how_losses_and_config_paths_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from chainrule.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "val_loss are of that, the final rmse, mae and r2 in the target's units" in text
    assert "paths in it are relative to the working directory" in text


def test_info_shows_a_constant_columns_std_as_zero(run: Main, tmp_path: Path) -> None:
    table = _two_classes(tmp_path)
    table["site"] = 7.0
    table.to_csv(tmp_path / "cells.csv", index=False)
    _ok(run("train", "cells.csv", "--target", "diagnosis", "--val-split", "0", *FAST))
    lines = _ok(run("info", "model.safetensors")).splitlines()
    (site,) = [line for line in lines if line.strip().startswith("site")]
    assert site.endswith("median 7, mean 7, std 0 (constant: scaled by 1)")
    (a,) = [line for line in lines if line.strip().startswith("a ")]
    assert f"std {table['a'].std(ddof=0):.4g}" in a


@pytest.mark.parametrize("where", ["flag", "config"])
def test_patience_without_validation_rows_is_noted(run: Main, tmp_path: Path, where: str) -> None:
    _two_classes(tmp_path)
    args = ["train", "cells.csv", "--target", "diagnosis", "--val-split", "0", "--epochs", "2"]
    if where == "flag":
        args += ["--patience", "5"]
    else:
        (tmp_path / "run.toml").write_text("patience = 5\n")
        args += ["--config", "run.toml"]
    result = run(*args)
    _ok(result)
    assert (
        "train: --patience 5 has no effect: early stopping watches the validation loss, and "
        "--val-split 0 holds out no rows for it; every one of --epochs 2 runs"
    ) in result.stderr
    quiet = run("train", "cells.csv", "--target", "diagnosis", "--val-split", "0", "--epochs", "2")
    assert "--patience" not in _ok(quiet) + quiet.stderr  # the default is not the user's


def test_explain_of_one_row_through_batch_norm_says_to_pass_two(run: Main, tmp_path: Path) -> None:
    _two_classes(tmp_path)
    _ok(run("train", "cells.csv", "--target", "diagnosis", *FAST))  # batch norm by default
    result = run("explain", "model.safetensors", "cells.csv", "--rows", "3")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().endswith(
        "batch normalization takes the statistics of the rows, so pass two or more (such as "
        "--rows 3:5)"
    )
    _ok(run("explain", "model.safetensors", "cells.csv", "--rows", "3:5"))
