"""Ops that move elements without changing them: reshape, transpose, squeeze, expand,
indexing, concatenation, stacking, splitting and padding. Their backward moves the
gradient back the same way."""

from __future__ import annotations

import builtins
import itertools
import operator
import warnings
from collections.abc import Sequence
from typing import Any

from chainrule.autograd.function import (
    Context,
    Function,
    _OutputGrads,
    _OutputSlot,
    _SlotCtx,
    register,
)
from chainrule.autograd.grad_mode import _state
from chainrule.autograd.ops._operands import as_tensor, check_axis, normalize_axis
from chainrule.autograd.ops.elementwise import Clone
from chainrule.backend import Array, np
from chainrule.tensor import Tensor, _element_of


@register("reshape")
class Reshape(Function):
    """y = x with a new shape (same elements, row-major order);  dL/dx = g reshaped back."""

    @staticmethod
    def forward(ctx: Context, x: Array, shape: tuple[int, ...]) -> Array:
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def returns_view(ctx: Context) -> bool:
        return True

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        return grad.reshape(ctx.in_shape), None


@register("permute")
class Permute(Function):
    """y = x with its axes reordered by ``axes``;  dL/dx = g with the inverse order."""

    @staticmethod
    def forward(ctx: Context, x: Array, axes: tuple[int, ...]) -> Array:
        ctx.axes = axes
        return np.transpose(x, axes)

    @staticmethod
    def returns_view(ctx: Context) -> bool:
        return True

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        return np.transpose(grad, np.argsort(ctx.axes)), None


@register("expand")
class Expand(Function):
    """y = x broadcast to ``shape``;  dL/dx = g summed over the broadcast axes."""

    @staticmethod
    def forward(ctx: Context, x: Array, shape: tuple[int, ...]) -> Array:
        ctx.in_shape = x.shape
        if x.shape == shape:  # nothing repeated: a writable view, as PyTorch's
            return x.view()
        return np.broadcast_to(x, shape)

    @staticmethod
    def returns_view(ctx: Context) -> bool:
        return True

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        from chainrule.autograd.function import unbroadcast

        return unbroadcast(grad, ctx.in_shape), None


def _is_basic(index: tuple[Any, ...]) -> bool:
    return all(isinstance(i, int | np.integer | slice) or i is None or i is Ellipsis for i in index)


@register("index")
class Index(Function):
    """y = x[index];  dL/dx = zeros with g scattered back to the indexed positions.

    Positions picked more than once (repeated integer indices) receive the sum of their
    gradients.
    """

    @staticmethod
    def forward(ctx: Context, x: Array, index: tuple[Any, ...]) -> Array:
        ctx.in_shape, ctx.index = x.shape, index
        return x[index]

    @staticmethod
    def returns_view(ctx: Context) -> bool:
        # Slices and integers view x; integer arrays and masks pick copies.
        index = ctx.__dict__.get("index")
        return index is None or _is_basic(index)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        index = ctx.index
        axis = None if _is_basic(index) else _picking_axis(index)
        if axis is not None:
            return _scatter_picks(grad, ctx.in_shape, axis, index[axis]), None
        out = np.zeros(ctx.in_shape, dtype=grad.dtype)
        if _is_basic(index):
            out[index] = grad
        else:
            np.add.at(out, index, grad)
        return out, None


def _picking_axis(index: tuple[Any, ...]) -> int | None:
    """The axis that ``index`` picks along when it is full slices around one non-empty 1-D
    array of integers (``x[:, :, positions]``, index_select's pattern); None otherwise."""
    axis = None
    for k, item in enumerate(index):
        if type(item) is np.ndarray:
            if axis is not None or item.ndim != 1 or item.dtype.kind not in "iu" or not item.size:
                return None
            axis = k
        elif item != slice(None):
            return None
    return axis


def _scatter_picks(grad: Array, shape: tuple[int, ...], axis: int, picks: Array) -> Array:
    """Zeros of ``shape`` plus each slice of ``grad`` along ``axis`` added at the position
    ``picks`` names: ``np.add.at``'s sums, in its order, in whole-array passes (np.add.at
    walks the picks element by element, 5-10x slower on a nearest-neighbour resize)."""
    picks = picks.astype(np.intp, copy=False)  # uint8 positions must reach 300 and beyond
    picks = np.where(picks < 0, picks + shape[axis], picks)
    order = np.argsort(picks, kind="stable")  # repeats of a position keep their order
    ordered = picks[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    counts = np.diff(np.append(starts, ordered.size))
    before = (slice(None),) * axis
    if counts.max() > _MOST_REPEATS:
        sums = np.add.reduceat(np.take(grad, order, axis=axis), starts, axis=axis)
    else:
        sums = np.take(grad, order[starts], axis=axis)  # each position's first slice
        for repeat in range(1, int(counts.max())):  # then its second, third...
            more = np.flatnonzero(counts > repeat)
            slices = np.take(grad, order[starts[more] + repeat], axis=axis)
            if more.size == counts.size:
                sums += slices
            else:
                sums[before + (more,)] += slices
    sums += 0  # -0.0 + 0 is 0.0, as np.add.at's sums, which start from zero, give
    if starts.size == shape[axis]:  # every position picked (a resize): sums is the whole
        return sums
    out = np.zeros(shape, dtype=grad.dtype)
    out[before + (ordered[starts],)] = sums
    return out


_MOST_REPEATS = 16
"""Above this many picks of one position, ``Index.backward`` sums each position's slices
with one ``np.add.reduceat`` (slower per element, but one pass) instead of a pass each."""


@register("concatenate")
class Concatenate(Function):
    """y = the inputs joined along ``axis``;  dL/dx_k = the slice of g that x_k filled."""

    @staticmethod
    def forward(ctx: Context, *arrays_and_axis: Any) -> Array:
        *arrays, axis = arrays_and_axis
        ctx.axis = axis
        ctx.bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, ...]:
        pieces = np.split(grad, ctx.bounds, axis=ctx.axis)
        return (*pieces, None)


@register("stack")
class Stack(Function):
    """y = the inputs stacked along a new ``axis``;  dL/dx_k = g taken at position k."""

    @staticmethod
    def forward(ctx: Context, *arrays_and_axis: Any) -> Array:
        *arrays, axis = arrays_and_axis
        ctx.axis = axis
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, ...]:
        # Views, not np.take's copies: after .sum() the gradient is a stride-0 broadcast, and
        # a copy of it per piece would cost n times the whole gradient.
        return (*np.moveaxis(grad, ctx.axis, 0), None)


@register("pad")
class Pad(Function):
    """y = x with a constant border;  dL/dx = the interior of g."""

    @staticmethod
    def forward(ctx: Context, x: Array, widths: tuple[tuple[int, int], ...], value: float) -> Array:
        ctx.interior = tuple(
            slice(before, before + n) for (before, _), n in zip(widths, x.shape, strict=True)
        )
        return np.pad(x, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None, None]:
        return grad[ctx.interior], None, None


@register("split")
class Split(Function):
    """y_k = x[keys[k]], the pieces of a split (each a view of x);
    dL/dx = zeros with each g_k written back where its piece came from.

    One node for all the pieces, as PyTorch's ``SplitBackward``/``UnbindBackward``: the
    pieces' gradients arrive together (a piece that got none stays 0), and backward builds
    one array of x's shape, so that n pieces cost time and memory linear in x, not n
    arrays of x's shape added up. ``keys`` are basic keys (slices, or integers for unbind)
    that pick disjoint parts of x.
    """

    @staticmethod
    def forward(ctx: Context, x: Array, keys: tuple[tuple[Any, ...], ...]) -> tuple[Array, ...]:
        ctx.in_shape, ctx.keys = x.shape, keys
        return tuple(x[key] for key in keys)

    @staticmethod
    def returns_view(ctx: Context) -> bool:
        return True

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Array, None]:
        parts = grad.parts if type(grad) is _OutputGrads else {}
        out = np.zeros(ctx.in_shape, dtype=ctx.output_dtype)
        for k, g in parts.items():
            out[ctx.keys[k]] = g
        return out, None


class _Piece(_OutputSlot):
    """The node of one piece of a ``Split``: a view of the split tensor."""

    @staticmethod
    def returns_view(ctx: Context) -> bool:
        return True


class _SplitCtx(Context):
    """The node of a ``Split``. It saves no arrays, only shapes and keys, so a backward
    does not free it: separate backward passes through different pieces (or the same one)
    work, as in PyTorch, which refuses only nodes whose saved tensors were freed."""

    __slots__ = ()

    def release(self) -> None:
        pass


class _PieceCtx(_SlotCtx):
    """The node of one piece of a ``Split``; like the split's node, it saves nothing and
    outlives a backward."""

    __slots__ = ()

    def release(self) -> None:
        pass


def _split_at(x: Tensor, keys: list[tuple[Any, ...]]) -> list[Tensor]:
    """The pieces ``x[key]`` for ``key`` in ``keys`` (disjoint basic keys), as one ``Split``
    node with an output node per piece when they are recorded."""
    if not (x._requires_grad and _state.enabled) or _state.anomaly or _state.recorder is not None:
        # Nothing to record; or a mode that follows single-output ops (compile_step
        # replays indexing by slices, anomaly mode checks each result): a slice each.
        return [Index.apply(x, key) for key in keys]
    ctx = _SplitCtx(Split, (x if x._ctx is None else x._ctx, None), (True, False))
    arrays = Split.forward(ctx, x.data, tuple(keys))
    ctx.output_dtype = x.data.dtype  # what backward builds; each piece's node checks its own
    pieces = []
    for k, array in enumerate(arrays):
        node = _PieceCtx(_Piece, (ctx,), (True,))
        node.position = k
        node.output_shape, node.output_dtype = array.shape, array.dtype
        pieces.append(Tensor._from_op(array, node))
    return pieces


@register("index_put")
class IndexPut(Function):
    """y = x with y[key] = v (v broadcast to the indexed shape);
    dL/dx = g with g[key] set to 0, dL/dv = g[key] summed down to v's shape.

    ``keys`` is what ``torch_keys`` makes of the index: one NumPy key, or a basic key (a view)
    followed by one applied to that view. Only the keys are kept for backward.

    A position written twice (repeated integers) keeps one write, as NumPy's and PyTorch's
    assignments do; every element of v aimed at it receives g there, as in PyTorch.
    """

    @staticmethod
    def forward(
        ctx: Context, x: Array, v: Array, keys: tuple[tuple[Any, ...], ...], in_place: bool
    ) -> Array:
        ctx.keys, ctx.v_shape = keys, v.shape
        out = x if in_place else x.copy()
        target = out
        for part in keys[:-1]:
            target = target[part]  # basic keys: a view of out
        target[keys[-1]] = v
        return out

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None, None, None]:
        from chainrule.autograd.function import unbroadcast

        gx = gv = None
        if ctx.needs_input_grad[0]:
            gx = grad.copy()
            target = gx
            for part in ctx.keys[:-1]:
                target = target[part]
            target[ctx.keys[-1]] = 0
        if ctx.needs_input_grad[1]:
            gv = grad
            for part in ctx.keys:
                gv = gv[part]
            gv = unbroadcast(gv, ctx.v_shape)
        return gx, gv, None, None


# --------------------------------------------------------------------- public forms
def _is_dtype(value: Any) -> bool:
    """Whether ``value`` names a dtype (``x.view(torch.int32)`` asks to reinterpret bits)."""
    return isinstance(value, np.dtype | type) and not isinstance(value, Tensor)


def _sizes(args: tuple[Any, ...], where: str = "reshape") -> tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], Sequence | np.ndarray):
        args = tuple(args[0])
    try:
        return tuple(operator.index(n) for n in args)  # ints, NumPy ints, 0-d integer tensors
    except TypeError:
        hint = "; to change the dtype, use .to(dtype)" if any(map(_is_dtype, args)) else ""
        raise TypeError(f"{where}: expected integers, got {args!r}{hint}") from None


def reshape(x: Any, *shape: Any) -> Tensor:
    """The same elements in a new shape; one size may be -1 (inferred). Also ``view``."""
    x = as_tensor(x)
    target = _sizes(shape)
    known = [n for n in target if n != -1]
    if target.count(-1) > 1 or any(n < -1 for n in target):
        raise ValueError(f"reshape: at most one size may be -1 and none below it, got {target}")
    total = int(np.prod(known)) if known else 1
    if -1 in target and total == 0 and x.data.size == 0:
        raise ValueError(
            f"reshape: cannot reshape a tensor of 0 elements into shape {target}, where the "
            f"size -1 could be any value; give every size"
        )
    fits = x.data.size == total if -1 not in target else total and x.data.size % total == 0
    if not fits:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.data.size} elements) "
            f"into shape {target}"
        )
    return Reshape.apply(x, target)


view = reshape
"""PyTorch's ``view``, as ``reshape``: where PyTorch would refuse (a transposed tensor,
flattened), it copies, and writes through the result do not reach the original."""


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim`` through ``end_dim`` into one (PyTorch's flatten)."""
    x = as_tensor(x)
    check_axis((start_dim, end_dim), x.ndim, "flatten")
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = start_dim % x.ndim, end_dim % x.ndim
    if start > end:
        raise ValueError(
            f"flatten: start_dim must not come after end_dim, got {start_dim}, {end_dim}"
        )
    shape = x.shape[:start] + (-1,) + x.shape[end + 1 :]
    if x.data.size == 0:
        shape = x.shape[:start] + (int(np.prod(x.shape[start : end + 1])),) + x.shape[end + 1 :]
    return Reshape.apply(x, shape)


def permute(x: Any, *axes: Any) -> Tensor:
    """Reorder the axes: ``permute(x, 2, 0, 1)`` or ``permute(x, (2, 0, 1))``."""
    x = as_tensor(x)
    order = _sizes(axes, "permute")
    if (
        len(order) != x.ndim
        or not builtins.all(-x.ndim <= a < x.ndim for a in order)
        or sorted(a % x.ndim for a in order) != list(range(x.ndim))
    ):
        raise ValueError(
            f"permute: expected a permutation of the {x.ndim} axes of shape {x.shape}, got {order}"
        )
    return Permute.apply(x, tuple(a % x.ndim for a in order))


def transpose(x: Any, *axes: Any, dim0: int | None = None, dim1: int | None = None) -> Tensor:
    """Swap two axes (``transpose(x, 0, 1)`` or ``transpose(x, dim0=0, dim1=1)``, PyTorch's
    form), reorder all of them (``transpose(x, (1, 0, 2))``, NumPy's form), or reverse them
    (no axes)."""
    x = as_tensor(x)
    if dim0 is not None or dim1 is not None:
        if axes or dim0 is None or dim1 is None:
            raise TypeError(
                f"transpose: expected two axes, positionally or as dim0= and dim1=, got "
                f"{axes} and dim0={dim0}, dim1={dim1}"
            )
        axes = (dim0, dim1)
    if not axes:
        return Permute.apply(x, tuple(reversed(range(x.ndim))))
    if len(axes) == 2 and all(isinstance(a, int | np.integer) for a in axes):
        return swapaxes(x, axes[0], axes[1])
    return permute(x, *axes)


def swapaxes(x: Any, axis0: int, axis1: int) -> Tensor:
    """Exchange two axes."""
    x = as_tensor(x)
    check_axis((axis0, axis1), x.ndim, "swapaxes")
    order = list(range(x.ndim))
    if order:  # a 0-d tensor takes dims 0 and -1, as in PyTorch, and stays as it is
        order[axis0], order[axis1] = order[axis1], order[axis0]
    return Permute.apply(x, tuple(order))


def squeeze(x: Any, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Remove axes of length 1 (all of them, or those in ``axis``; others are left, as in
    PyTorch)."""
    x = as_tensor(x)
    axis = normalize_axis(axis, dim, "squeeze")
    if axis is None:
        return Reshape.apply(x, tuple(n for n in x.shape if n != 1))
    check_axis(axis, x.ndim, "squeeze")
    # max(ndim, 1): a 0-d tensor takes dim 0 or -1, as in PyTorch, and stays as it is.
    axes = {
        a % builtins.max(x.ndim, 1) for a in (axis if isinstance(axis, tuple | list) else (axis,))
    }
    return Reshape.apply(x, tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1)))


def unsqueeze(x: Any, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Insert an axis of length 1 at position ``axis`` (or PyTorch's ``dim``; negative counts
    from the end)."""
    x = as_tensor(x)
    axis = normalize_axis(axis, dim, "unsqueeze")
    if axis is None:
        raise TypeError("unsqueeze: expected the position of the new axis (axis or dim)")
    if not -x.ndim - 1 <= axis <= x.ndim:
        raise ValueError(
            f"unsqueeze: axis must be in [{-x.ndim - 1}, {x.ndim}] for a tensor with {x.ndim} "
            f"dimensions, got {axis}"
        )
    position = axis % (x.ndim + 1)
    return Reshape.apply(x, x.shape[:position] + (1,) + x.shape[position:])


def expand(x: Any, *sizes: Any) -> Tensor:
    """Broadcast to ``sizes`` without copying; -1 keeps an axis (PyTorch's expand)."""
    x = as_tensor(x)
    target = _sizes(sizes, "expand")
    lead = len(target) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: expected at least {x.ndim} sizes, got {target}")
    shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(target))
    return broadcast_to(x, shape)


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """Broadcast to ``shape`` with NumPy's rules."""
    x = as_tensor(x)
    shape = tuple(int(n) for n in shape)
    try:
        np.broadcast_shapes(x.shape, shape)
        if np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return Expand.apply(x, shape)


def _as_tuple(index: Any) -> tuple[Any, ...]:
    return index if isinstance(index, tuple) else (index,)


_MOST_SEQUENCE_ITEMS = 32
"""A list of at most this many items that holds an index of its own is read as a tuple
(PyTorch's and old NumPy's rule); a longer one is always an index array."""


def _sequence_as_tuple(key: Any) -> Any:
    """``key``, or the tuple PyTorch reads it as: a list holding a tensor, an array, a
    sequence, a slice, None or ``...`` (``x[[rows, cols]]``) indexes one axis per item, as
    ``x[rows, cols]`` does, with a warning, as PyTorch 2 still reads it; any other list is
    one index array (``x[[0, 2]]``)."""
    if type(key) is not list or len(key) >= _MOST_SEQUENCE_ITEMS:
        return key
    for item in key:
        if (
            isinstance(item, Tensor | np.ndarray | Sequence | slice)
            or item is None
            or item is Ellipsis
        ):
            warnings.warn(
                "index: a list that holds tensors, sequences, slices, None or ... is read as "
                "a tuple, one index per axis, as PyTorch reads it (it deprecates this "
                "reading); write x[tuple(seq)] instead of x[seq]",
                UserWarning,
                stacklevel=4,
            )
            return tuple(key)
    return key


_SCALAR_ARRAYS = (np.ndarray, np.bool_)
_PLAIN_PARTS = frozenset((int, slice, type(None), type(Ellipsis)))


def _is_bool_scalar(data: Any) -> bool:
    return type(data) is bool or (
        isinstance(data, _SCALAR_ARRAYS) and data.ndim == 0 and data.dtype.kind == "b"
    )


def _bools_as_axes(parts: tuple[Any, ...]) -> tuple[tuple[Any, ...] | None, tuple[Any, ...]]:
    """PyTorch's reading of True, False or a 0-d bool tensor in an index: a new axis there,
    picked by the index array ``[0]`` (True) or ``[]`` (False). So ``x[0, :, True]`` of x of
    shape (2, 3) has shape (3, 1), and ``x[True, rows]`` stacks the rows' picks with the new
    axis' one (NumPy would read a bool as a 0-d mask, whose axis goes first).

    Returns a basic key that adds the new axes (None when ``parts`` holds no bool) and the
    index to apply to its view.
    """
    for p in parts:  # written out: this runs on every index
        if type(p) in _PLAIN_PARTS:
            continue
        if type(p) is bool:
            break
        if isinstance(p, Tensor):
            p = p.data
        if isinstance(p, _SCALAR_ARRAYS) and p.ndim == 0 and p.dtype.kind == "b":
            break
    else:
        return None, parts
    arrays = [p.data if isinstance(p, Tensor) else p for p in parts]
    view: list[Any] = []
    rest: list[Any] = []
    for p, a in zip(parts, arrays, strict=True):
        if _is_bool_scalar(a):
            view.append(None)
            rest.append(np.zeros(1 if a else 0, dtype=np.intp))
        elif p is None or p is Ellipsis:
            view.append(p)
            rest.append(slice(None) if p is None else p)  # the view holds None's axis
        else:
            a = np.asarray(a) if isinstance(a, list) else a
            mask = isinstance(a, np.ndarray) and a.dtype == bool
            view.extend([slice(None)] * (a.ndim if mask else 1))  # the axes p indexes
            rest.append(p)
    return tuple(view), tuple(rest)


def index_keys(key: Any, ndim: int) -> tuple[tuple[Any, ...], ...]:
    """The NumPy keys that, applied in turn to an array of ``ndim`` axes, reach what PyTorch
    reads ``key`` as (tensors as their arrays, masks kept as masks): all but the last are
    basic keys (views), so that writing through the last writes the array. See
    ``torch_keys``, ``_bools_as_axes`` and ``_sequence_as_tuple``."""
    parts = _as_tuple(_sequence_as_tuple(key))
    view, parts = _bools_as_axes(parts)
    raw = tuple(k.data if isinstance(k, Tensor) else k for k in parts)
    if view is None:
        return torch_keys(raw, ndim)
    return (view, *torch_keys(raw, ndim + view.count(None)))


def _index_arrays(index: Any) -> tuple[tuple[Any, ...], bool]:
    """An index with tensors replaced by their arrays, as a tuple; and whether it held a
    boolean mask."""
    parts: list[Any] = []
    mask = False
    for i in _as_tuple(index):
        if isinstance(i, Tensor):
            i = i.data
        elif isinstance(i, list):
            # An empty list picks nothing, as in PyTorch (NumPy would make it float64).
            i = np.asarray(i) if i else np.zeros(0, dtype=np.intp)
        if isinstance(i, np.ndarray) and i.dtype == bool and i.ndim > 0:
            # A k-dimensional mask means the same as the k integer arrays of its nonzero()
            # positions; integer arrays are what the scatter in backward takes.
            parts.extend(i.nonzero())
            mask = True
        else:
            parts.append(i)
    return tuple(parts), mask


_INTEGERS = (int, np.integer)
_ARRAYS = (np.ndarray, list)


def torch_keys(parts: tuple[Any, ...], ndim: int) -> tuple[tuple[Any, ...], ...]:
    """The index ``parts`` (of an array with ``ndim`` axes) as one or two keys that NumPy,
    applied in turn, reads as PyTorch reads ``parts``.

    PyTorch applies integers before index arrays, and places the arrays' axes where the
    arrays stand when nothing but integers lies between them: for ``x`` of shape (2, 3, 4),
    ``x[0, :, [0, 1]]`` has shape (3, 2). NumPy counts the integers among the arrays, and
    so puts the arrays' axes first there ((2, 3)); it also counts an ``...`` standing for no
    axes as a separator. Here a 0-d integer array is an integer, an ``...`` becomes its
    slices, and where NumPy and PyTorch still disagree the integers are applied first
    (a view), then the rest.
    """
    if len(parts) < 2 or not any(isinstance(p, _ARRAYS) for p in parts):
        return (parts,)  # ints, slices, None and ... alone: NumPy's reading is PyTorch's
    parts = tuple(
        int(p) if isinstance(p, np.ndarray) and p.ndim == 0 and p.dtype.kind in "iu" else p
        for p in parts
    )
    if sum(p is Ellipsis for p in parts) == 1:
        taken = sum(
            (p.ndim if p.dtype == bool else 1) if isinstance(p, np.ndarray) else p is not None
            for p in parts
            if p is not Ellipsis
        )
        at = next(k for k, p in enumerate(parts) if p is Ellipsis)
        parts = (*parts[:at], *[slice(None)] * max(ndim - taken, 0), *parts[at + 1 :])
    arrays = [k for k, p in enumerate(parts) if isinstance(p, _ARRAYS)]
    ints = [k for k, p in enumerate(parts) if isinstance(p, _INTEGERS) and type(p) is not bool]
    if not arrays or not ints:
        return (parts,)
    advanced = sorted(arrays + ints)
    numpy_in_place = advanced[-1] - advanced[0] + 1 == len(advanced)
    torch_in_place = all(
        isinstance(parts[k], _ARRAYS + _INTEGERS) for k in range(arrays[0], arrays[-1] + 1)
    )
    if numpy_in_place or not torch_in_place:
        return (parts,)  # the two agree
    first: list[Any] = []
    second: list[Any] = []
    for p in parts:
        if isinstance(p, _INTEGERS) and type(p) is not bool:
            first.append(p)
        elif p is None:
            first.append(None)
            second.append(slice(None))
        else:
            mask = isinstance(p, np.ndarray) and p.dtype == bool
            first.extend([slice(None)] * (p.ndim if mask else 1))
            second.append(p)
    return tuple(first), tuple(second)


def index(x: Any, key: Any) -> Tensor:
    """``x[key]`` with ints, slices, None, Ellipsis, bools, integer arrays and boolean masks,
    read as PyTorch reads them (see ``torch_keys`` and ``_bools_as_axes``)."""
    x = as_tensor(x)
    view, key = _bools_as_axes(_as_tuple(_sequence_as_tuple(key)))
    parts, mask = _index_arrays(key)
    for part in parts:
        if isinstance(part, np.ndarray) and part.dtype.kind not in "biu":
            raise TypeError(
                f"index: expected integer or boolean index arrays, got dtype {part.dtype}"
            )
    try:
        out = x if view is None else Index.apply(x, view)
        if mask:
            # Checked with the masks as given: NumPy then rejects a mask whose shape does
            # not match the axes it covers, which the mask's nonzero() positions alone
            # would pass.
            raw = tuple(k.data if isinstance(k, Tensor) else k for k in key)
            np.broadcast_to(np.empty((), dtype=bool), out.shape)[raw]
        for part in torch_keys(parts, out.ndim):
            out = Index.apply(out, part)
        return out
    except IndexError as error:
        raise IndexError(f"index: {error} (tensor shape {x.shape})") from None


def _check_same(tensors: Sequence[Tensor], where: str, axis: int, skip_axis: bool) -> None:
    first = tensors[0]
    for k, t in enumerate(tensors[1:], start=1):
        if t.ndim != first.ndim:
            raise ValueError(
                f"{where}: expected tensors with the same number of dimensions, got shapes "
                f"{first.shape} and {t.shape} (tensor {k})"
            )
        other = [n for i, n in enumerate(t.shape) if not (skip_axis and i == axis % t.ndim)]
        mine = [n for i, n in enumerate(first.shape) if not (skip_axis and i == axis % first.ndim)]
        if other != mine:
            raise ValueError(
                f"{where}: shapes must match except along axis {axis}, got {first.shape} and "
                f"{t.shape} (tensor {k})"
            )


def _common_kind(items: list[Tensor]) -> list[Tensor]:
    """Integer and bool tensors joined with floating ones take the floating dtype, as in
    PyTorch (NumPy would widen int64 beside float32 to float64)."""
    floats = [t.dtype for t in items if t.dtype.kind == "f"]
    if not floats or len(floats) == len(items):
        return items
    target = np.result_type(*floats)
    # Only integer and bool tensors are converted, and those never require grad.
    return [
        t if t.dtype.kind == "f" else Tensor._from_op(t.data.astype(target), None) for t in items
    ]


def concatenate(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis. Also ``cat``."""
    axis = int(normalize_axis(axis if dim is None else None, dim, "concatenate") or 0)
    items = _common_kind([as_tensor(t) for t in tensors])
    if not items:
        raise ValueError("concatenate: expected at least one tensor, got none")
    # PyTorch skips 1-D empty tensors beside tensors of other ranks, so that a loop may
    # start from ``torch.tensor([])`` and cat batches of any rank onto it.
    rank = next((t.ndim for t in items if t.shape != (0,)), 1)
    items = [t for t in items if t.shape != (0,) or rank == 1] or items[:1]
    if items[0].ndim == 0:
        raise ValueError(
            "concatenate: zero-dimensional tensors cannot be concatenated; use stack, or "
            "reshape(1) each first"
        )
    check_axis(axis, items[0].ndim, "concatenate")
    _check_same(items, "concatenate", axis, skip_axis=True)
    return Concatenate.apply(*items, axis % items[0].ndim)


cat = concatenate
concat = concatenate


def hstack(tensors: Sequence[Any]) -> Tensor:
    """Join tensors column-wise: along axis 1, or axis 0 when they are 1-D (PyTorch's
    ``hstack``; 0-d tensors count as 1-D)."""
    items = [_at_least(as_tensor(t), 1) for t in tensors]
    if not items:
        raise ValueError("hstack: expected at least one tensor, got none")
    return concatenate(items, 0 if items[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Any]) -> Tensor:
    """Join tensors row-wise, along axis 0, with 1-D (and 0-d) tensors taken as rows
    (PyTorch's ``vstack``)."""
    items = [_at_least(as_tensor(t), 2) for t in tensors]
    if not items:
        raise ValueError("vstack: expected at least one tensor, got none")
    return concatenate(items, 0)


def _at_least(x: Tensor, ndim: int) -> Tensor:
    return x if x.ndim >= ndim else reshape(x, (1,) * (ndim - x.ndim) + x.shape)


def stack(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors of equal shape along a new axis."""
    axis = int(normalize_axis(axis if dim is None else None, dim, "stack") or 0)
    items = _common_kind([as_tensor(t) for t in tensors])
    if not items:
        raise ValueError("stack: expected at least one tensor, got none")
    if not -items[0].ndim - 1 <= axis <= items[0].ndim:
        raise ValueError(
            f"stack: axis must be in [{-items[0].ndim - 1}, {items[0].ndim}], got {axis}"
        )
    _check_same(items, "stack", axis, skip_axis=False)
    return Stack.apply(*items, axis % (items[0].ndim + 1))


def split(
    x: Any, split_size_or_sections: Any, axis: int = 0, *, dim: int | None = None
) -> tuple[Tensor, ...]:
    """Cut ``x`` along ``axis`` into pieces of ``split_size`` (an int > 0, or 0 for an axis
    of size 0; the last piece may be shorter) or of the listed sizes (PyTorch's ``split``):
    a tuple, as PyTorch's. Each piece is a differentiable slice of ``x``."""
    x = as_tensor(x)
    axis = int(normalize_axis(axis if dim is None else None, dim, "split") or 0)
    check_axis(axis, x.ndim, "split")
    if x.ndim == 0:
        raise ValueError("split: expected a tensor with at least 1 dimension, got a 0-d tensor")
    length = x.shape[axis]
    sections = split_size_or_sections
    if isinstance(sections, int | np.integer) and not isinstance(sections, bool | np.bool_):
        size = int(sections)
        if size < 0 or (size == 0 and length > 0):
            raise ValueError(
                f"split: split size must be > 0 (0 only for an axis of size 0), got {size} "
                f"for axis {axis} of shape {x.shape}"
            )
        if size == 0:
            sizes = [0]  # PyTorch's one empty piece
        else:
            sizes = [size] * (length // size) + ([length % size] if length % size else [])
            sizes = sizes or [0]  # an empty axis gives one empty piece, as in PyTorch
    else:
        try:
            sizes = [operator.index(n) for n in sections]
        except TypeError:
            raise TypeError(
                f"split: split_size must be an int or a sequence of ints, got {sections!r}"
            ) from None
        if builtins.sum(sizes) != length or builtins.min(sizes, default=0) < 0:
            raise ValueError(
                f"split: section sizes must be >= 0 and sum to {length} (axis {axis} of shape "
                f"{x.shape}), got {sizes}"
            )
    keys = []
    start = 0
    lead = (slice(None),) * (axis % x.ndim)
    for n in sizes:
        keys.append((*lead, slice(start, start + n)))
        start += n
    return tuple(_split_at(x, keys))


def tensor_split(x: Any, indices_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut ``x`` along ``dim`` into ``n`` nearly equal pieces (the first ``length % n`` one
    longer), or at the listed indices (PyTorch's ``tensor_split``); each piece is a
    differentiable slice of ``x``."""
    x = as_tensor(x)
    if x.ndim == 0:
        raise ValueError(
            "tensor_split: expected a tensor with at least 1 dimension, got a 0-d tensor"
        )
    check_axis(dim, x.ndim, "tensor_split")
    axis = int(dim) % x.ndim
    length = x.shape[axis]
    if isinstance(indices_or_sections, Tensor):  # a 0-d one is a count, as in PyTorch
        indices_or_sections = indices_or_sections.data.tolist()
    if isinstance(indices_or_sections, int | np.integer):
        n = int(indices_or_sections)
        if n <= 0:
            raise ValueError(f"tensor_split: number of sections must be > 0, got {n}")
        size, extra = divmod(length, n)
        bounds = [i * size + builtins.min(i, extra) for i in range(n + 1)]
    else:
        bounds = [0, *(int(i) for i in indices_or_sections), length]
    lead = (slice(None),) * axis
    # Python's slicing rules, as PyTorch's: negative indices count from the end, and a
    # piece whose end comes before its start is empty.
    keys = [(*lead, slice(start, stop)) for start, stop in itertools.pairwise(bounds)]
    if not _disjoint([key[-1] for key in keys], length):
        return tuple(Index.apply(x, key) for key in keys)  # indices that go back: overlaps
    return tuple(_split_at(x, keys))


def _split_on(where: str, axis: int, least: int, x: Any, sections: Any) -> tuple[Tensor, ...]:
    """PyTorch's ``hsplit``/``vsplit``/``dsplit``: ``tensor_split`` on ``axis`` of a tensor
    of at least ``least`` dimensions, an int count of sections dividing its length."""
    x = as_tensor(x)
    if x.ndim < least:
        raise ValueError(
            f"{where}: expected a tensor with at least {least} dimension(s), got {x.ndim}"
        )
    if isinstance(sections, int | np.integer) and (sections <= 0 or x.shape[axis] % int(sections)):
        raise ValueError(
            f"{where}: expected a number of sections that divides the length {x.shape[axis]} "
            f"of axis {axis}, got {sections}"
        )
    return tensor_split(x, sections, axis)


def hsplit(x: Any, sections: Any) -> tuple[Tensor, ...]:
    """Cut ``x`` into ``sections`` equal pieces (an int), or at the listed indices, along
    axis 1 (axis 0 of a 1-D ``x``), as PyTorch's ``hsplit``."""
    x = as_tensor(x)
    return _split_on("hsplit", 0 if x.ndim == 1 else 1, 1, x, sections)


def vsplit(x: Any, sections: Any) -> tuple[Tensor, ...]:
    """``hsplit`` along axis 0 of a tensor of at least 2 dimensions (PyTorch's ``vsplit``)."""
    return _split_on("vsplit", 0, 2, x, sections)


def dsplit(x: Any, sections: Any) -> tuple[Tensor, ...]:
    """``hsplit`` along axis 2 of a tensor of at least 3 dimensions (PyTorch's ``dsplit``)."""
    return _split_on("dsplit", 2, 3, x, sections)


def _disjoint(spans: list[slice], length: int) -> bool:
    """Whether the slices (steps of 1) of an axis of ``length`` share no element."""
    reach = 0
    for span in spans:
        start, stop, _ = span.indices(length)
        if stop > start:
            if start < reach:
                return False
            reach = stop
    return True


def _diagonal_of(a: Array, offset: int, dim1: int, dim2: int) -> Array:
    """NumPy's diagonal of ``a`` (the same axes as PyTorch's), as a view that can be written
    through where ``a`` can (NumPy's own is read-only)."""
    d = np.diagonal(a, offset, dim1, dim2)
    if d.size == 0:
        return d.copy()  # nothing to view; writable, so that writing nothing works
    if not a.flags.writeable:
        return d
    start = [slice(None)] * a.ndim
    start[dim1] = slice(builtins.max(-offset, 0), None)
    start[dim2] = slice(builtins.max(offset, 0), None)
    return np.lib.stride_tricks.as_strided(a[tuple(start)], d.shape, d.strides)


@register("diagonal")
class Diagonal(Function):
    """y = the diagonal of each matrix on axes ``dim1``, ``dim2`` (a view of x, as in
    PyTorch);  dL/dx = g on that diagonal, 0 elsewhere."""

    @staticmethod
    def forward(ctx: Context, x: Array, offset: int, dim1: int, dim2: int) -> Array:
        ctx.in_shape, ctx.where = x.shape, (offset, dim1, dim2)
        return _diagonal_of(x, offset, dim1, dim2)

    @staticmethod
    def returns_view(ctx: Context) -> bool:
        return True

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None, None, None]:
        out = np.zeros(ctx.in_shape, dtype=grad.dtype)
        if grad.size:
            _diagonal_of(out, *ctx.where)[...] = grad
        return out, None, None, None


def diagonal(x: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of each matrix formed by axes ``dim1`` and ``dim2`` (``offset`` > 0
    above the main one, < 0 below), as PyTorch's ``diagonal``: those two axes are removed
    and the diagonal becomes the last axis, a view of ``x`` (writing into it writes into
    ``x``). The gradient goes back onto the diagonal."""
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"diagonal: expected a tensor with at least 2 dimensions, got {x.shape}")
    check_axis(dim1, x.ndim, "diagonal")
    check_axis(dim2, x.ndim, "diagonal")
    first, second = int(dim1) % x.ndim, int(dim2) % x.ndim
    if first == second:
        raise ValueError(f"diagonal: expected two different dimensions, got {dim1} and {dim2}")
    return Diagonal.apply(x, int(offset), first, second)


def diag(x: Any, diagonal: int = 0) -> Tensor:
    """A square matrix with the 1-D ``x`` on its ``diagonal`` (0 the main one, > 0 above,
    < 0 below) and zeros elsewhere, or the ``diagonal`` of the 2-D ``x`` as a 1-D tensor."""
    from chainrule.autograd.ops.elementwise import where

    x = as_tensor(x)
    k = int(diagonal)
    if x.ndim == 1:
        n = x.shape[0]
        zero = Tensor._from_op(np.zeros((), x.dtype), None)
        # where, not a product with the identity, so that inf stays off the zeros
        square = where(np.eye(n, dtype=bool), expand(reshape(x, (n, 1)), n, n), zero)
        before, after = builtins.max(-k, 0), builtins.max(k, 0)
        return pad(square, ((before, after), (after, before)))
    if x.ndim == 2:
        rows, columns = x.shape
        first_row, first_column = builtins.max(-k, 0), builtins.max(k, 0)
        n = builtins.max(builtins.min(rows - first_row, columns - first_column), 0)
        steps = np.arange(n)
        return Index.apply(x, (first_row + steps, first_column + steps))
    raise ValueError(f"diag: expected a 1-D or 2-D tensor, got shape {x.shape}")


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors: output ``i`` repeats ``tensors[i]`` along axis
    ``i`` (``indexing="ij"``), or with the first two axes swapped (``"xy"``, NumPy's and
    Matplotlib's x-then-y order)."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: expected indexing 'ij' or 'xy', got {indexing!r}")
    items = [as_tensor(t) for t in tensors]
    if not items:
        raise ValueError("meshgrid: expected at least one tensor, got none")
    for t in items:
        if t.ndim > 1:
            raise ValueError(f"meshgrid: expected 0-D or 1-D tensors, got one of shape {t.shape}")
    order = list(range(len(items)))
    if indexing == "xy" and len(items) > 1:
        order[0], order[1] = 1, 0
    shape = tuple(items[i].data.size for i in order)
    grids = []
    for i, t in enumerate(items):
        axis = order.index(i)
        column = reshape(t, (1,) * axis + (-1,) + (1,) * (len(items) - axis - 1))
        grids.append(expand(column, *shape))
    return tuple(grids)


def pad(x: Any, pad_width: Any, value: float = 0.0) -> Tensor:
    """Pad with a constant ``value``. ``pad_width`` follows NumPy: an int, a (before, after)
    pair for every axis, or one pair per axis."""
    x = as_tensor(x)
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    except ValueError:
        raise ValueError(
            f"pad: expected pad_width as an int, a (before, after) pair or {x.ndim} pairs, "
            f"got {pad_width!r}"
        ) from None
    if (widths < 0).any():
        raise ValueError(f"pad: widths must be >= 0, got {pad_width!r}")
    pairs = tuple((int(a), int(b)) for a, b in widths)
    return Pad.apply(x, pairs, value)


# --------------------------------------------------------------------- composed forms
# PyTorch's names for moves that the primitives above already cover: their gradients are
# those of indexing, reshape and broadcast, so they need no derivative of their own.
def chunk(x: Any, chunks: int, axis: int = 0, *, dim: int | None = None) -> tuple[Tensor, ...]:
    """Cut ``x`` along ``axis`` into at most ``chunks`` pieces of ``ceil(n / chunks)``
    elements (the last may be shorter, and fewer pieces come out when they run out: 6
    elements in 4 chunks make 3 pieces of 2), as PyTorch's ``chunk``; an empty axis gives
    ``chunks`` empty pieces. A tuple, as PyTorch's."""
    x = as_tensor(x)
    axis = int(normalize_axis(axis if dim is None else None, dim, "chunk") or 0)
    if not isinstance(chunks, int | np.integer) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be an integer > 0, got {chunks!r}")
    check_axis(axis, x.ndim, "chunk")
    if x.ndim == 0:
        raise ValueError("chunk: expected a tensor with at least 1 dimension, got a 0-d tensor")
    length = x.shape[axis]
    if length == 0:
        return split(x, [0] * int(chunks), axis)  # PyTorch's rule: ``chunks`` empty pieces
    return split(x, -(-length // int(chunks)), axis)


def unbind(x: Any, axis: int = 0, *, dim: int | None = None) -> tuple[Tensor, ...]:
    """The slices of ``x`` along ``axis``, each without that axis (PyTorch's ``unbind``)."""
    x = as_tensor(x)
    if x.ndim == 0:
        raise ValueError("unbind: expected a tensor with at least 1 dimension, got a 0-d tensor")
    axis = int(normalize_axis(axis if dim is None else None, dim, "unbind") or 0)
    check_axis(axis, x.ndim, "unbind")
    lead = (slice(None),) * (axis % x.ndim)
    return tuple(_split_at(x, [(*lead, k) for k in range(x.shape[axis])]))


def triu(x: Any, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two axes (below ``diagonal`` set to 0), as
    ``torch.triu``; the gradient flows to the elements kept."""
    return _triangle(x, diagonal, np.triu, "triu")


def tril(x: Any, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two axes (above ``diagonal`` set to 0), as
    ``torch.tril``: a causal attention mask is ``tril(ones(n, n))``."""
    return _triangle(x, diagonal, np.tril, "tril")


def _triangle(x: Any, diagonal: int, keep: Any, where: str) -> Tensor:
    from chainrule.autograd.ops.elementwise import where as pick

    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(
            f"{where}: expected a tensor with at least 2 dimensions, got shape {x.shape}"
        )
    if isinstance(diagonal, bool) or not isinstance(diagonal, int | np.integer):
        raise TypeError(f"{where}: diagonal must be an integer, got {diagonal!r}")
    mask = keep(np.ones(x.shape[-2:], dtype=bool), k=int(diagonal))
    return pick(mask, x, Tensor._from_op(np.zeros((), dtype=x.dtype), None))


def flip(x: Any, *axes: Any, dims: Any = None) -> Tensor:
    """Reverse the order of the elements along ``axes`` (``flip(x, 0)``, ``flip(x, (0, 1))``,
    or PyTorch's ``flip(x, dims=(0, 1))``); a copy, as in PyTorch."""
    x = as_tensor(x)
    if dims is not None:
        if axes:
            raise TypeError("flip: expected the axes positionally or as dims=, got both")
        axes = (dims,)
    order = _sizes(axes, "flip")
    check_axis(order, x.ndim, "flip")
    wanted = {a % builtins.max(x.ndim, 1) for a in order}
    if len(wanted) != len(order):
        raise ValueError(f"flip: expected distinct axes, got {order}")
    reverse = slice(None, None, -1)
    view = Index.apply(x, tuple(reverse if i in wanted else slice(None) for i in range(x.ndim)))
    return Clone.apply(view)  # a copy, as in PyTorch: a later change to x leaves it as it is


def repeat(x: Any, *repeats: Any) -> Tensor:
    """Tile ``x``: ``repeat(x, 2, 3)`` copies it twice along the first axis and three times
    along the second (PyTorch's ``Tensor.repeat``; extra leading counts add axes)."""
    x = as_tensor(x)
    counts = _sizes(repeats, "repeat")
    if len(counts) < x.ndim:
        raise ValueError(
            f"repeat: expected at least {x.ndim} counts for a tensor of shape {x.shape}, "
            f"got {counts}"
        )
    if builtins.any(n < 0 for n in counts):
        raise ValueError(f"repeat: counts must be >= 0, got {counts}")
    shape = (1,) * (len(counts) - x.ndim) + x.shape
    # Each axis of length n becomes a pair (1, n), broadcast to (count, n) and merged.
    paired = tuple(k for n in shape for k in (1, n))
    tiled = tuple(k for count, n in zip(counts, shape, strict=True) for k in (count, n))
    spread = Expand.apply(Reshape.apply(x, paired), tiled)
    tiles = Reshape.apply(spread, tuple(c * n for c, n in zip(counts, shape, strict=True)))
    # Merging the broadcast axes copies, except where no count repeats anything (all 1):
    # the result is then a read-only view of x, and a copy is what PyTorch gives.
    return Clone.apply(tiles) if tiles.data.base is not None else tiles


def tile(x: Any, *reps: Any, dims: Any = None) -> Tensor:
    """Repeat ``x`` ``reps`` (PyTorch's keyword: ``dims``) times along each axis; fewer
    counts than axes repeat the last axes (PyTorch's ``tile``, where ``repeat`` needs one
    count per axis)."""
    x = as_tensor(x)
    if dims is not None:
        if reps:
            raise TypeError("tile: expected the counts by position or as dims=, not both")
        reps = (dims,)
    counts = tuple(reps[0]) if len(reps) == 1 and isinstance(reps[0], Sequence) else reps
    counts = (1,) * (x.ndim - len(counts)) + tuple(counts)
    return repeat(x, *counts)


def gather(x: Any, dim: int, index: Any) -> Tensor:
    """``out[i][j][k] = x[i][index[i][j][k]][k]`` for ``dim=1`` (PyTorch's ``gather``).

    ``index`` is an integer tensor with as many axes as ``x``, no longer than ``x`` along the
    other axes (a 0-d input or index counts as one of shape (1,), as in PyTorch); positions
    picked twice receive the sum of their gradients.
    """
    x = as_tensor(x)
    picks = np.asarray(index.data if isinstance(index, Tensor) else index)
    check_axis(dim, x.ndim, "gather")
    axis = int(dim) % builtins.max(x.ndim, 1)
    if picks.dtype.kind not in "iu":
        raise TypeError(f"gather: expected an integer index, got dtype {picks.dtype}")
    if builtins.min(x.ndim, picks.ndim) == 0 and builtins.max(x.ndim, picks.ndim) <= 1:
        # PyTorch reads a 0-d input or index as one of shape (1,); the result has the
        # index's shape.
        return reshape(gather(reshape(x, -1), 0, picks.reshape(-1)), picks.shape)
    if picks.ndim != x.ndim or builtins.any(
        picks.shape[d] > x.shape[d] for d in range(x.ndim) if d != axis
    ):
        raise ValueError(
            f"gather: index must have {x.ndim} dimensions and be no longer than the input "
            f"along every axis but {axis}, got index shape {picks.shape} for input shape "
            f"{x.shape}"
        )
    if picks.size and (picks.min() < 0 or picks.max() >= x.shape[axis]):
        raise IndexError(
            f"gather: index values must be in [0, {x.shape[axis] - 1}] for axis {axis} of "
            f"shape {x.shape}, got {picks.min()}..{picks.max()}"
        )
    parts = tuple(
        picks if d == axis else np.arange(n).reshape((-1,) + (1,) * (picks.ndim - d - 1))
        for d, n in enumerate(picks.shape)
    )
    return Index.apply(x, parts)


def index_put(x: Any, key: Any, value: Any, *, in_place: bool = False) -> Tensor:
    """A copy of ``x`` with ``x[key]`` replaced by ``value`` (broadcast, converted to x's
    dtype), recorded in the graph: the gradient reaches ``x`` at the positions left alone and
    ``value`` from the positions it filled. ``x[key] = value`` under grad mode uses it.

    With ``in_place``, ``x``'s own array is written and returned instead of a copy: only for
    an array that nothing else holds (no view, no saved context, no other tensor), which
    ``Tensor.__setitem__`` checks; a piecewise fill then costs the pieces, not the whole.
    """
    x = as_tensor(x)
    keys = index_keys(key, x.ndim)
    try:
        # The indexed shape, from an array of no memory (advanced keys allocate the region
        # alone, as bools).
        region = np.broadcast_to(np.empty((), dtype=bool), x.shape)
        for part in keys:
            region = region[part]
    except IndexError as error:
        raise IndexError(f"setitem: {error} (tensor shape {x.shape})") from None
    if isinstance(value, Tensor):
        filler = value if value.dtype == x.dtype else value.to(x.dtype)
    else:
        value = _element_of("setitem", value, x.dtype)
        filler = Tensor._from_op(np.asarray(value, dtype=x.dtype), None)
    extra = filler.ndim - region.ndim
    if extra > 0 and all(n == 1 for n in filler.shape[:extra]):
        # Leading axes of length 1 are dropped, as in PyTorch (x[0] = y[None]).
        filler = Reshape.apply(filler, filler.shape[extra:])
    try:
        if np.broadcast_shapes(filler.shape, region.shape) != region.shape:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"setitem: cannot broadcast a value of shape {filler.shape} to the indexed shape "
            f"{region.shape}"
        ) from None
    return IndexPut.apply(x, filler, keys, in_place)
