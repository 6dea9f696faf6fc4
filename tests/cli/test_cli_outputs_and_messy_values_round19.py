"""Round 19 at the command line, from a hunt with messy real files: decimal commas below 1
(``0,125``) read as such, not as 125; categories left out by ``--max-categories`` are said
at training time; no output option writes over a file of another kind; labels ``1`` and
``1.0`` are one class; ``1_000`` and ``١٢`` are text; ``export`` shows category names on one
line; ``evaluate --output`` writes the metrics to a file."""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cli_helpers
import numpy as np
import pandas as pd
import pytest
from cli_helpers import fails, succeeds

run = cli_helpers.main_in_folder
data_dir = cli_helpers.data_dir

Main = Callable[..., SimpleNamespace]
FAST = ("--epochs", "2", "--patience", "0", "--hidden", "8", "--quiet")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """``iris.safetensors`` (trained on iris.csv) and ``iris.onnx``, made once."""
    folder = tmp_path_factory.mktemp("round19_models")
    shutil.copy(data_dir / "iris.csv", folder / "iris.csv")
    arguments = ("train", "iris.csv", "--target", "species", *FAST, "--out", "iris.safetensors")
    succeeds(cli_helpers.run_chainrule(*arguments, cwd=folder))
    succeeds(cli_helpers.run_chainrule("export", "iris.safetensors", "-o", "iris.onnx", cwd=folder))
    return folder


@pytest.fixture
def here(models: Path, tmp_path: Path) -> Path:
    """This test's folder with iris.csv, iris.safetensors, iris.onnx and new.csv."""
    for name in ("iris.csv", "iris.safetensors", "iris.onnx"):
        shutil.copy(models / name, tmp_path / name)
    frame = pd.read_csv(tmp_path / "iris.csv").drop(columns="species").head(5)
    frame.to_csv(tmp_path / "new.csv", index=False)
    return tmp_path


# --- 1. decimal commas below 1 ---------------------------------------------------------


def _small_decimal_commas(folder: Path) -> pd.DataFrame:
    """A TSV written by pandas with ``decimal=","`` and values in [0, 1): ``0,637``."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 200).round(3)
    frame = pd.DataFrame({"x": x, "y": (0.5 * x + 0.1).round(3)})
    frame.to_csv(folder / "small.tsv", sep="\t", decimal=",", index=False, float_format="%.3f")
    return pd.read_csv(folder / "small.tsv", sep="\t", decimal=",")


def test_decimal_commas_below_one_are_read_as_decimals(run: Main, tmp_path: Path) -> None:
    truth = _small_decimal_commas(tmp_path)
    assert truth["y"].max() < 1  # pandas, told decimal=",", reads values below 1
    succeeds(run("train", "small.tsv", "--target", "y", *FAST))
    info = succeeds(run("info", "model.safetensors"))
    mean = re.search(r"regression of 'y' \(mean ([0-9.]+),", info)
    assert mean is not None, info
    assert float(mean[1]) == pytest.approx(truth["y"].mean(), abs=0.05)  # of the training rows
    assert "numbers       decimal commas, points grouping thousands (1.234,5)" in info
    predicted = pd.read_csv(io.StringIO(succeeds(run("predict", "model.safetensors", "small.tsv"))))
    assert predicted["prediction"].abs().max() < 10  # in the units of y, not 1000 times


def test_a_quoted_decimal_comma_below_one_in_a_csv_is_text_with_a_note(
    run: Main, tmp_path: Path
) -> None:
    rows = [f'"0,{i:03d}",{"ab"[i % 2]}' for i in range(100, 180)]
    (tmp_path / "p.csv").write_text("p,y\n" + "\n".join(rows) + "\n")
    result = run("train", "p.csv", "--target", "y", "--epochs", "1", "--hidden", "8")
    succeeds(result)
    assert "column 'p' holds numbers written with decimal commas, such as '0,100'" in result.stderr
    assert "(0 numeric, 1 categorical)" in result.stderr


# --- 2. --max-categories -----------------------------------------------------------------


def _many_categories(folder: Path) -> None:
    """150 codes over 3000 rows, the label following the code."""
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 150, 3000)
    frame = pd.DataFrame({"code": [f"P{c:03d}" for c in codes], "x": rng.normal(size=3000)})
    frame["y"] = np.where(codes % 3 == 0, "hi", "lo")
    frame.to_csv(folder / "many.csv", index=False)


def test_training_says_which_categories_were_left_out(run: Main, tmp_path: Path) -> None:
    _many_categories(tmp_path)
    flags = ("--epochs", "1", "--hidden", "8", "--val-split", "0")  # every row trains
    result = run("train", "many.csv", "--target", "y", *flags)
    succeeds(result)
    table = pd.read_csv(tmp_path / "many.csv")
    counts = table["code"].value_counts()
    kept = counts.sort_index().sort_values(ascending=False, kind="stable").index[:100]
    outside = int((~table["code"].isin(kept)).sum())
    assert (
        f"train: column 'code' holds {table['code'].nunique()} categories in the training rows; "
        f"the 100 most frequent are kept (--max-categories 100), and {outside} of its 3,000 "
        f"values"
    ) in result.stderr
    assert "--max-categories 150 keeps them all" in result.stderr
    evaluated = run("evaluate", "model.safetensors", "many.csv")
    succeeds(evaluated)
    assert "the model kept the 100 most frequent categories" in evaluated.stderr


def test_max_categories_keeps_them_all(run: Main, tmp_path: Path) -> None:
    _many_categories(tmp_path)
    result = run("train", "many.csv", "--target", "y", "--max-categories", "150", *FAST)
    succeeds(result)
    assert "categories in the training rows" not in result.stderr
    info = json.loads(succeeds(run("info", "model.safetensors", "--json")))
    assert info["settings"]["max_categories"] == 150
    evaluated = run("evaluate", "model.safetensors", "many.csv")
    assert "no category for" not in succeeds(evaluated) + evaluated.stderr
    fails(run("train", "many.csv", "--target", "y", "--max-categories", "0"), "--max-categories")


def test_max_categories_is_in_the_help(run: Main, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run("train", "--help")
    assert "--max-categories N" in capsys.readouterr().out


# --- 3. outputs never overwrite a file of another kind ----------------------------------


@pytest.mark.parametrize(
    ("arguments", "target", "fragments"),
    [
        (
            ("predict", "iris.safetensors", "new.csv", "-o", "m3.safetensors"),
            "m3.safetensors",
            ("predict: --output: expected a path for a CSV table", "the suffix of a model file"),
        ),
        (
            ("export", "iris.safetensors", "--output", "iris.csv"),
            "iris.csv",
            ("export: --output: expected a path for an ONNX graph", "the suffix of a table"),
        ),
        (
            ("train", "iris.csv", "--target", "species", "--out", "n2.csv"),
            "n2.csv",
            (
                "train: --out: expected a path for a chainrule model file",
                "pass --out n2.safetensors",
            ),
        ),
        (
            ("train", "iris.csv", "--target", "species", "--plot", "m3.safetensors"),
            "m3.safetensors",
            ("train: --plot: expected a path for a picture", "pass --plot m3.png"),
        ),
        (
            ("explain", "iris.safetensors", "iris.csv", "-o", "i2.safetensors"),
            "i2.safetensors",
            ("explain: --output: expected a path for text", "the suffix of a model file"),
        ),
        (
            ("evaluate", "iris.safetensors", "iris.csv", "-o", "x.onnx"),
            "x.onnx",
            ("evaluate: --output: expected a path for text", "the suffix of an ONNX graph"),
        ),
    ],
    ids=["predict", "export", "train-out", "train-plot", "explain", "evaluate"],
)
def test_a_suffix_of_another_kind_is_refused(
    run: Main, here: Path, arguments: tuple[str, ...], target: str, fragments: tuple[str, ...]
) -> None:
    """The targets exist, of another kind: each stays as it was."""
    shutil.copy(here / "iris.safetensors", here / "m3.safetensors")
    shutil.copy(here / "iris.safetensors", here / "i2.safetensors")
    shutil.copy(here / "iris.csv", here / "n2.csv")
    shutil.copy(here / "iris.onnx", here / "x.onnx")
    before = (here / target).read_bytes()
    fails(run(*arguments), *fragments)
    assert (here / target).read_bytes() == before


@pytest.mark.parametrize(
    ("arguments", "source", "holds"),
    [
        (("predict", "iris.safetensors", "new.csv", "-o", "kept"), "iris.safetensors", "a model"),
        (("predict", "iris.safetensors", "new.csv", "-o", "kept"), "iris.onnx", "binary data"),
        (("export", "iris.safetensors", "-o", "kept"), "iris.safetensors", "a model"),
        (("export", "iris.safetensors", "-o", "kept"), "iris.csv", "text, such as a table"),
        (("train", "iris.csv", "--target", "species", "--out", "kept"), "iris.csv", "text"),
        (("train", "iris.csv", "--target", "species", "--out", "kept"), "iris.onnx", "binary"),
        (("evaluate", "iris.safetensors", "iris.csv", "-o", "kept"), "iris.safetensors", "a model"),
        (("predict", "iris.safetensors", "new.csv", "-o", "p.csv"), "iris.safetensors", "a model"),
    ],
    ids=["predict-model", "predict-onnx", "export-model", "export-table", "train-table",
         "train-onnx", "evaluate-model", "predict-model-named-csv"],
)  # fmt: skip
def test_an_existing_file_of_another_kind_is_refused(
    run: Main, here: Path, arguments: tuple[str, ...], source: str, holds: str
) -> None:
    target = here / arguments[arguments.index("-o" if "-o" in arguments else "--out") + 1]
    shutil.copy(here / source, target)
    before = target.read_bytes()
    fails(run(*arguments), f"got {target.name!r}, an existing file that holds {holds}")
    assert target.read_bytes() == before


def test_a_file_of_the_same_kind_is_replaced(run: Main, here: Path) -> None:
    for _ in range(2):
        succeeds(run("predict", "iris.safetensors", "new.csv", "-o", "p.csv"))
        succeeds(run("evaluate", "iris.safetensors", "iris.csv", "-o", "metrics.txt"))
        succeeds(run("export", "iris.safetensors", "-o", "again.onnx"))
        succeeds(run("train", "iris.csv", "--target", "species", *FAST, "--out", "again"))
    assert (here / "p.csv").read_text().startswith("prediction\n")
    # A path named as the output's own format is the user's to replace, whatever it holds.
    (here / "stand-in.safetensors").write_text("yesterday's model")
    succeeds(
        run("train", "iris.csv", "--target", "species", *FAST, "--out", "stand-in.safetensors")
    )


# --- 4. labels 1 and 1.0 --------------------------------------------------------------------


def test_labels_1_and_1_0_are_one_class(run: Main, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(size=80).round(3)
    labels = [(f"{i % 2}.0" if i % 3 == 0 else f"{i % 2}") for i in range(80)]
    pd.DataFrame({"x": x, "y": labels}).to_csv(tmp_path / "mixed.csv", index=False)
    result = run("train", "mixed.csv", "--target", "y", "--epochs", "1", "--hidden", "8")
    succeeds(result)
    assert "classification into 2 classes of 'y'" in result.stderr
    assert "classification of 'y' into 2 classes: 0, 1" in succeeds(
        run("info", "model.safetensors")
    )
    scores = json.loads(succeeds(run("evaluate", "model.safetensors", "mixed.csv", "--json")))
    assert scores["rows"] == 80


# --- 5. 1_000 and Arabic-Indic digits are text -------------------------------------------------


@pytest.mark.parametrize("cell", ["1_000", "١٢"])
def test_text_that_only_python_reads_as_a_number_is_a_category(
    run: Main, tmp_path: Path, cell: str
) -> None:
    rows = [f"{cell if i == 0 else i},{'ab'[i % 2]}" for i in range(40)]
    (tmp_path / "t.csv").write_text("n,y\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = run("train", "t.csv", "--target", "y", "--epochs", "1", "--hidden", "8")
    succeeds(result)
    assert f"column 'n' is read as categories, not numbers, because of a value that is not a " \
        f"number: {cell!r} in row 1" in result.stderr  # fmt: skip
    (tmp_path / "one.csv").write_text(f"n\n{cell}\n", encoding="utf-8")
    predicted = run("predict", "model.safetensors", "one.csv")
    succeeds(predicted)
    assert "no category for" not in predicted.stderr  # the category it learned


# --- 6. wording ---------------------------------------------------------------------------


def test_export_shows_category_names_on_one_line(run: Main, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"note": ["line1\r\nline2; with semi", "plain"] * 20, "y": ["a", "b"] * 20}
    )
    frame.to_csv(tmp_path / "notes.csv", index=False)
    succeeds(run("train", "notes.csv", "--target", "y", *FAST))
    result = run("export", "model.safetensors", "-o", "notes.onnx")
    succeeds(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert r"note='line1\r\nline2; with semi', note=plain" in lines[0]


def test_evaluate_writes_its_metrics_to_output(run: Main, here: Path) -> None:
    shown = succeeds(run("evaluate", "iris.safetensors", "iris.csv"))
    result = run("evaluate", "iris.safetensors", "--output", "metrics.txt", "iris.csv")
    assert succeeds(result) == ""
    assert result.stderr == "evaluate: metrics written to metrics.txt\n"
    assert (here / "metrics.txt").read_text() == shown
    succeeds(run("evaluate", "iris.safetensors", "iris.csv", "--json", "-o", "m.json"))
    assert json.loads((here / "m.json").read_text())["rows"] == 150
    assert succeeds(run("evaluate", "iris.safetensors", "iris.csv", "-o", "-")) == shown
