"""Scores of a target measured in millionths: the tables of ``train``, ``evaluate`` and
``info`` printed 'rmse 0.0000' for errors of a few millionths, as if the model were exact."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cli_helpers
import numpy as np
import pandas as pd

from chainrule.cli.bundle import format_number

run = cli_helpers.main_in_folder
Main = Callable[..., SimpleNamespace]


def test_format_number_keeps_four_digits_that_say_something() -> None:
    assert format_number(0.98154) == "0.9815"
    assert format_number(-1.5) == "-1.5000"
    assert format_number(0.0) == "0.0000"
    assert format_number(4.4351e-06) == "4.435e-06"
    assert format_number(-0.00012345) == "-0.0001234"
    assert format_number(3.2e200) == "3.2e+200"
    assert format_number(7) == "7"
    assert format_number(None) == "-"


def test_errors_of_a_target_in_millionths_show_their_digits(run: Main, tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=80)
    pd.DataFrame({"x": x, "y": -5e-6 * x}).to_csv(tmp_path / "small.csv", index=False)
    trained = run("train", "small.csv", "--target", "y", "--epochs", "20", "-o", "m.st")
    assert trained.returncode == 0, trained.stderr
    evaluated = run("evaluate", "m.st", "small.csv")
    assert evaluated.returncode == 0, evaluated.stderr
    scores = dict(line.split() for line in evaluated.stdout.splitlines())
    for name in ("rmse", "mae"):
        assert float(scores[name]) > 0, evaluated.stdout
        assert "e-" in scores[name], evaluated.stdout
    table = cli_helpers.metrics_table(trained.stdout)
    assert table["training"]["rmse"] > 0, trained.stdout
