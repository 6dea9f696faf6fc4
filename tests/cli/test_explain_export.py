"""``chainrule explain`` traces one training step; ``chainrule export`` writes ONNX whose
outputs match ``chainrule predict``."""

from __future__ import annotations

import argparse
import io
import subprocess
from pathlib import Path

import cli_helpers
import numpy as np
import pandas as pd
import pytest
from cli_helpers import Run, fails, run_chainrule, succeeds

import chainrule
from chainrule import nn
from chainrule.cli import explain, main
from chainrule.data import load_dataset
from chainrule.data.tabular import TabularPreprocessor

chainrule_cli = cli_helpers.chainrule
data_dir = cli_helpers.data_dir

FAST = ("--epochs", "3", "--quiet")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """``iris``, ``wine`` (a categorical column) and ``diabetes`` (regression) models, with
    ``train``'s default network: batch normalization and dropout in each hidden layer."""
    folder = tmp_path_factory.mktemp("models")
    for name, target in (("iris", "species"), ("wine", "cultivar"), ("diabetes", "progression")):
        drop = ("--drop", "id") if name == "wine" else ()
        succeeds(
            run_chainrule(
                "train", data_dir / f"{name}.csv", "--target", target, *drop, *FAST,
                "--out", f"{name}.safetensors", cwd=folder,
            )
        )  # fmt: skip
    return folder


# --- explain ---------------------------------------------------------------------------------


def test_explain_xor_prints_the_step(chainrule_cli: Run, tmp_path: Path) -> None:
    text = succeeds(chainrule_cli("explain", "--dataset", "xor"))
    for line in (
        "Step 1 [0]: Linear(2 -> 2)",
        "Step 2 [1]: Tanh",
        "Step 3 [2]: Linear(2 -> 1)",
        "Step 4 [3]: Sigmoid",
        "a1 = tanh(z1)",
        "MSELoss",
    ):
        assert line in text
    assert text == succeeds(chainrule_cli("explain", "--dataset", "xor"))  # seeded

    result = chainrule_cli(
        "explain", "--dataset", "xor", "--format", "html", "--optimizer", "adam", "-o", "t.html"
    )
    assert succeeds(result) == ""
    assert "written to t.html" in result.stderr
    html = (tmp_path / "t.html").read_text()
    assert "<" in html and "Adam" in html
    markdown = succeeds(chainrule_cli("explain", "--dataset", "xor", "--format", "markdown"))
    assert markdown != text


def test_explain_a_model_file(chainrule_cli: Run, data_dir: Path, models: Path) -> None:
    text = succeeds(
        chainrule_cli(
            "explain", models / "iris.safetensors", data_dir / "iris.csv", "--rows", "0:4"
        )
    )
    assert "CrossEntropyLoss" in text and "4 samples" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    # train's default network, layer by layer: Linear, BatchNorm1d, ReLU, Dropout
    for line in (
        "Step 1 [0]: Linear(4 -> 128)",
        "Step 2 [1]: BatchNorm1d(128, eps=1e-05)",
        "Step 3 [2]: ReLU",
        "Step 4 [3]: Dropout(p=0.2)",
        "Step 9 [8]: Linear(64 -> 3)",
        "x_hat = (z1 - mean) / sqrt(var + 1e-05)",
        "n1 = gamma1 * x_hat + beta1",
        "mask (1: kept, with probability 0.8)",
        "d1 = a1 * mask / (1 - 0.2)",
        "dL/da1 = dL/dd1 * mask / (1 - 0.2)",
        "gamma1 (1.weight)",
    ):
        assert line in text, line
    text = succeeds(
        chainrule_cli(
            "explain", models / "wine.safetensors", data_dir / "wine.csv", "--rows", "2:5"
        )
    )
    assert "CrossEntropyLoss" in text and "3 samples" in text
    text = succeeds(
        chainrule_cli("explain", models / "diabetes.safetensors", data_dir / "diabetes.csv")
    )
    assert "MSELoss" in text


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("a:b", "explain: --rows: expected START:END with whole numbers (such as 0:4), got 'a:b'"),
        ("4:2", "explain: --rows: expected 0 <= START < END <= 150 (the table's rows), got '4:2'"),
        ("0:999", "got '0:999'"),
        ("-1:3", "got '-1:3'"),
    ],
)
def test_explain_bad_rows(
    chainrule_cli: Run, data_dir: Path, models: Path, rows: str, message: str
) -> None:
    fails(
        chainrule_cli(
            "explain", models / "iris.safetensors", data_dir / "iris.csv", f"--rows={rows}"
        ),
        message,
    )


def test_explain_mistakes(chainrule_cli: Run, data_dir: Path, models: Path) -> None:
    fails(chainrule_cli("explain"), "explain: expected --dataset xor or MODEL DATA, got nothing")
    fails(
        chainrule_cli("explain", models / "iris.safetensors", "--dataset", "xor"),
        "explain: expected either --dataset or MODEL DATA, got both",
    )
    fails(
        chainrule_cli("explain", "--dataset", "xor", "--lr", "0"),
        "explain: --lr: expected a number > 0, got 0",
    )
    fails(
        chainrule_cli(
            "explain", models / "iris.safetensors", data_dir / "iris.csv", "--target", "nope"
        ),
        "explain: --target: expected a column of",
    )


def test_explain_a_cnn(chainrule_cli: Run, tmp_path: Path) -> None:
    digits = load_dataset("digits")
    table = pd.DataFrame(digits.x[:120], columns=digits.feature_names)
    table["digit"] = digits.y[:120]
    table.to_csv(tmp_path / "digits.csv", index=False)
    succeeds(
        chainrule_cli(
            "train", "digits.csv", "--target", "digit", "--arch", "cnn", "--epochs", "1",
            "--quiet", "--out", "cnn.safetensors",
        )
    )  # fmt: skip
    text = succeeds(chainrule_cli("explain", "cnn.safetensors", "digits.csv", "--rows", "0:4"))
    assert max(len(line) for line in text.splitlines()) <= 100
    for line in (
        "Step 1 [0]: Unflatten",
        "Step 2 [1]: Conv2d(1, 32",
        "z1 = Conv2d(h0)",
        "dL/dW1 = the engine's backward",
        "Step 3 [2]: BatchNorm2d(32, eps=1e-05)",
        "Step 13 [12]: Dropout(p=0.25)",
    ):
        assert line in text, line


def test_explain_traces_a_model_that_is_one_layer(
    chainrule_cli: Run, data_dir: Path, models: Path, tmp_path: Path
) -> None:
    _, metadata = chainrule.load(models / "iris.safetensors", with_metadata=True)
    chainrule.save(nn.Linear(4, 3), tmp_path / "linear.safetensors", metadata)
    text = succeeds(
        chainrule_cli("explain", "linear.safetensors", data_dir / "iris.csv", "--rows", "0:3")
    )
    for line in ("Step 1: Linear(4 -> 3)", "z1 = x W1^T + b1", "dL/dW1 = (dL/dz1)^T x"):
        assert line in text, line


def test_explain_names_a_batch_too_small_for_batch_norm(
    chainrule_cli: Run, data_dir: Path, models: Path
) -> None:
    fails(  # batch statistics need two rows
        chainrule_cli("explain", models / "iris.safetensors", data_dir / "iris.csv", "--rows", "3"),
        "explain: --rows 3: BatchNorm1d: expected more than 1 value per channel",
    )


def test_explain_puts_only_the_batch_s_own_errors_down_to_rows(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
    models: Path,
) -> None:
    # A target of the wrong shape for the network (the reviewer's case): the loss fails,
    # and the message says so, not that --rows was wrong.
    original = explain._model_step

    def two_targets(
        args: argparse.Namespace,
    ) -> tuple[nn.Module, np.ndarray, np.ndarray, nn.Module]:
        model, x, y, loss = original(args)
        return model, x, np.concatenate([y, y], axis=1), loss

    monkeypatch.setattr(explain, "_model_step", two_targets)
    model, data = models / "diabetes.safetensors", data_dir / "diabetes.csv"
    assert main(["explain", str(model), str(data), "--rows", "0:4"]) == 2
    captured = capsys.readouterr()
    message = fails(
        subprocess.CompletedProcess([], 2, captured.out, captured.err),
        "explain: mse_loss: expected input and target of the same shape, got (4, 1) and (4, 2); "
        f"the step of {str(model)!r} on {str(data)!r} cannot be traced",
    )
    assert "--rows" not in message


# --- export ----------------------------------------------------------------------------------


def _run_onnx(path: Path, x: np.ndarray) -> tuple[np.ndarray, str]:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"input": x.astype(np.float32)})
    return output, onnx.load(str(path)).graph.doc_string


def _csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def test_export_classifier_on_raw_columns(
    chainrule_cli: Run, data_dir: Path, models: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    result = chainrule_cli("export", models / "iris.safetensors", "--output", "iris.onnx")
    succeeds(result)
    assert "wrote iris.onnx (4 raw feature columns -> class probabilities)" in result.stderr
    table = pd.read_csv(data_dir / "iris.csv")
    features = [c for c in table.columns if c != "species"]
    proba, doc = _run_onnx(tmp_path / "iris.onnx", table[features].to_numpy())
    predicted = _csv(
        succeeds(
            chainrule_cli("predict", models / "iris.safetensors", data_dir / "iris.csv", "--proba")
        )
    )
    classes = ["setosa", "versicolor", "virginica"]
    expected = predicted[[f"proba_{c}" for c in classes]].astype(float).to_numpy()
    np.testing.assert_allclose(proba, expected, atol=1e-5)
    assert ", ".join(features) in doc
    assert "in this class order: setosa, versicolor, virginica" in doc
    assert "expects no missing values" in doc


def test_export_regression_in_target_units(
    chainrule_cli: Run, data_dir: Path, models: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    succeeds(chainrule_cli("export", models / "diabetes.safetensors", "-o", "d.onnx"))
    table = pd.read_csv(data_dir / "diabetes.csv")
    values, doc = _run_onnx(tmp_path / "d.onnx", table.drop(columns="progression").to_numpy())
    predicted = _csv(
        succeeds(
            chainrule_cli("predict", models / "diabetes.safetensors", data_dir / "diabetes.csv")
        )
    )
    expected = predicted["prediction"].astype(float).to_numpy()
    assert values.shape == (len(table), 1)
    np.testing.assert_allclose(values[:, 0], expected, rtol=1e-5)
    assert "in the target's own units" in doc


def test_export_with_categories_takes_encoded_inputs(
    chainrule_cli: Run, data_dir: Path, models: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    result = chainrule_cli("export", models / "wine.safetensors", "-o", "wine.onnx")
    succeeds(result)
    assert "categorical column 'color'" in result.stderr
    assert "color=pale" in result.stderr and "color=<missing>" in result.stderr
    _, metadata = chainrule.load(models / "wine.safetensors", with_metadata=True)
    pre = TabularPreprocessor.from_dict(metadata["preprocessing"])
    table = pd.read_csv(data_dir / "wine.csv")
    proba, doc = _run_onnx(tmp_path / "wine.onnx", pre.transform(table))
    predicted = _csv(
        succeeds(
            chainrule_cli("predict", models / "wine.safetensors", data_dir / "wine.csv", "--proba")
        )
    )
    columns = [f"proba_{c}" for c in metadata["classes"]]
    np.testing.assert_allclose(proba, predicted[columns].astype(float).to_numpy(), atol=1e-5)
    assert "ALREADY ENCODED" in doc and "color=deep" in doc


def test_export_mistakes(chainrule_cli: Run, models: Path, tmp_path: Path) -> None:
    fails(chainrule_cli("export", models / "iris.safetensors"), "the following arguments")
    fails(
        chainrule_cli("export", models / "iris.safetensors", "--format", "tflite", "-o", "x"),
        "export: --format: invalid choice: 'tflite'",
    )
    fails(
        chainrule_cli("export", models / "iris.safetensors", "-o", "no/such/x.onnx"),
        "export: --output: expected a path in an existing folder",
    )
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "onnx.py").write_text("raise ImportError('no onnx here')\n")
    result = run_chainrule(
        "export", models / "iris.safetensors", "-o", tmp_path / "x.onnx", cwd=blocker
    )
    fails(result, "export: --format onnx: expected the onnx package, got none installed")
    assert not (tmp_path / "x.onnx").exists()
