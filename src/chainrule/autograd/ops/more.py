"""More of PyTorch's tensor functions: a few new ops with their derivatives (``expm1``,
``erf``, the roundings, ``cumsum``), functions composed from registered ops (whose
derivatives follow: ``mm``, ``index_select``, ``sort``, ``topk``, ``roll``...), and queries
that have no derivative (``isnan``, ``isclose``, ``nonzero``...).
"""

from __future__ import annotations

import builtins
import math
from collections import Counter
from typing import Any

from chainrule.autograd.function import Context, Function, register, unbroadcast
from chainrule.autograd.ops._operands import (
    DtypeNotSupportedError,
    _is_python_number,
    as_floating_tensor,
    as_tensor,
    binary_operands,
    check_axis,
    quietly,
    torch_dim,
)
from chainrule.autograd.ops.activations import _erf
from chainrule.autograd.ops.arithmetic import add, div, mul, sub
from chainrule.autograd.ops.elementwise import log, sqrt, where
from chainrule.autograd.ops.linalg import matmul
from chainrule.autograd.ops.reductions import ValuesIndices
from chainrule.autograd.ops.reductions import sum as _sum
from chainrule.autograd.ops.shape import (
    concatenate,
    diagonal,
    gather,
    index,
    permute,
    reshape,
)
from chainrule.autograd.ops.shape import index as _index
from chainrule.backend import Array, np
from chainrule.tensor import Tensor, _read_in_python


# --------------------------------------------------------------------- new ops
@register("expm1")
class Expm1(Function):
    """y = exp(x) - 1, exact near 0;  dy/dx = exp(x) = y + 1."""

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array) -> Array:
        y = np.expm1(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (y,) = ctx.saved
        return (grad * (y + 1),)


@register("erf")
class Erf(Function):
    """y = erf(x);  dy/dx = 2 / sqrt(pi) * exp(-x**2)."""

    @staticmethod
    def forward(ctx: Context, x: Array) -> Array:
        ctx.save_for_backward(x)
        return _erf(x)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (x,) = ctx.saved
        return (grad * (2 / math.sqrt(math.pi)) * np.exp(-x * x),)


class _Rounding(Function):
    """A step function: its derivative is 0 wherever it exists (as PyTorch takes it)."""

    rule: Any = None

    @classmethod
    def forward(cls, ctx: Context, x: Array) -> Array:
        ctx.save_for_backward(x)
        return np.asarray(cls.rule(x))

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (x,) = ctx.saved
        return (np.zeros_like(x),)


@register("floor")
class Floor(_Rounding):
    """y = floor(x);  dy/dx = 0."""

    rule = np.floor


@register("ceil")
class Ceil(_Rounding):
    """y = ceil(x);  dy/dx = 0."""

    rule = np.ceil


@register("round")
class Round(_Rounding):
    """y = x rounded to the nearest integer, halves to even (as PyTorch);  dy/dx = 0."""

    rule = np.round


@register("trunc")
class Trunc(_Rounding):
    """y = x rounded toward 0;  dy/dx = 0."""

    rule = np.trunc


@register("cumsum")
class Cumsum(Function):
    """y_i = sum of x_j for j <= i along ``axis``;  dL/dx_j = sum of g_i for i >= j (the
    cumulative sum of the gradient taken from the other end)."""

    @staticmethod
    def forward(ctx: Context, x: Array, axis: int) -> Array:
        ctx.axis = axis
        return _running_sum(x, axis)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        flipped = np.flip(grad, axis=ctx.axis)
        return np.flip(_running_sum(flipped, ctx.axis), axis=ctx.axis), None


def _running_sum(x: Array, axis: int) -> Array:
    """``np.cumsum``, added up in float64 for narrower floats and rounded back, as PyTorch's
    CPU kernel does: float32 steps lose a digit every few thousand terms (100,000 times 0.1
    came to 9998.6)."""
    if x.dtype.kind == "f" and x.dtype.itemsize < 8:
        return np.cumsum(x, axis=axis, dtype=np.float64).astype(x.dtype)
    return np.cumsum(x, axis=axis)


def expm1(x: Any) -> Tensor:
    """Elementwise ``exp(x) - 1``, accurate for x near 0."""
    return Expm1.apply(as_floating_tensor(x))


def erf(x: Any) -> Tensor:
    """Elementwise error function."""
    return Erf.apply(as_floating_tensor(x))


def _rounded(op: type[Function], x: Any) -> Tensor:
    x = as_tensor(x)
    if x.dtype.kind != "f":
        return Tensor._from_op(x.data.copy(), None)  # integers are already whole
    return op.apply(x)


def floor(x: Any) -> Tensor:
    """Elementwise floor; the gradient is 0."""
    return _rounded(Floor, x)


def ceil(x: Any) -> Tensor:
    """Elementwise ceiling; the gradient is 0."""
    return _rounded(Ceil, x)


def round(x: Any, decimals: int = 0) -> Tensor:
    """Elementwise rounding to the nearest integer (halves to even, as in PyTorch), or to
    ``decimals`` places; the gradient is 0."""
    if decimals < 0:
        # Divided by a whole power of ten, as PyTorch does: a float32 x * 0.001 rounded and
        # divided by 0.001 again gave 1999.9999 for 2000.
        scale = 10.0**-decimals
        return mul(_rounded(Round, div(x, scale)), scale)
    if decimals:
        scale = 10.0**decimals
        return div(_rounded(Round, mul(x, scale)), scale)
    return _rounded(Round, x)


def trunc(x: Any) -> Tensor:
    """Elementwise rounding toward 0; the gradient is 0."""
    return _rounded(Trunc, x)


def frac(x: Any) -> Tensor:
    """Elementwise fractional part ``x - trunc(x)``, with the sign of x (``frac(-2.5)`` is
    -0.5; NaN at +-inf, as PyTorch's); the gradient is 1. Floating tensors only, as in
    PyTorch."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"frac: expected a floating-point tensor, got dtype {x.dtype}")
    return sub(x, trunc(x))


def cumsum(x: Any, dim: int, *, dtype: Any = None) -> Tensor:
    """Cumulative sum along ``dim`` (integers and booleans sum as int64, as in PyTorch), in
    ``dtype`` if given (bool is refused, as PyTorch refuses it)."""
    x = as_tensor(x)
    check_axis(dim, x.ndim, "cumsum")
    axis = int(dim) % builtins.max(x.ndim, 1)
    if dtype is not None:
        x = _accumulated_as("cumsum", x, dtype)
    elif x.dtype.kind in "biu":
        x = Tensor._from_op(x.data.astype(np.int64), None)
    if x.ndim == 0:
        return Tensor._from_op(x.data.copy(), None) if not x.requires_grad else x * 1
    return Cumsum.apply(x, axis)


def _accumulated_as(where: str, x: Tensor, dtype: Any) -> Tensor:
    """``x`` converted to the ``dtype`` a running sum or product is asked for; bool is refused,
    as PyTorch refuses it (NumPy would count in int64 and give no bools)."""
    x = x.to(dtype)
    if x.dtype.kind == "b":
        raise DtypeNotSupportedError(
            f"{where}: expected a numeric dtype, got dtype=bool, which PyTorch refuses too; "
            "leave dtype out to get int64 for bools"
        )
    return x


# --------------------------------------------------------------------- composed, differentiable
def reciprocal(x: Any) -> Tensor:
    """Elementwise ``1 / x``."""
    return div(1.0, as_floating_tensor(x))


def rsqrt(x: Any) -> Tensor:
    """Elementwise ``1 / sqrt(x)``."""
    return div(1.0, sqrt(x))


def log2(x: Any) -> Tensor:
    """Elementwise base-2 logarithm."""
    return div(log(x), math.log(2.0))


def log10(x: Any) -> Tensor:
    """Elementwise base-10 logarithm."""
    return div(log(x), math.log(10.0))


def _matrices(where: str, *pairs: tuple[Tensor, int]) -> None:
    for t, ndim in pairs:
        if t.ndim != ndim:
            raise ValueError(f"{where}: expected a {ndim}-D tensor, got shape {t.shape}")


def mm(a: Any, b: Any) -> Tensor:
    """Matrix product of two 2-D tensors (``matmul`` without broadcasting)."""
    a, b = as_tensor(a), as_tensor(b)
    _matrices("mm", (a, 2), (b, 2))
    return matmul(a, b)


def bmm(a: Any, b: Any) -> Tensor:
    """Batched matrix product of two 3-D tensors with the same batch size."""
    a, b = as_tensor(a), as_tensor(b)
    _matrices("bmm", (a, 3), (b, 3))
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: expected the same batch size, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def mv(a: Any, v: Any) -> Tensor:
    """Product of a 2-D matrix and a 1-D vector."""
    a, v = as_tensor(a), as_tensor(v)
    _matrices("mv", (a, 2), (v, 1))
    return matmul(a, v)


def dot(a: Any, b: Any) -> Tensor:
    """Inner product of two 1-D tensors of one length."""
    a, b = as_tensor(a), as_tensor(b)
    _matrices("dot", (a, 1), (b, 1))
    return matmul(a, b)


def outer(a: Any, b: Any) -> Tensor:
    """Outer product of two 1-D tensors: ``out[i, j] = a[i] * b[j]``."""
    a, b = as_tensor(a), as_tensor(b)
    _matrices("outer", (a, 1), (b, 1))
    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def trace(x: Any) -> Tensor:
    """Sum of the main diagonal of a 2-D tensor."""
    x = as_tensor(x)
    _matrices("trace", (x, 2))
    n = builtins.min(x.shape)
    diagonal = index(x, (np.arange(n), np.arange(n)))
    return _sum(diagonal)


def _axis(where: str, x: Tensor, dim: int) -> int:
    check_axis(dim, x.ndim, where)
    return int(dim) % builtins.max(x.ndim, 1)


def _vector(x: Any) -> Any:
    """A 0-d tensor or array as one of shape (1,), as PyTorch's ops that index along a dim
    (gather, scatter, index_*) read it; anything else as it is."""
    if isinstance(x, Tensor | np.ndarray) and x.ndim == 0:
        return reshape(as_tensor(x), (1,))
    return x


def index_select(x: Any, dim: int, index: Any) -> Tensor:
    """The entries at ``index`` (1-D integers) along ``dim``."""
    x = as_tensor(x)
    axis, picks = _along("index_select", x, dim, index)
    if x.ndim == 0:  # read as shape (1,), as in PyTorch; the one entry, 0-d again
        if picks.size != 1:
            raise IndexError(
                f"index_select: a 0-d tensor takes an index of one value, got {picks.size}"
            )
        return reshape(index_select(_vector(x), dim, picks), ())
    return _index(x, (slice(None),) * axis + (picks,))


def masked_select(x: Any, mask: Any) -> Tensor:
    """The entries where ``mask`` (broadcast to ``x``'s shape) is true, as a 1-D tensor."""
    x = as_tensor(x)
    flags = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if flags.dtype != np.bool_:
        raise TypeError(f"masked_select: expected a boolean mask, got dtype {flags.dtype}")
    shape = np.broadcast_shapes(x.shape, flags.shape)
    if shape != x.shape:
        x = x.expand(*shape)
    return index(x, np.broadcast_to(flags, shape))


def narrow(x: Any, dim: int, start: int, length: int) -> Tensor:
    """``length`` entries along ``dim`` from ``start``."""
    x = as_tensor(x)
    axis = _axis("narrow", x, dim)
    size = x.shape[axis]
    start = int(start) + size if start < 0 else int(start)
    if start < 0 or length < 0 or start + length > size:
        raise IndexError(
            f"narrow: expected start and length within the {size} entries of axis {axis}, "
            f"got start={start}, length={length}"
        )
    return index(x, (slice(None),) * axis + (slice(start, start + int(length)),))


def select(x: Any, dim: int, i: int) -> Tensor:
    """The slice at position ``i`` along ``dim`` (that axis removed)."""
    x = as_tensor(x)
    axis = _axis("select", x, dim)
    return index(x, (slice(None),) * axis + (int(i),))


def unflatten(x: Any, dim: int, sizes: Any) -> Tensor:
    """Axis ``dim`` split into ``sizes`` (one of them may be -1)."""
    x = as_tensor(x)
    axis = _axis("unflatten", x, dim)
    given = sizes = tuple(int(s) for s in sizes)
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) == 1 and known:
        # Inferred from the axis alone, as in PyTorch: reshape would infer it from the whole
        # tensor, and cannot when another axis has length 0.
        sizes = tuple(x.shape[axis] // known if s == -1 else s for s in sizes)
    if -1 in sizes or math.prod(sizes) != x.shape[axis]:
        raise ValueError(
            f"unflatten: expected sizes whose product is the length {x.shape[axis]} of axis "
            f"{dim} (at most one -1, beside no 0), got {given}"
        )
    return reshape(x, x.shape[:axis] + sizes + x.shape[axis + 1 :])


def movedim(x: Any, source: Any, destination: Any) -> Tensor:
    """Axes ``source`` moved to positions ``destination`` (the others keep their order)."""
    x = as_tensor(x)
    axes = list(range(x.ndim))
    check_axis(tuple(int(s) for s in np.atleast_1d(source)), x.ndim, "movedim")
    check_axis(tuple(int(d) for d in np.atleast_1d(destination)), x.ndim, "movedim")
    src = [int(s) % builtins.max(x.ndim, 1) for s in np.atleast_1d(source)]
    dst = [int(d) % builtins.max(x.ndim, 1) for d in np.atleast_1d(destination)]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: expected distinct dims, got {src} and {dst}")
    if x.ndim == 0:
        return x
    if len(src) != len(dst):
        raise ValueError(f"movedim: expected as many destinations as sources, got {src} and {dst}")
    rest = [a for a in axes if a not in src]
    result = [0] * x.ndim
    for s, d in zip(src, dst, strict=True):
        result[d] = s
    filled = iter(rest)
    for position in range(x.ndim):
        if position not in dst:
            result[position] = next(filled)
    return permute(x, *result)


def diag_embed(x: Any, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices with the last axis of ``x`` on their diagonal, as PyTorch's ``diag_embed``.

    Parameters
    ----------
    x : Tensor of shape (*batch, n)
        The diagonals.
    offset : int, default=0
        Which diagonal: 0 the main one, > 0 above it, < 0 below.
    dim1, dim2 : int, default=-2, -1
        The axes of the result that hold the matrices' rows and columns (counted in the
        result, which has one more axis than ``x``).

    Returns
    -------
    Tensor
        Of shape ``batch`` with axes of size ``n + abs(offset)`` put at ``dim1`` and
        ``dim2``; zeros off the diagonal, whose gradient is 0. ``result.diagonal(offset,
        dim1, dim2)`` is ``x``.

    Raises
    ------
    ValueError
        If ``dim1`` and ``dim2`` name the same axis.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.diag_embed(cr.tensor([[1.0, 2.0]]), offset=1)
    tensor([[[0., 1., 0.],
             [0., 0., 2.],
             [0., 0., 0.]]])
    """
    from chainrule.autograd.ops.shape import expand, pad

    x = as_tensor(x)
    ndim = x.ndim + 1
    check_axis((dim1, dim2), ndim, "diag_embed")
    first, second = int(dim1) % ndim, int(dim2) % ndim
    if first == second:
        raise ValueError(f"diag_embed: expected two different dimensions, got {dim1} and {dim2}")
    *batch, n = x.shape
    zero = Tensor._from_op(np.zeros((), x.dtype), None)
    # where, not a product with the identity, so that inf stays off the zeros (as diag)
    square = where(np.eye(n, dtype=bool), expand(reshape(x, (*batch, n, 1)), *batch, n, n), zero)
    k = int(offset)
    before, after = builtins.max(-k, 0), builtins.max(k, 0)
    square = pad(square, ((0, 0),) * len(batch) + ((before, after), (after, before)))
    return movedim(square, (-2, -1), (first, second))


def roll(x: Any, shifts: Any, dims: Any = None) -> Tensor:
    """Entries shifted along ``dims`` by ``shifts``, wrapping around (flattened when ``dims``
    is None)."""
    x = as_tensor(x)
    if dims is None:
        flat = reshape(x, (-1,))
        order = np.roll(np.arange(flat.shape[0]), int(np.sum(shifts)))
        return reshape(index(flat, order), x.shape)
    shift_list = np.atleast_1d(shifts).tolist()
    dim_list = np.atleast_1d(dims).tolist()
    if len(shift_list) != len(dim_list):
        raise ValueError(f"roll: expected one shift per dim, got {shift_list} and {dim_list}")
    out = x
    for shift, dim in zip(shift_list, dim_list, strict=True):
        axis = _axis("roll", x, int(dim))
        order = np.roll(np.arange(x.shape[axis]), int(shift))
        out = index(out, (slice(None),) * axis + (order,))
    return out


def cumprod(x: Any, dim: int, *, dtype: Any = None) -> Tensor:
    """Cumulative product along ``dim`` (integers and booleans multiply as int64, as in
    PyTorch), in ``dtype`` if given (bool is refused, as PyTorch refuses it). Composed of
    products of slices, so the gradient is right where x has zeros."""
    x = as_tensor(x)
    axis = _axis("cumprod", x, dim)
    if dtype is not None:
        x = _accumulated_as("cumprod", x, dtype)
    elif x.dtype.kind in "biu":
        x = Tensor._from_op(x.data.astype(np.int64), None)
    if x.ndim == 0 or x.shape[axis] <= 1:
        return x * 1 if x.requires_grad else Tensor._from_op(x.data.copy(), None)
    if not x.requires_grad:
        return Tensor._from_op(np.cumprod(x.data, axis=axis), None)
    lead = (slice(None),) * axis
    running = [index(x, (*lead, slice(0, 1)))]
    for i in range(1, x.shape[axis]):
        running.append(mul(running[-1], index(x, (*lead, slice(i, i + 1)))))
    return concatenate(running, axis)


def median(x: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    """The lower median (of two middle values, the smaller) of all elements, or
    ``(values, indices)`` along ``dim``; NaN where a NaN is present, as in PyTorch.

    Without ``dim`` the gradient is shared evenly by the elements equal to the median, as
    PyTorch's; along ``dim`` it goes to the element at the returned index.
    """
    x = as_tensor(x)
    if x.dtype.kind == "b":
        raise TypeError("median: expected a numeric tensor, got dtype bool (as in PyTorch)")
    if dim is None:
        if x.data.size == 0:
            if x.dtype.kind != "f":
                raise ValueError(f"median: expected a non-empty tensor, got shape {x.shape}")
            return _sum(x) + math.nan  # NaN, as PyTorch's
        flat = x.data.reshape(-1)
        order = np.argsort(flat, kind="stable")  # NaN sorts last
        has_nan = np.isnan(flat).any() if flat.dtype.kind == "f" else False
        pick = order[-1] if has_nan else order[(flat.size - 1) // 2]
        value = flat[pick]
        if not x.requires_grad:
            return Tensor._from_op(np.asarray(value), None)
        tied = np.flatnonzero(np.isnan(flat) if has_nan else flat == value)
        # value + mean(tied - value): exactly the value, with 1 / count to each tied element
        picked = index(reshape(x, (-1,)), (tied,))
        return (picked - value).mean() + value
    axis = _axis("median", x, dim)
    if x.ndim == 0:
        values = x * 1 if x.requires_grad else x
        return ValuesIndices(values, Tensor._from_op(np.zeros((), np.int64), None))
    if x.shape[axis] == 0:
        raise ValueError(f"median: expected a non-empty axis {axis}, got shape {x.shape}")
    order = np.argsort(x.data, axis=axis, kind="stable")
    if x.dtype.kind == "f":
        nan_count = np.isnan(x.data).sum(axis=axis, keepdims=True)
        middle = np.where(nan_count > 0, x.shape[axis] - nan_count, (x.shape[axis] - 1) // 2)
    else:
        middle = np.full(_kept(x.shape, axis), (x.shape[axis] - 1) // 2)
    picks = np.take_along_axis(order, middle, axis=axis).astype(np.int64)
    values = gather(x, axis, picks)
    if not keepdim:
        values, picks = reshape(values, _dropped(x.shape, axis)), picks.squeeze(axis)
    return ValuesIndices(values, Tensor._from_op(picks, None))


def _kept(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    return shape[:axis] + (1,) + shape[axis + 1 :]


def _dropped(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    return shape[:axis] + shape[axis + 1 :]


@register("lerp")
class Lerp(Function):
    """y = start + w (end - start);  dy/dstart = 1 - w, dy/dend = w, dy/dw = end - start.

    NOTE: where |w| >= 0.5, y is computed from the nearer end, end - (end - start)(1 - w), as
    in PyTorch: y = end exactly at w = 1, and an infinite start gives an infinite y there
    (start + w (end - start) would be -inf + inf = NaN). A number w is rounded to the
    input's dtype first (float32 for float16, which is computed in float32), as PyTorch
    rounds it, so that 1 - w rounds alike.
    """

    @staticmethod
    @quietly
    def forward(ctx: Context, start: Array, end: Any, weight: Any) -> Array:
        ctx.shapes = (np.shape(start), np.shape(end), np.shape(weight))
        try:
            np.broadcast_shapes(*ctx.shapes)
        except ValueError:
            raise ValueError(
                f"lerp: the input, end and weight could not be broadcast together, got shapes "
                f"{ctx.shapes[0]}, {ctx.shapes[1]} and {ctx.shapes[2]}"
            ) from None
        ctx.save_for_backward(start, end, weight)
        dtype = start.dtype
        if dtype == np.float16:
            start, end = start.astype(np.float32), np.asarray(end, np.float32)
            weight = np.asarray(weight, np.float32)
        elif np.ndim(weight) == 0:
            weight = dtype.type(weight)
        diff = end - start
        if np.ndim(weight) == 0:
            y = start + weight * diff if abs(weight) < 0.5 else end - diff * (1 - weight)
        else:
            y = np.where(np.abs(weight) < 0.5, start + weight * diff, end - diff * (1 - weight))
        return np.asarray(y).astype(dtype, copy=False)

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, ...]:
        start, end, weight = ctx.saved
        d_start, d_end, d_weight = ctx.needs_input_grad
        start_shape, end_shape, weight_shape = ctx.shapes
        return (
            unbroadcast(grad * (1 - weight), start_shape) if d_start else None,
            unbroadcast(grad * weight, end_shape) if d_end else None,
            unbroadcast(grad * (end - start), weight_shape) if d_weight else None,
        )


def lerp(input: Any, end: Any, weight: Any) -> Tensor:
    """Linear interpolation ``input + weight * (end - input)`` (``weight`` a number or a
    tensor; all three broadcast together), as in PyTorch, which computes it from ``end``
    where |weight| >= 0.5: ``lerp(a, b, 1)`` is ``b`` exactly.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.lerp(cr.tensor([0.0, 10.0]), cr.tensor([1.0, 20.0]), 0.25)
    tensor([ 0.2500, 12.5000])
    """
    start, end = binary_operands(as_floating_tensor(input), end)
    if not _is_python_number(weight):
        # PyTorch's dtype rules, as for arithmetic: a weight tensor may turn a 0-d start's
        # dtype, and the end follows
        start, weight = binary_operands(start, weight)
        if isinstance(end, Tensor):
            end, _ = binary_operands(end, start)
    result: Tensor = Lerp.apply(start, end, weight)
    return result


def _sort_order(data: Array, axis: int, descending: bool, stable: bool) -> Array:
    if not descending:
        return np.argsort(data, axis=axis, kind="stable" if stable else "quicksort")
    # Descending, stable, NaN first (as PyTorch): sort the reversed axis ascending, so that
    # NaN goes last and equal values keep their reversed order, then read it backwards.
    n = data.shape[axis]
    ascending = np.argsort(np.flip(data, axis=axis), axis=axis, kind="stable")
    return n - 1 - np.flip(ascending, axis=axis)


def sort(x: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> ValuesIndices:
    """``(values, indices)`` sorted along ``dim`` (also ``.values``, ``.indices``, as
    PyTorch's); the gradient goes to where each value came from."""
    x = as_tensor(x)
    axis = _axis("sort", x, dim)
    if x.ndim == 0:
        values = x * 1 if x.requires_grad else x
        return ValuesIndices(values, Tensor._from_op(np.zeros((), np.int64), None))
    order = _sort_order(x.data, axis, descending, stable).astype(np.int64)
    values = gather(x, axis, order)
    return ValuesIndices(values, Tensor._from_op(order, None))


def msort(x: Any) -> Tensor:
    """The values of ``x`` sorted along its first axis (PyTorch's ``msort``:
    ``sort(x, 0).values``)."""
    return sort(x, 0).values


def mode(x: Any, dim: int = -1, keepdim: bool = False) -> ValuesIndices:
    """``(values, indices)``: the most frequent value along ``dim`` (the smallest of those
    tied for most frequent) and the position of its last occurrence, as PyTorch's ``mode``;
    the gradient goes to the element each index names."""
    x = as_tensor(x)
    axis = _axis("mode", x, dim)
    if x.ndim == 0:
        return sort(x)  # the element and index 0, as PyTorch's
    n = x.shape[axis]
    if n == 0:
        raise ValueError(f"mode: cannot reduce an empty axis, got shape {x.shape}")
    rows = np.moveaxis(x.data, axis, -1).reshape(-1, n)
    picks = np.zeros(len(rows), dtype=np.int64)
    for r, row in enumerate(rows):  # a Python loop over the rows: np.unique is per row
        _, inverse, counts = np.unique(row, return_inverse=True, return_counts=True)
        winner = np.argmax(counts)  # the first of the tied counts: the smallest value
        picks[r] = n - 1 - np.argmax(inverse.reshape(-1)[::-1] == winner)
    shape = list(x.shape)
    shape[axis] = 1
    index_ = np.moveaxis(picks.reshape(shape[:axis] + shape[axis + 1 :] + [1]), -1, axis)
    chosen = gather(x, axis, index_)
    found = Tensor._from_op(index_, None)
    if not keepdim:
        chosen, found = chosen.squeeze(axis), found.squeeze(axis)
    return ValuesIndices(chosen, found)


def argsort(x: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``x`` along ``dim``."""
    return sort(x, dim, descending, stable)[1]


def topk(x: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> ValuesIndices:
    """``(values, indices)`` of the ``k`` largest (or smallest) entries along ``dim`` (also
    ``.values``, ``.indices``, as PyTorch's)."""
    x = as_tensor(x)
    axis = _axis("topk", x, dim)
    length = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= length:
        raise ValueError(
            f"topk: expected k in [0, {length}] for axis {axis} of shape {x.shape}, got {k}"
        )
    if x.ndim == 0:
        return sort(x)  # the element and index 0, as PyTorch's (for k = 0 too)
    order = _sort_order(x.data, axis, largest, True).astype(np.int64)
    picked = np.take(order, np.arange(k), axis=axis)
    return ValuesIndices(gather(x, axis, picked), Tensor._from_op(picked, None))


# --------------------------------------------------------------------- queries, no derivative
def _values(x: Any) -> Array:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def isnan(x: Any) -> Tensor:
    """Where ``x`` is NaN (a boolean tensor)."""
    return Tensor._from_op(np.isnan(_values(x)), None)


def isinf(x: Any) -> Tensor:
    """Where ``x`` is +-infinity."""
    return Tensor._from_op(np.isinf(_values(x)), None)


def isfinite(x: Any) -> Tensor:
    """Where ``x`` is neither NaN nor infinite."""
    return Tensor._from_op(np.isfinite(_values(x)), None)


def isclose(
    a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """Where ``|a - b| <= atol + rtol * |b|``, elementwise (PyTorch's defaults)."""
    return Tensor._from_op(
        np.isclose(_values(a), _values(b), rtol=rtol, atol=atol, equal_nan=equal_nan), None
    )


def allclose(
    a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """Whether ``isclose`` holds everywhere."""
    return bool(np.allclose(_values(a), _values(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` have the same shape and the same values."""
    x, y = _values(a), _values(b)
    return x.shape == y.shape and bool(np.array_equal(x, y))


def nonzero(x: Any, *, as_tuple: bool = False) -> Any:
    """The indices of the nonzero entries: an (n, ndim) int64 tensor, or with ``as_tuple``
    one 1-D tensor per axis."""
    _read_in_python()  # the result's shape tells Python how many entries are nonzero
    values = _values(x)
    if values.ndim == 0:  # a scalar: one hit with no coordinates, or none (as PyTorch)
        hits = int(bool(values))
        if as_tuple:
            return (Tensor._from_op(np.zeros(hits, np.int64), None),)
        return Tensor._from_op(np.zeros((hits, 0), np.int64), None)
    found = np.nonzero(values)
    if as_tuple:
        return tuple(Tensor._from_op(i.astype(np.int64), None) for i in found)
    return Tensor._from_op(np.stack(found, axis=1).astype(np.int64), None)


def argwhere(x: Any) -> Tensor:
    """``nonzero(x)``: the (n, ndim) indices of the nonzero entries."""
    return nonzero(x)


def count_nonzero(x: Any, dim: Any = None) -> Tensor:
    """How many entries are nonzero, overall (``dim`` None or ()) or along ``dim``."""
    dim = torch_dim(dim)
    axis = tuple(dim) if isinstance(dim, list | tuple) else dim
    return Tensor._from_op(np.asarray(np.count_nonzero(_values(x), axis=axis), np.int64), None)


def logical_xor(a: Any, b: Any) -> Tensor:
    """Elementwise exclusive or of the truth values."""
    return Tensor._from_op(np.logical_xor(_values(a), _values(b)), None)


# --------------------------------------------------------------------- scatter and index_*
@register("scatter_add")
class ScatterAdd(Function):
    """y = x with ``src[k]`` added at position ``coords[k]`` (repeats add up);
    dL/dx = g, dL/dsrc_k = g[coords[k]]."""

    @staticmethod
    def forward(ctx: Context, x: Array, src: Array, coords: tuple[Array, ...]) -> Array:
        ctx.coords = coords
        out = x.copy()
        np.add.at(out, coords, src)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, Array, None]:
        return grad, grad[ctx.coords], None


def _scatter_coords(where: str, x: Tensor, dim: int, index_: Any) -> tuple[int, tuple[Array, ...]]:
    """The positions of ``x`` that PyTorch's scatter writes: along ``dim`` the values of
    ``index_``, along every other axis the position within ``index_``."""
    axis = _axis(where, x, dim)
    picks = np.asarray(index_.data if isinstance(index_, Tensor) else index_)
    if picks.ndim == 0 and x.ndim == 1:
        picks = picks.reshape(1)  # one position of a vector, as PyTorch takes it
    if picks.dtype.kind not in "iu" or picks.ndim != x.ndim:
        raise TypeError(
            f"{where}: expected an integer index with {x.ndim} dimensions, got dtype "
            f"{picks.dtype} and shape {picks.shape}"
        )
    _check_range(where, picks, x, axis)
    grid: list[Array] = [np.asarray(g) for g in np.indices(picks.shape)]
    grid[axis] = picks
    return axis, tuple(grid)


def _scatter_source(where: str, src: Any, picks_shape: tuple[int, ...], dtype: Any) -> Tensor:
    source = as_tensor(src) if isinstance(src, Tensor | np.ndarray) else None
    if source is None:  # a number: the same value everywhere
        return Tensor._from_op(np.full(picks_shape, src, dtype=dtype), None)
    if source.ndim != len(picks_shape) or any(
        s < p for s, p in zip(source.shape, picks_shape, strict=True)
    ):
        raise ValueError(
            f"{where}: expected src at least as large as the index {picks_shape} along every "
            f"axis, got shape {source.shape}"
        )
    if source.dtype != dtype:
        source = source.to(dtype)
    return index(source, tuple(slice(0, p) for p in picks_shape))


def scatter(
    x: Any, dim: int, index_: Any, src: Any = None, *, value: Any = None, reduce: Any = None
) -> Tensor:
    """A copy of ``x`` with ``src`` (or ``value``) written at the positions ``index_`` names
    along ``dim`` (PyTorch's ``scatter``; ``reduce='add'`` adds instead)."""
    x = as_tensor(x)
    if (src is None) == (value is None):
        raise TypeError("scatter: expected one of src (a tensor) or value (a number)")
    if x.ndim == 0:  # read as shape (1,), as in PyTorch
        check_axis(dim, 0, "scatter")
        out = scatter(_vector(x), 0, index_, _vector(src), value=value, reduce=reduce)
        return reshape(out, ())
    _, coords = _scatter_coords("scatter", x, dim, index_)
    source = _scatter_source("scatter", src if src is not None else value, coords[0].shape, x.dtype)
    if reduce in ("add", "sum"):
        return ScatterAdd.apply(x, source, coords)
    if reduce is not None:
        raise ValueError(f"scatter: expected reduce None or 'add', got {reduce!r}")
    from chainrule.autograd.ops.shape import index_put

    return index_put(x, coords, source)


def scatter_add(x: Any, dim: int, index_: Any, src: Any) -> Tensor:
    """A copy of ``x`` with ``src`` added at the positions ``index_`` names along ``dim``;
    positions named twice receive both."""
    return scatter(x, dim, index_, src, reduce="add")


def _along(
    where: str, x: Tensor, dim: int, index_: Any, *, negative: bool = False
) -> tuple[int, Array]:
    """The axis ``dim`` names and the 1-D index along it; ``negative`` lets indices count
    from the end (PyTorch's ``index_fill`` does, its ``index_select`` and ``index_add`` do
    not), and they come back wrapped."""
    axis = _axis(where, x, dim)
    picks = np.asarray(index_.data if isinstance(index_, Tensor) else index_)
    if picks.ndim > 1 or picks.dtype.kind not in "iu":
        raise TypeError(
            f"{where}: expected a 1-D integer index, got dtype {picks.dtype} and shape "
            f"{picks.shape}"
        )
    picks = picks.reshape(-1)  # a 0-d index names one slab, as PyTorch takes it
    _check_range(where, picks, x, axis, negative=negative)
    if negative and picks.size and picks.min() < 0:
        picks = np.where(picks < 0, picks + (x.shape[axis] if x.ndim else 1), picks)
    return axis, picks


def _check_range(where: str, picks: Array, x: Tensor, axis: int, *, negative: bool = False) -> None:
    """Raise unless every index in ``picks`` names a position of ``x`` along ``axis``
    (negative ones counting from the end only with ``negative``: most of PyTorch's
    indexing functions refuse them)."""
    size = x.shape[axis] if x.ndim else 1
    low = -size if negative else 0
    if picks.size and (picks.min() < low or picks.max() >= size):
        raise IndexError(
            f"{where}: index values must be in [{low}, {size - 1}] for axis {axis} of shape "
            f"{x.shape}, got {picks.min()}..{picks.max()}"
        )


def _slab_coords(shape: tuple[int, ...], axis: int, picks: Array) -> tuple[Array, ...]:
    """Every position of the slabs ``picks`` along ``axis``, as coordinates."""
    slab = list(shape)
    slab[axis] = len(picks)
    grid: list[Array] = [np.asarray(g) for g in np.indices(slab)]
    grid[axis] = picks[grid[axis]]
    return tuple(grid)


def _slab_source(
    where: str, x: Tensor, dim: int, index_: Any, source: Any
) -> tuple[tuple[Array, ...], Tensor]:
    """The coordinates of the slabs ``index_`` along ``dim`` of ``x``, and ``source`` as a
    tensor, checked to have their shape."""
    axis, picks = _along(where, x, dim, index_)
    coords = _slab_coords(x.shape, axis, picks)
    source = as_tensor(source)
    if source.shape != coords[0].shape:
        raise ValueError(f"{where}: expected source of shape {coords[0].shape}, got {source.shape}")
    return coords, source


def index_add(x: Any, dim: int, index_: Any, source: Any, *, alpha: Any = 1) -> Tensor:
    """A copy of ``x`` with ``alpha * source[i]`` added to slab ``index_[i]`` along ``dim``."""
    x = as_tensor(x)
    if x.ndim == 0:  # read as shape (1,), as in PyTorch
        check_axis(dim, 0, "index_add")
        return reshape(index_add(_vector(x), 0, index_, _vector(source), alpha=alpha), ())
    coords, source = _slab_source("index_add", x, dim, index_, source)
    if source.dtype != x.dtype:
        source = source.to(x.dtype)
    return ScatterAdd.apply(x, source if alpha == 1 else mul(source, alpha), coords)


def index_fill(x: Any, dim: int, index_: Any, value: Any) -> Tensor:
    """A copy of ``x`` with the slabs ``index_`` along ``dim`` set to ``value``; negative
    indices count from the end, as in PyTorch."""
    from chainrule.autograd.ops.shape import index_put

    x = as_tensor(x)
    if x.ndim == 0:  # read as shape (1,), as in PyTorch
        check_axis(dim, 0, "index_fill")
        return reshape(index_fill(_vector(x), 0, index_, value), ())
    axis, picks = _along("index_fill", x, dim, index_, negative=True)
    return index_put(x, (slice(None),) * axis + (picks,), value)


def index_put_values(x: Any, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    """PyTorch's ``index_put``: a copy of ``x`` with ``x[indices] = values`` (``indices`` a
    tuple of index tensors, one per leading axis; ``values`` broadcast), or with ``values``
    added there when ``accumulate`` (positions named twice add up both). The gradient
    reaches ``x`` (where it was not overwritten) and ``values``."""
    from chainrule.autograd.ops.shape import index_put

    if not isinstance(indices, tuple | list):
        raise TypeError(
            f"index_put: expected a tuple of index tensors, got {type(indices).__name__}"
        )
    if not accumulate:
        return index_put(x, tuple(indices), values)
    x = as_tensor(x)
    coords: list[Array] = []
    for k in indices:
        picks = k.data if isinstance(k, Tensor) else np.asarray(k)
        if picks.dtype == np.bool_:
            coords.extend(np.nonzero(picks))  # a mask: the positions where it holds
        elif picks.dtype.kind in "iu":
            coords.append(picks.astype(np.int64, copy=False))
        else:
            raise TypeError(f"index_put: expected integer or bool indices, got {picks.dtype}")
    try:
        region = np.broadcast_to(np.empty((), dtype=bool), x.shape)[tuple(coords)].shape
    except IndexError as error:
        raise IndexError(f"index_put: {error} (tensor shape {x.shape})") from None
    source = as_tensor(values)
    if source.dtype != x.dtype:
        source = source.to(x.dtype)
    if source.shape != region:
        try:
            source = source.expand(*region)
        except ValueError:
            raise ValueError(
                f"index_put: cannot broadcast values of shape {source.shape} to the indexed "
                f"shape {region}"
            ) from None
    return ScatterAdd.apply(x, source, tuple(coords))


def index_copy(x: Any, dim: int, index_: Any, source: Any) -> Tensor:
    """A copy of ``x`` with slab ``index_[i]`` along ``dim`` replaced by ``source[i]``."""
    from chainrule.autograd.ops.shape import index_put

    x = as_tensor(x)
    if x.ndim == 0:  # read as shape (1,), as in PyTorch
        check_axis(dim, 0, "index_copy")
        return reshape(index_copy(_vector(x), 0, index_, _vector(source)), ())
    coords, source = _slab_source("index_copy", x, dim, index_, source)
    return index_put(x, coords, source)


# --------------------------------------------------------------------- einsum
def _einsum_plan(equation: str, ndims: list[int]) -> tuple[list[str], str]:
    """The subscripts of each operand and of the output, with ``...`` spelled out in letters
    of its own (right-aligned, as NumPy broadcasts them) and the implicit output made
    explicit (the indices seen once, in order, after the broadcast ones)."""
    text = equation.replace(" ", "")
    inputs_text, arrow, output_text = text.partition("->")
    inputs = inputs_text.split(",")
    if len(inputs) != len(ndims):
        raise ValueError(
            f"einsum: expected {len(inputs)} operands for {equation!r}, got {len(ndims)}"
        )
    used = set(text)
    spare = iter(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used)
    widest = 0
    for subscripts, ndim in zip(inputs, ndims, strict=True):
        named = len(subscripts.replace("...", ""))
        if "..." in subscripts:
            widest = builtins.max(widest, ndim - named)
        elif named != ndim:
            raise ValueError(
                f"einsum: subscripts {subscripts!r} name {named} axes of an operand with {ndim}"
            )
    broadcast = "".join(next(spare) for _ in range(widest))
    spelled = []
    for subscripts, ndim in zip(inputs, ndims, strict=True):
        if "..." in subscripts:
            count = ndim - len(subscripts.replace("...", ""))
            subscripts = subscripts.replace("...", broadcast[widest - count :])
        if not subscripts.isalpha() and subscripts:
            raise ValueError(f"einsum: expected letters as subscripts, got {subscripts!r}")
        spelled.append(subscripts)
    if arrow:
        output = output_text.replace("...", broadcast)
    else:
        counts = Counter("".join(spelled))
        output = broadcast + "".join(
            sorted(c for c in counts if counts[c] == 1 and c not in broadcast)
        )
    return spelled, output


@register("einsum")
class Einsum(Function):
    """y = einsum(equation, *operands);  dL/d(operand i) = einsum of dL/dy with the other
    operands into operand i's subscripts (summed over its broadcast axes, spread over the
    axes that only it has)."""

    @staticmethod
    def returns_view(ctx: Context) -> bool:
        return True  # "ij->ji" and "ii->i" give NumPy views of the operand

    @staticmethod
    def forward(ctx: Context, plan: tuple[list[str], str], *operands: Array) -> Array:
        inputs, output = plan
        ctx.plan = plan
        ctx.save_for_backward(*operands)
        return np.asarray(np.einsum(",".join(inputs) + "->" + output, *operands))

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Any, ...]:
        inputs, output = ctx.plan
        operands = ctx.saved
        grads: list[Any] = [None]
        for i, (subscripts, operand) in enumerate(zip(inputs, operands, strict=True)):
            if not ctx.needs_input_grad[i + 1]:
                grads.append(None)
                continue
            others = [k for k in range(len(operands)) if k != i]
            reachable = set(output).union(*(inputs[k] for k in others))
            kept = "".join(c for c in subscripts if c in reachable)
            terms = [output, *(inputs[k] for k in others)]
            g = np.einsum(",".join(terms) + "->" + kept, grad, *(operands[k] for k in others))
            for axis, c in enumerate(subscripts):  # axes only this operand had: spread back
                if c not in reachable:
                    g = np.expand_dims(g, axis)
            stretched = tuple(k for k, n in enumerate(operand.shape) if n == 1 and g.shape[k] != 1)
            if stretched:  # a broadcast axis of size 1: the gradients of its copies add up
                g = g.sum(axis=stretched, keepdims=True)
            grads.append(np.broadcast_to(g, operand.shape).astype(operand.dtype, copy=True))
        return tuple(grads)


def _einsum_diagonals(x: Tensor, subscripts: str) -> tuple[Tensor, str]:
    """``x`` with each index that repeats in ``subscripts`` reduced to its diagonal, and
    the subscripts that are left (the diagonal's index last, where ``diagonal`` puts it)."""
    while len(set(subscripts)) != len(subscripts):
        letter = next(c for c in subscripts if subscripts.count(c) > 1)
        first = subscripts.index(letter)
        second = subscripts.index(letter, first + 1)
        if x.shape[first] != x.shape[second]:
            raise ValueError(
                f"einsum: index {letter!r} repeated in {subscripts!r} names axes of different "
                f"sizes {x.shape[first]} and {x.shape[second]}"
            )
        x = diagonal(x, 0, first, second)
        rest = subscripts[:first] + subscripts[first + 1 : second] + subscripts[second + 1 :]
        subscripts = rest + letter
    return x, subscripts


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, as PyTorch's and NumPy's ``einsum``: ``einsum("ij,jk->ik", a, b)``
    is ``a @ b``; ``...`` stands for broadcast axes; without ``->`` the output takes the
    indices seen once, in alphabetical order.

    An index repeated within one operand takes that operand's diagonal (``"ii->i"``,
    ``"ii"`` the trace), as in PyTorch.

    Raises
    ------
    ValueError
        If the subscripts do not fit the operands.
    """
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])  # PyTorch also takes the operands as one list
    tensors = [as_tensor(t) for t in operands]
    inputs, output = _einsum_plan(equation, [t.ndim for t in tensors])
    for k, subscripts in enumerate(inputs):
        tensors[k], inputs[k] = _einsum_diagonals(tensors[k], subscripts)
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        raise TypeError(f"einsum: expected operands of one dtype, got {sorted(map(str, dtypes))}")
    try:
        return Einsum.apply((inputs, output), *tensors)
    except ValueError as error:
        raise ValueError(
            f"einsum: {equation!r} does not fit the operands' shapes: {error}"
        ) from None


# --------------------------------------------------------------- kthvalue, cummax, NaN, take
def kthvalue(x: Any, k: int, dim: int = -1, keepdim: bool = False) -> ValuesIndices:
    """``(values, indices)`` of the ``k``-th smallest entry (``k`` counts from 1) along
    ``dim``, as PyTorch's; the gradient goes to the element at the returned index."""
    x = as_tensor(x)
    axis = _axis("kthvalue", x, dim)
    length = x.shape[axis] if x.ndim else 1
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= length:
        raise ValueError(
            f"kthvalue: expected k in [1, {length}] for axis {axis} of shape {x.shape}, got {k!r}"
        )
    if x.ndim == 0:
        return sort(x)
    order = np.argsort(x.data, axis=axis, kind="stable")  # NaN sorts last, as in PyTorch
    picks = np.take(order, [k - 1], axis=axis).astype(np.int64)
    values = gather(x, axis, picks)
    if not keepdim:
        values, picks = reshape(values, _dropped(x.shape, axis)), picks.squeeze(axis)
    return ValuesIndices(values, Tensor._from_op(picks, None))


def _running_pick(data: Array, axis: int, better: Any) -> Array:
    """For each position along ``axis``, the index of the best element so far: a later
    element wins ties, and the first NaN wins for good (PyTorch's ``cummax``/``cummin``)."""
    moved = np.moveaxis(data, axis, 0)
    picks = np.zeros(moved.shape, dtype=np.int64)
    if moved.shape[0] == 0:
        return np.moveaxis(picks, 0, axis)
    best, best_index = moved[0], np.zeros(moved.shape[1:], dtype=np.int64)
    floating = data.dtype.kind == "f"
    with np.errstate(invalid="ignore"):
        for i in range(1, moved.shape[0]):
            take = better(moved[i], best)
            if floating:  # NaN wins, and a later NaN takes over, as PyTorch picks
                take = (take & ~np.isnan(best)) | np.isnan(moved[i])
            best = np.where(take, moved[i], best)
            best_index = np.where(take, i, best_index)
            picks[i] = best_index
    return np.moveaxis(picks, 0, axis)


def _cumulative_extreme(where: str, x: Any, dim: int, better: Any) -> ValuesIndices:
    x = as_tensor(x)
    if x.ndim == 0:
        return sort(x)
    axis = _axis(where, x, dim)
    data = x.data.astype(np.int8) if x.dtype.kind == "b" else x.data  # False < True
    picks = _running_pick(data, axis, better)
    return ValuesIndices(gather(x, axis, picks), Tensor._from_op(picks, None))


def cummax(x: Any, dim: int) -> ValuesIndices:
    """``(values, indices)``: the largest element so far along ``dim``, and where it is
    (the latest of equal ones; NaN, once met, stays, at the latest NaN), as PyTorch's. The
    gradient goes to the element at each index."""
    return _cumulative_extreme("cummax", x, dim, np.greater_equal)


def cummin(x: Any, dim: int) -> ValuesIndices:
    """``(values, indices)``: the smallest element so far along ``dim`` (see ``cummax``)."""
    return _cumulative_extreme("cummin", x, dim, np.less_equal)


def _without_nan(x: Tensor) -> Tensor:
    if x.dtype.kind != "f":
        return x
    zero = Tensor._from_op(np.zeros((), x.dtype), None)
    return where(isnan(x), zero, x)


def nansum(x: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The sum over ``dim`` (all axes by default) with NaN counted as 0, as PyTorch's
    ``nansum``; NaN entries get a gradient of 0."""
    x = as_tensor(x)
    return _sum(_without_nan(x), dim=dim, keepdim=keepdim, dtype=dtype)


def nanmean(x: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The mean over ``dim`` of the entries that are not NaN (NaN where all are), as
    PyTorch's ``nanmean``; each entry that counts gets a gradient of 1 / their number."""
    x = as_tensor(x)
    if dtype is not None:
        x = x.to(dtype)
    if x.dtype.kind != "f":
        raise TypeError(
            f"nanmean: expected a floating-point tensor, got dtype {x.dtype}; "
            f"convert first, e.g. x.float()"
        )
    present = Tensor._from_op((~np.isnan(x.data)).astype(x.dtype), None)
    counts = _sum(present, dim=dim, keepdim=keepdim)
    return div(nansum(x, dim, keepdim), counts)  # 0 / 0 where all are NaN: NaN


def nan_to_num(
    x: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Tensor:
    """``x`` with NaN replaced by ``nan``, +inf by ``posinf`` and -inf by ``neginf`` (by
    default the dtype's largest and smallest finite values), as PyTorch's; replaced entries
    get a gradient of 0."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        return x * 1 if x.requires_grad else Tensor._from_op(x.data.copy(), None)
    info = np.finfo(x.dtype)
    out = x
    for mask, value in (
        (np.isnan(x.data), nan),
        (np.isposinf(x.data), info.max if posinf is None else posinf),
        (np.isneginf(x.data), info.min if neginf is None else neginf),
    ):
        filler = Tensor._from_op(np.asarray(value, dtype=x.dtype), None)
        out = where(Tensor._from_op(mask, None), filler, out)
    return out


def addcmul(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """``input + value * tensor1 * tensor2`` (broadcasting), as PyTorch's ``addcmul``."""
    return add(input, mul(tensor1, tensor2), alpha=value)


def addcdiv(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """``input + value * tensor1 / tensor2`` (broadcasting), as PyTorch's ``addcdiv``."""
    return add(input, div(tensor1, tensor2), alpha=value)


def repeat_interleave(
    x: Any, repeats: Any = None, dim: int | None = None, *, output_size: int | None = None
) -> Tensor:
    """Each element repeated ``repeats`` times (an int, or one count per element along
    ``dim``), as PyTorch's ``repeat_interleave``: ``[1, 2]`` twice each is ``[1, 1, 2, 2]``.
    Without ``dim`` the tensor is flattened first. The gradient of each element is the sum
    over its copies. Given counts alone (``repeat_interleave(counts)``), each position
    0, 1, ... repeated as often as its count says: ``[1, 2]`` gives ``[0, 1, 1]``."""
    if repeats is None:
        counts = x.data if isinstance(x, Tensor) else np.asarray(x)
        positions = np.arange(counts.shape[0] if counts.ndim else 1)
        return repeat_interleave(Tensor._from_op(positions, None), x, output_size=output_size)
    x = as_tensor(x)
    if dim is None:
        x, axis = reshape(x, (-1,)), 0
    else:
        axis = _axis("repeat_interleave", x, dim)
    length = x.shape[axis] if x.ndim else 1
    counts = repeats.data if isinstance(repeats, Tensor) else np.asarray(repeats)
    if counts.dtype.kind not in "iu" or counts.ndim > 1:
        raise TypeError(
            f"repeat_interleave: expected repeats as an int or a 1-D integer tensor, got "
            f"{repeats!r}"
        )
    if counts.ndim == 1:
        _read_in_python()  # the result's length depends on the counts' values
    if counts.ndim == 1 and counts.size not in (1, length):
        raise ValueError(
            f"repeat_interleave: expected {length} repeats (one per element along axis "
            f"{axis}) or one, got {counts.size}"
        )
    if (counts < 0).any():
        raise ValueError(f"repeat_interleave: expected repeats >= 0, got {repeats!r}")
    picks = np.repeat(np.arange(length), np.broadcast_to(counts.reshape(-1), (length,)))
    if output_size is not None and output_size != picks.size:
        raise ValueError(
            f"repeat_interleave: output_size={output_size} does not match the "
            f"{picks.size} elements the repeats give"
        )
    if x.ndim == 0:
        x = reshape(x, (1,))
    return index(x, (slice(None),) * axis + (picks.astype(np.int64),))


def diff(x: Any, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (``x[1:] - x[:-1]``, ``n`` times), with
    ``prepend`` and ``append`` joined on first, as PyTorch's ``diff``; booleans give
    ``x[1:] != x[:-1]``."""
    x = as_tensor(x)
    if x.ndim == 0:
        raise ValueError("diff: expected a tensor with at least 1 dimension, got a 0-d tensor")
    axis = _axis("diff", x, dim)
    parts = [p for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        x = concatenate([as_tensor(p) for p in parts], axis)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"diff: expected n >= 0, got {n!r}")
    lead = (slice(None),) * axis
    for _ in range(n):
        later, earlier = index(x, (*lead, slice(1, None))), index(x, (*lead, slice(None, -1)))
        x = later.ne(earlier) if x.dtype.kind == "b" else later - earlier
    return x


def _integer_indices(where: str, indices: Any) -> Array:
    picks = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if picks.dtype.kind not in "iu":
        raise TypeError(f"{where}: expected integer indices, got dtype {picks.dtype}")
    return picks.astype(np.int64, copy=False)


def take(x: Any, indices: Any) -> Tensor:
    """The elements of ``x``, read as if flattened, at ``indices`` (the result has the
    indices' shape), as PyTorch's ``take``."""
    x = as_tensor(x)
    picks = _integer_indices("take", indices)
    return index(reshape(x, (-1,)), (picks,))


def take_along_dim(x: Any, indices: Any, dim: int | None = None) -> Tensor:
    """The elements of ``x`` at ``indices`` along ``dim``, the other axes broadcast
    together (``x.take_along_dim(x.argsort(1), 1)`` sorts each row), as PyTorch's and
    NumPy's ``take_along_axis``; without ``dim``, over the flattened ``x``."""
    x = as_tensor(x)
    picks = _integer_indices("take_along_dim", indices)
    if dim is None:
        return index(reshape(x, (-1,)), (picks.reshape(-1),))
    axis = _axis("take_along_dim", x, dim)
    if x.ndim == 0:
        raise IndexError(
            f"take_along_dim: dim {dim} needs a tensor with at least 1 dimension, got a 0-d "
            f"tensor; leave dim out to take from the flattened tensor"
        )
    if picks.ndim != x.ndim:
        raise ValueError(
            f"take_along_dim: expected indices with as many dimensions as the input "
            f"({x.ndim}), got shape {picks.shape}"
        )
    try:
        common = np.broadcast_shapes(_kept(x.shape, axis), _kept(picks.shape, axis))
    except ValueError:
        raise ValueError(
            f"take_along_dim: the shapes {x.shape} and {picks.shape} do not broadcast outside "
            f"axis {axis}"
        ) from None
    _check_range("take_along_dim", picks, x, axis, negative=True)
    if picks.size and picks.min() < 0:  # counted from the end, as PyTorch's (gather's not)
        picks = np.where(picks < 0, picks + x.shape[axis], picks)
    x_shape = common[:axis] + (x.shape[axis],) + common[axis + 1 :]
    picks_shape = common[:axis] + (picks.shape[axis],) + common[axis + 1 :]
    if x.shape != x_shape:
        x = x.expand(*x_shape)
    return gather(x, axis, np.broadcast_to(picks, picks_shape))
