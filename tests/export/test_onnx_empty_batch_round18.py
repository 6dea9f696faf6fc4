"""Graphs that reshape run in onnxruntime on any batch size, an empty batch (0 rows) among
them: the sizes of the non-batch axes are written out, where -1 beside a batch of 0 was
ambiguous and onnxruntime refused the graph."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import to_onnx

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _group_norm(channels: int, groups: int) -> nn.GroupNorm:
    layer = nn.GroupNorm(groups, channels)
    rng = np.random.default_rng(1)
    layer.weight.data[...] = rng.normal(size=channels)
    layer.bias.data[...] = rng.normal(size=channels)
    return layer


CASES: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "GroupNorm after Linear": (
        lambda: nn.Sequential(nn.Linear(4, 6, generator=0), _group_norm(6, 3)),
        (4,),
    ),
    "GroupNorm on images": (lambda: nn.Sequential(_group_norm(4, 2)), (4, 3, 5)),
    "Flatten(2)": (lambda: nn.Sequential(nn.Flatten(2)), (3, 4, 5)),
    "Flatten(1, 2)": (lambda: nn.Sequential(nn.Flatten(1, 2)), (3, 4, 5)),
    "Flatten(2, 3)": (lambda: nn.Sequential(nn.Flatten(2, 3)), (3, 4, 5)),
    "Flatten()": (lambda: nn.Sequential(nn.Flatten()), (3, 4, 5)),
    "Flatten then Linear": (
        lambda: nn.Sequential(nn.Flatten(1, 2), nn.Linear(5, 2, generator=0)),
        (3, 4, 5),
    ),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("batch", [0, 1, 5])
def test_reshaping_graphs_run_on_any_batch(case: str, batch: int, tmp_path: Path) -> None:
    make, shape = CASES[case]
    model = make()
    path = to_onnx(model, tmp_path / "m.onnx", np.zeros((2, *shape), np.float32))
    x = np.random.default_rng(0).normal(size=(batch, *shape)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x})
    expected = model(cr.tensor(x)).numpy()
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batch", [0, 1, 5])
def test_unflatten_with_an_inferred_size_runs_on_any_batch(batch: int, tmp_path: Path) -> None:
    model = nn.Sequential(nn.Unflatten(1, (3, -1)))
    path = to_onnx(model, tmp_path / "m.onnx", np.zeros((2, 12), np.float32))
    x = np.arange(batch * 12, dtype=np.float32).reshape(batch, 12)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x})
    # the layer itself, as PyTorch's, cannot infer -1 from 0 elements: compare to numpy
    np.testing.assert_array_equal(out, x.reshape(batch, 3, 4))
