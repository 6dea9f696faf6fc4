"""The example scripts' command lines: whole descriptions, help for every option, a one-line
usage error for a bad value, and no files left behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(script: str, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )  # fmt: skip


@pytest.mark.parametrize("script", ["backprop_by_hand.py", "cnn_digits.py", "sklearn_drop_in.py"])
def test_help_shows_a_whole_description_and_every_option(script: str, tmp_path: Path) -> None:
    shown = run(script, "--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    description = shown.stdout.split("\n\n")[1]
    assert description.rstrip().endswith("."), description  # not cut mid-sentence
    options = shown.stdout.split("options:")[1]
    for entry in re.split(r"\n  (?=-)", options.strip("\n")):
        name, _, text = re.sub(r"\s+", " ", entry.strip()).partition(" ")
        if name != "-h,":
            help_text = text.split(" ", 1)[1] if " " in text else ""  # after the metavar
            assert help_text, f"{script} {name}: no help text"


@pytest.mark.parametrize(
    ("script", "args", "message"),
    [
        ("cnn_digits.py", ["--epochs", "0"], r"argument --epochs: expected a whole number >= 1"),
        ("cnn_digits.py", ["--batch-size", "0"], r"--batch-size: expected a whole number >= 1"),
        ("cnn_digits.py", ["--lr", "-1"], r"argument --lr: expected a finite number > 0"),
        ("cnn_digits.py", ["--seed", "-1"], r"argument --seed: expected a whole number >= 0"),
        ("cnn_digits.py", ["--threads", "0"], r"--threads: expected a whole number >= 1"),
        ("backprop_by_hand.py", ["--epochs", "-3"], r"--epochs: expected a whole number >= 1"),
        ("backprop_by_hand.py", ["--lr", "nan"], r"argument --lr: expected a finite number"),
        ("sklearn_drop_in.py", ["--max-iter", "0"], r"--max-iter: expected a whole number >= 1"),
    ],
)
def test_a_bad_value_is_a_usage_error_not_a_traceback(
    script: str, args: list[str], message: str, tmp_path: Path
) -> None:
    result = run(script, *args, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("usage: ")
    assert re.search(message, result.stderr), result.stderr


def test_sklearn_drop_in_leaves_no_temporary_folder(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    result = run("sklearn_drop_in.py", "--max-iter", "1", cwd=tmp_path, TMPDIR=str(temporary))
    assert result.returncode == 0, result.stderr
    assert "Sequential(" in result.stdout  # the model was saved and read back
    assert list(temporary.iterdir()) == []
