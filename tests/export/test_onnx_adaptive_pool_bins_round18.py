"""AdaptiveAvgPool1d/2d of sizes that do not divide, exported to ONNX: each bin is averaged
on its own (Slice and ReduceMean), so an infinite or NaN input stays in the bins that hold
it in onnxruntime as in PyTorch, where two MatMuls by averaging matrices spread NaN to
every bin; any batch size runs, an empty one among them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import to_onnx

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

CASES: dict[str, tuple[Any, Any, tuple[int, ...]]] = {
    "2d (2, 2) of 3x3": (
        nn.AdaptiveAvgPool2d((2, 2)),
        torch.nn.AdaptiveAvgPool2d((2, 2)),
        (2, 3, 3),
    ),
    "2d (3, 2) of 5x4": (
        nn.AdaptiveAvgPool2d((3, 2)),
        torch.nn.AdaptiveAvgPool2d((3, 2)),
        (1, 5, 4),
    ),
    "2d (4, 3) of 4x7": (
        nn.AdaptiveAvgPool2d((4, 3)),
        torch.nn.AdaptiveAvgPool2d((4, 3)),
        (2, 4, 7),
    ),
    "2d (1, 3) of 6x5": (
        nn.AdaptiveAvgPool2d((1, 3)),
        torch.nn.AdaptiveAvgPool2d((1, 3)),
        (1, 6, 5),
    ),
    "1d 3 of 7": (nn.AdaptiveAvgPool1d(3), torch.nn.AdaptiveAvgPool1d(3), (2, 7)),
}


@pytest.mark.parametrize("values", ["finite", "inf", "nan"])
@pytest.mark.parametrize("batch", [0, 1, 5])
@pytest.mark.parametrize("case", CASES)
def test_adaptive_average_pools_that_do_not_divide_match_pytorch_in_onnxruntime(
    case: str, batch: int, values: str, tmp_path: Path
) -> None:
    layer, twin, shape = CASES[case]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, *shape)).astype(np.float32)
    if batch and values != "finite":
        x.reshape(batch, -1)[0, 0] = np.inf if values == "inf" else np.nan
        x.reshape(batch, -1)[-1, -1] = -np.inf
    example = rng.normal(size=(2, *shape)).astype(np.float32)
    path = to_onnx(nn.Sequential(layer), tmp_path / "pool.onnx", example)
    session = ort.InferenceSession(str(path))
    (out,) = session.run(None, {session.get_inputs()[0].name: x})
    expected = twin(torch.tensor(x)).numpy()
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)  # NaN where PyTorch's
    np.testing.assert_allclose(layer(cr.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)
