"""Writing many values into a tensor at once: ``scatter_reduce`` (an op of its own, with
PyTorch's gradients for each reduction) and ``masked_scatter`` (a composition)."""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Context, Function, register
from chainrule.autograd.ops._operands import as_tensor, check_axis, quietly
from chainrule.autograd.ops.more import _scatter_coords, _scatter_source, _vector
from chainrule.autograd.ops.shape import broadcast_to, index, index_put, reshape
from chainrule.backend import Array, np
from chainrule.tensor import Tensor

_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")

_COMBINE = {
    "sum": np.add,
    "mean": np.add,
    "prod": np.multiply,
    "amax": np.maximum,
    "amin": np.minimum,
}


def _identity(reduce: str, dtype: np.dtype[Any]) -> Any:
    """The value that leaves ``reduce`` unchanged: what a position starts from when
    ``include_self`` is False."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    if dtype.kind == "b":
        return reduce == "amin"
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


def _reduced(
    x: Array, src: Array, coords: tuple[Array, ...], reduce: str, include_self: bool
) -> Array:
    """``x`` with ``src[k]`` reduced into position ``coords[k]``: the forward, which the
    product's backward runs again on other values."""
    out = x.copy()
    if not include_self:
        out[coords] = _identity(reduce, x.dtype)
    _COMBINE[reduce].at(out, coords, src)
    if reduce == "mean":
        counts = _counts(x.shape, coords, include_self)
        if out.dtype.kind == "f":
            out /= counts
        else:  # integers divide rounding down, as PyTorch's
            out //= counts.astype(out.dtype)
    return out


def _counts(shape: tuple[int, ...], coords: tuple[Array, ...], include_self: bool) -> Array:
    """How many values each position averages (1 where none: the value stays)."""
    counts = np.full(shape, 1 if include_self else 0, dtype=np.int64)
    np.add.at(counts, coords, 1)
    return np.maximum(counts, 1)


@register("scatter_reduce")
class ScatterReduce(Function):
    """y = x with each ``src[k]`` reduced into position ``coords[k]`` by ``reduce`` (sum,
    prod, mean, amax, amin), x itself included unless ``include_self`` is False.

    Gradients are PyTorch's: sum, g to x and g[coords] to src; mean, g / count to each; prod,
    g times the product of the others (exact where values are 0); amax/amin, g shared evenly
    by x and the src values equal to the result. Without ``include_self``, x gets no
    gradient where anything was written.
    """

    @staticmethod
    @quietly
    def forward(
        ctx: Context,
        x: Array,
        src: Array,
        coords: tuple[Array, ...],
        reduce: str,
        include_self: bool,
    ) -> Array:
        y = _reduced(x, src, coords, reduce, include_self)
        ctx.coords, ctx.reduce, ctx.include_self = coords, reduce, include_self
        ctx.save_for_backward(x, src, y)
        return y

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array, Array, None, None, None]:
        x, src, y = ctx.saved
        coords, reduce, include_self = ctx.coords, ctx.reduce, ctx.include_self
        if reduce == "sum":
            grad_x, grad_src = grad, grad[coords]
        elif reduce == "mean":
            counts = _counts(x.shape, coords, include_self).astype(grad.dtype)
            grad_x = grad / counts
            grad_src = grad[coords] / counts[coords]
        elif reduce == "prod":
            # The product of the others, as PyTorch computes it: y / value where the value
            # is not 0; where it is, the product taken again with that 0 as 1 (0 again if
            # another 0 is there).
            nonzero_x = np.where(x == 0, 1, x)
            grad_x = grad * _reduced(nonzero_x, src, coords, "prod", include_self) / nonzero_x
            src_zero = src == 0
            zeros_at = np.zeros(x.shape, dtype=np.int64)
            np.add.at(zeros_at, coords, src_zero)
            single_zero = src_zero & (zeros_at[coords] == 1)
            without_zero = _reduced(x, np.where(single_zero, 1, src), coords, "prod", include_self)
            grad_src = np.where(
                single_zero,
                (grad * without_zero)[coords],
                (grad * y)[coords] / np.where(src_zero, 1, src),
            )
        else:  # amax, amin: ties share the gradient evenly
            # NOTE: x counts among the ties where it equals the result even without
            # include_self (it then gets no gradient, but halves src's share), as in PyTorch.
            x_hit = (x == y).astype(grad.dtype)
            src_hit = (src == y[coords]).astype(grad.dtype)
            ties = x_hit.copy()
            np.add.at(ties, coords, src_hit)
            share = grad / ties
            grad_x = x_hit * share
            grad_src = src_hit * share[coords]
        if not include_self:
            grad_x = grad_x.copy()
            grad_x[coords] = 0
        return grad_x, grad_src, None, None, None


def scatter_reduce(
    input: Any,
    dim: int,
    index: Any,
    src: Any,
    reduce: str,
    *,
    include_self: bool = True,
) -> Tensor:
    """A copy of ``input`` with the values of ``src`` reduced into the positions ``index``
    names along ``dim``, as PyTorch's ``scatter_reduce``.

    For ``dim=1``: ``out[i][index[i][j]] = reduce(out[i][index[i][j]], src[i][j])`` over all
    ``(i, j)``, starting from ``input`` (or, without ``include_self``, from nothing at the
    positions written).

    Parameters
    ----------
    input : Tensor
    dim : int
        The axis along which ``index`` names positions.
    index : Tensor or array_like of integers
        As many axes as ``input``, no longer than ``input`` along the others and no longer
        than ``src`` along any; values in [0, input.shape[dim]).
    src : Tensor
        The values (converted to ``input``'s dtype); the part outside ``index``'s shape is
        unused and gets a zero gradient.
    reduce : {'sum', 'prod', 'mean', 'amax', 'amin'}
    include_self : bool, default=True
        Whether ``input``'s own values take part at the positions written.

    Returns
    -------
    Tensor
        Of ``input``'s shape and dtype. An integer mean rounds down, as PyTorch's; NaN
        propagates through amax and amin.

    Raises
    ------
    ValueError
        If ``reduce`` is not one of the five, or ``index`` is longer than ``input`` or
        ``src`` along an axis.
    TypeError
        If ``index`` is not an integer tensor with as many axes as ``input``.
    IndexError
        If an index is out of range.

    Notes
    -----
    For one position receiving values s_1..s_k (and x, with include_self):
    sum: y = x + sum s_i, dy/dx = dy/ds_i = 1. mean: y = (x + sum s_i) / (k + 1),
    derivatives 1 / (k + 1) (k without x). prod: y = x prod s_i, dy/ds_i = the product of
    all the others (exact at zeros). amax/amin: y = max (min) of them; the gradient is
    shared evenly by all that equal y, x counted among them wherever it equals y, even
    without include_self (where it then gets none), as PyTorch does. Unlike PyTorch's, the
    gradient of a ``src`` larger than ``index`` is defined (zero on the unused part).

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0, 3.0])
    >>> cr.scatter_reduce(x, 0, cr.tensor([0, 0, 2]), cr.tensor([5.0, 7.0, 1.0]), "amax")
    tensor([7., 2., 3.])
    >>> cr.scatter_reduce(x, 0, cr.tensor([0, 0]), cr.tensor([5.0, 7.0]), "mean",
    ...                   include_self=False)
    tensor([6., 2., 3.])
    """
    x = as_tensor(input)
    if reduce not in _REDUCTIONS:
        raise ValueError(
            f"scatter_reduce: expected reduce to be one of {_REDUCTIONS}, got {reduce!r}"
        )
    if x.ndim == 0:  # read as shape (1,), as in PyTorch (scatter's rule)
        check_axis(dim, 0, "scatter_reduce")
        out = scatter_reduce(
            _vector(x), 0, _vector(index), _vector(src), reduce, include_self=include_self
        )
        return reshape(out, ())
    axis, coords = _scatter_coords("scatter_reduce", x, dim, index)
    picks_shape = coords[0].shape
    if any(n > x.shape[d] for d, n in enumerate(picks_shape) if d != axis):
        raise ValueError(
            f"scatter_reduce: expected an index no longer than the input along every axis but "
            f"{axis}, got index shape {picks_shape} for input shape {x.shape}"
        )
    source = _scatter_source("scatter_reduce", src, picks_shape, x.dtype)
    return ScatterReduce.apply(x, source, coords, reduce, bool(include_self))


def masked_scatter(input: Any, mask: Any, source: Any) -> Tensor:
    """A copy of ``input`` with the positions where ``mask`` holds filled, in row-major
    order, by the first elements of ``source``, as PyTorch's ``masked_scatter``.

    Parameters
    ----------
    input : Tensor
    mask : Tensor or array_like of bool
        Broadcast with ``input`` (the result has the broadcast shape).
    source : Tensor
        At least as many elements as ``mask`` has True (after broadcasting), in any shape;
        converted to ``input``'s dtype.

    Returns
    -------
    Tensor
        ``input`` where ``mask`` is False; the k-th True position (row-major) holds
        ``source.reshape(-1)[k]``.

    Raises
    ------
    TypeError
        If ``mask`` is not boolean.
    ValueError
        If ``mask`` does not broadcast with ``input``, or ``source`` is too small.

    Notes
    -----
    y = where(mask, s[rank of the position among the True ones], x);
    dL/dx = g where mask is False, 0 elsewhere; dL/ds_k = g at the k-th True position for
    k < count(mask), 0 for the elements of ``source`` left unused.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.zeros(2, 3)
    >>> mask = cr.tensor([[True, False, True], [False, True, False]])
    >>> cr.masked_scatter(x, mask, cr.tensor([1.0, 2.0, 3.0, 4.0]))
    tensor([[1., 0., 2.],
            [0., 3., 0.]])
    """
    x = as_tensor(input)
    flags = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if flags.dtype != np.bool_:
        raise TypeError(f"masked_scatter: expected a boolean mask, got dtype {flags.dtype}")
    try:
        shape = np.broadcast_shapes(x.shape, flags.shape)
    except ValueError:
        raise ValueError(
            f"masked_scatter: expected a mask that broadcasts with the input's shape {x.shape}, "
            f"got shape {flags.shape}"
        ) from None
    if shape != x.shape:
        x = broadcast_to(x, shape)
    flags = np.broadcast_to(flags, shape)
    values = as_tensor(source)
    count = int(flags.sum())
    if values.data.size < count:
        raise ValueError(
            f"masked_scatter: expected a source of at least {count} elements (the True "
            f"entries of the mask), got {values.data.size} (shape {values.shape})"
        )
    if values.dtype != x.dtype:
        values = values.to(x.dtype)
    used = index(reshape(values, (-1,)), slice(0, count))
    return index_put(x, flags, used)
