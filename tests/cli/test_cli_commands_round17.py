"""Round 17 at the command line, the commands: ``predict --id`` finds an id column written
in the other Unicode form and refuses a name its outputs would overwrite; ``evaluate`` names
the row of the file for a bad target; ``--hidden none`` describes the network it builds; an
empty path or --hidden is refused; a write that fails names the command and the file."""

from __future__ import annotations

import errno
import json
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cli_helpers
import numpy as np
import pandas as pd
import pytest

# Fixtures, taken from cli_helpers (a conftest.py here would break doctest collection).
run = cli_helpers.main_in_folder
data_dir = cli_helpers.data_dir

Main = Callable[..., SimpleNamespace]
FAST = ("--epochs", "1", "--patience", "0", "--hidden", "8", "--quiet")


def _ok(result: SimpleNamespace) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return str(result.stdout)


def _fails(result: SimpleNamespace, *fragments: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.mark.parametrize("drop", [(), ("--drop", "café")], ids=["feature", "dropped"])
def test_predict_id_finds_its_column_in_the_other_unicode_form(
    run: Main, tmp_path: Path, drop: tuple[str, ...]
) -> None:
    """macOS may write ``café`` as ``e`` and an accent: ``--id café`` still finds it, a
    feature column of the model or not (a feature crashed with a traceback)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    names = [f"café{i % 4}" for i in range(40)]
    train = pd.DataFrame({"café": names, "x": x, "y": np.where(x > 0, "p", "n")})
    train.to_csv(tmp_path / "train.csv", index=False)
    nfd = unicodedata.normalize("NFD", "café")
    assert nfd != "café"
    new = pd.DataFrame({nfd: names[:3], "x": x[:3]})
    new.to_csv(tmp_path / "new.csv", index=False)

    _ok(run("train", "train.csv", "--target", "y", *drop, *FAST))
    lines = _ok(run("predict", "model.safetensors", "new.csv", "--id", "café")).splitlines()
    assert lines[0] == "café,prediction"
    assert [line.split(",")[0] for line in lines[1:]] == names[:3]

    _fails(
        run("predict", "model.safetensors", "new.csv", "--id", "cafe"),
        "predict: --id: expected a column of 'new.csv', got 'cafe'",
    )


@pytest.mark.parametrize(
    ("name", "proba"), [("prediction", False), ("proba_setosa", True), ("prediction", True)]
)
def test_predict_refuses_an_id_its_outputs_would_overwrite(
    run: Main, data_dir: Path, tmp_path: Path, name: str, proba: bool
) -> None:
    iris = pd.read_csv(data_dir / "iris.csv")
    iris.insert(0, name, [f"row{i}" for i in range(len(iris))])
    iris.to_csv(tmp_path / "ids.csv", index=False)
    _ok(run("train", data_dir / "iris.csv", "--target", "species", *FAST))
    result = run("predict", "model.safetensors", "ids.csv", "--id", name, *["--proba"] * proba)
    _fails(
        result,
        "predict: --id: expected a column name other than those predict writes ('prediction'",
        f"got {name!r}, which the outputs would overwrite",
    )
    # without --proba, a column called proba_setosa is an id like any other
    if name == "proba_setosa":
        lines = _ok(run("predict", "model.safetensors", "ids.csv", "--id", name)).splitlines()
        assert lines[:2] == ["proba_setosa,prediction", "row0,setosa"]


def test_evaluate_names_the_row_of_the_file_for_a_bad_target(
    run: Main, data_dir: Path, tmp_path: Path
) -> None:
    """Rows 2 and 3 have no target: the bad value is in row 4 of the file, as train says."""
    diabetes = pd.read_csv(data_dir / "diabetes.csv").head(30).astype({"progression": object})
    diabetes.loc[1, "progression"] = ""
    diabetes.loc[2, "progression"] = "?"
    diabetes.loc[3, "progression"] = "abc"
    diabetes.to_csv(tmp_path / "bad.csv", index=False)
    _ok(run("train", data_dir / "diabetes.csv", "--target", "progression", *FAST))
    _fails(
        run("evaluate", "model.safetensors", "bad.csv"),
        "evaluate: the model's target 'progression': expected numbers, got 'abc' in row 4",
    )
    _fails(
        run("train", "bad.csv", "--target", "progression", "--task", "regression", *FAST),
        "'abc' in row 4",
    )


def test_evaluate_r2_of_one_row_is_undefined(run: Main, data_dir: Path, tmp_path: Path) -> None:
    """As scikit-learn's r2_score: with one sample R^2 is not well-defined (nan)."""
    pd.read_csv(data_dir / "diabetes.csv").head(1).to_csv(tmp_path / "one.csv", index=False)
    _ok(run("train", data_dir / "diabetes.csv", "--target", "progression", *FAST))
    result = run("evaluate", "model.safetensors", "one.csv", "--json")
    scores = json.loads(_ok(result))
    assert scores["rows"] == 1 and scores["r2"] is None and scores["rmse"] >= 0
    assert "evaluate: r2 is undefined for one row (nan)" in result.stderr
    two = pd.read_csv(data_dir / "diabetes.csv").head(2)
    two.to_csv(tmp_path / "two.csv", index=False)
    assert json.loads(_ok(run("evaluate", "model.safetensors", "two.csv", "--json")))["r2"]


def test_hidden_none_describes_and_checks_the_network_it_builds(run: Main, data_dir: Path) -> None:
    """No hidden layer: no batch normalization or dropout to report, record, or require a
    batch of two rows for."""
    iris = (data_dir / "iris.csv", "--target", "species", "--epochs", "1")
    result = run("train", *iris, "--hidden", "none", "--batch-size", "1")
    _ok(result)
    assert "network 4-3 (no hidden layer), adam" in result.stderr
    assert "batch norm" not in result.stderr and "dropout" not in result.stderr
    info = _ok(run("info", "model.safetensors"))
    assert "batch_norm no" in info and re.search(r"\bdropout 0\s", info) and "hidden none" in info
    assert "BatchNorm" not in info and "Dropout(" not in info

    described = run("train", *iris, "--hidden", "8")
    _ok(described)
    assert "network 4-8-3 (relu, dropout 0.2, batch norm), adam" in described.stderr
    _fails(
        run("train", *iris, "--hidden", "8", "--batch-size", "1"),
        "train: --batch-size: expected at least 2 with batch normalization",
    )


@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_hidden_is_refused(run: Main, data_dir: Path, value: str) -> None:
    _fails(
        run("train", data_dir / "iris.csv", "--target", "species", "--hidden", value),
        "train: --hidden: expected layer widths like 128,64 (positive integers; 'none' for no "
        f"hidden layer), got {value!r}",
    )


def test_empty_paths_are_named_as_such(run: Main, data_dir: Path) -> None:
    _fails(
        run("train", "", "--target", "y"),
        "train: expected a table file (CSV, TSV or Parquet), got an empty path ('')",
    )
    _ok(run("train", data_dir / "iris.csv", "--target", "species", *FAST))
    _fails(
        run("predict", "model.safetensors", data_dir / "iris.csv", "--output", ""),
        "predict: --output: expected a file path, got an empty one ('')",
    )


def test_a_target_with_the_headers_spaces_finds_its_column(run: Main, data_dir: Path) -> None:
    """Column names are read stripped of spaces; so is a --target that has them."""
    _ok(run("train", data_dir / "iris.csv", "--target", " species ", *FAST))
    assert "classification of 'species'" in _ok(run("info", "model.safetensors"))


def _disk_full(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_write_that_fails_names_the_command_and_the_file(
    run: Main, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk raises ``[Errno 28]`` with no file name; the message names both."""
    _ok(run("train", data_dir / "iris.csv", "--target", "species", *FAST))
    import chainrule.io

    monkeypatch.setattr(chainrule.io, "atomic_write_text", _disk_full)
    monkeypatch.setattr(chainrule.io, "save", _disk_full)
    _fails(
        run("predict", "model.safetensors", data_dir / "iris.csv", "-o", "p.csv"),
        "predict: --output: expected to write 'p.csv', got an error: No space left on device",
    )
    _fails(
        run("train", data_dir / "iris.csv", "--target", "species", *FAST, "-o", "m.st"),
        "train: --out: expected to write 'm.st', got an error: No space left on device",
    )


def test_a_checkpoint_given_to_predict_points_to_resume(run: Main, data_dir: Path) -> None:
    iris = (data_dir / "iris.csv", "--target", "species", *FAST)
    _ok(run("train", *iris, "--checkpoint-dir", "ck"))
    _fails(
        run("predict", "ck/checkpoint.safetensors", data_dir / "iris.csv"),
        "it is a training checkpoint: use chainrule.io.load_checkpoint from Python, or "
        "continue the run with `chainrule train DATA --target COLUMN --checkpoint-dir ck "
        "--resume`",
    )
