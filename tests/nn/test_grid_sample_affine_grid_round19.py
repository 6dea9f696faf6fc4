"""The spatial transformer's halves, ``F.affine_grid`` and ``F.grid_sample``, against
PyTorch 2.13: values and the gradients to the images, the grid and theta in float64 (to
1e-10) and float32, for every mode, padding mode and ``align_corners``; points on the pixel
lattice and the borders (where the gradient conventions bite), points far outside, NaN and
inf with zero padding; a few steps of training a small spatial transformer; PyTorch's
warnings; and the errors."""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pytest
from torch_oracle import DTYPE_IDS, DTYPES, assert_close, upstream_for

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

MODES = ["bilinear", "nearest", "bicubic"]
PADDINGS = ["zeros", "border", "reflection"]
OPTIONS = list(itertools.product(MODES, PADDINGS, [False, True]))
FLOAT32_GRID = {"rtol": 1e-5, "atol": 2e-5}
"""float32 grid gradients sum products of pixel values and distances with cancellation;
PyTorch's kernel rounds its float32 sums in another order (and fuses some products)."""


def _sample_both(
    x: np.ndarray, grid: np.ndarray, mode: str, padding: str, corners: bool, seed: int = 7
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Forward and backward through both libraries: {what: (ours, PyTorch's)}."""
    a, g = cr.tensor(x, requires_grad=True), cr.tensor(grid, requires_grad=True)
    b, h = torch.tensor(x, requires_grad=True), torch.tensor(grid, requires_grad=True)
    y = F.grid_sample(a, g, mode, padding, corners)
    z = TF.grid_sample(b, h, mode, padding, corners)
    upstream = upstream_for(y.shape, x.dtype, seed)
    y.backward(upstream)
    z.backward(torch.from_numpy(upstream))
    assert y.dtype == x.dtype and a.grad is not None and g.grad is not None
    assert a.grad.dtype == x.dtype and g.grad.dtype == grid.dtype
    return {
        "forward": (y.numpy(), z.detach().numpy()),
        "input gradient": (a.grad.numpy(), b.grad.numpy()),
        "grid gradient": (g.grad.numpy(), h.grad.numpy()),
    }


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("mode", "padding", "corners"), OPTIONS, ids=str)
def test_grid_sample_matches_pytorch(mode: str, padding: str, corners: bool, dtype: Any) -> None:
    rng = np.random.default_rng(3)
    for shape, points, reach in (((2, 3, 5, 7), (4, 6), 1.6), ((1, 2, 1, 4), (3, 3), 3.0)):
        x = rng.standard_normal(shape).astype(dtype)
        grid = rng.uniform(-reach, reach, (shape[0], *points, 2)).astype(dtype)
        results = _sample_both(x, grid, mode, padding, corners)
        for what, (ours, theirs) in results.items():
            tolerance = FLOAT32_GRID if what == "grid gradient" and dtype == np.float32 else {}
            assert_close(ours, theirs, dtype, f"{mode}/{padding}/{corners}: {what}", **tolerance)


@pytest.mark.parametrize(("mode", "padding", "corners"), OPTIONS, ids=str)
def test_points_on_the_lattice_and_the_borders_take_pytorchs_conventions(
    mode: str, padding: str, corners: bool
) -> None:
    """Multiples of 1/4 of a 4 x 5 image's normalized span land on pixel centres, halfway
    points and borders (with and without align_corners): the subgradients chosen there,
    the clipped borders' zero gradient and the reflections' sign, are PyTorch's."""
    x = np.random.default_rng(4).standard_normal((1, 2, 4, 5))
    values = np.arange(-8, 9) / 4
    grid = np.stack(np.meshgrid(values, values[::2]), axis=-1)[None]
    for what, (ours, theirs) in _sample_both(x, grid, mode, padding, corners).items():
        assert_close(ours, theirs, np.float64, f"{mode}/{padding}/{corners}: {what}")


@pytest.mark.parametrize(("mode", "corners"), list(itertools.product(MODES, [False, True])))
def test_non_finite_and_far_points_with_zero_padding(mode: str, corners: bool) -> None:
    """inf, NaN and huge coordinates read zeros or NaN as PyTorch's do, with no NumPy
    warning."""
    x = np.random.default_rng(5).standard_normal((1, 2, 4, 5))
    grid = np.array(
        [[[[np.inf, 0.0], [0.0, -np.inf], [np.nan, 0.3], [1e30, 0.1], [-1e30, 0.2], [0.5, 0.5]]]]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = _sample_both(x, grid, mode, "zeros", corners)
    for what, (ours, theirs) in results.items():
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, equal_nan=True, err_msg=what)


@pytest.mark.parametrize(("mode", "corners"), list(itertools.product(MODES, [False, True])))
@pytest.mark.parametrize("padding", ["border", "reflection"])
def test_nan_and_infinite_points_with_border_and_reflection_match_pytorch(
    mode: str, padding: str, corners: bool
) -> None:
    """PyTorch reads a NaN coordinate as -1 (its documentation says so), and clips or
    reflects infinities to a finite pixel (bicubic: NaN weights, so NaN); values and
    gradients as its, with no NumPy
    warning. (PyTorch 2.13's bilinear backward crashes the process on such points: there
    only the forward is compared, and the gradients must be finite.)"""
    x = np.random.default_rng(5).standard_normal((1, 2, 4, 5))
    grid = np.array(
        [[[[np.nan, 0.2], [0.1, np.inf], [-np.inf, 0.3], [1e10, -1e10], [np.nan, np.nan]]]]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if mode != "bilinear":
            results = _sample_both(x, grid, mode, padding, corners)
        else:
            a, g = cr.tensor(x, requires_grad=True), cr.tensor(grid, requires_grad=True)
            y = F.grid_sample(a, g, mode, padding, corners)
            y.sum().backward()
            assert a.grad is not None and g.grad is not None
            assert np.isfinite(a.grad.numpy()).all() and np.isfinite(g.grad.numpy()).all()
            theirs = TF.grid_sample(torch.tensor(x), torch.tensor(grid), mode, padding, corners)
            results = {"forward": (y.numpy(), theirs.numpy())}
    for what, (ours, expected) in results.items():
        # Bicubic weights of a non-finite point are NaN, in PyTorch too.
        assert mode == "bicubic" or np.isfinite(ours).all(), what
        np.testing.assert_allclose(
            ours, expected, rtol=1e-10, atol=1e-12, equal_nan=True, err_msg=what
        )


def test_float16_is_sampled_in_float32() -> None:
    rng = np.random.default_rng(6)
    x, grid = rng.standard_normal((1, 2, 4, 5)), rng.uniform(-1.2, 1.2, (1, 3, 3, 2))
    a = cr.tensor(x.astype(np.float16), requires_grad=True)
    g = cr.tensor(grid.astype(np.float16), requires_grad=True)
    y = F.grid_sample(a, g, "bicubic", "reflection", align_corners=False)
    assert y.dtype == np.float16
    y.sum().backward()
    assert a.grad is not None and a.grad.dtype == np.float16
    assert g.grad is not None and g.grad.dtype == np.float16
    expected = TF.grid_sample(
        torch.tensor(x.astype(np.float16)).float(),
        torch.tensor(grid.astype(np.float16)).float(),
        "bicubic",
        "reflection",
        align_corners=False,
    )
    np.testing.assert_allclose(y.numpy(), expected.half().numpy(), rtol=2e-3, atol=2e-3)


def test_empty_batches_and_grids() -> None:
    for x_shape, grid_shape, out in (
        ((0, 2, 3, 4), (0, 2, 2, 2), (0, 2, 2, 2)),
        ((1, 2, 3, 4), (1, 0, 2, 2), (1, 2, 0, 2)),
        ((1, 0, 3, 4), (1, 2, 2, 2), (1, 0, 2, 2)),
    ):
        for mode in MODES:
            x = cr.zeros(*x_shape, requires_grad=True)
            grid = cr.zeros(*grid_shape, requires_grad=True)
            y = F.grid_sample(x, grid, mode, align_corners=True)
            assert y.shape == out
            y.sum().backward()
            assert x.grad is not None and x.grad.shape == x_shape
            assert grid.grad is not None and grid.grad.shape == grid_shape


def test_only_the_input_or_only_the_grid_may_require_grad() -> None:
    rng = np.random.default_rng(8)
    x, grid = rng.standard_normal((2, 3, 4, 4)), rng.uniform(-1, 1, (2, 3, 2, 2))
    for mode in MODES:
        a, g = cr.tensor(x, requires_grad=True), cr.tensor(grid)
        F.grid_sample(a, g, mode, align_corners=False).sum().backward()
        b = torch.tensor(x, requires_grad=True)
        TF.grid_sample(b, torch.tensor(grid), mode, align_corners=False).sum().backward()
        assert a.grad is not None
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
        a, g = cr.tensor(x), cr.tensor(grid, requires_grad=True)
        F.grid_sample(a, g, mode, align_corners=False).sum().backward()
        h = torch.tensor(grid, requires_grad=True)
        TF.grid_sample(torch.tensor(x), h, mode, align_corners=False).sum().backward()
        assert g.grad is not None
        np.testing.assert_allclose(g.grad.numpy(), h.grad.numpy(), rtol=1e-10, atol=1e-12)


SIZES = [(2, 3, 4, 5), (2, 1, 7, 3), (2, 3, 1, 4), (2, 3, 5, 1), (2, 1, 17, 33)]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("corners", [False, True])
@pytest.mark.parametrize("size", SIZES, ids=str)
def test_affine_grid_matches_pytorch(size: tuple[int, ...], corners: bool, dtype: Any) -> None:
    theta = np.random.default_rng(9).standard_normal((2, 2, 3)).astype(dtype)
    a, b = cr.tensor(theta, requires_grad=True), torch.tensor(theta, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a unit size with align_corners
        y = F.affine_grid(a, size, align_corners=corners)
        z = TF.affine_grid(b, list(size), align_corners=corners)
    upstream = upstream_for(y.shape, dtype)
    y.backward(upstream)
    z.backward(torch.from_numpy(upstream))
    assert y.dtype == dtype and a.grad is not None and a.grad.dtype == dtype
    assert_close(y.numpy(), z.detach().numpy(), dtype, "affine_grid")
    assert_close(a.grad.numpy(), b.grad.numpy(), dtype, "affine_grid: theta gradient")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("mode", "padding", "corners"), OPTIONS, ids=str)
def test_affine_grid_then_grid_sample_differentiates_theta(
    mode: str, padding: str, corners: bool, dtype: Any
) -> None:
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 3, 6, 5)).astype(dtype)
    theta = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]) + 0.3 * rng.standard_normal((2, 2, 3))
    theta = theta.astype(dtype)
    results = []
    for lib, functional in ((cr, F), (torch, TF)):
        t, images = lib.tensor(theta, requires_grad=True), lib.tensor(x, requires_grad=True)
        grid = functional.affine_grid(t, [2, 3, 4, 7], align_corners=corners)
        y = functional.grid_sample(images, grid, mode, padding, corners)
        (y * y).sum().backward()
        results.append((y.detach().numpy(), t.grad.numpy(), images.grad.numpy()))
    for what, ours, theirs in zip(("forward", "theta", "input"), *results, strict=True):
        tolerance = {}
        if dtype == np.float32:
            # sums over many grid points of terms that cancel: float32's error grows with
            # the largest of them (PyTorch also adds up the input's gradient in float32)
            tolerance = {"rtol": 1e-5, "atol": 1e-5 * float(np.abs(theirs).max())}
        assert_close(ours, theirs, dtype, f"{mode}/{padding}/{corners}: {what}", **tolerance)


def _spatial_transformer(lib: Any) -> Any:
    """A small spatial transformer: a localization net predicts theta (starting at the
    identity), the sampled image goes through a linear classifier."""

    class STN(lib.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.localization = lib.nn.Linear(2 * 6 * 6, 6)
            self.head = lib.nn.Linear(2 * 5 * 5, 3)

        def forward(self, x: Any) -> Any:
            theta = self.localization(x.reshape(x.shape[0], -1)).reshape(-1, 2, 3)
            functional = F if lib is cr else TF
            grid = functional.affine_grid(theta, [x.shape[0], 2, 5, 5], align_corners=False)
            sampled = functional.grid_sample(x, grid, "bilinear", "border", align_corners=False)
            return self.head(sampled.reshape(x.shape[0], -1))

    return STN()


def test_a_spatial_transformer_trains_as_in_pytorch() -> None:
    model, twin = _spatial_transformer(cr), _spatial_transformer(torch)
    model.to(np.float64)
    rng = np.random.default_rng(11)
    model.localization.weight.data[...] = 0.01 * rng.standard_normal((6, 72))
    model.localization.bias.data[...] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    twin.double()
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    x = rng.standard_normal((4, 2, 6, 6))
    labels = np.array([0, 2, 1, 2])
    ours_opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    theirs_opt = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    for _ in range(4):
        for net, opt, lib in ((model, ours_opt, cr), (twin, theirs_opt, torch)):
            opt.zero_grad()
            loss = (nn.functional if lib is cr else TF).cross_entropy(
                net(lib.tensor(x)), lib.tensor(labels)
            )
            loss.backward()
            opt.step()
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(
            value.numpy(), twin.state_dict()[name].numpy(), rtol=1e-10, atol=1e-12, err_msg=name
        )


def test_align_corners_left_out_warns_as_pytorch_and_means_false() -> None:
    x, grid = cr.ones(1, 1, 3, 3), cr.zeros(1, 2, 2, 2)
    theta = cr.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    with pytest.warns(UserWarning, match=r"grid_sample: align_corners was not given; it is False"):
        y = F.grid_sample(x, grid)
    np.testing.assert_array_equal(y.numpy(), F.grid_sample(x, grid, align_corners=False).numpy())
    with pytest.warns(UserWarning, match=r"affine_grid: align_corners was not given"):
        g = F.affine_grid(theta, (1, 1, 2, 3))
    np.testing.assert_array_equal(
        g.numpy(), F.affine_grid(theta, (1, 1, 2, 3), align_corners=False).numpy()
    )
    with pytest.warns(
        UserWarning, match=r"affine_grid: with align_corners=True, an axis of size 1"
    ):
        g = F.affine_grid(theta, (1, 1, 1, 3), align_corners=True)
    assert g.numpy()[0, 0, :, 1].tolist() == [0.0, 0.0, 0.0]


def test_errors_say_what_was_expected() -> None:
    x, grid = cr.ones(1, 2, 3, 3), cr.zeros(1, 2, 2, 2)
    theta = cr.zeros(1, 2, 3)
    with pytest.raises(ValueError, match=r"grid_sample: expected mode 'bilinear', 'nearest' or"):
        F.grid_sample(x, grid, "area", align_corners=False)
    with pytest.raises(ValueError, match=r"expected padding_mode 'zeros', 'border' or 'reflec"):
        F.grid_sample(x, grid, padding_mode="circular", align_corners=False)
    with pytest.raises(TypeError, match=r"grid_sample: align_corners must be a bool or None"):
        F.grid_sample(x, grid, align_corners=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"a batch of volumes \(N, C, D, H, W\) is not sampled"):
        F.grid_sample(cr.ones(1, 2, 3, 3, 3), cr.zeros(1, 2, 2, 2, 3), align_corners=False)
    with pytest.raises(ValueError, match=r"grid_sample: expected input of shape \(N, C, H, W\)"):
        F.grid_sample(cr.ones(2, 3, 3), grid, align_corners=False)
    with pytest.raises(ValueError, match=r"expected grid of shape \(N, H_out, W_out, 2\) with the"):
        F.grid_sample(x, cr.zeros(1, 2, 2, 3), align_corners=False)
    with pytest.raises(ValueError, match=r"with the input's N = 1, got shape \(2, 2, 2, 2\)"):
        F.grid_sample(x, cr.zeros(2, 2, 2, 2), align_corners=False)
    with pytest.raises(ValueError, match=r"expected input with a height and width of at least 1"):
        F.grid_sample(cr.ones(1, 2, 0, 3), grid, align_corners=False)
    with pytest.raises(TypeError, match=r"grid_sample: expected floating-point input and grid"):
        F.grid_sample(cr.ones(1, 2, 3, 3, dtype=cr.int64), grid, align_corners=False)
    with pytest.raises(TypeError, match=r"in one dtype, got float64 and float32"):
        F.grid_sample(x.double(), grid, align_corners=False)
    with pytest.raises(TypeError, match=r"affine_grid: expected a floating-point theta"):
        F.affine_grid(cr.zeros(1, 2, 3, dtype=cr.int64), (1, 1, 2, 2), align_corners=False)
    with pytest.raises(ValueError, match=r"3-D grids chainrule does not compute"):
        F.affine_grid(cr.zeros(1, 3, 4), (1, 1, 2, 2, 2), align_corners=False)
    with pytest.raises(ValueError, match=r"affine_grid: expected size \(N, C, H, W\) of 4 ints"):
        F.affine_grid(theta, (1, 1, 2), align_corners=False)
    with pytest.raises(ValueError, match=r"expected theta of shape \(N, 2, 3\) with N = size\[0\]"):
        F.affine_grid(cr.zeros(2, 2, 3), (1, 1, 2, 2), align_corners=False)
    with pytest.raises(ValueError, match=r"affine_grid: expected a positive size"):
        F.affine_grid(theta, (1, 1, 0, 2), align_corners=False)
