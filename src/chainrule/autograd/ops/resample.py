"""A fixed linear map along one axis: each output element a weighted sum of a few input
elements (``resample``), the step that ``interpolate``'s bicubic and antialiased modes take
once per spatial axis; and the adaptive average pool (``interpolate``'s area mode), such a
map along each of the last two axes."""

from __future__ import annotations

import math
from typing import Any

from chainrule import _blas
from chainrule.autograd.function import Context, Function, register
from chainrule.autograd.ops._operands import floating_only
from chainrule.autograd.ops.more import _axis
from chainrule.backend import Array, np
from chainrule.tensor import Tensor


def _along(matrix: Any, x: Array, axis: int) -> Array:
    """``matrix`` (a SciPy sparse (m, n) matrix) applied to axis ``axis`` (of size n) of x,
    computed in the matrix's dtype (float32 for float16 x) and returned in x's."""
    moved = np.moveaxis(x, axis, 0)
    rest = moved.shape[1:]
    lines = moved.reshape(moved.shape[0], math.prod(rest)).astype(matrix.dtype, copy=False)
    out = np.asarray(matrix @ lines).astype(x.dtype, copy=False)
    return np.ascontiguousarray(np.moveaxis(out.reshape(matrix.shape[0], *rest), 0, axis))


@register("resample")
class Resample(Function):
    """y[..., i, ...] = sum_j M[i, j] x[..., j, ...] along one axis, M fixed;
    dL/dx[..., j, ...] = sum_i M[i, j] g[..., i, ...] (M transposed)."""

    @staticmethod
    def forward(ctx: Context, x: Array, *, axis: int, matrix: Any) -> Array:
        ctx.axis, ctx.matrix = axis, matrix
        return _along(matrix, x, axis)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        return (_along(ctx.matrix.T.tocsr(), grad, ctx.axis),)


def resample(input: Any, dim: int, index: Any, weight: Any) -> Tensor:
    """Map axis ``dim`` through fixed weights: output element i along ``dim`` is
    sum over k of weight[i, k] * input[..., index[i, k], ...].

    Parameters
    ----------
    input : Tensor of floating dtype
    dim : int
        The axis to map.
    index : array of int of shape (out, taps)
        The input elements each of the ``out`` outputs reads, in [0, input.shape[dim]);
        one may appear more than once (its weights add).
    weight : array of float of shape (out, taps)
        Their weights (rounded to the input's dtype; float16 inputs are mapped in float32
        and the result rounded to float16).

    Returns
    -------
    Tensor
        ``input``'s shape with ``out`` elements along ``dim``.

    Raises
    ------
    TypeError
        If ``input`` is not floating-point.
    ValueError
        If ``index`` and ``weight`` are not two arrays of one 2-D shape, or an index lies
        outside the axis.

    Notes
    -----
    With M the (out, size) matrix holding weight[i, k] at (i, index[i, k]), y = M x along
    ``dim`` and dL/dx = M^T g. M is kept sparse (SciPy's CSR), so that both directions cost
    out * taps multiply-adds per line along ``dim``: a separable resize applies one such
    map per axis.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.autograd.ops import resample
    >>> resample(cr.tensor([[1.0, 2.0, 4.0]]), 1, [[0, 1], [1, 2]], [[0.5, 0.5], [0.5, 0.5]])
    tensor([[1.5000, 3.0000]])
    """
    import scipy.sparse  # SciPy comes with scikit-learn, a dependency

    x = floating_only(input, "resample")
    axis = _axis("resample", x, dim)
    picks, weights = np.asarray(index), np.asarray(weight)
    if picks.ndim != 2 or picks.shape != weights.shape or picks.dtype.kind not in "iu":
        raise ValueError(
            f"resample: expected index (integers) and weight of one shape (out, taps), got "
            f"index of shape {picks.shape} ({picks.dtype}) and weight of shape {weights.shape}"
        )
    size = x.shape[axis]
    if picks.size and (picks.min() < 0 or picks.max() >= size):
        raise ValueError(
            f"resample: expected indices in [0, {size}) (the size of axis {axis}), got "
            f"[{picks.min()}, {picks.max()}]"
        )
    out, taps = picks.shape
    rows = np.repeat(np.arange(out), taps)
    # SciPy has no float16 matrices; PyTorch, too, computes float16 in float32
    dtype = np.float32 if x.dtype == np.float16 else x.dtype
    matrix = scipy.sparse.csr_matrix(
        (weights.ravel().astype(dtype), (rows, picks.ravel())), shape=(out, size)
    )
    result: Tensor = Resample.apply(x, axis=axis, matrix=matrix)
    return result


def _averaging_matrix(size: int, out: int, dtype: Any) -> Array:
    """(out, size): row i averages the input elements of PyTorch's adaptive bin i,
    floor(i * size / out) to ceil((i + 1) * size / out) - 1."""
    bins = np.arange(out)
    starts = bins * size // out
    ends = -(-(bins + 1) * size // out)
    columns = np.arange(size)
    inside = (columns >= starts[:, None]) & (columns < ends[:, None])
    return (inside / (ends - starts)[:, None]).astype(dtype)


def _map_axes(x: Array, maps: list[tuple[int, Array | None]], exact: bool) -> Array:
    """Each (axis, matrix) of ``maps`` applied in turn, matrix @ x along axis -2 or -1 (a
    None matrix leaves its axis).

    Dense (BLAS) unless ``exact``: then sparse, so that each output element adds only the
    elements its row of the matrix holds, and an inf or NaN elsewhere stays out of it."""
    import scipy.sparse  # SciPy comes with scikit-learn, a dependency

    for axis, matrix in maps:
        if matrix is None:
            continue
        if exact:
            x = _along(scipy.sparse.csr_matrix(matrix), x, x.ndim + axis)
        else:
            x = _blas.matmul(matrix, x) if axis == -2 else _blas.matmul(x, matrix.T)
    return x


@register("adaptive_avg_pool2d")
class AdaptiveAvgPool2d(Function):
    """y = A x B^T over the last two axes, the rows of A (out_h, h) and B (out_w, w)
    averaging PyTorch's adaptive bins;  dL/dx = A^T g B.

    The products are dense (BLAS), several times faster than sparse ones at these sizes.
    A dense product spreads an inf or NaN over every bin of its row and column (0 * inf is
    NaN), so where the output (forward) or the gradient (backward) holds one, the map is
    computed again sparsely: only the bins that hold it are inf or NaN, as in PyTorch.
    float16 is averaged in float32, as PyTorch accumulates.
    """

    @staticmethod
    def forward(ctx: Context, x: Array, *, out: tuple[int, int]) -> Array:
        work = x.astype(np.float32) if x.dtype == np.float16 else x
        h, w = x.shape[-2:]
        # an axis that keeps its size is left as it is
        ctx.rows = _averaging_matrix(h, out[0], work.dtype) if out[0] != h else None
        ctx.columns = _averaging_matrix(w, out[1], work.dtype) if out[1] != w else None
        maps = [(-2, ctx.rows), (-1, ctx.columns)]
        y = _map_axes(work, maps, exact=False)
        if not np.isfinite(y).all():
            y = _map_axes(work, maps, exact=True)
        return y.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        work = grad.astype(np.float32) if grad.dtype == np.float16 else grad
        maps = [
            (axis, None if m is None else m.T) for axis, m in ((-1, ctx.columns), (-2, ctx.rows))
        ]
        exact = not np.isfinite(work).all()
        return (_map_axes(work, maps, exact).astype(grad.dtype, copy=False),)
