"""The two halves of a spatial transformer (Jaderberg et al., 2015), as PyTorch's
``F.affine_grid`` and ``F.grid_sample``: a grid of sampling points from a batch of affine
maps, and the images sampled at those points.

``affine_grid`` is a product of a fixed grid of output pixel positions with each map's
transpose (so that its gradient reaches ``theta``); ``grid_sample`` checks its arguments
and calls the ``grid_sample2d`` op (``autograd/ops/sampling.py``), whose gradient reaches
both the images and the grid.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from chainrule.autograd.ops._operands import as_tensor
from chainrule.autograd.ops.sampling import MODES, PADDING_MODES, GridSample2d
from chainrule.backend import Array, is_floating, np
from chainrule.tensor import Tensor

__all__ = ["affine_grid", "grid_sample"]

_DEFAULT_CHANGED = (
    "{where}: align_corners was not given; it is False, as in PyTorch since 1.3.0 (which "
    "warns likewise). Pass align_corners=False to keep this, or align_corners=True for the "
    "former behaviour; affine_grid and grid_sample should be given the same value"
)


def _align_corners(where: str, align_corners: Any) -> bool:
    """``align_corners`` as a bool; None is False with PyTorch's warning."""
    if align_corners is None:
        warnings.warn(_DEFAULT_CHANGED.format(where=where), UserWarning, stacklevel=3)
        return False
    if not isinstance(align_corners, bool | np.bool_):
        raise TypeError(
            f"{where}: align_corners must be a bool or None, got align_corners={align_corners!r}"
        )
    return bool(align_corners)


def _linspace(steps: int, align_corners: bool, dtype: Any) -> Array:
    """``steps`` positions from -1 to 1 in ``dtype``, computed as PyTorch's
    ``linspace_from_neg_one``: torch.linspace's halves (from -1 up to the middle, from 1
    down after it), scaled by (steps - 1) / steps without ``align_corners`` (the centres of
    ``steps`` pixels that span [-1, 1]); one position is 0."""
    t = np.dtype(dtype).type
    if steps <= 1:
        return np.zeros(steps, dtype=dtype)
    step = (t(1) - t(-1)) / t(steps - 1)
    i = np.arange(steps)
    low = t(-1) + step * i.astype(dtype)
    high = t(1) - step * (steps - 1 - i).astype(dtype)
    positions = np.where(i < steps // 2, low, high).astype(dtype)
    if not align_corners:
        positions = positions * t(steps - 1) / t(steps)
    return positions


def affine_grid(theta: Any, size: Sequence[int], align_corners: bool | None = None) -> Tensor:
    """The sampling grid of a batch of 2-D affine maps, as PyTorch's ``F.affine_grid``: for
    each output pixel, where ``grid_sample`` should read the input.

    Parameters
    ----------
    theta : Tensor of shape (N, 2, 3)
        Each map, from output to input coordinates, both normalized to [-1, 1].
    size : sequence of 4 ints
        (N, C, H, W), the output's size (C is not used).
    align_corners : bool, optional
        True: -1 and 1 are the centres of the corner pixels; False: the outer edges of the
        corner pixels. None means False, with PyTorch's warning. Give ``grid_sample`` the
        same value.

    Returns
    -------
    Tensor of shape (N, H, W, 2)
        grid[n, i, j] = theta[n] @ (x_j, y_i, 1): the (x, y) point each output pixel reads.

    Raises
    ------
    ValueError
        If ``size`` is not 4 positive ints (5, for volumes, is refused), or ``theta`` is
        not (N, 2, 3) with N = size[0].
    TypeError
        If ``theta`` is not floating-point, or ``align_corners`` not a bool or None.

    Notes
    -----
    With align_corners, x_j = -1 + 2 j / (W - 1) (0 for W = 1); without it,
    x_j = (2 j + 1) / W - 1, the centres of W pixels spanning [-1, 1]; y_i likewise over H.
    The grid is B theta^T, B the (H * W, 3) rows (x_j, y_i, 1), so that
    dL/dtheta[n] = (dL/dgrid[n])^T B, reshaped as (2, 3). PyTorch also warns when
    align_corners is True and H or W is 1 (the positions along it are all 0).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import affine_grid
    >>> identity = cr.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    >>> affine_grid(identity, (1, 1, 1, 2), align_corners=False).tolist()
    [[[[-0.5, 0.0], [0.5, 0.0]]]]
    """
    corners = _align_corners("affine_grid", align_corners)
    t = as_tensor(theta)
    if not is_floating(t.dtype):
        raise TypeError(f"affine_grid: expected a floating-point theta, got dtype {t.dtype}")
    sizes = tuple(size) if isinstance(size, Sequence) else None
    if sizes is not None and len(sizes) == 5:
        raise ValueError(
            f"affine_grid: size {sizes} is of a batch of volumes (N, C, D, H, W), whose 3-D "
            f"grids chainrule does not compute; expected (N, C, H, W)"
        )
    if (
        sizes is None
        or len(sizes) != 4
        or not all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in sizes)
    ):
        raise ValueError(f"affine_grid: expected size (N, C, H, W) of 4 ints, got size={size!r}")
    n, _, h, w = (int(s) for s in sizes)
    if t.ndim != 3 or t.shape[1:] != (2, 3) or t.shape[0] != n:
        raise ValueError(
            f"affine_grid: expected theta of shape (N, 2, 3) with N = size[0] = {n}, got "
            f"shape {t.shape}"
        )
    if corners and min(h, w) == 1:
        warnings.warn(
            f"affine_grid: with align_corners=True, an axis of size 1 (size {sizes}) has its "
            f"one position at 0, as in PyTorch since 1.3.0 (which warns likewise); this is "
            f"not an intended use",
            UserWarning,
            stacklevel=2,
        )
    elif min(sizes) <= 0:
        raise ValueError(f"affine_grid: expected a positive size, got size={sizes}")
    base = np.empty((h, w, 3), dtype=t.dtype)
    base[..., 0] = _linspace(w, corners, t.dtype)[None, :]
    base[..., 1] = _linspace(h, corners, t.dtype)[:, None]
    base[..., 2] = 1
    points = Tensor._from_op(base.reshape(h * w, 3), None)
    return (points @ t.transpose(1, 2)).reshape(n, h, w, 2)


def grid_sample(
    input: Any,
    grid: Any,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = None,
) -> Tensor:
    """Sample images at the points of a grid, as PyTorch's ``F.grid_sample`` (4-D input).

    Parameters
    ----------
    input : Tensor of shape (N, C, H, W)
    grid : Tensor of shape (N, H_out, W_out, 2)
        For each output pixel, the (x, y) point to read, normalized: x = -1 is the left of
        the image and x = 1 its right, y = -1 its top and y = 1 its bottom. Points outside
        [-1, 1] read the padding. Of the input's dtype.
    mode : {'bilinear', 'nearest', 'bicubic'}, default='bilinear'
        The four pixels around the point weighted by their distance, the nearest pixel
        (halfway rounds to even), or Keys' cubic (a = -0.75) over the sixteen around it.
    padding_mode : {'zeros', 'border', 'reflection'}, default='zeros'
        What points outside the image read: zeros, the nearest border pixel, or the image
        mirrored at its borders.
    align_corners : bool, optional
        True: -1 and 1 are the centres of the corner pixels; False: their outer edges.
        None means False, with PyTorch's warning.

    Returns
    -------
    Tensor of shape (N, C, H_out, W_out)

    Raises
    ------
    ValueError
        If a mode is unknown, the input is not 4-D (5-D volumes are refused), the grid is
        not (N, H_out, W_out, 2) with the input's N, or H or W is 0.
    TypeError
        If the input or the grid is not floating-point, they differ in dtype, or
        ``align_corners`` is not a bool or None.

    Notes
    -----
    A grid point (g_x, g_y) is at pixel x = ((g_x + 1) W - 1) / 2, or (g_x + 1)(W - 1) / 2
    with ``align_corners`` (y likewise with H). 'border' clips x to [0, W - 1];
    'reflection' reflects it at the image's borders (the corner centres with
    ``align_corners``, their outer edges without) and then clips it. Bilinear sampling,
    with x0 = floor(x), y0 = floor(y), a = x - x0, b = y - y0:

        out = (1 - a)(1 - b) v(x0, y0) + a (1 - b) v(x0 + 1, y0)
              + (1 - a) b v(x0, y0 + 1) + a b v(x0 + 1, y0 + 1),

    v reading 0 outside the image. Bicubic places its 4 x 4 taps around the unclipped
    point and pads each tap instead. The gradient reaches the input (each output's share
    added back to the pixels it read) and the grid (dout/da and dout/db times dx/dg_x and
    dy/dg_y); as in PyTorch, a point that the padding clips (on the border included)
    has a zero grid gradient along that axis, a reflection flips its sign, and nearest
    sampling gives the grid a zero gradient. float16 is sampled in float32.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import grid_sample
    >>> image = cr.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    >>> centre = cr.zeros(1, 1, 1, 2)
    >>> grid_sample(image, centre, align_corners=False).tolist()
    [[[[1.5]]]]
    """
    if mode not in MODES:
        raise ValueError(
            f"grid_sample: expected mode 'bilinear', 'nearest' or 'bicubic', got mode={mode!r}"
        )
    if padding_mode not in PADDING_MODES:
        raise ValueError(
            f"grid_sample: expected padding_mode 'zeros', 'border' or 'reflection', got "
            f"padding_mode={padding_mode!r}"
        )
    corners = _align_corners("grid_sample", align_corners)
    x, points = as_tensor(input), as_tensor(grid)
    if x.ndim == 5:
        raise ValueError(
            f"grid_sample: expected input of shape (N, C, H, W); a batch of volumes (N, C, D, "
            f"H, W) is not sampled here, got shape {x.shape}"
        )
    if x.ndim != 4:
        raise ValueError(f"grid_sample: expected input of shape (N, C, H, W), got shape {x.shape}")
    if points.ndim != 4 or points.shape[-1] != 2 or points.shape[0] != x.shape[0]:
        raise ValueError(
            f"grid_sample: expected grid of shape (N, H_out, W_out, 2) with the input's N = "
            f"{x.shape[0]}, got shape {points.shape}"
        )
    if 0 in x.shape[2:]:
        raise ValueError(
            f"grid_sample: expected input with a height and width of at least 1, got shape "
            f"{x.shape}"
        )
    if not is_floating(x.dtype) or not is_floating(points.dtype):
        raise TypeError(
            f"grid_sample: expected floating-point input and grid, got dtypes {x.dtype} and "
            f"{points.dtype}"
        )
    if x.dtype != points.dtype:
        raise TypeError(
            f"grid_sample: expected the input and the grid in one dtype, got {x.dtype} and "
            f"{points.dtype}; convert one (grid.to(input.dtype))"
        )
    options = {"mode": mode, "padding_mode": padding_mode, "align_corners": corners}
    if x.dtype == np.float16:
        y: Tensor = GridSample2d.apply(x.float(), points.float(), **options)
        return y.half()
    result: Tensor = GridSample2d.apply(x, points, **options)
    return result
