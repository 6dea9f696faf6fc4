"""Every mistake a user can make gets exit status 2 and one line on stderr,
``chainrule: error: <where>: <expected>, got <actual>``, never a traceback; and a failed run
never damages a file already at ``--out``."""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
from pathlib import Path
from typing import Any

import cli_helpers
import numpy as np
import pytest
import safetensors.numpy
from cli_helpers import Run, fails, run_chainrule, succeeds

from chainrule import nn
from chainrule.cli import main
from chainrule.io import save

# Fixtures, taken from cli_helpers (a conftest.py here would break doctest collection).
chainrule = cli_helpers.chainrule
data_dir = cli_helpers.data_dir

FAST = ("--epochs", "2", "--quiet")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A folder with ``iris.safetensors``, trained on ``iris.csv`` in two epochs."""
    folder = tmp_path_factory.mktemp("model")
    result = run_chainrule(
        "train", data_dir / "iris.csv", "--target", "species", *FAST, "--out", "iris.safetensors",
        cwd=folder,
    )  # fmt: skip
    succeeds(result)
    return folder


# --- tables ----------------------------------------------------------------------------------

TABLES: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "empty.csv": (b"", ("expected a table with a header line and rows in", "got an empty file")),
    "blank.csv": (b"\n\n  \n", ("got an empty file",)),
    "header.csv": (b"a,b,y\n", ("expected at least one row of data", "got only the header line")),
    "garbage.csv": (
        bytes(np.random.default_rng(0).integers(128, 256, 4000, dtype=np.uint8)),
        ("expected a text table (UTF-8) in 'garbage.csv', got bytes that are not text",),
    ),
    "nul.csv": (b"a,b,y\n1,2,x\n3,\x004,y\n", ("got a NUL byte on line 3",)),
    "long.csv": (
        b"a,b,y\n1,2,x\n3,4,y\n5,6,7,x\n",
        ("expected 3 fields on every line of 'long.csv'", "got 4 on line 4"),
    ),
    "short.csv": (b"a,b,y\n1,2,x\n3,4\n5,6,y\n", ("got 2 on line 3",)),
    "twice.csv": (b"a,a,y\n1,2,x\n3,4,y\n", ("expected distinct column names", "got 'a' more")),
    "oneclass.csv": (
        b"a,b,y\n1,2,x\n3,4,x\n5,6,x\n",
        ("train: --target 'y': expected at least 2 classes to tell apart, got 1 ('x')",),
    ),
}


@pytest.mark.parametrize("name", list(TABLES))
def test_a_bad_table(chainrule: Run, tmp_path: Path, name: str) -> None:
    content, fragments = TABLES[name]
    (tmp_path / name).write_bytes(content)
    fails(chainrule("train", name, "--target", "y"), "chainrule: error: train: ", *fragments)


def test_missing_unreadable_and_folder_tables(chainrule: Run, tmp_path: Path) -> None:
    fails(
        chainrule("train", "nowhere.csv", "--target", "y"),
        "train: expected a table file (CSV, TSV or Parquet), got no file at 'nowhere.csv'",
    )
    (tmp_path / "folder.csv").mkdir()
    fails(chainrule("train", "folder.csv", "--target", "y"), "got the folder 'folder.csv'")
    if os.geteuid() != 0:  # root reads anything
        (tmp_path / "secret.csv").write_text("a,y\n1,2\n")
        (tmp_path / "secret.csv").chmod(0)
        fails(chainrule("train", "secret.csv", "--target", "y"), "permission denied")


def test_a_target_that_does_not_exist_suggests_the_nearest(chainrule: Run, data_dir: Path) -> None:
    fails(
        chainrule("train", data_dir / "iris.csv", "--target", "specis"),
        "train: --target: expected a column of ",
        "got 'specis'; did you mean 'species'?",
    )
    fails(
        chainrule("train", data_dir / "iris.csv", "--target", "zzz"),
        "got 'zzz'; the columns are 'sepal length (cm)', ",
    )
    fails(
        chainrule("train", data_dir / "wine.csv", "--target", "cultivar", "--drop", "idd"),
        "train: --drop: expected columns of ",
        "got 'idd'; did you mean 'id'?",
    )
    fails(
        chainrule("train", data_dir / "iris.csv", "--target", "species", "--task", "regression"),
        "train: --target 'species': expected numbers for a regression target, got text",
    )


# The invalid values the issue names run through the console script; the rest through the
# same main() in this process, which is quicker and reaches the same checks.
ISSUE_OPTIONS = [
    (("--epochs", "-3"), "train: --epochs: expected a positive integer, got '-3'"),
    (("--lr", "abc"), "train: --lr: expected a number > 0, got 'abc'"),
    (("--batch-size", "0"), "train: --batch-size: expected a positive integer, got '0'"),
    (("--val-split", "1"), "train: --val-split: expected a fraction in [0, 1), got '1'"),
    (("--val-split", "-0.1"), "train: --val-split: expected a fraction in [0, 1), got '-0.1'"),
]
MORE_OPTIONS = [
    (("--epochs", "0"), "train: --epochs: expected a positive integer, got '0'"),
    (("--epochs", "2.5"), "train: --epochs: expected a positive integer, got '2.5'"),
    (("--lr", "-0.1"), "train: --lr: expected a number > 0, got '-0.1'"),
    (("--lr", "nan"), "train: --lr: expected a number > 0, got 'nan'"),
    (("--test-split", "1.5"), "train: --test-split: expected a fraction in [0, 1), got '1.5'"),
    (("--dropout", "1"), "train: --dropout: expected a fraction in [0, 1), got '1'"),
    (("--weight-decay", "-1"), "train: --weight-decay: expected a number >= 0, got '-1'"),
    (("--patience", "-1"), "train: --patience: expected an integer >= 0, got '-1'"),
    (("--hidden", "64,x"), "train: --hidden: expected layer widths like 128,64"),
    (("--hidden", "64,0"), "got '64,0'"),
    (("--task", "cluster"), "train: --task: expected one of auto, classification, regression"),
    (("--optimizer", "lion"), "train: --optimizer: expected one of sgd, momentum, adam"),
    (("--activation", "swish"), "train: --activation: expected one of relu, tanh, sigmoid"),
    (("--loss", "hinge"), "train: --loss: expected one of auto, cross_entropy, mse"),
    (("--loss", "huber"), "train: --loss: expected cross_entropy for classification, got"),
    (
        ("--dataset", "mnist"),
        "train: --dataset: expected one of digits, iris, wine, breast-cancer, diabetes, got "
        "'mnist'",
    ),
    (
        ("--dataset", "xor"),
        "train: --dataset: expected one of digits, iris, wine, breast-cancer, diabetes (xor is "
        "for chainrule explain), got 'xor'",
    ),
    (("--epoch", "3"), "train: expected known arguments, got --epoch 3; did you mean --epochs?"),
    (("--epochs",), "train: --epochs: expected one argument (see `chainrule train --help`)"),
    (("--resume",), "train: --resume: expected --checkpoint-dir DIR to resume from, got none"),
    (("--out", "no/such/dir/m.safetensors"), "train: --out: expected a path in an existing"),
    (("--plot", "no/such/dir/c.png"), "train: --plot: expected a path in an existing folder"),
]


@pytest.mark.parametrize(("arguments", "message"), ISSUE_OPTIONS)
def test_an_invalid_option(
    chainrule: Run, data_dir: Path, arguments: tuple[str, ...], message: str
) -> None:
    fails(chainrule("train", data_dir / "iris.csv", "--target", "species", *arguments), message)


@pytest.mark.parametrize(("arguments", "message"), MORE_OPTIONS)
def test_more_invalid_options(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    data_dir: Path,
    arguments: tuple[str, ...],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(data_dir / "iris.csv"), "--target", "species", *arguments]) == 2
    captured = capsys.readouterr()
    fails(subprocess.CompletedProcess([], 2, captured.out, captured.err), message)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("train",), "train: expected a DATA file and --target COLUMN, or --dataset NAME, got"),
        (
            ("train", "x.csv"),
            "train: --target: expected the column of 'x.csv' to predict, got none",
        ),
        (("train", "x.csv", "--dataset", "iris"), "train: expected DATA or --dataset, got both"),
        (("train", "--dataset", "iris", "--target", "y"), "train: --target: expected none with"),
        (("fly",), "COMMAND: invalid choice: 'fly' (choose from 'demo', 'train', 'predict'"),
        (("predict", "m.safetensors"), "predict: the following arguments are required: DATA"),
        (("predict", "m", "d", "--proab"), "got --proab; did you mean --proba?"),
        (("info",), "info: the following arguments are required: MODEL"),
    ],
)
def test_a_command_that_does_not_say_enough(
    capsys: pytest.CaptureFixture[str], arguments: tuple[str, ...], message: str
) -> None:
    assert main(list(arguments)) == 2
    captured = capsys.readouterr()
    fails(subprocess.CompletedProcess([], 2, captured.out, captured.err), message)


def test_a_bad_config_file(chainrule: Run, data_dir: Path, tmp_path: Path) -> None:
    iris = (data_dir / "iris.csv", "--target", "species")
    (tmp_path / "typo.toml").write_text("epoch = 3\n")
    fails(
        chainrule("train", *iris, "--config", "typo.toml"),
        "train: config 'typo.toml': expected a known option, got 'epoch'; did you mean 'epochs'?",
    )
    (tmp_path / "value.toml").write_text('batch-size = "many"\n')
    fails(
        chainrule("train", *iris, "--config", "value.toml"),
        "train: config 'value.toml': batch-size: expected a positive integer, got 'many'",
    )
    (tmp_path / "syntax.toml").write_text("epochs = \n")
    fails(
        chainrule("train", *iris, "--config", "syntax.toml"),
        "train: --config: expected TOML in 'syntax.toml', got a syntax error",
    )
    fails(chainrule("train", *iris, "--config", "none.toml"), "got no file at 'none.toml'")


# --- model files -----------------------------------------------------------------------------


class Evil:
    """Unpickling this runs code: it would create a file named by ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.makedirs, (str(self.marker),))


def bad_model_files(folder: Path, good: Path) -> dict[str, tuple[str, str]]:
    """Files that are not models ``train`` wrote, and a fragment of each one's message."""
    data = good.read_bytes()
    files = {
        "pickle.safetensors": (
            pickle.dumps(Evil(folder / "PICKLE_RAN"), protocol=4),
            "it looks like a pickle. chainrule reads only safetensors files and never unpickles",
        ),
        "truncated.safetensors": (data[: len(data) // 2], "the file is truncated"),
        "garbage.safetensors": (b"\x07" * 20 + bytes(range(256)), "not safetensors"),
        "empty.safetensors": (b"", "got 0 bytes; the file is empty or truncated"),
        "header.safetensors": (
            struct.pack("<Q", 10) + b"not json!!",
            "got 10 bytes that are not JSON",
        ),
        "foreign.safetensors": (
            safetensors.numpy.save({"w": np.zeros(3, np.float32)}),
            "got a safetensors file without chainrule metadata",
        ),
    }
    plain = folder / "plain.safetensors"
    save(nn.Linear(4, 3, generator=0), plain)
    files["plain.safetensors"] = (
        plain.read_bytes(),
        "expected a model file written by `chainrule train` in 'plain.safetensors', got a "
        "chainrule model without the preprocessing",
    )
    return {name: (content, message) for name, (content, message) in files.items()}


def test_a_model_file_that_is_not_one_is_refused_and_never_run(
    chainrule: Run, tmp_path: Path, model_dir: Path, data_dir: Path
) -> None:
    for name, (content, message) in bad_model_files(
        tmp_path, model_dir / "iris.safetensors"
    ).items():
        (tmp_path / name).write_bytes(content)
        fails(chainrule("predict", name, data_dir / "iris.csv"), "predict: expected ", message)
    fails(
        chainrule("predict", "absent.safetensors", "d.csv"),
        "predict: expected a model file, got no file at 'absent.safetensors'",
    )
    # evaluate and info read model files the same way, pickles included.
    fails(chainrule("info", "pickle.safetensors"), "info: expected ", "looks like a pickle")
    fails(
        chainrule("evaluate", "pickle.safetensors", data_dir / "iris.csv"),
        "evaluate: expected ",
        "looks like a pickle",
    )
    fails(chainrule("info", "truncated.safetensors"), "info: expected ", "truncated")
    assert not (tmp_path / "PICKLE_RAN").exists()


def test_a_pytorch_file_is_refused_and_never_run(
    chainrule: Run, tmp_path: Path, data_dir: Path
) -> None:
    torch = pytest.importorskip("torch")
    torch.save({"weights": Evil(tmp_path / "TORCH_RAN")}, tmp_path / "model.pt")
    fails(
        chainrule("predict", "model.pt", data_dir / "iris.csv"),
        "it looks like a zip archive, such as a PyTorch file written by torch.save",
    )
    assert not (tmp_path / "TORCH_RAN").exists()


def test_a_checkpoint_is_not_a_model(chainrule: Run, data_dir: Path, tmp_path: Path) -> None:
    iris = (data_dir / "iris.csv", "--target", "species")
    succeeds(chainrule("train", *iris, *FAST, "--checkpoint-dir", "ck"))
    fails(
        chainrule("info", "ck/checkpoint.safetensors"),
        "info: expected a chainrule.model file in 'ck/checkpoint.safetensors', got "
        "'chainrule.checkpoint'; it is a training checkpoint",
    )


def test_a_model_whose_metadata_was_tampered_with(chainrule: Run, model_dir: Path) -> None:
    model = model_dir / "iris.safetensors"
    tensors = safetensors.numpy.load_file(str(model))
    with safetensors.safe_open(str(model), "np") as handle:
        document = json.loads(handle.metadata()["chainrule"])
    metrics = document["metadata"]["metrics"]
    document["metadata"]["metrics"] = {"training": {"accuracy": "100%"}}
    forged = safetensors.numpy.save(tensors, metadata={"chainrule": json.dumps(document)})
    (model_dir / "forged.safetensors").write_bytes(forged)
    fails(
        chainrule("info", model_dir / "forged.safetensors"),
        "info: expected dicts of settings, training facts and metrics in ",
        "the file is corrupt",
    )
    document["metadata"]["metrics"] = metrics
    document["metadata"]["preprocessing"]["columns"][0]["std"] = -1.0
    forged = safetensors.numpy.save(tensors, metadata={"chainrule": json.dumps(document)})
    (model_dir / "forged.safetensors").write_bytes(forged)
    fails(
        chainrule("info", model_dir / "forged.safetensors"),
        "info: expected well-formed preprocessing in ",
        "expected a positive std for 'sepal length (cm)', got -1.0; the file is corrupt",
    )


# --- tables at prediction time ---------------------------------------------------------------


def test_a_table_without_a_feature_column_names_it(
    chainrule: Run, model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    lines = (data_dir / "iris.csv").read_text().splitlines()
    (tmp_path / "partial.csv").write_text(
        "\n".join(",".join(line.split(",")[1:]) for line in lines) + "\n"
    )
    for command in ("predict", "evaluate"):
        fails(
            chainrule(command, model_dir / "iris.safetensors", "partial.csv"),
            f"{command}: expected the feature column 'sepal length (cm)' that the model was "
            "trained with in 'partial.csv', got a table without it",
        )


def test_prediction_time_mistakes(
    chainrule: Run, model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    model, iris = model_dir / "iris.safetensors", data_dir / "iris.csv"
    fails(chainrule("predict", model, iris, "--id", "ID"), "predict: --id: expected a column of")
    fails(
        chainrule("evaluate", model, iris, "--target", "specie"),
        "evaluate: --target: expected a column of ",
        "did you mean 'species'?",
    )
    text = iris.read_text().replace("5.1,3.5", "5.1,three", 1)
    (tmp_path / "text.csv").write_text(text)
    fails(
        chainrule("predict", model, "text.csv"),
        "predict: 'text.csv': expected numbers in column 'sepal width (cm)', got 'three' in row 1",
    )
    fails(
        chainrule("predict", model, iris, "--output", iris),
        "predict: --output: expected a path other than the input",
    )
    fails(chainrule("predict", model, iris, "--output", "gone/p.csv"), "no folder")


# --- nothing damaged, tracebacks on request --------------------------------------------------


def test_a_failed_run_leaves_an_existing_out_untouched(
    chainrule: Run, tmp_path: Path, data_dir: Path, model_dir: Path
) -> None:
    before = (model_dir / "iris.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(before)
    (tmp_path / "one.csv").write_text("a,y\n1,x\n2,x\n")
    fails(chainrule("train", "one.csv", "--target", "y"), "expected at least 2 classes")
    fails(chainrule("train", data_dir / "iris.csv", "--target", "species", "--lr", "0"), "--lr")
    result = chainrule(
        "train", data_dir / "iris.csv", "--target", "species", "--lr", "1e30", "--quiet"
    )
    fails(result, "train: the loss became ", "no model was written. Lower --lr")
    assert (tmp_path / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "one.csv"]


def test_a_diverging_run_still_writes_its_gradient_health_report(
    chainrule: Run, tmp_path: Path, data_dir: Path
) -> None:
    result = chainrule(
        "train",
        data_dir / "iris.csv",
        "--target",
        "species",
        "--lr",
        "1e30",
        "--quiet",
        "--diagnostics",
        "health.html",
    )
    fails(result, "train: the loss became ", "gradient health report in health.html")
    page = (tmp_path / "health.html").read_text()
    assert "exploding" in page and "No problems found" not in page
    assert not (tmp_path / "model.safetensors").exists()


def test_debug_shows_the_traceback(chainrule: Run) -> None:
    result = chainrule("--debug", "train", "missing.csv", "--target", "y")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "UsageError" in result.stderr
    result = chainrule("train", "missing.csv", "--target", "y", "--debug")
    assert "Traceback" in result.stderr
