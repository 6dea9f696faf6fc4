"""ONNX export as a PyTorch user moving a model to onnxruntime tries it, eleventh pass.

A GLU over the batch axis follows the batch size fed at run time; a ModuleList or
ModuleDict (no forward of its own) is refused with a message that says what to export
instead; a file that cannot be written names ``to_onnx``; standardization values that
would fail or mislead on other batch sizes (a batch axis of their own, a wrong length, NaN,
a zero scale) are refused when exporting.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainrule import nn
from chainrule.export import to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def session(path: Path) -> Any:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("opset", [17, 18, 21])
@pytest.mark.parametrize("dim", [0, -2])
def test_glu_over_the_batch_axis_follows_the_batch_fed(
    tmp_path: Path, dim: int, opset: int
) -> None:
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Linear(5, 6, generator=0), nn.GLU(dim))
    reference = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.GLU(dim))
    linear = model[0]
    assert isinstance(linear, nn.Linear) and linear.bias is not None
    reference[0].weight.data = torch.from_numpy(linear.weight.numpy())
    reference[0].bias.data = torch.from_numpy(linear.bias.numpy())
    x = np.random.default_rng(1).standard_normal((8, 5)).astype(np.float32)
    path = to_onnx(model, tmp_path / "glu.onnx", x[:2], opset=opset)
    runner = session(path)
    for batch in (2, 4, 8):
        got = runner.run(None, {"input": x[:batch]})[0]
        expected = reference(torch.from_numpy(x[:batch])).detach().numpy()
        assert got.shape == (batch // 2, 6)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # The output's first axis is half the batch, not the batch.
    (output,) = onnx.load(str(path)).graph.output
    first = output.type.tensor_type.shape.dim[0]
    assert first.dim_param != "batch"
    with pytest.raises(Exception, match="Split"):  # an odd batch cannot be halved
        runner.run(None, {"input": x[:3]})


@pytest.mark.parametrize(
    ("model", "where"),
    [
        (nn.ModuleList([nn.Linear(3, 2)]), r"layer model \(ModuleList\)"),
        (
            nn.Sequential(nn.Linear(3, 3), nn.ModuleDict({"head": nn.Linear(3, 2)})),
            r"layer 1 \(ModuleDict\)",
        ),
    ],
    ids=["ModuleList", "ModuleDict-in-Sequential"],
)
def test_a_container_without_forward_is_refused_with_what_to_export(
    tmp_path: Path, model: nn.Module, where: str
) -> None:
    with pytest.raises(
        ValueError,
        match=rf"^to_onnx: cannot export {where}; supported layers: .*no forward of its own: "
        rf"export the Sequential or layer it holds",
    ):
        to_onnx(model, tmp_path / "m.onnx", np.ones((2, 3), np.float32))
    assert os.listdir(tmp_path) == []
    # What the message advises: the part that has a forward exports and runs alike.
    part = model[0] if isinstance(model, nn.ModuleList) else model[1]["head"]  # type: ignore[index]
    x = np.random.default_rng(3).standard_normal((5, 3)).astype(np.float32)
    runner = session(to_onnx(part, tmp_path / "part.onnx", x[:1]))
    np.testing.assert_allclose(runner.run(None, {"input": x})[0], part(x).numpy(), rtol=1e-6)


def test_a_path_that_cannot_be_written_names_to_onnx(tmp_path: Path) -> None:
    model = nn.Linear(2, 2, generator=0)
    x = np.ones((1, 2), np.float32)
    with pytest.raises(FileNotFoundError, match=r"^to_onnx: expected an existing folder"):
        to_onnx(model, tmp_path / "missing" / "m.onnx", x)
    with pytest.raises(FileNotFoundError, match=r"^to_onnx: expected an existing folder"):
        to_onnx(model, str(tmp_path / "missing" / "m.onnx"), x)
    with pytest.raises(TypeError, match=r"^to_onnx: expected a path \(str or os.PathLike\)"):
        to_onnx(model, 3, x)  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("option", "value", "error", "message"),
    [
        ("input_mean", [1.0, 2.0], ValueError, r"input_mean of a shape that fits one input row"),
        ("input_scale", [1.0, np.nan, 1.0], ValueError, r"finite values in input_scale"),
        ("input_scale", [1.0, 0.0, 2.0], ValueError, r"nonzero input_scale .* use 1"),
        ("output_mean", [[1.0, 2.0]] * 3, ValueError, r"output_mean .* one output row, \(2,\)"),
        ("output_scale", [np.inf, 1.0], ValueError, r"finite values in output_scale"),
        ("input_mean", "abc", TypeError, r"numbers as input_mean, got 'abc'"),
    ],
    ids=["short", "nan", "zero-scale", "output-rows", "inf", "text"],
)
def test_standardization_that_would_fail_or_mislead_at_run_time_is_refused(
    tmp_path: Path, option: str, value: Any, error: type[Exception], message: str
) -> None:
    model = nn.Linear(3, 2, generator=0)
    with pytest.raises(error, match=rf"^to_onnx: expected .*{message}"):
        to_onnx(model, tmp_path / "m.onnx", np.ones((3, 3), np.float32), **{option: value})
    assert os.listdir(tmp_path) == []


def test_standardization_applies_to_each_row_whatever_the_batch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    model = nn.Linear(3, 2, generator=0)
    x = np.random.default_rng(5).standard_normal((6, 3)).astype(np.float32)
    # One value per example row fits the example's batch of 3, not the batches to come.
    with pytest.raises(ValueError, match=r"input_mean of a shape .* got shape \(3, 3\)"):
        to_onnx(model, tmp_path / "m.onnx", x[:3], input_mean=np.zeros((3, 3)))
    assert os.listdir(tmp_path) == []
    # One row's worth, in any shape that broadcasts to a row, runs on every batch size.
    mean, scale = np.array([[0.5, -1.0, 2.0]]), 4.0  # keepdims=True's shape, and a scalar
    out_mean, out_scale = np.float32(10.0), [2.0, 3.0]
    path = to_onnx(
        model,
        tmp_path / "m.onnx",
        x[:3],
        input_mean=mean,
        input_scale=scale,
        output_mean=out_mean,
        output_scale=out_scale,
    )
    runner = session(path)
    assert model.bias is not None
    weight, bias = torch.from_numpy(model.weight.numpy()), torch.from_numpy(model.bias.numpy())
    for batch in (1, 6):
        z = (torch.from_numpy(x[:batch]) - torch.from_numpy(mean).float()) / scale
        expected = torch.nn.functional.linear(z, weight, bias) * torch.tensor(out_scale) + 10.0
        got = runner.run(None, {"input": x[:batch]})[0]
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-5)
