"""``embedding_bag``: sums, means or maxima of bags of embedding rows, computed as segment
reductions over the looked-up rows (no Python loop per bag)."""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Context, Function, register
from chainrule.autograd.ops._operands import as_tensor
from chainrule.backend import Array, np
from chainrule.tensor import Tensor

_MODES = ("sum", "mean", "max")


def _segments(bag: Array) -> tuple[Array, Array]:
    """The bags that hold something and where each starts in ``bag`` (sorted bag ids)."""
    if not bag.size:
        return bag, bag
    starts = np.flatnonzero(np.r_[True, bag[1:] != bag[:-1]])
    return bag[starts], starts


@register("embedding_bag")
class EmbeddingBagOp(Function):
    """y[b] = reduce over k in bag b of w[idx[k]] (times psw[k] in mode 'sum').

    ``idx`` and ``bag`` (sorted bag ids) name the kept lookups (padding already left out).
    Gradients: sum, dw[idx[k]] += g[bag[k]] * psw[k] and dpsw[k] = g[bag[k]] . w[idx[k]];
    mean, dw[idx[k]] += g[bag[k]] / count[bag[k]]; max, g[b, j] goes to w[i, j] for the
    first lookup i of bag b that reaches the maximum (PyTorch's arg max). ``scale`` multiplies
    each lookup's gradient (1 / its index's frequency, for ``scale_grad_by_freq``).
    """

    @staticmethod
    def forward(
        ctx: Context,
        weight: Array,
        per_sample_weights: Array | None,
        *,
        idx: Array,
        bag: Array,
        n_bags: int,
        mode: str,
        scale: Array | None = None,
    ) -> Array:
        out = np.zeros((n_bags, weight.shape[1]), dtype=weight.dtype)
        rows = weight[idx]
        if per_sample_weights is not None:
            rows = rows * per_sample_weights[:, None]
        filled, starts = _segments(bag)
        argmax = None
        if mode == "max":
            argmax = np.zeros((0, weight.shape[1]), dtype=np.intp)
            if idx.size:
                out[filled] = np.maximum.reduceat(rows, starts, axis=0)
                # NOTE: ties go to the first lookup that reaches the maximum, as in PyTorch.
                position = np.where(rows == out[bag], np.arange(idx.size)[:, None], idx.size)
                argmax = idx[np.minimum.reduceat(position, starts, axis=0)]
        elif idx.size:
            out[filled] = np.add.reduceat(rows, starts, axis=0)
        counts = None
        if mode == "mean":
            counts = np.maximum(np.bincount(bag, minlength=n_bags), 1).astype(out.dtype)
            out /= counts[:, None]
        ctx.save_for_backward(weight, per_sample_weights, idx, bag, counts, filled, argmax, scale)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        weight, per_sample_weights, idx, bag, counts, filled, argmax, scale = ctx.saved
        grad_weight = np.zeros_like(weight)
        if argmax is not None:
            columns = np.broadcast_to(np.arange(weight.shape[1]), argmax.shape)
            np.add.at(grad_weight, (argmax, columns), grad[filled])
            return grad_weight, None
        per_row = grad[bag]  # the gather: each lookup's bag gradient
        grad_psw = None
        if per_sample_weights is not None:
            grad_psw = np.einsum("kd,kd->k", per_row, weight[idx])
            per_row = per_row * per_sample_weights[:, None]
        if counts is not None:
            per_row = per_row / counts[bag][:, None]
        if scale is not None:
            per_row = per_row * scale.astype(per_row.dtype)[:, None]
        np.add.at(grad_weight, idx, per_row)
        return grad_weight, grad_psw


def _index_array(where: str, name: str, value: Any) -> Array:
    data = value.data if isinstance(value, Tensor) else np.asarray(value)
    if data.dtype.kind not in "iu":
        raise TypeError(f"{where}: expected integer {name}, got dtype {data.dtype}")
    return data.astype(np.int64, copy=False)


def embedding_bag(
    input: Any,
    weight: Tensor,
    offsets: Any = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Any = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    r"""Sums, means or maxima of bags of rows of ``weight``, as PyTorch's ``embedding_bag``.

    Parameters
    ----------
    input : integer array of shape (B, N) or (n,)
        Row indices, each in 0..rows-1. 2-D: B bags of N indices each (``offsets`` must be
        None); 1-D: bags given by ``offsets``.
    weight : Tensor of shape (rows, dim)
    offsets : integer array of shape (B,) or (B + 1,), optional
        Where each bag starts in a 1-D ``input`` (non-decreasing, ``offsets[0] == 0``); with
        ``include_last_offset`` the last entry only closes the last bag (which, as in
        PyTorch, still runs to the end of ``input``). A bag with no index gives zeros.
    max_norm, norm_type : float, optional
        As in ``embedding``: looked-up rows whose norm exceeds ``max_norm`` are first
        rescaled in place to that norm.
    scale_grad_by_freq : bool, default=False
        Divide each row's gradient by how often its index occurs in ``input`` (not with
        mode 'max', as in PyTorch).
    mode : {'sum', 'mean', 'max'}, default='mean'
    sparse : bool, default=False
        Sparse gradients are not supported; True is refused.
    per_sample_weights : Tensor of the shape of ``input``, optional
        Weights of the lookups (mode 'sum' only, as in PyTorch); they get a gradient.
    include_last_offset : bool, default=False
    padding_idx : int, optional
        Lookups of this row are left out of their bag (and of the mean's count).

    Returns
    -------
    Tensor of shape (B, dim)

    Raises
    ------
    ValueError, RuntimeError, NotImplementedError, TypeError, IndexError
        On the inputs PyTorch refuses (with its conditions): a bad mode, ``offsets`` with a
        2-D input or missing with a 1-D one, ``offsets[0] != 0``, ``offsets[-1]`` past the
        input, decreasing offsets, out-of-range indices, ``per_sample_weights`` of another
        shape or with a mode other than 'sum'.

    Notes
    -----
    For bag b holding the kept lookups K_b (padding left out):

    .. math::

        \text{sum: } y_b = \sum_{k \in K_b} s_k W_{i_k}, \quad
        \text{mean: } y_b = \frac{1}{\max(|K_b|, 1)} \sum_{k \in K_b} W_{i_k}, \quad
        \text{max: } y_{bj} = \max_{k \in K_b} W_{i_k j}

    with s_k the per-sample weights (1 without them). The reductions are segment
    reductions (``np.add.reduceat``, ``np.maximum.reduceat``) and the backward a gather of
    the bag gradients followed by one scatter-add into the table. In mode 'max' the
    gradient of y[b, j] goes to the first lookup reaching the maximum, as in PyTorch.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> w = cr.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> F.embedding_bag(cr.tensor([0, 2, 1]), w, cr.tensor([0, 2]), mode="sum").tolist()
    [[6.0, 8.0], [3.0, 4.0]]
    """
    where = "embedding_bag"
    if mode not in _MODES:
        raise ValueError(f"{where}: mode has to be one of sum, mean or max, got mode={mode!r}")
    if sparse:
        raise ValueError(
            f"{where}: sparse gradients are not supported (chainrule's gradients are dense "
            f"arrays); pass sparse=False"
        )
    if scale_grad_by_freq and mode == "max":
        raise ValueError(
            f"{where}: max mode does not support scaling the gradient by the frequency; pass "
            f"scale_grad_by_freq=False or another mode"
        )
    indices = _index_array(where, "indices", input)
    if weight.ndim != 2:
        raise ValueError(f"{where}: expected a 2-D weight (rows, dim), got shape {weight.shape}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(
                f"{where}: per_sample_weights is only supported for mode='sum', got mode={mode!r}"
            )
        psw_shape = tuple(np.shape(per_sample_weights))
        if psw_shape != indices.shape:
            raise ValueError(
                f"{where}: expected per_sample_weights of the input's shape {indices.shape}, "
                f"got shape {psw_shape}"
            )
    if indices.ndim == 2:
        if offsets is not None:
            raise ValueError(
                f"{where}: with a 2-D input (fixed-length bags), offsets has to be None, got "
                f"offsets of shape {np.shape(offsets)}"
            )
        n_bags, length = indices.shape
        starts = np.arange(n_bags, dtype=np.int64) * length
    elif indices.ndim == 1:
        if offsets is None:
            raise ValueError(f"{where}: with a 1-D input, offsets has to be a 1-D array, got None")
        starts = _index_array(where, "offsets", offsets)
        if starts.ndim != 1:
            raise ValueError(f"{where}: offsets has to be 1-D, got shape {starts.shape}")
        if include_last_offset:
            if starts.size < 1:
                raise ValueError(
                    f"{where}: with include_last_offset, offsets needs at least one entry, "
                    f"got {starts.size}"
                )
            if starts.size < 2:
                raise ValueError(
                    f"{where}: with include_last_offset, expected offsets of at least 2 "
                    f"entries (bags + 1), got {starts.tolist()}"
                )
        if starts.size == 0:
            raise ValueError(f"{where}: expected at least one offset, got an empty offsets")
        if starts[0] != 0:
            raise RuntimeError(
                f"{where}: offsets[0] has to be 0, i.e., the first bag has to start at "
                f"position 0; got {int(starts[0])}"
            )
        if starts[-1] > indices.size:
            raise RuntimeError(
                f"{where}: offsets[-1] can not be greater than the input's length "
                f"{indices.size}, got offsets[-1] of {int(starts[-1])}"
            )
        if np.any(np.diff(starts) < 0):
            raise ValueError(f"{where}: expected non-decreasing offsets, got {starts.tolist()}")
        if include_last_offset:
            starts = starts[:-1]
        n_bags = starts.size
    else:
        raise ValueError(f"{where}: input has to be 1-D or 2-D, got shape {indices.shape}")
    rows = weight.shape[0]
    idx = indices.reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= rows):
        bad = idx[(idx < 0) | (idx >= rows)][0]
        expected = f"expected 0..{rows - 1}" if rows else "the table has no rows: no index is valid"
        raise IndexError(
            f"{where}: index {int(bad)} is out of range for {rows} embeddings ({expected})"
        )
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise ValueError(
                f"{where}: padding_idx must be in [{-rows}, {rows - 1}], got "
                f"padding_idx={padding_idx}"
            )
        padding_idx %= rows
    if max_norm is not None:
        from chainrule.nn.functional import _renorm_rows

        _renorm_rows(weight, idx, max_norm, norm_type)
    bag = np.searchsorted(starts, np.arange(idx.size), side="right") - 1
    keep = np.ones(idx.size, dtype=bool) if padding_idx is None else idx != padding_idx
    scale = None
    if scale_grad_by_freq:
        _, inverse, counts = np.unique(idx, return_inverse=True, return_counts=True)
        scale = (1.0 / counts)[inverse.reshape(-1)][keep]
    psw = None
    if per_sample_weights is not None:
        psw = as_tensor(per_sample_weights).reshape(-1)
        if padding_idx is not None:
            psw = psw[np.flatnonzero(keep)]  # the kept lookups' weights, with their gradient
    return EmbeddingBagOp.apply(
        weight,
        psw,
        idx=idx[keep],
        bag=bag[keep],
        n_bags=int(n_bags),
        mode=mode,
        scale=scale,
    )
