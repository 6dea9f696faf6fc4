"""Sampling NCHW images at arbitrary points: ``grid_sample2d``, the op behind
``nn.functional.grid_sample`` (the sampler of spatial transformer networks).

Each output pixel reads the input at a point of a grid given in normalized coordinates (-1
and 1 the edges, or the centres of the corner pixels with ``align_corners``), by bilinear
weights of the four pixels around it, the nearest pixel, or Keys' bicubic weights of the
sixteen around it; points outside read zeros, the nearest border pixel, or the image
reflected at its borders. Everything follows PyTorch's CPU kernel
(``aten/src/ATen/native/cpu/GridSamplerKernel.cpp``): the same coordinate arithmetic, the
same tests of what lies inside, the same gradient conventions (0 at a clipped or reflected
border, a nearest sample's grid gradient 0; float32 coordinates rounded once where the
kernel fuses a multiply and an add). Every point of a batch is computed at once, with the
channels last so that a tap reads whole rows: a gather per tap in forward, and in backward
one product with the transpose of the sparse (points x pixels) matrix of tap weights,
which adds each output gradient back where its taps read.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Context, Function, register
from chainrule.autograd.ops._operands import quietly
from chainrule.backend import Array, np

__all__ = ["GridSample2d"]

MODES = ("bilinear", "nearest", "bicubic")
PADDING_MODES = ("zeros", "border", "reflection")
CUBIC_A = -0.75
"""Keys' kernel parameter, PyTorch's (as in ``interpolate``'s bicubic mode)."""


def _fused(a: Array, b: Any, c: Any) -> Array:
    """a * b + c, rounded once where float32 (as by the fused multiply-add that PyTorch's
    CPU kernel is compiled to): float32 products are exact in float64."""
    if a.dtype == np.float32:
        return (a.astype(np.float64) * np.float64(b) + c).astype(np.float32)
    return a * b + c


class _Axis:
    """Where along one axis of ``size`` pixels a normalized coordinate lands, as PyTorch's
    ``ComputeLocation``: g in [-1, 1] maps to [0, size - 1] with ``align_corners`` and to
    [-0.5, size - 0.5] without; ``scale`` is that map's slope."""

    def __init__(self, size: int, align_corners: bool, padding_mode: str, dtype: Any) -> None:
        t = np.dtype(dtype).type
        self.size, self.padding_mode, self.t = size, padding_mode, t
        self.max_value = t(size - 1)
        if align_corners:
            self.scale, self.low, self.twice_span = t(size - 1) / t(2), t(0), t(size - 1) * t(2)
            self.empty = size <= 1
        else:
            self.scale, self.low, self.twice_span = t(size) / t(2), t(-0.5), t(size) * t(2)
            self.empty = size <= 0
        self.align_corners = align_corners

    def unnormalize(self, g: Array) -> Array:
        t = self.t
        if self.align_corners:
            return (g + t(1)) * self.scale
        return _fused(g + t(1), self.scale, t(-0.5))

    def _reflect(self, x: Array) -> tuple[Array, Array]:
        """x reflected into [low, low + span] (span = twice_span / 2), and dx'/dx (+-1)."""
        if self.empty:
            return np.zeros_like(x), np.zeros_like(x)
        shifted = x - self.low
        size = np.abs(shifted)
        extra = _fused(-np.trunc(size / self.twice_span), self.twice_span, size)
        reflected = self.twice_span - extra
        flip = extra > reflected
        sign = np.where(flip ^ (shifted < 0), self.t(-1), self.t(1))
        return np.minimum(extra, reflected) + self.low, sign

    def _clip(self, x: Array) -> tuple[Array, Array]:
        """x clipped to [0, size - 1], and whether it lay strictly inside (the borders count
        as outside, so that a clipped coordinate has gradient 0, as in PyTorch). NaN (a NaN
        grid point, or an infinite one reflected) becomes 0, as in PyTorch: its documented
        reading of NaN as -1."""
        low = np.fmax(x, self.t(0))
        clipped = np.minimum(low, self.max_value)
        return clipped, (low != 0) & (clipped != self.max_value)

    def coordinates(self, x: Array) -> Array:
        """Pixel coordinates moved inside by the padding mode (zeros: left as they are)."""
        if self.padding_mode == "border":
            return self._clip(x)[0]
        if self.padding_mode == "reflection":
            return self._clip(self._reflect(x)[0])[0]
        return x

    def locate(self, g: Array) -> tuple[Array, Array]:
        """Normalized coordinates to pixel coordinates (padding applied), and d(pixel)/dg."""
        x = self.unnormalize(g)
        if self.padding_mode == "zeros":
            return x, np.full_like(x, self.scale)
        slope = np.full_like(x, self.scale)
        if self.padding_mode == "reflection":
            x, sign = self._reflect(x)
            slope = slope * sign
        x, inside = self._clip(x)
        return x, np.where(inside, slope, self.t(0))

    def inside(self, x: Array) -> Array:
        """Whether pixel coordinate x (a whole number as a float) names a pixel."""
        return (x > -1) & (x < self.size)


def _cubic(t: Array, a: float) -> list[Array]:
    """Keys' weights of the taps at -1, 0, 1, 2 for a point t in [0, 1) past tap 0."""
    x = t + 1
    far_left = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    near_left = ((a + 2) * t - (a + 3)) * t * t + 1
    x = 1 - t
    near_right = ((a + 2) * x - (a + 3)) * x * x + 1
    x = 2 - t
    far_right = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return [far_left, near_left, near_right, far_right]


def _cubic_slopes(t: Array, a: float) -> list[Array]:
    """-d/dt of each of ``_cubic``'s weights (their derivatives by the tap's offset from
    the point), written as PyTorch writes them, so that float32 rounds alike."""
    x = -1 - t
    far_left = (-3 * a * x - 10 * a) * x - 8 * a
    x = 0 - t
    near_left = (-3 * (a + 2) * x - 2 * (a + 3)) * x
    x = 1 - t
    near_right = (3 * (a + 2) * x - 2 * (a + 3)) * x
    x = 2 - t
    far_right = (3 * a * x - 10 * a) * x + 8 * a
    return [far_left, near_left, near_right, far_right]


class _Taps:
    """The pixels a batch of sample points reads, in a channels-last layout: the images as
    rows (N * H * W, C), the points as rows (N * P, C). For each tap, the row of the pixel
    it reads for each point ((N * P,), 0 where the tap lies outside the image) and whether
    it lies inside."""

    def __init__(self, n: int, height: int, width: int, points: int) -> None:
        self.width, self.pixels, self.points = width, n * height * width, n * points
        # the first row of each sample's image
        self.image = np.repeat(np.arange(n, dtype=np.intp) * (height * width), points)
        self.rows: list[Array] = []
        self.inside: list[Array] = []

    def add(self, column: Array, row: Array, inside: Array) -> None:
        inside = inside.reshape(-1)
        position = np.where(inside, row.reshape(-1), 0).astype(np.intp) * self.width
        position += np.where(inside, column.reshape(-1), 0).astype(np.intp)
        self.rows.append(self.image + position)
        self.inside.append(inside)

    def read(self, pixels: Array, k: int) -> Array:
        """(N * P, C): tap k's pixel of every channel, 0 where it lies outside."""
        return np.where(self.inside[k][:, None], pixels[self.rows[k]], 0)

    def spread(self, weights: list[Array], grad: Array) -> Array:
        """(N * H * W, C): each point's ``grad`` row (N * P, C) times each tap's weight (one
        (N * P,) array per tap), added up at the pixels the taps read (a tap outside reads
        none): the transpose of the sparse (N * P, N * H * W) matrix of the weights, applied
        to ``grad``."""
        import scipy.sparse  # SciPy comes with scikit-learn, a dependency

        points = np.arange(self.points, dtype=np.intp)
        rows = np.concatenate([points[inside] for inside in self.inside])
        columns = np.concatenate(
            [r[inside] for r, inside in zip(self.rows, self.inside, strict=True)]
        )
        values = np.concatenate(
            [w.reshape(-1)[inside] for w, inside in zip(weights, self.inside, strict=True)]
        )
        matrix = scipy.sparse.csr_matrix(
            (values.astype(grad.dtype, copy=False), (rows, columns)),
            shape=(self.points, self.pixels),
        )
        return np.asarray(matrix.T @ grad, dtype=grad.dtype)


@register("grid_sample2d")
class GridSample2d(Function):
    """y[n, c, i, j] = sum over taps k of w_k(p) * x_pad[n, c, q_k(p)], p = the pixel
    coordinates of grid[n, i, j] (x = ((g_x + 1) * W - 1) / 2, or (g_x + 1) * (W - 1) / 2
    with ``align_corners``; y likewise with H), q_k its taps and w_k their weights:
    bilinear, (1 - |p - q|) per axis over the four taps around p; nearest, the one tap
    round(p) (half to even) with weight 1; bicubic, Keys' cubic (a = -0.75) per axis over
    the sixteen around p. x_pad reads 0 outside the image ('zeros'), or p (bilinear,
    nearest) or q (bicubic) is clipped to the image ('border') or reflected into it
    ('reflection').

    dL/dx[n, c, q] = sum over the outputs and taps that read q of w_k * g[n, c, i, j];
    dL/dgrid[n, i, j, 0] = sum over c of g[n, c, i, j] * sum over taps of
    x_pad[q_k] * dw_k/dp_x * dp_x/dg_x, and likewise for y.

    NOTE: as in PyTorch, dp/dg is 0 where 'border' or 'reflection' clips p (a point on the
    border included) and -1 where a reflection flips it, and nearest sampling gives the
    grid a zero gradient.
    """

    @staticmethod
    @quietly
    def forward(
        ctx: Context, x: Array, grid: Array, *, mode: str, padding_mode: str, align_corners: bool
    ) -> Array:
        ctx.save_for_backward(x, grid)
        ctx.options = (mode, padding_mode, align_corners)
        y = _sample(x, grid, mode, padding_mode, align_corners, None)[0]
        assert y is not None
        return y

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        x, grid = ctx.saved
        mode, padding_mode, align_corners = ctx.options
        wants = (bool(ctx.needs_input_grad[0]), bool(ctx.needs_input_grad[1]))
        _, grad_x, grad_grid = _sample(x, grid, mode, padding_mode, align_corners, (grad, wants))
        return grad_x, grad_grid


def _sample(
    x: Array,
    grid: Array,
    mode: str,
    padding_mode: str,
    align_corners: bool,
    backward: tuple[Array, tuple[bool, bool]] | None,
) -> tuple[Array | None, Array | None, Array | None]:
    """The forward's samples (without ``backward``), or, given (dL/dy, (wants dL/dx, wants
    dL/dgrid)), those gradients. Computed channels-last: each point's (or pixel's)
    channels in a row, so that a tap reads whole rows."""
    n, c, h, w = x.shape
    out_h, out_w = grid.shape[1:3]
    axis_w = _Axis(w, align_corners, padding_mode, x.dtype)
    axis_h = _Axis(h, align_corners, padding_mode, x.dtype)
    pixels = x.transpose(0, 2, 3, 1).reshape(n * h * w, c)
    gx = grid[..., 0].reshape(-1)
    gy = grid[..., 1].reshape(-1)
    taps = _Taps(n, h, w, out_h * out_w)
    # per tap, its weight ((N * P,); bicubic: (column weight, row weight)); what the grid's
    # gradient needs (see _bilinear_taps and _bicubic_taps)
    weights: list[Any]
    slopes: list[Any] = []
    if mode == "bicubic":
        weights, slopes = _bicubic_taps(taps, gx, gy, axis_w, axis_h)
        scale = (axis_w.scale, axis_h.scale)
    elif mode == "nearest":
        columns, rows = np.rint(axis_w.locate(gx)[0]), np.rint(axis_h.locate(gy)[0])
        taps.add(columns, rows, axis_w.inside(columns) & axis_h.inside(rows))
        weights = [np.ones(gx.shape, dtype=x.dtype)]
    else:
        (columns, slope_x), (rows, slope_y) = axis_w.locate(gx), axis_h.locate(gy)
        weights, slopes = _bilinear_taps(taps, columns, rows, axis_w, axis_h)
        scale = (slope_x, slope_y)
    if backward is None:
        if mode == "bicubic":
            # PyTorch's order: each row of four taps, then the four rows
            y = np.zeros((taps.points, c), dtype=x.dtype)
            for j in range(4):
                along_row = taps.read(pixels, 4 * j) * weights[4 * j][0][:, None]
                for i in range(1, 4):
                    along_row = (
                        along_row + taps.read(pixels, 4 * j + i) * weights[4 * j + i][0][:, None]
                    )
                y = y + along_row * weights[4 * j][1][:, None]
        elif mode == "nearest":
            y = taps.read(pixels, 0)
        else:
            y = taps.read(pixels, 0) * weights[0][:, None]
            for k in range(1, 4):
                y = y + taps.read(pixels, k) * weights[k][:, None]
        images = y.reshape(n, out_h, out_w, c).transpose(0, 3, 1, 2)
        return np.ascontiguousarray(images, dtype=x.dtype), None, None
    grad, (wants_x, wants_grid) = backward
    g = grad.transpose(0, 2, 3, 1).reshape(taps.points, c)
    grad_x = grad_grid = None
    if wants_x:
        shares = [wx * wy for wx, wy in weights] if mode == "bicubic" else weights
        spread = taps.spread(shares, g).reshape(n, h, w, c)
        grad_x = np.ascontiguousarray(spread.transpose(0, 3, 1, 2), dtype=x.dtype)
    if wants_grid:
        if mode == "nearest":
            grad_grid = np.zeros(grid.shape, dtype=grid.dtype)
        else:
            if mode == "bicubic":
                d_column, d_row = _bicubic_grid_grad(pixels, g, taps, slopes)
            else:
                # PyTorch's formula and order (channel by channel), so that float32 rounds
                # alike: d/dx = (ne - nw) s + (se - sw) n, d/dy = (sw - nw) e + (se - ne) w
                nw, ne, sw, se = (taps.read(pixels, k) for k in range(4))
                south, north, east, west = (v[:, None] for v in slopes[0])
                d_column = _sum_channels(((ne - nw) * south + (se - sw) * north) * g)
                d_row = _sum_channels(((sw - nw) * east + (se - ne) * west) * g)
            grad_grid = np.stack((d_column * scale[0], d_row * scale[1]), axis=-1)
            grad_grid = grad_grid.reshape(grid.shape).astype(grid.dtype, copy=False)
    return None, grad_x, grad_grid


def _sum_channels(terms: Array) -> Array:
    """(N * P,): the sum of each row of ``terms`` (N * P, C), channel after channel, as
    PyTorch's kernel adds them (NumPy would sum a row pairwise)."""
    total = np.zeros(terms.shape[0], dtype=terms.dtype)
    for channel in np.ascontiguousarray(terms.T):
        total = total + channel
    return total


def _bicubic_grid_grad(
    pixels: Array, g: Array, taps: _Taps, slopes: list[Any]
) -> tuple[Array, Array]:
    """dL/d(column), dL/d(row) of bicubic sampling, each point's terms summed as PyTorch
    sums them (for each channel, the taps column by column, row by row, subtracting the
    value times -dw/dt), so that float32 rounds alike; one channel at a time, so that no
    array holds more than a channel's taps."""
    channels, upstream = np.ascontiguousarray(pixels.T), np.ascontiguousarray(g.T)
    d_column = np.zeros(g.shape[0], dtype=g.dtype)
    d_row = np.zeros(g.shape[0], dtype=g.dtype)
    for plane, grad in zip(channels, upstream, strict=True):
        for i in range(4):
            for j in range(4):
                k = 4 * j + i
                (minus_dx, weight_y), (minus_dy, weight_x) = slopes[k]
                value = np.where(taps.inside[k], plane[taps.rows[k]], 0) * grad
                d_column = d_column - value * minus_dx * weight_y
                d_row = d_row - value * minus_dy * weight_x
    return d_column, d_row


def _bilinear_taps(
    taps: _Taps, columns: Array, rows: Array, axis_w: _Axis, axis_h: _Axis
) -> tuple[list[Any], list[Any]]:
    """Add the four pixels around each point (nw, ne, sw, se) to ``taps``; return their
    weights, and (in a list of one) the distances (s, n, e, w) from the point to the
    pixels' rows and columns: nw's weight is s * e, ne's s * w, sw's n * e and se's n * w."""
    left, top = np.floor(columns), np.floor(rows)
    west = columns - left
    east = 1 - west
    north = rows - top
    south = 1 - north
    for row in (top, top + 1):
        for column in (left, left + 1):
            taps.add(column, row, axis_w.inside(column) & axis_h.inside(row))
    weights = [south * east, south * west, north * east, north * west]
    return weights, [(south, north, east, west)]


def _bicubic_taps(
    taps: _Taps, gx: Array, gy: Array, axis_w: _Axis, axis_h: _Axis
) -> tuple[list[Any], list[Any]]:
    """Add the sixteen pixels around each point (row by row) to ``taps``; return each one's
    (column weight, row weight), and for each, ((-dw/dt of its column weight, its row
    weight), (-dw/dt of its row weight, its column weight)), the factors of its share of
    dL/d(column) and dL/d(row). The taps lie at whole pixels around the unnormalized
    point; the padding mode moves each tap (not the point) inside, as PyTorch does."""
    columns, rows = axis_w.unnormalize(gx), axis_h.unnormalize(gy)
    left, top = np.floor(columns), np.floor(rows)
    tx, ty = columns - left, rows - top
    weights_x, weights_y = _cubic(tx, CUBIC_A), _cubic(ty, CUBIC_A)
    slopes_x, slopes_y = _cubic_slopes(tx, CUBIC_A), _cubic_slopes(ty, CUBIC_A)
    weights, slopes = [], []
    for j in range(4):
        row = axis_h.coordinates(top + (j - 1))
        for i in range(4):
            column = axis_w.coordinates(left + (i - 1))
            taps.add(column, row, axis_w.inside(column) & axis_h.inside(row))
            weights.append((weights_x[i], weights_y[j]))
            slopes.append(((slopes_x[i], weights_y[j]), (slopes_y[j], weights_x[i])))
    return weights, slopes
