"""Acceptance round 10: the commands other than train and predict, as a new user finds them
from ``--help``: demo, evaluate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cli_helpers
import pytest

# Fixtures, taken from cli_helpers (a conftest.py here would break doctest collection).
run = cli_helpers.main_in_folder
data_dir = cli_helpers.data_dir

Main = Callable[..., SimpleNamespace]


def _fails(result: SimpleNamespace, message: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr == f"chainrule: error: {message}\n"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--seed", "-1"), "demo: --seed must be >= 0, got -1"),
        (("--lr", "inf"), "demo: --lr must be > 0 and finite, got inf"),
    ],
)
def test_demo_rejects_a_bad_seed_or_lr_in_one_line(
    run: Main, flags: tuple[str, ...], message: str
) -> None:
    """``--seed -1`` gave NumPy's bare 'expected non-negative integer' (no command, no
    value); ``--lr inf`` ran and claimed that the loss fell."""
    _fails(run("demo", "--epochs", "2", *flags), message)


def test_demo_reports_the_loss_after_training_and_says_when_it_did_not_fall(run: Main) -> None:
    """The last line gave the loss before the last update: ``--epochs 1`` printed 'loss fell
    from 1.2646 to 1.2646', and a diverging run printed 'loss fell from 1.2646 to 7e25'."""
    one = run("demo", "--epochs", "1")
    assert one.returncode == 0, one.stderr
    first, final = (float(word) for word in one.stdout.splitlines()[-1].split()[-3::2])
    assert one.stdout.splitlines()[-1].startswith("loss fell from")
    assert final < first

    diverging = run("demo", "--epochs", "3", "--lr", "1e6")
    assert diverging.returncode == 0, diverging.stderr
    last = diverging.stdout.splitlines()[-1]
    assert last.startswith("loss did not fall: from 1.2646 to "), last
    assert last.endswith("; try a smaller --lr")


@pytest.fixture
def iris_model(run: Main, data_dir: Path) -> Path:
    fast = ("--epochs", "2", "--patience", "0", "--hidden", "8", "--quiet")
    result = run("train", data_dir / "iris.csv", "--target", "species", "-o", "m.st", *fast)
    assert result.returncode == 0, result.stderr
    return data_dir / "iris.csv"


def test_evaluate_on_a_column_of_no_known_labels_is_a_mistake(
    run: Main, iris_model: Path, tmp_path: Path
) -> None:
    """``--target 'sepal length (cm)'`` on a species classifier printed 'log_loss nan,
    accuracy 0.0000' with exit status 0, as if the model were that bad."""
    _fails(
        run("evaluate", "m.st", iris_model, "--target", "sepal length (cm)"),
        "evaluate: --target 'sepal length (cm)': expected the labels the model was trained on "
        "(setosa, versicolor, virginica), got none of them (such as '5.1')",
    )
    renamed = iris_model.read_text().replace(",setosa\n", ",rosa\n")
    renamed = renamed.replace(",versicolor\n", ",rosa\n").replace(",virginica\n", ",rosa\n")
    (tmp_path / "renamed.csv").write_text(renamed)
    _fails(
        run("evaluate", "m.st", "renamed.csv"),
        "evaluate: the model's target 'species': expected the labels the model was trained on "
        "(setosa, versicolor, virginica), got none of them (such as 'rosa')",
    )


def test_evaluate_with_some_unknown_labels_still_scores(
    run: Main, iris_model: Path, tmp_path: Path
) -> None:
    (tmp_path / "some.csv").write_text(iris_model.read_text().replace(",setosa\n", ",rosa\n"))
    result = run("evaluate", "m.st", "some.csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["rows", "150"]
    assert "50 rows have labels the model never saw (such as 'rosa')" in result.stderr


def test_evaluate_names_the_models_target_when_no_target_flag_was_given(
    run: Main, data_dir: Path, tmp_path: Path
) -> None:
    """A text column where a regressor's numbers belong was blamed on '--target', a flag
    the user never gave."""
    fast = ("--epochs", "1", "--patience", "0", "--hidden", "8", "--quiet")
    table = data_dir / "diabetes.csv"
    result = run("train", table, "--target", "progression", "-o", "r.st", *fast)
    assert result.returncode == 0, result.stderr
    lines = table.read_text().splitlines()
    (tmp_path / "text.csv").write_text("\n".join([lines[0], lines[1] + "x", *lines[2:]]) + "\n")
    result = run("evaluate", "r.st", "text.csv")
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith(
        "chainrule: error: evaluate: the model's target 'progression': expected numbers, got '"
    ), result.stderr
