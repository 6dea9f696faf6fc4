"""``adaptive_max_pool2d``: the maximum of each of PyTorch's adaptive bins, with the gradient
routed to the element that its indices name.

Bin i of an axis of size n covers the elements floor(i * n / out) to
ceil((i + 1) * n / out) - 1: at most two lengths per axis, and neighbouring bins share an
element where n / out is not an integer. The maxima are taken in two steps, over each
bin's columns (for every input row), then over each bin's rows, one offset within the bins
at a time (``_members``: an ``np.take`` of one element per bin, or a strided slice where
the axis divides evenly), so that the work stays within a few passes over the input and no
bin is walked in Python.

Which element is a bin's maximum is PyTorch's choice: walking the bin in row-major order,
the walk moves on where ``value > best or isnan(value)``, so the first of tied maxima is
named, and in a bin with NaN its last NaN. With the maxima known, ``_stops`` finds where
that walk stops without walking: first along the rows (the candidates are each row's
maximum over the bin's columns: the first row that holds the bin's maximum, or the last
that holds a NaN), then along the columns of that row. That is PyTorch's element, since in
row-major order the first maximum lies in the first row holding it, and the last NaN in
the last row holding one. Backward adds each output's gradient at that element
(``np.add.at``, in output order, as PyTorch adds them).
"""

from __future__ import annotations

import math
from typing import Any

from chainrule.autograd.function import Context, Function, register
from chainrule.backend import Array, np

Pair = tuple[int, int]


def adaptive_bins(size: int, out: int) -> tuple[Array, Array]:
    """(starts, ends) of PyTorch's ``out`` adaptive bins over an axis of ``size``: bin i is
    [floor(i * size / out), ceil((i + 1) * size / out))."""
    bins = np.arange(out)
    return bins * size // out, -(-(bins + 1) * size // out)


def _members(size: int, out: int) -> tuple[Array, Array, list[Any]]:
    """The bins' starts and ends (as ``adaptive_bins``) and, per offset p within a bin, what
    picks element p of every bin along the axis (the bin's last element for bins shorter
    than p + 1: a repeat changes no maximum, and as it comes after the element it repeats
    it never takes the maximum's place): a strided slice where ``out`` divides ``size``,
    an index array otherwise."""
    starts, ends = adaptive_bins(size, out)
    if size % out == 0:
        step = size // out
        return starts, ends, [slice(p, size, step) for p in range(step)]
    longest = int((ends - starts).max())
    return starts, ends, [np.minimum(starts + p, ends - 1) for p in range(longest)]


def _stops(candidates: list[Array], y: Array, lengths: Array) -> Array:
    """Where PyTorch's walk over each bin stops, as an offset into ``candidates`` (one array
    of y's shape per offset, in walking order; offsets past a bin's length, broadcast from
    ``lengths``, repeat its last element): the first candidate equal to the maximum ``y``,
    or in a bin whose maximum is NaN, its last NaN. Without a branch per element (masked
    copies cost ten times more here)."""
    small = np.uint8 if len(candidates) < 256 else np.intp
    searching = np.ones(y.shape, dtype=np.bool_)  # no candidate equal to y yet
    offset = np.zeros(y.shape, dtype=small)
    for value in candidates:
        np.greater(searching, value == y, out=searching)  # for booleans, a > b is a and not b
        offset += searching
    nan = np.isnan(y)
    if not nan.any():
        return offset
    last_nan = np.zeros(y.shape, dtype=small)
    for p, value in enumerate(candidates):
        np.maximum(last_nan, np.isnan(value) * small(p + 1), out=last_nan)
    # a repeat of a bin's last element is that element
    return np.where(nan, np.minimum(last_nan - 1, lengths - 1), offset)


def _take(a: Array, picks: Any, axis: int) -> Array:
    """``a``'s elements ``picks`` (a ``_members`` entry) along ``axis`` (-1 or -2): a view
    for a slice; for an index array a C-ordered copy (``np.take``: a fancy index along a
    last axis returns a transposed layout, which the maxima then read at twice the cost)."""
    if isinstance(picks, slice):
        return a[..., picks] if axis == -1 else a[..., picks, :]
    return np.take(a, picks, axis=axis)


def adaptive_max(x: Array, out: Pair, with_indices: bool) -> tuple[Array, Array | None]:
    """The maxima (..., out_h, out_w) of ``x`` (..., H, W) over the adaptive bins and, if
    ``with_indices``, where each lies in its plane (int64 ``row * W + column``, PyTorch's
    element)."""
    h, w = x.shape[-2:]
    row_starts, row_ends, rows = _members(h, out[0])
    column_starts, column_ends, columns = _members(w, out[1])
    # (..., H, out_w): each row's maximum over each bin's columns (NaN wins, as in PyTorch)
    by_row = _take(x, columns[0], -1)
    if len(columns) > 1:
        by_row = np.maximum(by_row, _take(x, columns[1], -1))
        for picks in columns[2:]:
            np.maximum(by_row, _take(x, picks, -1), out=by_row)
    # (..., out_h, out_w): then over each bin's rows
    row_maxima = [_take(by_row, picks, -2) for picks in rows]
    y = np.array(row_maxima[0])
    for value in row_maxima[1:]:
        np.maximum(y, value, out=y)
    if not with_indices:
        return y, None
    # The row where the walk stops: the first row whose maximum is the bin's (the last
    # holding a NaN); then the column where it stops in that row.
    row_offset = _stops(row_maxima, y, (row_ends - row_starts)[:, None])
    del row_maxima
    # where each bin starts, and the start of the chosen row's part of it
    first = (row_starts * w)[:, None] + column_starts
    chosen_row = np.multiply(row_offset, w, dtype=np.intp) + first
    planes = math.prod(x.shape[:-2])
    flat = np.ascontiguousarray(x).reshape(planes * h * w)
    in_flat = chosen_row + (np.arange(planes) * (h * w)).reshape(*x.shape[:-2], 1, 1)
    column_offsets = [np.arange(w)[picks] - column_starts for picks in columns]
    row_values = [np.take(flat, in_flat + offset) for offset in column_offsets]
    column_offset = _stops(row_values, y, column_ends - column_starts)
    return y, (chosen_row + column_offset).astype(np.int64, copy=False)


@register("adaptive_max_pool2d")
class AdaptiveMaxPool2d(Function):
    """y[..., i, j] = max of x[..., r, c] over r in bin i of the rows and c in bin j of
    the columns;  dL/dx = g at each bin's maximum, summed where bins share one, 0 elsewhere.

    # NOTE: the maximum that takes the gradient is the element PyTorch's indices name: the
    # first of tied maxima in the bin's row-major order, and in a bin with NaN its last NaN.
    """

    @staticmethod
    def forward(ctx: Context, x: Array, *, out: Pair) -> Array:
        tracked = any(ctx.needs_input_grad)
        y, at = adaptive_max(x, out, with_indices=tracked)
        if tracked:
            ctx.save_for_backward(at)
            ctx.input_shape = x.shape
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (at,) = ctx.saved
        shape = ctx.input_shape
        plane = shape[-2] * shape[-1]
        planes = math.prod(shape[:-2])
        spots = at.reshape(planes, at.size // planes if planes else 0)
        spots = spots + (np.arange(planes) * plane)[:, None]
        grad_x = np.zeros(planes * plane, dtype=grad.dtype)
        # Unbuffered, in output order: where bins share a maximum the gradients add one by
        # one in the gradient's dtype, as in PyTorch (and faster than np.bincount here).
        np.add.at(grad_x, spots.reshape(-1), grad.reshape(-1))
        return (grad_x.reshape(shape),)
