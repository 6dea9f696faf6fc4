"""ONNX export of GroupNorm, the 1-d pools and Upsample (round 11): onnxruntime gives
PyTorch's outputs, on a batch of another size than the example's."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainrule import nn
from chainrule.export import to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x})
    return np.asarray(out)


def _data(shape: tuple[int, ...], dtype: Any, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def _check(
    model: nn.Module,
    twin: Any,
    shape: tuple[int, ...],
    dtype: Any,
    tmp_path: Path,
    opset: int = 17,
    **tol: float,
) -> None:
    """Export with a batch of 2, run a batch of 3 in onnxruntime, compare with PyTorch."""
    path = to_onnx(model, tmp_path / "m.onnx", _data((2, *shape[1:]), dtype, 1), opset)
    x = _data(shape, dtype)
    actual = _run(path, x)
    expected = twin(torch.from_numpy(x)).detach().numpy()
    assert actual.dtype == expected.dtype == np.dtype(dtype)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, **(tol or {"rtol": 1e-12, "atol": 0}))


@pytest.mark.parametrize("opset", [17, 18, 21])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(
    ("groups", "shape", "affine"),
    [(2, (3, 4, 5, 6), True), (4, (3, 4, 7), False), (1, (3, 6), True), (3, (3, 6, 2), True)],
    ids=lambda v: str(v).replace(" ", ""),
)
def test_group_norm_runs_in_onnxruntime(
    groups: int, shape: tuple[int, ...], affine: bool, dtype: Any, opset: int, tmp_path: Path
) -> None:
    layer = nn.GroupNorm(groups, shape[1], eps=1e-3, affine=affine, dtype=dtype)
    twin = torch.nn.GroupNorm(groups, shape[1], eps=1e-3, affine=affine, dtype=TORCH_DTYPE[dtype])
    if affine:
        rng = np.random.default_rng(2)
        for p, tp in zip(layer.parameters(), twin.parameters(), strict=True):
            p.data[...] = rng.normal(size=p.shape)
            tp.data[...] = torch.from_numpy(p.data.copy())
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}
    _check(nn.Sequential(layer), twin, shape, dtype, tmp_path, opset, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_max_pool1d_runs_in_onnxruntime(dtype: Any, tmp_path: Path) -> None:
    for kernel, stride, padding, dilation, ceil_mode in itertools.product(
        [2, 3], [None, 1, 2, 3], [0, 1], [1, 2], [False, True]
    ):
        arguments = (kernel, stride, padding, dilation, False, ceil_mode)
        layer, twin = nn.MaxPool1d(*arguments), torch.nn.MaxPool1d(*arguments)
        _check(nn.Sequential(layer), twin, (3, 2, 9), dtype, tmp_path)


def test_avg_pool1d_runs_in_onnxruntime(tmp_path: Path) -> None:
    # float32 only: onnxruntime's CPU provider has no float64 AveragePool
    for kernel, stride, padding, ceil_mode, include_pad in itertools.product(
        [2, 3, 4], [None, 1, 3], [0, 1], [False, True], [False, True]
    ):
        arguments = (kernel, stride, padding, ceil_mode, include_pad)
        layer, twin = nn.AvgPool1d(*arguments), torch.nn.AvgPool1d(*arguments)
        _check(nn.Sequential(layer), twin, (3, 2, 9), np.float32, tmp_path, rtol=1e-6, atol=1e-7)


def test_adaptive_avg_pool1d_runs_in_onnxruntime(tmp_path: Path) -> None:
    for size in [1, 2, 3, 4, 7, 10]:
        layer, twin = nn.AdaptiveAvgPool1d(size), torch.nn.AdaptiveAvgPool1d(size)
        _check(nn.Sequential(layer), twin, (3, 2, 10), np.float32, tmp_path, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(
    ("arguments", "shape"),
    [
        ({"scale_factor": 2}, (3, 2, 4)),
        ({"scale_factor": 2.3}, (3, 2, 3)),
        ({"size": 7}, (3, 2, 5)),
        ({"scale_factor": (2, 1.5)}, (3, 2, 3, 4)),
        ({"scale_factor": 0.7, "recompute_scale_factor": True}, (3, 2, 5, 4)),
        ({"size": (5, 9)}, (3, 2, 3, 4)),
    ],
    ids=lambda v: str(v).replace(" ", ""),
)
def test_upsample_runs_in_onnxruntime(
    arguments: dict[str, Any], shape: tuple[int, ...], dtype: Any, tmp_path: Path
) -> None:
    layer, twin = nn.Upsample(**arguments), torch.nn.Upsample(**arguments)
    _check(nn.Sequential(layer), twin, shape, dtype, tmp_path)


def test_a_round11_model_exports_end_to_end(tmp_path: Path) -> None:
    model = nn.Sequential(
        nn.Conv1d(2, 4, 3, generator=0),
        nn.GroupNorm(2, 4),
        nn.MaxPool1d(2),
        nn.Upsample(scale_factor=3),
        nn.AvgPool1d(3, 2, 1),
        nn.AdaptiveAvgPool1d(5),
    )
    x = _data((4, 2, 16), np.float32)
    path = to_onnx(model, tmp_path / "m.onnx", x[:1])
    from chainrule import tensor

    np.testing.assert_allclose(_run(path, x), model(tensor(x)).numpy(), rtol=1e-5, atol=1e-6)


def test_unbatched_examples_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"layer 0 \(MaxPool1d\) needs a batched example of rank 3"
    ):
        to_onnx(nn.Sequential(nn.MaxPool1d(2)), tmp_path / "m.onnx", np.ones((2, 6)))
    with pytest.raises(
        ValueError, match=r"layer 0 \(AdaptiveAvgPool1d\) needs a batched example of rank 3"
    ):
        to_onnx(nn.Sequential(nn.AdaptiveAvgPool1d(2)), tmp_path / "m.onnx", np.ones((2, 6)))
    with pytest.raises(ValueError, match=r"interpolate: expected input of shape \(N, C, L\) or"):
        to_onnx(nn.Sequential(nn.Upsample(size=3)), tmp_path / "m.onnx", np.ones((2, 2, 2, 2, 2)))


@pytest.mark.parametrize("layer", [nn.RNN(3, 4), nn.GRU(3, 4), nn.LSTM(3, 4)], ids=repr)
def test_recurrent_layers_are_refused_by_name(layer: nn.Module, tmp_path: Path) -> None:
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"to_onnx: cannot export layer 0 \({name}\); supported"):
        to_onnx(nn.Sequential(layer), tmp_path / "m.onnx", np.ones((5, 2, 3), np.float32))
    with pytest.raises(ValueError, match=rf"cannot export layer model \({name}\)"):
        to_onnx(layer, tmp_path / "m.onnx", np.ones((5, 2, 3), np.float32))
    assert not (tmp_path / "m.onnx").exists()
