"""Acceptance round 9: one MLP crossing every door.

A model trained by ``chainrule train``, by the scikit-learn estimators and by ``fit`` in
Python, then used through the others: ``chainrule.load`` on the command line's file (its
preprocessing kept), ONNX graphs run by onnxruntime against chainrule's outputs, weights
exchanged with PyTorch through safetensors, and odd files refused without a partial load.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import chainrule as cr
from chainrule import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from chainrule.export import to_onnx  # noqa: E402
from chainrule.export.onnx import OPSETS  # noqa: E402


def _cli(*args: str | Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from chainrule.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _table(rows: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.normal(size=rows) * 3 + 1,
            "color": rng.choice(["red", "green", "blue"], size=rows),
            "size": rng.integers(0, 3, size=rows),
        }
    )
    frame["y"] = np.where(frame["a"] + (frame["color"] == "red") > 0.3, "yes", "no")
    frame.loc[3, "a"] = np.nan
    return frame


def _run(session_path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(session_path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0])


def test_cli_file_keeps_its_preprocessing_for_python_and_onnx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chainrule.data.tabular import TabularPreprocessor

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    frame = _table()
    frame.to_csv("t.csv", index=False)
    code, _, err = _cli(
        "train", "t.csv", "--target", "y", "--epochs", "3", "--hidden", "8", "--quiet",
        "--val-split", "0", "-o", "cli.safetensors", capsys=capsys,
    )  # fmt: skip
    assert code == 0, err
    assert _cli("predict", "cli.safetensors", "t.csv", "-o", "p.csv", capsys=capsys)[0] == 0
    predicted = pd.read_csv("p.csv")["prediction"].to_numpy()

    model, metadata = cr.load("cli.safetensors", with_metadata=True)
    assert not model.training
    preprocessing = TabularPreprocessor.from_dict(metadata["preprocessing"])
    encoded = np.asarray(preprocessing.transform(frame.drop(columns="y")), dtype=np.float32)
    with cr.no_grad():
        logits = model(cr.tensor(encoded)).numpy()
    assert list(np.array(metadata["classes"])[logits.argmax(axis=1)]) == list(predicted)

    # With a categorical column the graph takes the encoded inputs, and says which.
    code, _, err = _cli("export", "cli.safetensors", "-o", "cli.onnx", capsys=capsys)
    assert code == 0 and "'color'" in err and "encoded inputs" in err
    doc = onnx.load("cli.onnx").graph.doc_string
    assert "ALREADY ENCODED" in doc and "color=red" in doc and "no, yes" in doc
    probabilities = _run(tmp_path / "cli.onnx", encoded)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probabilities, shifted / shifted.sum(1, keepdims=True), atol=1e-6)


def test_files_from_python_and_sklearn_are_refused_by_the_cli_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chainrule.sklearn import MLPClassifier

    monkeypatch.chdir(tmp_path)
    x = np.random.default_rng(0).normal(size=(40, 4))
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    cr.save(net, "py.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3 iterations do not converge
        MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(x, x[:, 0] > 0).save(
            "sk.safetensors"
        )
    pd.DataFrame(x, columns=list("abcd")).to_csv("x.csv", index=False)
    for file in ("py.safetensors", "sk.safetensors"):
        for command in (
            ["info", file],
            ["predict", file, "x.csv"],
            ["export", file, "-o", "m.onnx"],
        ):
            code, out, err = _cli(*command, capsys=capsys)
            assert code == 2 and out == ""
            assert err.count("\n") == 1 and err.startswith("chainrule: error: ")
            assert "written by `chainrule train`" in err
            # and how to load it instead: an estimator by its own class
            loader = "MLPClassifier.load" if file.startswith("sk") else "chainrule.load"
            assert loader in err
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sklearn_file_as_onnx_gives_predict_proba(tmp_path: Path, dtype: type) -> None:
    from chainrule.sklearn import MLPClassifier, MLPRegressor

    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 4))
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier(
            hidden_layer_sizes=(6,), max_iter=3, random_state=0, dtype=dtype, batch_norm=True,
            dropout=0.1, activation="tanh",
        ).fit(x, labels)  # fmt: skip
        reg = MLPRegressor(hidden_layer_sizes=(6,), max_iter=3, random_state=0, dtype=dtype)
        reg.fit(x, 3 * x[:, 1])
    clf.save(tmp_path / "clf.safetensors")
    reg.save(tmp_path / "reg.safetensors")
    tolerance = 1e-6 if dtype == np.float32 else 1e-12
    network = cr.load(tmp_path / "clf.safetensors")
    to_onnx(network, tmp_path / "clf.onnx", x[:1].astype(dtype), output="softmax")
    probabilities = _run(tmp_path / "clf.onnx", x.astype(dtype))
    assert probabilities.dtype == dtype
    np.testing.assert_allclose(probabilities, clf.predict_proba(x), atol=tolerance)
    to_onnx(cr.load(tmp_path / "reg.safetensors"), tmp_path / "reg.onnx", x[:1].astype(dtype))
    values = _run(tmp_path / "reg.onnx", x.astype(dtype))
    np.testing.assert_allclose(values.ravel(), reg.predict(x), atol=tolerance)


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_float64_normalization_keeps_float64_eps(tmp_path: Path, norm: str, opset: int) -> None:
    # ONNX's epsilon attributes are float32: 1e-5 lost its float64 digits, an error of 1e-8
    # relative for features of small variance, where every other float64 layer agrees to 1e-15.
    layer = nn.BatchNorm1d(6) if norm == "batch" else nn.LayerNorm(6, eps=1e-5)
    model = nn.Sequential(nn.Linear(4, 6), layer, nn.ReLU(), nn.Dropout(0.3), nn.Linear(6, 2))
    model.reset_parameters(generator=0)
    model = model.to(np.float64)
    if norm == "batch":
        model[1].running_var.data[:] = 1e-6
        model[1].running_mean.data[:] = 0.01
    x = np.random.default_rng(0).normal(size=(7, 4)) * 1e-3
    to_onnx(model, tmp_path / "m.onnx", x[:1], opset=opset)
    got = _run(tmp_path / "m.onnx", x)
    model.eval()
    with cr.no_grad():
        expected = model(cr.tensor(x)).numpy()
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def _mlps() -> tuple[nn.Sequential, object]:
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(
        nn.Linear(4, 6), nn.LayerNorm(6), nn.GELU(), nn.Dropout(0.1), nn.Linear(6, 5),
        nn.BatchNorm1d(5), nn.PReLU(), nn.Linear(5, 2),
    )  # fmt: skip
    tn = torch.nn
    theirs = tn.Sequential(
        tn.Linear(4, 6), tn.LayerNorm(6), tn.GELU(), tn.Dropout(0.1), tn.Linear(6, 5),
        tn.BatchNorm1d(5), tn.PReLU(), tn.Linear(5, 2),
    )  # fmt: skip
    return ours, theirs


def test_weights_cross_to_pytorch_and_back_through_safetensors(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    ours, theirs = _mlps()
    ours.reset_parameters(generator=0)
    with cr.no_grad():  # training steps move the running statistics
        ours(cr.tensor(np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)))
    cr.save(ours, tmp_path / "ours.safetensors")
    theirs.load_state_dict(st.load_file(tmp_path / "ours.safetensors"), strict=True)
    x = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    ours.eval()
    theirs.eval()
    with cr.no_grad(), torch.no_grad():
        expected = theirs(torch.tensor(x)).numpy()
        np.testing.assert_allclose(ours(cr.tensor(x)).numpy(), expected, atol=1e-6)

    with torch.no_grad():
        for parameter in theirs.parameters():
            parameter.add_(0.25)
    st.save_file(theirs.state_dict(), tmp_path / "theirs.safetensors")
    again, _ = _mlps()
    assert cr.load_state_dict_file(again, tmp_path / "theirs.safetensors") is again
    again.eval()
    with cr.no_grad(), torch.no_grad():
        expected = theirs(torch.tensor(x)).numpy()
        np.testing.assert_allclose(again(cr.tensor(x)).numpy(), expected, atol=1e-5)


def test_odd_files_are_refused_whole_and_float16_is_cast_as_pytorch_does(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    _, theirs = _mlps()
    state = theirs.state_dict()
    target, _ = _mlps()
    target.reset_parameters(generator=3)
    before = {k: v.numpy().copy() for k, v in target.state_dict().items()}

    def unchanged() -> bool:
        return all(np.array_equal(before[k], v.numpy()) for k, v in target.state_dict().items())

    st.save_file({**state, "extra.weight": torch.zeros(2)}, tmp_path / "extra.safetensors")
    with pytest.raises(RuntimeError, match=r"unexpected keys \['extra.weight'\]"):
        cr.load_state_dict_file(target, tmp_path / "extra.safetensors")
    assert unchanged()
    st.save_file({k: v for k, v in state.items() if k != "7.bias"}, tmp_path / "less.safetensors")
    with pytest.raises(RuntimeError, match=r"missing keys \['7.bias'\]"):
        cr.load_state_dict_file(target, tmp_path / "less.safetensors")
    assert unchanged()
    whole = (tmp_path / "extra.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(whole[:-12])
    with pytest.raises(ValueError, match=r"cut\.safetensors.*truncated or corrupt"):
        cr.load_state_dict_file(target, tmp_path / "cut.safetensors")
    assert unchanged()

    # PyTorch's load_state_dict copies float16 into float32 parameters; so does chainrule.
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    st.save_file(half, tmp_path / "half.safetensors")
    cr.load_state_dict_file(target, tmp_path / "half.safetensors")
    assert target[0].weight.dtype == np.float32
    np.testing.assert_array_equal(target[0].weight.numpy(), half["0.weight"].float().numpy())


def _rewrite(
    path: Path, out: Path, tensors: dict[str, np.ndarray] | None, **changes: object
) -> None:
    from safetensors.numpy import load_file, save_file

    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    metadata = json.loads(raw[8 : 8 + length])["__metadata__"]
    document = json.loads(metadata["chainrule"])
    document.update(changes)
    save_file(tensors or load_file(path), out, metadata={"chainrule": json.dumps(document)})


def test_model_file_with_extra_tensor_or_newer_version_is_refused(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    saved = tmp_path / "m.safetensors"
    cr.save(model, saved)
    extra = {**load_file(saved), "9.weight": np.zeros(3, np.float32)}
    _rewrite(saved, tmp_path / "extra.safetensors", extra)
    with pytest.raises(
        ValueError, match=r"'9\.weight': expected no such tensor, got \(\(3,\), 'float32'\)"
    ):
        cr.load(tmp_path / "extra.safetensors")
    renamed = {k + "_" * (k == "2.bias"): v for k, v in load_file(saved).items()}
    _rewrite(saved, tmp_path / "renamed.safetensors", renamed)
    with pytest.raises(
        ValueError, match=r"'2\.bias': expected \(\(2,\), 'float32'\), got no such tensor"
    ):
        cr.load(tmp_path / "renamed.safetensors")
    _rewrite(saved, tmp_path / "newer.safetensors", None, format_version=99)
    with pytest.raises(ValueError, match=r"format version 1 or older.*got version 99.*upgrade"):
        cr.load(tmp_path / "newer.safetensors")
    assert isinstance(cr.load(saved), nn.Sequential)  # the original is untouched
