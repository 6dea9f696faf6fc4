"""Counting and binning, as PyTorch has them: ``bincount``, ``histc``, ``searchsorted``,
``bucketize``, and the index pairs of a triangle (``tril_indices``, ``triu_indices``).

None of them carries a gradient: their results are counts and positions.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Literal

from chainrule.backend import Array, np
from chainrule.tensor import Tensor, _read_in_python


def _array(x: Any) -> Array:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def bincount(input: Any, weights: Any = None, minlength: int = 0) -> Tensor:
    """How many times each value 0, 1, ..., max occurs in ``input`` (1-D, non-negative
    integers), or the sum of ``weights`` over each value's positions; at least
    ``minlength`` entries. int64 counts, or sums in the weights' floating dtype (float64
    for integer weights), as PyTorch gives them."""
    values = _array(input)
    if values.ndim != 1 or values.dtype.kind not in "iub":
        raise TypeError(
            f"bincount: expected a 1-D tensor of non-negative integers, got dtype "
            f"{values.dtype} and shape {values.shape}"
        )
    if values.size and values.min() < 0:
        raise ValueError(f"bincount: expected non-negative values, got {values.min()}")
    _read_in_python()  # the result's length depends on the largest value
    minlength = operator.index(minlength)
    if weights is None:
        return Tensor._from_op(np.bincount(values, minlength=minlength).astype(np.int64), None)
    w = _array(weights)
    if w.shape != values.shape:
        raise ValueError(
            f"bincount: expected weights of the input's shape {values.shape}, got {w.shape}"
        )
    dtype = w.dtype if w.dtype.kind == "f" else np.dtype(np.float64)
    return Tensor._from_op(np.bincount(values, w, minlength=minlength).astype(dtype), None)


def histc(input: Any, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """A histogram of ``input``'s elements in ``bins`` equal bins over [min, max], as floats
    of the input's dtype; elements outside are left out, and the last bin includes ``max``.

    When min == max (both 0 by default), the elements' own range is taken instead, as in
    PyTorch; when that is one value too (or there are no elements), the range is widened by
    1 on each side.

    Raises
    ------
    ValueError
        If the range is not finite (an element is inf or NaN where the elements' range is
        taken), or min > max.
    """
    values = _array(input)
    if values.dtype.kind != "f":
        raise TypeError(f"histc: expected a floating-point tensor, got dtype {values.dtype}")
    bins = operator.index(bins)
    if bins < 1:
        raise ValueError(f"histc: bins must be >= 1, got {bins}")
    low, high = float(min), float(max)
    if low == high and values.size:
        low, high = float(values.min()), float(values.max())
    if low == high:  # one value everywhere: PyTorch widens the range by 1 on each side
        low, high = low - 1, high + 1
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"histc: expected a finite range, got [{low}, {high}]")
    if low > high:
        raise ValueError(f"histc: expected min <= max, got min={min}, max={max}")
    counts, _ = np.histogram(values, bins=bins, range=(low, high))
    return Tensor._from_op(counts.astype(values.dtype), None)


def searchsorted(
    sorted_sequence: Any,
    input: Any,
    *,
    out_int32: bool = False,
    right: bool = False,
    side: str | None = None,
    sorter: Any = None,
) -> Tensor:
    """Where each of ``input``'s values would go in ``sorted_sequence`` to keep it sorted:
    before equal values (``side='left'``, the default) or after them (``right=True`` or
    ``side='right'``). A sequence of several rows is searched row by row, ``input``'s rows
    in the matching one. int64 positions (int32 with ``out_int32``)."""
    if side is not None:
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise ValueError("searchsorted: right=True and side='left' contradict each other")
        right = side == "right"
    sequence, values = _array(sorted_sequence), _array(input)
    if sorter is not None:
        sequence = np.take_along_axis(sequence, _array(sorter), axis=-1)
    where: Literal["left", "right"] = "right" if right else "left"
    if sequence.ndim <= 1:
        found = np.searchsorted(sequence, values, side=where)
    else:
        if sequence.shape[:-1] != values.shape[:-1]:
            raise ValueError(
                f"searchsorted: expected input with the sequence's leading shape "
                f"{sequence.shape[:-1]}, got shape {values.shape}"
            )
        # Sizes spelled out: -1 cannot be inferred when the other axis is 0.
        rows = sequence.reshape(math.prod(sequence.shape[:-1]), sequence.shape[-1])
        wanted = values.reshape(len(rows), values.shape[-1])
        found = np.empty(wanted.shape, np.int64)  # no rows at all: an empty result
        for k, (r, v) in enumerate(zip(rows, wanted, strict=True)):
            found[k] = np.searchsorted(r, v, side=where)
        found = found.reshape(values.shape)
    return Tensor._from_op(np.asarray(found).astype(np.int32 if out_int32 else np.int64), None)


def bucketize(
    input: Any, boundaries: Any, *, out_int32: bool = False, right: bool = False
) -> Tensor:
    """The bucket of each of ``input``'s values among the sorted 1-D ``boundaries``: i such
    that boundaries[i-1] < v <= boundaries[i] (with ``right=True``, boundaries[i-1] <= v <
    boundaries[i]), as PyTorch's ``bucketize``."""
    edges = _array(boundaries)
    if edges.ndim != 1:
        raise ValueError(f"bucketize: expected 1-D boundaries, got shape {edges.shape}")
    return searchsorted(edges, input, out_int32=out_int32, right=right)


def _triangle(where: str, row: int, col: int, offset: int, upper: bool) -> Tensor:
    row, col, offset = operator.index(row), operator.index(col), operator.index(offset)
    if row < 0 or col < 0:
        raise ValueError(f"{where}: expected row and col >= 0, got {row} and {col}")
    rows, cols = np.triu_indices(row, offset, col) if upper else np.tril_indices(row, offset, col)
    return Tensor._from_op(np.stack([rows, cols]).astype(np.int64), None)


def tril_indices(row: int, col: int, offset: int = 0) -> Tensor:
    """The (row, column) indices, as a 2 x N tensor, of the lower triangle of a row x col
    matrix: on and below diagonal ``offset`` (above the main one for offset > 0)."""
    return _triangle("tril_indices", row, col, offset, upper=False)


def triu_indices(row: int, col: int, offset: int = 0) -> Tensor:
    """The (row, column) indices, as a 2 x N tensor, of the upper triangle of a row x col
    matrix: on and above diagonal ``offset``."""
    return _triangle("triu_indices", row, col, offset, upper=True)
