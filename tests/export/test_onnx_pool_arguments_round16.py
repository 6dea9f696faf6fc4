"""The pooling layers keep their arguments as given (an int, a tuple, a list); ONNX export
reads every form, and onnxruntime computes what PyTorch does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainrule import nn
from chainrule.export import to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    "name, args, shape",
    [
        ("MaxPool2d", ((2, 3), (1, 2), (1, 1)), (2, 3, 7, 8)),
        ("MaxPool2d", ([3, 2], None, [1, 0], [1, 2]), (2, 3, 7, 8)),
        ("AvgPool2d", ((3, 2), 2, (1, 0)), (2, 3, 7, 8)),
        ("AdaptiveAvgPool2d", ((1, 1),), (2, 3, 7, 8)),
        ("MaxPool1d", ((3,), (2,), (1,)), (2, 3, 9)),
        ("AdaptiveAvgPool1d", ((3,),), (2, 3, 9)),
        ("ConstantPad2d", ((1, 0, 2, 1), 3), (2, 3, 4, 4)),
    ],
)
def test_pools_given_tuples_export_as_pytorch_computes_them(
    name: str, args: tuple[Any, ...], shape: tuple[int, ...], tmp_path: Path
) -> None:
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    expected = getattr(torch.nn, name)(*args)(torch.from_numpy(x)).numpy()
    path = to_onnx(nn.Sequential(getattr(nn, name)(*args)), tmp_path / "m.onnx", x)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {"input": x})
    np.testing.assert_allclose(actual, expected, atol=1e-6)
