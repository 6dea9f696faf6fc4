"""AdaptiveMaxPool1d/2d exported to ONNX: a MaxPool (kernel = stride = size / out) where the
output size divides the input's, otherwise one Slice and ReduceMax per bin and axis joined
by Concat; onnxruntime's outputs are the layer's to the bit (and PyTorch's) for every size,
dtype, opset and batch (an empty one too), with infinities (but a MaxPool's window of -inf
alone, which onnxruntime may give as the lowest float), and inside a small CNN. A pool
with ``return_indices=True`` and an unbatched example are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

# name -> (layer, its PyTorch twin, the shape of one sample, whether the sizes divide)
CASES: dict[str, tuple[Any, Any, tuple[int, ...], bool]] = {
    "2d 7 of 32x32": (nn.AdaptiveMaxPool2d(7), torch.nn.AdaptiveMaxPool2d(7), (3, 32, 32), False),
    "2d (3, 4) of 5x7": (
        nn.AdaptiveMaxPool2d((3, 4)),
        torch.nn.AdaptiveMaxPool2d((3, 4)),
        (2, 5, 7),
        False,
    ),
    "2d (5, 9) of 3x4 (larger)": (
        nn.AdaptiveMaxPool2d((5, 9)),
        torch.nn.AdaptiveMaxPool2d((5, 9)),
        (2, 3, 4),
        False,
    ),
    "2d (None, 3) of 4x7": (
        nn.AdaptiveMaxPool2d((None, 3)),
        torch.nn.AdaptiveMaxPool2d((None, 3)),
        (2, 4, 7),
        False,
    ),
    "2d (2, 3) of 6x9": (
        nn.AdaptiveMaxPool2d((2, 3)),
        torch.nn.AdaptiveMaxPool2d((2, 3)),
        (2, 6, 9),
        True,
    ),
    "2d 1 of 5x6": (nn.AdaptiveMaxPool2d(1), torch.nn.AdaptiveMaxPool2d(1), (3, 5, 6), True),
    "1d 3 of 7": (nn.AdaptiveMaxPool1d(3), torch.nn.AdaptiveMaxPool1d(3), (2, 7), False),
    "1d 4 of 8": (nn.AdaptiveMaxPool1d(4), torch.nn.AdaptiveMaxPool1d(4), (2, 8), True),
    "1d 9 of 4 (larger)": (nn.AdaptiveMaxPool1d(9), torch.nn.AdaptiveMaxPool1d(9), (2, 4), False),
}


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x})
    return np.asarray(out)


@pytest.mark.parametrize("opset", [17, 21])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_adaptive_max_pools_match_the_layer_in_onnxruntime(
    case: str, dtype: Any, opset: int, tmp_path: Path
) -> None:
    layer, twin, shape, divides = CASES[case]
    rng = np.random.default_rng(0)
    path = to_onnx(
        nn.Sequential(layer),
        tmp_path / "pool.onnx",
        rng.normal(size=(2, *shape)).astype(dtype),
        opset,
    )
    kinds = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert ("MaxPool" in kinds) == divides
    assert ("ReduceMax" in kinds) == (not divides)
    for batch in (0, 1, 5):
        x = np.round(rng.normal(size=(batch, *shape)), 1).astype(dtype)  # with ties
        if batch:
            x.reshape(batch, -1)[0, 0] = np.inf
            x.reshape(batch, -1)[-1, -1] = -np.inf
            x[-1] = -np.inf  # bins of -inf alone
        out = _run(path, x)
        expected = layer(cr.tensor(x)).numpy()
        assert out.dtype == expected.dtype == dtype
        if divides:
            # onnxruntime's float32 MaxPool may start from the lowest float32 rather than
            # -inf: a window of -inf alone then gives that (documented in to_onnx)
            lowest = np.isneginf(expected) & (out == np.finfo(dtype).min)
            out = np.where(lowest, -np.inf, out).astype(dtype)
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(out, twin(torch.tensor(x)).numpy())


def test_a_cnn_with_an_adaptive_max_pool_matches_in_onnxruntime(tmp_path: Path) -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveMaxPool2d((3, 5)),
        nn.Flatten(),
        nn.Linear(60, 2),
    )
    x = np.random.default_rng(1).normal(size=(4, 3, 11, 13)).astype(np.float32)
    path = to_onnx(model, tmp_path / "cnn.onnx", x)
    np.testing.assert_allclose(_run(path, x), model(cr.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (nn.AdaptiveMaxPool2d(2, return_indices=True), (1, 2, 4, 4)),
        (nn.AdaptiveMaxPool1d(2, return_indices=True), (1, 2, 4)),
    ],
)
def test_return_indices_is_refused(
    layer: nn.Module, shape: tuple[int, ...], tmp_path: Path
) -> None:
    name = type(layer).__name__
    with pytest.raises(
        ValueError,
        match=rf"cannot export layer 0 \({name} with return_indices=True: to_onnx exports chains",
    ):
        to_onnx(nn.Sequential(layer), tmp_path / "m.onnx", np.ones(shape, dtype=np.float32))
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (
            nn.AdaptiveMaxPool2d(2),
            (2, 4, 4),
            r"AdaptiveMaxPool2d\) needs a batched example of rank 4",
        ),
        (nn.AdaptiveMaxPool1d(2), (2, 4), r"AdaptiveMaxPool1d\) needs a batched example of rank 3"),
    ],
)
def test_an_unbatched_example_is_refused(
    layer: nn.Module, shape: tuple[int, ...], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=message):
        to_onnx(nn.Sequential(layer), tmp_path / "m.onnx", np.ones(shape, dtype=np.float32))
