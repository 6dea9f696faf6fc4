"""Reductions over axes: sum, mean, max, min, var, std, prod, norm (and argmax/argmin).

Each takes NumPy's ``axis``/``keepdims`` and accepts PyTorch's ``dim``/``keepdim``. The
backward of a reduction restores the reduced axes (as size 1) and broadcasts back.
"""

from __future__ import annotations

import builtins
import math
from typing import Any, NamedTuple

from chainrule.autograd.function import (
    Context,
    Function,
    _add_reduce,
    masked,
    register,
    summed,
)
from chainrule.autograd.ops._operands import (
    as_tensor,
    check_axis,
    floating_only,
    normalize_axis,
    quietly,
    torch_dim,
)
from chainrule.autograd.ops.elementwise import cast, maximum, minimum
from chainrule.autograd.ops.shape import gather
from chainrule.backend import Array, np
from chainrule.tensor import Tensor


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """The reduced axes as non-negative ints."""
    if ndim == 0:
        return ()  # a 0-d tensor reduced over axis 0 or -1 is itself, as in PyTorch
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int | np.integer):
        axis = (axis,)
    return tuple(int(a) % builtins.max(ndim, 1) for a in axis)


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand(grad: Array, ctx: Context) -> Array:
    """The output gradient reshaped to keepdims form, ready to broadcast to the input."""
    if grad.ndim == 0 or grad.ndim == len(ctx.in_shape):
        return grad  # every axis reduced, or keepdims: it broadcasts as it is
    return grad.reshape(_kept_shape(ctx.in_shape, ctx.axes))


SPREAD_VIEW_SIZE = 16384
"""Inputs with more elements than this get their gradient as a broadcast view."""


def _spread(kept: Array, shape: tuple[int, ...]) -> Array:
    """``kept`` (in keepdims form) broadcast to ``shape``.

    Small results are written out: ``np.broadcast_to`` is a Python-level function that
    costs several microseconds, more than filling a few thousand elements. Large ones stay
    a read-only view, which costs no memory.
    """
    if math.prod(shape) > SPREAD_VIEW_SIZE:
        return np.broadcast_to(kept, shape)
    out = np.empty(shape, dtype=kept.dtype)
    out[...] = kept
    return out


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return math.prod(shape[a] for a in axes)


def mean_array(x: Array, axes: tuple[int, ...], keepdims: bool = False) -> Array:
    """``x.mean(axis=axes, keepdims=keepdims)``, to the last bit, at less cost.

    For float32 and float64 it takes x.mean's own steps (sum, then divide by the count as
    an intp) without the Python-level wrapper, about 2 us less per call.
    """
    count = x.size if len(axes) == x.ndim else _count(x.shape, axes)
    if x.dtype.char not in "fd" or count == 0:
        # float16 sums in float32; an empty mean warns as NumPy's does.
        return x.mean(axis=axes, keepdims=keepdims)
    items = np.intp(count)
    total = _add_reduce(x, axis=axes, keepdims=keepdims)
    if type(total) is np.ndarray:
        return np.true_divide(total, items, out=total, casting="unsafe")
    return total.dtype.type(total / items)


@register("sum")
class Sum(Function):
    """y = sum of x over axes;  dy/dx = 1 for every reduced element."""

    @staticmethod
    def forward(ctx: Context, x: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
        ctx.in_shape, ctx.axes = x.shape, axes
        if x.dtype.kind == "u":  # unsigned integers sum as int64, as in PyTorch (NumPy: uint64)
            return _add_reduce(x, axis=axes, keepdims=keepdims, dtype=np.int64)
        return summed(x, axes, keepdims)  # float16 added up in float32, as in PyTorch

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None, None]:
        return _spread(_expand(grad, ctx), ctx.in_shape), None, None


@register("mean")
class Mean(Function):
    """y = mean of x over axes;  dy/dx = 1 / n, n the number of reduced elements."""

    @staticmethod
    def forward(ctx: Context, x: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
        ctx.in_shape, ctx.axes = x.shape, axes
        if x.size == 0:
            # NaN, silently as in PyTorch (NumPy warns "Mean of empty slice"); the sum of
            # nothing gives the shape.
            empty_sum = np.sum(x, axis=axes, keepdims=keepdims)
            return np.full(np.shape(empty_sum), np.nan, dtype=x.dtype)
        return mean_array(x, axes, keepdims)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None, None]:
        n = _count(ctx.in_shape, ctx.axes)
        if n == 0:  # no element to send a gradient to
            return np.zeros(ctx.in_shape, dtype=grad.dtype), None, None
        return _spread(divided(_expand(grad, ctx), n), ctx.in_shape), None, None


def divided(grad: Array, count: int) -> Array:
    """``grad / count`` in ``grad``'s dtype; for float16 divided in float32, where counts
    over 65,504 are no longer infinite (NumPy would turn the count into a float16 first)."""
    if grad.dtype == np.float16:
        return (grad.astype(np.float32) / count).astype(np.float16)
    return grad / count


@register("max")
class Max(Function):
    """y = max of x over axes;  dy/dx = 1 at the maximum, 0 elsewhere.

    NOTE: when several elements tie for the maximum the gradient is split evenly among
    them, as PyTorch's ``amax`` does. The other elements get 0 even from an infinite
    gradient, as from PyTorch's ``max`` (its ``amax`` multiplies by the mask: NaN there).
    """

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
        ctx.in_shape, ctx.axes = x.shape, axes
        kept = x.max(axis=axes, keepdims=True)
        ctx.save_for_backward(_reached(x, kept))
        return (
            kept if keepdims else kept.reshape([n for i, n in enumerate(x.shape) if i not in axes])
        )

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array, None, None]:
        (hit,) = ctx.saved
        ties = hit.sum(axis=ctx.axes, keepdims=True)
        share = (_expand(grad, ctx) / ties).astype(grad.dtype, copy=False)
        return masked(share, hit), None, None


def _reached(x: Array, extreme: Array) -> Array:
    """Where ``x`` holds its ``extreme`` (the max or min over some axes, kept as axes of 1):
    the elements that get the gradient. Where the extreme is NaN (a NaN among the values
    makes it so), the NaN elements, as in PyTorch."""
    hit = x == extreme
    if x.dtype.kind == "f":
        lost = np.isnan(extreme)
        if lost.any():
            hit |= np.isnan(x) & lost
    return hit


@register("min")
class Min(Function):
    """y = min of x over axes;  dy/dx = 1 at the minimum (split evenly on ties)."""

    @staticmethod
    def forward(ctx: Context, x: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
        ctx.in_shape, ctx.axes = x.shape, axes
        kept = x.min(axis=axes, keepdims=True)
        ctx.save_for_backward(_reached(x, kept))
        return (
            kept if keepdims else kept.reshape([n for i, n in enumerate(x.shape) if i not in axes])
        )

    backward = Max.backward


@register("var")
class Var(Function):
    """y = sum((x - mean)**2) / (n - correction);  dy/dx = 2 (x - mean) / (n - correction).

    With ``root=True`` (``std``) y = sqrt(var);  dy/dx = (x - mean) / ((n - correction) y).
    NOTE: where y = 0 (constant values) std's gradient is 0, as in PyTorch, not the NaN
    that 0 / 0 gives through sqrt's derivative.
    """

    @staticmethod
    @quietly
    def forward(
        ctx: Context,
        x: Array,
        axes: tuple[int, ...],
        keepdims: bool,
        correction: float,
        root: bool = False,
    ) -> Array:
        ctx.in_shape, ctx.axes = x.shape, axes
        count = _count(x.shape, axes)
        # An empty reduction has no variance: NaN, as in PyTorch (n - 1 = -1 would give -0).
        # A correction above the count leaves no degrees of freedom: inf, as in PyTorch.
        ctx.denominator = builtins.max(count - correction, 0) if count else math.nan
        # Sums in float64 for float32 (float32 for float16), as PyTorch accumulates: values
        # far from 0 (1e5 + noise) otherwise lose a thousandth of their variance to rounding
        # in the mean. The centred values are kept at the working precision of backward.
        dtype = x.dtype
        keep = _widened(x).dtype
        wide = x.astype(np.float64 if keep == np.float32 else keep)
        if count:
            wide -= wide.mean(axis=axes, keepdims=True)
        centered = wide.astype(keep)
        var = np.sum(np.square(wide, out=wide), axis=axes, keepdims=keepdims) / ctx.denominator
        y = (np.sqrt(var) if root else var).astype(keep, copy=False)
        ctx.save_for_backward(centered, y if root else None)
        return y.astype(dtype, copy=False)

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array, None, None, None, None]:
        centered, root = ctx.saved
        denominator = ctx.denominator if ctx.denominator > 0 else math.nan
        if root is None:
            grad_x = _expand(grad, ctx) * ((2 / denominator) * centered)
        else:
            std = _expand(root, ctx)
            grad_x = np.where(std == 0, 0, _expand(grad, ctx) / (denominator * std)) * centered
        return grad_x.astype(grad.dtype, copy=False), None, None, None, None


@register("prod")
class Prod(Function):
    """y = product of x over axes;  dy/dx_i = product of the other elements.

    Computed without dividing by x_i, so that zeros in x give the right gradient.
    """

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
        ctx.in_shape, ctx.axes = x.shape, axes
        ctx.save_for_backward(x)
        wide = np.int64 if x.dtype.kind == "u" else None  # as in PyTorch (NumPy: uint64)
        return x.prod(axis=axes, keepdims=keepdims, dtype=wide)

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array, None, None]:
        (x,) = ctx.saved
        axes = ctx.axes
        # Move the reduced axes to the end and flatten them into one axis of length n.
        kept = [i for i in range(x.ndim) if i not in axes]
        moved = np.transpose(x, kept + list(axes))
        flat = moved.reshape(*moved.shape[: len(kept)], _count(x.shape, axes))
        ones = np.ones_like(flat[..., :1])
        before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        after = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat, -1)[..., :-1]], -1), -1), -1)
        others = (before * after).reshape(moved.shape)
        others = np.transpose(others, np.argsort(kept + list(axes)))
        return _expand(grad, ctx) * others, None, None


@register("norm")
class Norm(Function):
    """y = (sum |x|**p)**(1/p) over axes;  dy/dx = sign(x) |x|**(p-1) / y**(p-1).

    ``p = inf`` gives max |x| (gradient split among ties); p may be negative (y = 0 when
    an x is 0); ``p = 0`` counts the nonzero x and, as in PyTorch, passes no gradient back
    (x.grad stays None). NOTE: where y = 0, or x = 0 with p < 1, the subgradient 0 is used,
    as in PyTorch.
    """

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array, p: float, axes: tuple[int, ...], keepdims: bool) -> Array:
        ctx.in_shape, ctx.axes, ctx.p = x.shape, axes, p
        dtype, x = x.dtype, _widened(x)
        a = np.abs(x)
        if p == math.inf:
            kept = a.max(axis=axes, keepdims=True)
        elif p == 0:
            kept = np.sum(a != 0, axis=axes, keepdims=True).astype(x.dtype)
        elif p == 2:
            kept = _unscaled(x, a, np.sqrt(np.sum(x * x, axis=axes, keepdims=True)), axes)
        else:
            kept = np.sum(a**p, axis=axes, keepdims=True) ** (1 / p)
        ctx.save_for_backward(x, kept)
        kept = kept.astype(dtype, copy=False)
        return (
            kept if keepdims else kept.reshape([n for i, n in enumerate(x.shape) if i not in axes])
        )

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, None, None, None]:
        x, kept = ctx.saved
        p = ctx.p
        if p == 0:
            return None, None, None, None
        g = _expand(grad, ctx)
        safe = np.where(kept == 0, 1, kept)
        if p == math.inf:
            hit = (np.abs(x) == kept) & (kept > 0)
            share = hit / np.maximum(hit.sum(axis=ctx.axes, keepdims=True), 1)
            local = np.sign(x) * share
        elif p == 2:
            local = x / safe
        else:
            # |x| ** (p - 1) is infinite at 0 for p < 1, where the gradient is 0 (PyTorch's).
            local = np.where(x == 0, 0, np.sign(x) * np.abs(x) ** (p - 1) / safe ** (p - 1))
        local = np.where(kept == 0, 0, local)
        return (g * local).astype(grad.dtype, copy=False), None, None, None


def _unscaled(x: Array, a: Array, kept: Array, axes: tuple[int, ...]) -> Array:
    """The 2-norms ``kept`` (over ``axes``, kept as axes of 1), recomputed as
    m * sqrt(sum((x / m)**2)), m = max |x|, where the squares overflowed (inf from finite
    x) or underflowed (below sqrt of the smallest normal number), as LAPACK's ``nrm2``
    scales: ``norm([4e20])`` is 4e20 in float32, not inf. Elsewhere ``kept`` as it is."""
    redo = (kept == np.inf) | (kept < np.sqrt(np.finfo(kept.dtype).tiny))
    if not redo.any():
        return kept
    m = a.max(axis=axes, keepdims=True, initial=0)
    redo &= np.isfinite(m) & (m > 0)  # zeros stay 0; inf and NaN stay what they were
    if not redo.any():
        return kept
    m = np.where(redo, m, 1)
    scaled = x / m
    return np.where(redo, m * np.sqrt(np.sum(scaled * scaled, axis=axes, keepdims=True)), kept)


def _widened(x: Array) -> Array:
    """``x`` in float32 when it is float16, whose sums of squares overflow at 65504: PyTorch
    adds float16 up in float32 too."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


def _reduce_args(
    x: Any, axis: Any, keepdims: bool, torch_names: dict[str, Any], where: str
) -> tuple[Tensor, tuple[int, ...], bool]:
    x = as_tensor(x)
    unknown = set(torch_names) - {"dim", "keepdim", "dtype"}
    if unknown:
        raise TypeError(f"{where}: unexpected keyword argument(s) {sorted(unknown)}")
    if torch_names.get("dtype") is not None:
        x = cast(x, torch_names["dtype"])  # PyTorch's dtype=: convert first, then reduce
    dim = torch_names.get("dim")
    axis = normalize_axis(axis, torch_dim(dim) if axis is None else dim, where)
    if torch_names.get("keepdim") is not None:
        keepdims = bool(torch_names["keepdim"])
    check_axis(axis, x.ndim, where)
    axes = _axes(axis, x.ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{where}: expected distinct axes, got {axis!r}")
    return x, axes, keepdims


def truth(fn: Any, where: str, x: Any, axis: Any, keepdims: bool, torch_names: Any) -> Tensor:
    """``any`` or ``all`` (``fn``: ``np.any``, ``np.all``) over ``axis`` or PyTorch's ``dim``;
    a bool tensor, no gradient."""
    dim = torch_names.get("dim")
    if isinstance(dim, tuple | list) and not dim and axis is None:
        # PyTorch's any and all, unlike its other reductions, reduce no axis for dim=().
        torch_names, axis = {**torch_names, "dim": None}, ()
    x, axes, keepdims = _reduce_args(x, axis, keepdims, torch_names, where)
    return Tensor._from_op(fn(x.data, axis=axes, keepdims=keepdims), None)


def any(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Whether any element over ``axis`` (or PyTorch's ``dim``) is nonzero; a bool tensor."""
    return truth(np.any, "any", x, axis, keepdims, torch_names)


def all(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Whether every element over ``axis`` (or PyTorch's ``dim``) is nonzero; a bool tensor."""
    return truth(np.all, "all", x, axis, keepdims, torch_names)


_ALL_AXES = [tuple(range(ndim)) for ndim in range(9)]


def _all_axes(ndim: int) -> tuple[int, ...]:
    return _ALL_AXES[ndim] if ndim < len(_ALL_AXES) else tuple(range(ndim))


def sum(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Sum over ``axis`` (an int, a tuple, or None for all axes)."""
    if axis is None and not torch_names and isinstance(x, Tensor):
        return Sum.apply(x, _all_axes(x.data.ndim), keepdims)  # the common case, checked
    x, axes, keepdims = _reduce_args(x, axis, keepdims, torch_names, "sum")
    return Sum.apply(x, axes, keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Arithmetic mean over ``axis``."""
    if axis is None and not torch_names and isinstance(x, Tensor) and x.data.dtype.kind == "f":
        return Mean.apply(x, _all_axes(x.data.ndim), keepdims)  # the common case, checked
    x, axes, keepdims = _reduce_args(x, axis, keepdims, torch_names, "mean")
    if x.dtype.kind != "f":
        raise TypeError(f"mean: expected a floating-point tensor, got dtype {x.dtype}")
    return Mean.apply(x, axes, keepdims)


def _nonempty(x: Tensor, axes: tuple[int, ...], where: str) -> None:
    if builtins.any(x.shape[a] == 0 for a in axes) or (not axes and x.data.size == 0):
        raise ValueError(f"{where}: cannot reduce an empty axis, got shape {x.shape}")


class ValuesIndices(NamedTuple):
    """What ``max`` and ``min`` over one axis return, as PyTorch's do: the values, and the
    position of each along that axis (``values, indices = x.max(1)``, ``x.max(1)[1]``)."""

    values: Tensor
    indices: Tensor


def amax(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Largest value over ``axis`` (an int, a tuple of them, or None for all): values only.

    NOTE: where several elements tie for the largest, each gets an equal share of the
    gradient, as in ``torch.amax``.
    """
    return _extreme(Max, None, "max", x, axis, keepdims, torch_names)


def amin(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Smallest value over ``axis``: values only, ties sharing the gradient (``torch.amin``)."""
    return _extreme(Min, None, "min", x, axis, keepdims, torch_names)


def max(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Any:
    """The largest value, as ``torch.max`` gives it.

    - ``max(x)``: the largest element, a 0-d tensor.
    - ``max(x, dim)`` (one axis, also as ``dim=`` or ``axis=``): ``(values, indices)``, a
      named tuple; the gradient goes to the element each index names (the first of equal
      ones), as in PyTorch.
    - ``max(x, axes)`` with a tuple of axes: the values alone, as ``amax``.
    - ``max(a, b)`` with a tensor ``b``: the elementwise ``maximum``.
    """
    if isinstance(axis, Tensor):
        return maximum(x, axis)
    return _extreme(Max, np.argmax, "max", x, axis, keepdims, torch_names)


def min(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Any:
    """The smallest value, as ``torch.min`` gives it: see ``max`` (``minimum`` for a tensor
    ``b``, ``(values, indices)`` over one axis)."""
    if isinstance(axis, Tensor):
        return minimum(x, axis)
    return _extreme(Min, np.argmin, "min", x, axis, keepdims, torch_names)


def _extreme(
    op: type[Function],
    position_of: Any,
    where: str,
    x: Any,
    axis: Any,
    keepdims: bool,
    names: dict[str, Any],
) -> Any:
    """The values over the axes alone; or, given ``position_of`` and one axis, the values
    with their indices."""
    one = names.get("dim", axis)
    x, axes, keepdims = _reduce_args(x, axis, keepdims, names, where)
    _nonempty(x, axes, where)
    if position_of is None or isinstance(one, bool) or not isinstance(one, int | np.integer):
        return op.apply(x, axes, keepdims)
    if not axes:  # a 0-d tensor over axis 0 or -1: itself, at index 0
        return ValuesIndices(
            op.apply(x, axes, keepdims), Tensor._from_op(np.zeros((), np.int64), None)
        )
    picks = Tensor._from_op(position_of(x.data, axis=axes[0], keepdims=True), None)
    values = gather(x, axes[0], picks)
    if not keepdims:
        values, picks = values.squeeze(axes[0]), picks.squeeze(axes[0])
    return ValuesIndices(values, picks)


def _correction(options: dict[str, Any], where: str) -> tuple[float, dict[str, Any]]:
    options = dict(options)
    given = [k for k in ("correction", "ddof", "unbiased") if k in options]
    if len(given) > 1:
        raise TypeError(f"{where}: pass one of correction, ddof and unbiased, got {given}")
    correction: float = 1
    if "correction" in options:
        correction = options.pop("correction")
    elif "ddof" in options:
        correction = options.pop("ddof")
    elif "unbiased" in options:
        correction = 1 if options.pop("unbiased") else 0
    return float(correction), options


def var(
    x: Any,
    axis: Any = None,
    unbiased: bool | None = None,
    keepdims: bool = False,
    **options: Any,
) -> Tensor:
    """Variance over ``axis``.

    Like PyTorch, the default divides by n - 1 (``correction=1``); pass ``correction=0``
    (or NumPy's ``ddof=0``, or ``unbiased=False``) for the population variance. The
    positional arguments follow PyTorch's ``var(dim, unbiased, keepdim)``: ``x.var(0, False)``
    is the population variance over axis 0; and its ``var(unbiased)``: ``x.var(False)`` is
    the population variance of all elements (a bool is never an axis).
    """
    return _var(x, axis, unbiased, keepdims, options, "var")


def std(
    x: Any,
    axis: Any = None,
    unbiased: bool | None = None,
    keepdims: bool = False,
    **options: Any,
) -> Tensor:
    """Standard deviation over ``axis``: ``sqrt(var(...))``, with the same arguments."""
    return _var(x, axis, unbiased, keepdims, options, "std", root=True)


def _var(
    x: Any,
    axis: Any,
    unbiased: bool | None,
    keepdims: bool,
    options: dict[str, Any],
    where: str,
    root: bool = False,
) -> Tensor:
    if isinstance(axis, bool | np.bool_):
        # PyTorch's other form, var(unbiased): a bool in dim's place is never an axis.
        if unbiased is not None or "dim" in options:
            raise TypeError(
                f"{where}: expected (unbiased) or (dim, unbiased), got a bool {axis!r} as dim"
            )
        axis, unbiased = None, builtins.bool(axis)
    if unbiased is not None:
        if "unbiased" in options:
            raise TypeError(f"{where}: got unbiased both by position and by name")
        options = {**options, "unbiased": unbiased}
    correction, rest = _correction(options, where)
    x, axes, keepdims = _reduce_args(x, axis, keepdims, rest, where)
    floating_only(x, where)
    return Var.apply(x, axes, keepdims, correction, root)


def prod(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Product over ``axis``."""
    x, axes, keepdims = _reduce_args(x, axis, keepdims, torch_names, "prod")
    return Prod.apply(x, axes, keepdims)


def norm(
    x: Any,
    ord: Any = 2,
    axis: Any = None,
    keepdims: bool = False,
    **options: Any,
) -> Tensor:
    """Vector p-norm of the elements over ``axis`` (all elements when None), as
    ``torch.norm``.

    ``ord`` (PyTorch: ``p``) may be any number or +-inf: p > 0 the p-norm, 0 the number of
    nonzero elements, p < 0 (sum |x|**p)**(1/p), -inf the smallest |x| (see
    ``linalg.vector_norm``); ``'fro'`` means 2 (over all elements of a matrix, the
    Frobenius norm); ``'nuc'`` is the nuclear norm, the sum of the singular values, of a
    matrix (over two axes, or all of a 2-D ``x``).
    """
    p = options.pop("p", ord)
    if p == "fro":
        p = 2
    if isinstance(p, bool) or not (p == "nuc" or isinstance(p, int | float | np.number)) or p != p:
        raise ValueError(f"norm: ord must be a number, +-inf, 'fro' or 'nuc', got {p!r}")
    x, axes, keepdims = _reduce_args(x, axis, keepdims, options, "norm")
    floating_only(x, "norm")
    if p == "nuc":
        if len(axes) != 2:
            raise ValueError(
                f"norm: ord='nuc' needs a matrix: two axes, or a 2-D input; got axes {axes} "
                f"of shape {x.shape}"
            )
        from chainrule.linalg import matrix_norm

        return matrix_norm(x, "nuc", axes, keepdims)
    if p == -math.inf:
        from chainrule.linalg import vector_norm

        return vector_norm(x, float(p), axes, keepdims)
    return Norm.apply(x, float(p), axes, keepdims)


def _arg(
    fn: Any, x: Any, axis: Any, keepdims: bool, torch_names: dict[str, Any], where: str
) -> Tensor:
    x = as_tensor(x)
    axis = normalize_axis(axis, torch_names.get("dim"), where)
    keepdims = bool(torch_names.get("keepdim", keepdims))
    check_axis(axis, x.ndim, where)
    if x.data.size == 0 and (axis is None or x.ndim == 0 or x.shape[axis] == 0):
        # Over an axis of nonzero length, an empty tensor has an empty result, as in PyTorch.
        raise ValueError(f"{where}: cannot take {where} of an empty tensor")
    return Tensor._from_op(fn(x.data, axis=axis, keepdims=keepdims).astype(np.int64), None)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Position of the largest value (over the flattened tensor when axis is None)."""
    return _arg(np.argmax, x, axis, keepdims, torch_names, "argmax")


def argmin(x: Any, axis: int | None = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Position of the smallest value (over the flattened tensor when axis is None)."""
    return _arg(np.argmin, x, axis, keepdims, torch_names, "argmin")
