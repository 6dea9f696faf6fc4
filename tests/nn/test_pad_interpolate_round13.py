"""F.pad's reflect, replicate and circular modes and negative (cropping) widths, and
F.interpolate / nn.Upsample in linear and bilinear modes: values and gradients against
PyTorch, model files, and ONNX export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def _both(make: Any, shape: tuple[int, ...], seed: int = 0) -> None:
    """``make(lib, functional, x)`` on chainrule and on PyTorch: the same values, and the
    same gradient of a weighted sum of them."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=shape)
    x, t = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    ours, theirs = make(cr, F, x), make(torch, torch.nn.functional, t)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    weights = rng.normal(size=ours.shape)
    (ours * cr.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    ("shape", "widths"),
    [
        ((2, 3, 5), (1, 2)),
        ((2, 3, 5), (4, 0)),
        ((1, 2, 4, 5), (1, 2, 3, 0)),
        ((1, 2, 4, 5), (0, 0, 2, 1)),
    ],
)
def test_pad_modes_match_pytorch(
    mode: str, shape: tuple[int, ...], widths: tuple[int, ...]
) -> None:
    _both(lambda lib, f, x: f.pad(x, widths, mode=mode), shape)


@pytest.mark.parametrize("widths", [(-1, 2), (1, -2, -1, 0), (-2, -1, 0, 0)])
def test_negative_constant_widths_crop_as_in_pytorch(widths: tuple[int, ...]) -> None:
    _both(lambda lib, f, x: f.pad(x, widths, value=5.0), (1, 2, 3, 4))


def test_pad_modes_refuse_what_they_cannot_do() -> None:
    x = cr.ones(1, 2, 3)
    with pytest.raises(ValueError, match="pad: mode 'reflect' takes no value"):
        F.pad(x, (1, 1), mode="reflect", value=2.0)
    with pytest.raises(ValueError, match=r"pad: circular padding of axis 2 \(size 3, 1 after"):
        F.pad(x, (-2, 2), mode="circular")
    with pytest.raises(ValueError, match=r"reflect padding of axis 2 .* must be at most 2"):
        F.pad(x, (3, 0), mode="reflect")


LINEAR_CASES = [
    {"scale_factor": 2},
    {"scale_factor": 1.7},
    {"scale_factor": 0.5},
    {"size": 7},
    {"size": 3},
    {"size": 1},
    {"scale_factor": 2.3, "recompute_scale_factor": True},
]


@pytest.mark.parametrize("align_corners", [None, False, True])
@pytest.mark.parametrize("options", LINEAR_CASES)
@pytest.mark.parametrize(("mode", "shape"), [("linear", (2, 3, 5)), ("bilinear", (2, 2, 4, 5))])
def test_linear_and_bilinear_interpolation_match_pytorch(
    mode: str, shape: tuple[int, ...], options: dict[str, Any], align_corners: bool | None
) -> None:
    _both(
        lambda lib, f, x: f.interpolate(x, mode=mode, align_corners=align_corners, **options),
        shape,
    )


def test_bilinear_upsample_in_float32_matches_pytorch_and_survives_a_model_file(
    tmp_path: Path,
) -> None:
    cr.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 2, 1), nn.Upsample(size=(7, 3), mode="bilinear", align_corners=True)
    )
    twin = torch.nn.Sequential(
        torch.nn.Conv2d(3, 2, 1),
        torch.nn.Upsample(size=(7, 3), mode="bilinear", align_corners=True),
    )
    twin.load_state_dict({k: torch.tensor(v.data) for k, v in model.state_dict().items()})
    assert repr(model[1]) == repr(twin[1])
    x = np.random.default_rng(1).normal(size=(2, 3, 4, 5)).astype(np.float32)
    out = model(cr.tensor(x)).data
    np.testing.assert_allclose(out, twin(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    cr.save(model, tmp_path / "up.safetensors")
    again = cr.load(tmp_path / "up.safetensors")
    assert (again[1].mode, again[1].align_corners, again[1].size) == ("bilinear", True, (7, 3))
    np.testing.assert_array_equal(again(cr.tensor(x)).data, out)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), (2, 3, 4, 5)),
        (lambda: nn.Upsample(size=(3, 8), mode="bilinear", align_corners=True), (2, 3, 4, 5)),
        (lambda: nn.Upsample(scale_factor=1.5, mode="linear"), (2, 3, 5)),
    ],
)
def test_linear_upsampling_exports_to_onnx(
    layer: Any, shape: tuple[int, ...], tmp_path: Path
) -> None:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from chainrule.export import to_onnx

    model = nn.Sequential(layer())
    x = np.random.default_rng(2).normal(size=shape).astype(np.float32)
    path = to_onnx(model, tmp_path / "up.onnx", x[:1])
    session = ort.InferenceSession(str(path))
    (result,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(result, model(cr.tensor(x)).data, rtol=1e-6, atol=1e-6)
