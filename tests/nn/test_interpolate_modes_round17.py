"""F.interpolate / nn.Upsample in modes nearest-exact, bicubic and area, and antialiased
bilinear and bicubic: values and gradients against PyTorch (float64 and float32),
finite differences where PyTorch's backward does not follow its forward, model files, ONNX
export, and the refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, ops


def _both(
    options: dict[str, Any], shape: tuple[int, ...], dtype: Any = np.float64, seed: int = 0
) -> None:
    """``interpolate(x, **options)`` in chainrule and in PyTorch: the same values, and the
    same gradient of a weighted sum of them."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=shape).astype(dtype)
    x, t = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    ours, theirs = F.interpolate(x, **options), torch.nn.functional.interpolate(t, **options)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == dtype
    tolerance = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=tolerance, atol=tolerance)
    weights = rng.normal(size=ours.shape).astype(dtype)
    (ours * cr.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=tolerance, atol=tolerance)


SIZES = [
    {"scale_factor": 2},
    {"scale_factor": 1.7},
    {"scale_factor": 0.5},
    {"scale_factor": 0.3},
    {"scale_factor": 3},
    {"size": 7},
    {"size": 3},
    {"size": 1},
    {"scale_factor": 2.3, "recompute_scale_factor": True},
    {"scale_factor": 0.7, "recompute_scale_factor": True},
]


@pytest.mark.parametrize("options", SIZES)
@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 2, 4, 5), (1, 2, 7, 4)])
@pytest.mark.parametrize("mode", ["nearest-exact", "area"])
def test_nearest_exact_and_area_match_pytorch(
    mode: str, shape: tuple[int, ...], options: dict[str, Any]
) -> None:
    _both({"mode": mode, **options}, shape)


@pytest.mark.parametrize("align_corners", [None, False, True])
@pytest.mark.parametrize(
    "options",
    [
        *SIZES,
        {"size": (6, 2)},
        {"size": (1, 9)},
        {"scale_factor": (1.5, 0.6)},
        {"scale_factor": 1.0},
    ],
)
def test_bicubic_matches_pytorch(options: dict[str, Any], align_corners: bool | None) -> None:
    _both({"mode": "bicubic", "align_corners": align_corners, **options}, (2, 2, 4, 5))


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize(
    "options",
    [
        {"scale_factor": 0.5},
        {"scale_factor": 0.3},
        {"scale_factor": 0.45, "recompute_scale_factor": True},
        {"size": (3, 2)},
        {"size": (2, 11)},
        {"size": (5, 4)},
        {"size": (1, 1)},
        {"scale_factor": 2},
        {"scale_factor": 1.2},  # (9, 10) to (10, 12): one more row and two more columns
    ],
)
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_antialiased_modes_match_pytorch(
    mode: str, options: dict[str, Any], align_corners: bool
) -> None:
    _both(
        {"mode": mode, "antialias": True, "align_corners": align_corners, **options}, (2, 2, 9, 10)
    )


@pytest.mark.parametrize(
    "options",
    [
        {"mode": "nearest-exact", "scale_factor": 1.6},
        {"mode": "area", "size": (3, 4)},
        {"mode": "bicubic", "scale_factor": 1.6},
        {"mode": "bicubic", "size": (3, 8), "align_corners": True},
        {"mode": "bilinear", "antialias": True, "scale_factor": 0.4},
        {"mode": "bicubic", "antialias": True, "size": (3, 4)},
    ],
)
def test_float32_keeps_its_dtype_and_matches_pytorch(options: dict[str, Any]) -> None:
    _both(options, (2, 3, 7, 9), np.float32, seed=3)


def test_nearest_exact_picks_the_cell_under_each_centre() -> None:
    x = cr.tensor([[[0.0, 1.0, 2.0]]])
    assert F.interpolate(x, size=5, mode="nearest-exact").tolist() == [[[0, 0, 1, 2, 2]]]
    assert F.interpolate(x, size=5, mode="nearest").tolist() == [[[0, 0, 1, 1, 2]]]


@pytest.mark.parametrize(
    "options",
    [
        {"mode": "bicubic", "scale_factor": 1.2},
        {"mode": "bicubic", "scale_factor": 1.2, "align_corners": True},
        {"mode": "bilinear", "antialias": True, "scale_factor": 1.2},
        {"mode": "bicubic", "antialias": True, "scale_factor": (1.2, 0.5)},
    ],
)
def test_sizes_kept_by_a_scale_factor_keep_pytorchs_values_and_a_true_gradient(
    options: dict[str, Any],
) -> None:
    """(3, 4) times 1.2 keeps (3, 4): bicubic still interpolates (by 1 / 1.2), the
    antialiased kernels copy each axis that keeps its size; PyTorch's backward does the
    opposite of its forward there, so the gradient is checked by finite differences."""
    values = np.random.default_rng(4).normal(size=(1, 2, 3, 4))
    theirs = torch.nn.functional.interpolate(torch.tensor(values), **options)
    x = cr.tensor(values, requires_grad=True)
    ours = F.interpolate(x, **options)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda x: F.interpolate(x, **options), (x,), raise_exception=True)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_antialiased_one_column_output_is_the_transposed_resize(mode: str) -> None:
    """PyTorch's antialiased forward reads the wrong rows when the output is one column wide
    and the height changes; the same resize of the transposed image is right there, and its
    backward agrees with it."""
    values = np.random.default_rng(5).normal(size=(2, 3, 6, 5))
    x, t = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    ours = F.interpolate(x, size=(4, 1), mode=mode, antialias=True)
    transposed = torch.nn.functional.interpolate(
        t.transpose(2, 3), size=(1, 4), mode=mode, antialias=True
    ).transpose(2, 3)
    np.testing.assert_allclose(ours.data, transposed.detach().numpy(), rtol=1e-12, atol=1e-12)
    weights = np.random.default_rng(6).normal(size=ours.shape)
    (ours * cr.tensor(weights)).sum().backward()
    (
        torch.nn.functional.interpolate(t, size=(4, 1), mode=mode, antialias=True)
        * torch.tensor(weights)
    ).sum().backward()
    np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "options",
    [
        {"mode": "bicubic", "size": (5, 7)},
        {"mode": "bicubic", "size": (2, 3), "align_corners": True},
        {"mode": "bilinear", "antialias": True, "size": (2, 3)},
        {"mode": "bicubic", "antialias": True, "scale_factor": 0.6},
        {"mode": "area", "size": (2, 3)},
        {"mode": "nearest-exact", "size": (6, 2)},
    ],
)
def test_gradients_pass_gradcheck(options: dict[str, Any]) -> None:
    x = cr.tensor(np.random.default_rng(7).normal(size=(1, 2, 4, 5)), requires_grad=True)
    assert gradcheck(lambda x: F.interpolate(x, **options), (x,), raise_exception=True)


def test_bicubic_passes_through_the_inputs_it_lands_on() -> None:
    """With align_corners, 12 rows to 23 puts every other output on an input row: there the
    cubic kernel weighs that row 1 and its neighbours 0."""
    values = np.random.default_rng(10).normal(size=(1, 2, 12, 3))
    out = F.interpolate(cr.tensor(values), size=(23, 3), mode="bicubic", align_corners=True)
    np.testing.assert_allclose(out.data[:, :, ::2], values, rtol=0, atol=1e-14)


@pytest.mark.parametrize(
    ("arguments", "shape"),
    [
        ({"scale_factor": 2, "mode": "nearest-exact"}, (2, 3, 5)),
        ({"size": (5, 3), "mode": "nearest-exact"}, (2, 3, 4, 5)),
        ({"scale_factor": 0.5, "mode": "area"}, (2, 3, 8, 6)),
        ({"size": 4, "mode": "area"}, (2, 3, 9)),
        ({"scale_factor": 1.5, "mode": "bicubic"}, (2, 3, 4, 5)),
        ({"size": (7, 3), "mode": "bicubic", "align_corners": True}, (2, 3, 4, 5)),
    ],
)
def test_upsample_layers_match_pytorch_and_survive_a_model_file(
    arguments: dict[str, Any], shape: tuple[int, ...], tmp_path: Path
) -> None:
    layer, twin = nn.Upsample(**arguments), torch.nn.Upsample(**arguments)
    assert repr(layer) == repr(twin)
    values = np.random.default_rng(8).normal(size=shape).astype(np.float32)
    out = layer(cr.tensor(values)).data
    np.testing.assert_allclose(out, twin(torch.tensor(values)).numpy(), rtol=2e-6, atol=2e-6)
    cr.save(nn.Sequential(layer), tmp_path / "up.safetensors")
    again = cr.load(tmp_path / "up.safetensors")[0]
    assert (again.mode, again.align_corners, again.size, again.scale_factor) == (
        layer.mode,
        layer.align_corners,
        layer.size,
        layer.scale_factor,
    )
    np.testing.assert_array_equal(again(cr.tensor(values)).data, out)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (lambda: nn.Upsample(scale_factor=1.7, mode="nearest-exact"), (2, 3, 5)),
        (lambda: nn.Upsample(size=(5, 9), mode="nearest-exact"), (2, 3, 4, 5)),
        (lambda: nn.Upsample(scale_factor=2, mode="bicubic"), (2, 3, 4, 5)),
        (lambda: nn.Upsample(size=(3, 8), mode="bicubic", align_corners=True), (2, 3, 4, 5)),
        (lambda: nn.Upsample(size=(3, 4), mode="area"), (2, 3, 7, 9)),
        (lambda: nn.Upsample(scale_factor=0.5, mode="area"), (2, 3, 8)),
        (lambda: nn.Upsample(size=3, mode="area"), (2, 3, 7)),
    ],
)
def test_new_upsampling_modes_export_to_onnx(
    layer: Any, shape: tuple[int, ...], tmp_path: Path
) -> None:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from chainrule.export import to_onnx

    model = nn.Sequential(layer())
    x = np.random.default_rng(9).normal(size=shape).astype(np.float32)
    path = to_onnx(model, tmp_path / "up.onnx", x[:1])
    session = ort.InferenceSession(str(path))
    (result,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(result, model(cr.tensor(x)).data, rtol=1e-5, atol=1e-6)


def test_resample_maps_one_axis_and_refuses_bad_maps() -> None:
    x = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = ops.resample(x, 1, [[0, 0], [1, 2]], [[0.5, 0.25], [1.0, -1.0]])
    np.testing.assert_allclose(y.data, [[0.0, -1.0], [2.25, -1.0]])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0.75, 1.0, -1.0]] * 2)
    with pytest.raises(ValueError, match=r"resample: expected indices in \[0, 3\)"):
        ops.resample(x, 1, [[0, 3]], [[1.0, 1.0]])
    with pytest.raises(ValueError, match=r"expected index \(integers\) and weight of one shape"):
        ops.resample(x, 1, [[0, 1]], [[1.0]])
    with pytest.raises(ValueError, match=r"expected index \(integers\) and weight of one shape"):
        ops.resample(x, 1, [[0.0, 1.0]], [[1.0, 1.0]])
    with pytest.raises(TypeError, match="resample: expected a floating-point tensor"):
        ops.resample(cr.tensor([[1, 2]]), 1, [[0]], [[1.0]])


def test_refusals_say_what_was_expected() -> None:
    sequence, image = cr.ones(1, 2, 4), cr.ones(1, 2, 4, 4)
    with pytest.raises(ValueError, match=r"mode='trilinear' resizes \(N, C, D, H, W\) volumes"):
        F.interpolate(sequence, scale_factor=2, mode="trilinear")
    with pytest.raises(ValueError, match=r"Upsample: mode='trilinear' resizes"):
        nn.Upsample(scale_factor=2, mode="trilinear")
    with pytest.raises(ValueError, match=r"expected mode 'nearest', 'nearest-exact', 'linear', "):
        F.interpolate(sequence, scale_factor=2, mode="cubic")
    for mode in ("nearest-exact", "area"):
        with pytest.raises(ValueError, match=rf"not to mode='{mode}'; got align_corners=False"):
            F.interpolate(sequence, scale_factor=2, mode=mode, align_corners=False)
    for mode in ("nearest", "nearest-exact", "area", "linear"):
        with pytest.raises(
            ValueError,
            match=rf"antialias=True applies to modes 'bilinear' and 'bicubic' .*"
            rf"got mode='{mode}'",
        ):
            F.interpolate(sequence, scale_factor=2, mode=mode, antialias=True)
    with pytest.raises(
        ValueError, match=r"expected input of shape \(N, C, H, W\) for mode 'bicubic'"
    ):
        F.interpolate(sequence, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, L\) or \(N, C, H, W\)"):
        F.interpolate(cr.ones(2, 4), size=3, mode="area")
    with pytest.raises(ValueError, match=r"recompute_scale_factor=True is not meaningful"):
        F.interpolate(image, size=3, mode="bicubic", recompute_scale_factor=True)
