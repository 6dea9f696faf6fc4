"""Each opset is written with an IR version ONNX allows for it, and the file runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import export, nn
from chainrule.export import OPSETS, to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("opset", OPSETS)
def test_ir_version_is_the_lowest_the_opset_allows(opset: int, tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 2, generator=0), nn.Tanh())
    path = to_onnx(model, tmp_path / "m.onnx", np.zeros((1, 3), np.float32), opset=opset)
    proto = onnx.load(str(path))
    minimum = onnx.helper.find_min_ir_version_for([onnx.helper.make_opsetid("", opset)])
    assert proto.ir_version == minimum
    onnx.checker.check_model(proto, full_check=True)
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x})
    np.testing.assert_allclose(out, model(cr.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)


def test_the_table_of_ir_versions() -> None:
    assert export.IR_VERSIONS == {17: 8, 18: 8, 19: 9, 20: 9, 21: 10}
    assert export.IR_VERSION == 8  # the default opset's, as before
