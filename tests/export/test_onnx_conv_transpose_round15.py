"""A transposed convolution whose output_padding reaches its stride (valid with a dilation)
exports to a file that onnxruntime runs, with chainrule's outputs: onnxruntime refuses an
output_padding >= stride, so the exporter folds it into the end padding, or appends it."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

OPSETS = (17, 21)


def _check(model: nn.Module, shape: tuple[int, ...], path: Path, opset: int) -> None:
    """Export, check the file, and compare onnxruntime with chainrule on two batch sizes."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape).astype(np.float32)
    to_onnx(model, path, x, opset=opset)
    onnx.checker.check_model(str(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model.eval()
    for batch in (x, rng.normal(size=(shape[0] + 2, *shape[1:])).astype(np.float32)):
        expected = model(cr.tensor(batch)).numpy()
        (actual,) = session.run(None, {"input": batch})
        assert actual.shape == expected.shape
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


CASES: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    # output_padding >= stride, within the padding: the end padding absorbs it.
    "2d_absorbed": (
        lambda: nn.ConvTranspose2d(4, 6, 3, padding=1, output_padding=1, dilation=2),
        (2, 4, 5, 4),
    ),
    # Beyond the padding: a Pad appends the rows, then the bias is added.
    "2d_appended": (
        lambda: nn.ConvTranspose2d(4, 6, 3, output_padding=1, dilation=2),
        (2, 4, 5, 4),
    ),
    "2d_appended_no_bias": (
        lambda: nn.ConvTranspose2d(4, 6, 3, output_padding=1, dilation=2, bias=False),
        (2, 4, 5, 4),
    ),
    "2d_one_axis_appended_one_absorbed": (
        lambda: nn.ConvTranspose2d(
            4, 6, 3, stride=(1, 2), padding=(0, 1), output_padding=(1, 1), dilation=(2, 1)
        ),
        (2, 4, 5, 4),
    ),
    "2d_partly_absorbed_rest_below_stride": (
        lambda: nn.ConvTranspose2d(4, 6, 2, stride=2, padding=1, output_padding=2, dilation=3),
        (2, 4, 3, 5),
    ),
    "2d_groups_appended": (
        lambda: nn.ConvTranspose2d(
            4, 6, 2, stride=2, output_padding=2, dilation=3, groups=2, bias=True
        ),
        (2, 4, 3, 5),
    ),
    "1d_appended": (
        lambda: nn.ConvTranspose1d(3, 4, 3, output_padding=2, dilation=3),
        (2, 3, 6),
    ),
    "1d_absorbed": (
        lambda: nn.ConvTranspose1d(3, 4, 3, padding=2, output_padding=2, dilation=3),
        (2, 3, 6),
    ),
}


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("name", list(CASES))
def test_output_padding_up_to_the_dilation_runs_in_onnxruntime(
    tmp_path: Path, name: str, opset: int
) -> None:
    build, shape = CASES[name]
    model = nn.Sequential(nn.Identity(), build(), nn.Tanh())
    _check(model, shape, tmp_path / "m.onnx", opset)


@pytest.mark.parametrize("opset", OPSETS)
def test_every_valid_output_padding_runs_in_onnxruntime(tmp_path: Path, opset: int) -> None:
    """Strides, dilations and paddings of 1-3, with every output_padding PyTorch allows
    (below the stride or the dilation)."""
    for stride, dilation, padding in itertools.product((1, 2, 3), (1, 2, 3), (0, 1, 2)):
        for extra in range(max(stride, dilation)):
            layer = nn.ConvTranspose1d(
                2, 3, 3, stride, padding, extra, dilation=dilation, generator=0
            )
            _check(nn.Sequential(layer), (1, 2, 4), tmp_path / "m.onnx", opset)
