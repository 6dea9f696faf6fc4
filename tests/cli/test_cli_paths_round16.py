"""Round 16 at the command line: an output path ending in a separator (a folder) is refused
instead of written as a file of the folder's name; a --test-split that leaves too few rows for
validation is named as the culprit, not --val-split; info quotes a category holding a line
break instead of breaking its table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cli_helpers
import pandas as pd
import pytest

# Fixtures, taken from cli_helpers (a conftest.py here would break doctest collection).
run = cli_helpers.main_in_folder
data_dir = cli_helpers.data_dir

Main = Callable[..., SimpleNamespace]
FAST = ("--epochs", "1", "--patience", "0", "--hidden", "8", "--quiet")


def _fails(result: SimpleNamespace, *fragments: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.mark.parametrize("flag", ["--out", "--plot", "--diagnostics"])
def test_train_refuses_an_output_path_ending_in_a_separator(
    run: Main, data_dir: Path, tmp_path: Path, flag: str
) -> None:
    args = ["train", data_dir / "iris.csv", "--target", "species", *FAST, flag, "newdir/"]
    _fails(
        run(*args),
        f"train: {flag}: expected a file path, got 'newdir/', which ends in a "
        "separator and so names a folder",
    )
    assert not (tmp_path / "newdir").exists()


def test_predict_refuses_an_output_path_ending_in_a_separator(
    run: Main, data_dir: Path, tmp_path: Path
) -> None:
    assert run("train", data_dir / "iris.csv", "--target", "species", *FAST).returncode == 0
    result = run("predict", "model.safetensors", data_dir / "iris.csv", "--output", "missing/")
    _fails(
        result, "predict: --output: expected a file path, got 'missing/', which ends in a separator"
    )
    assert not (tmp_path / "missing").exists()


def test_an_impossible_test_split_is_named(run: Main, data_dir: Path) -> None:
    result = run(
        "train", data_dir / "iris.csv", "--target", "species", *FAST, "--test-split", "0.99"
    )
    message = _fails(
        result,
        "train: --test-split: expected to leave rows enough to hold out "
        "--val-split 0.2 for validation, got 3 of 150 rows left",
    )
    assert "--val-split:" not in message


def test_an_impossible_val_split_is_still_named(run: Main, tmp_path: Path) -> None:
    # Three rows of three classes: no validation part with or without a test split.
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "y": ["p", "q", "r"]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    _fails(run("train", "t.csv", "--target", "y", *FAST), "train: --val-split: expected")


def test_info_quotes_a_category_holding_a_line_break(run: Main, tmp_path: Path) -> None:
    notes = ["line\nbreak", "plain"] * 10
    frame = pd.DataFrame({"note": notes, "x": range(20), "y": ["a", "b", "b", "a"] * 5})
    frame.to_csv(tmp_path / "notes.csv", index=False)
    assert run("train", "notes.csv", "--target", "y", "--val-split", "0", *FAST).returncode == 0
    info = run("info", "model.safetensors")
    assert info.returncode == 0, info.stderr
    line = next(line for line in info.stdout.splitlines() if line.startswith("  note"))
    assert line.endswith("categorical  'line\\nbreak', plain")
    assert not any(line.startswith("break") for line in info.stdout.splitlines())
