"""The CLI's --val-split and --test-split hold out ceil(fraction * rows), as scikit-learn and
chainrule.data.stratified_split count them."""

import re
from pathlib import Path

import cli_helpers
import numpy as np
import pandas as pd
import pytest
from cli_helpers import Run, succeeds

run = cli_helpers.main_in_folder  # the fixture `run`


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_split_counts_round_up(run: Run, tmp_path: Path, task: str) -> None:
    rng = np.random.default_rng(0)
    n = 10
    target = np.arange(n) % 2 if task == "classification" else rng.normal(size=n)
    table = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "y": target})
    table.to_csv(tmp_path / "t.csv", index=False)
    # 0.25 of 10 is 2.5: 3 for test; 0.3 of the 7 left is 2.1: 3 for validation.
    succeeds(run("train", "t.csv", "--target", "y", "--task", task, "--test-split", "0.25",
                 "--val-split", "0.3", "--epochs", "1", "--quiet"))  # fmt: skip
    info = succeeds(run("info", "model.safetensors"))
    parts = re.search(
        r"(\d+) rows for training, (\d+) rows for validation, (\d+) rows for test", info
    )
    assert parts is not None, info
    assert tuple(map(int, parts.groups())) == (4, 3, 3)
