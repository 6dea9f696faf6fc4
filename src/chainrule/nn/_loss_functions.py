"""Loss functions in functional form (``chainrule.nn.functional.mse_loss`` and the rest).

Each composes autograd ops, except the three that training loops call on every step, which
use fused ops: cross-entropy (``softmax_cross_entropy``, and ``softmax_cross_entropy_labels``
for plain class labels), the reduced mean squared error (``mse_loss``) and the reduced binary
cross-entropy with logits (``binary_cross_entropy_with_logits``). ``reduction`` is
``'mean'`` (default), ``'sum'`` or ``'none'``. PyTorch's deprecated ``size_average`` and
``reduce`` flags are accepted, keyword only, by the losses that PyTorch accepts them in: they
set ``reduction`` as PyTorch does, with a warning.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import chainrule.autograd.ops as ops
from chainrule.autograd.ops._operands import as_tensor
from chainrule.autograd.ops.losses import (
    BinaryCrossEntropy,
    BinaryCrossEntropyWithLogits,
    MSELoss,
    SoftmaxCrossEntropy,
    SoftmaxCrossEntropyLabels,
)
from chainrule.backend import Array, is_floating, np
from chainrule.tensor import Tensor, _values_hold

_REDUCTIONS = ("mean", "sum", "none")


class LabelOutOfRangeError(ValueError, IndexError):
    """A class label outside [0, C) (and not ``ignore_index``).

    A ``ValueError`` by this library's rule for bad input, and an ``IndexError`` as in
    PyTorch (which raises ``IndexError: Target 3 is out of bounds``), so that code written
    for either catches it.
    """


def _check_reduction(where: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{where}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _legacy_reduction(where: str, size_average: Any, reduce: Any) -> str:
    """The ``reduction`` that PyTorch's deprecated ``size_average`` and ``reduce`` flags
    stand for (None counts as true), with a deprecation warning, as PyTorch gives.

    ``reduce`` false: 'none'; else ``size_average`` false: 'sum'; else 'mean'.
    """
    if reduce is not None and not reduce:
        reduction = "none"
    elif size_average is not None and not size_average:
        reduction = "sum"
    else:
        reduction = "mean"
    warnings.warn(
        f"{where}: size_average and reduce are deprecated (as in PyTorch); this pair means "
        f"reduction={reduction!r}, pass that instead",
        UserWarning,
        stacklevel=3,
    )
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _pair(where: str, input: Any, target: Any, reduction: str) -> tuple[Tensor, Tensor]:
    _check_reduction(where, reduction)
    input, target = as_tensor(input), as_tensor(target)
    if input.shape != target.shape:
        raise ValueError(
            f"{where}: expected input and target of the same shape, got {input.shape} and "
            f"{target.shape}"
        )
    if not is_floating(input.dtype):
        raise TypeError(f"{where}: expected a floating-point input, got dtype {input.dtype}")
    if target.dtype != input.dtype:
        # An op, not an astype: compile_step replays it on each batch's target (a float64
        # target from NumPy beside a float32 model is the common case).
        target = ops.cast(target, input.dtype)
    return input, target


def _weighted(
    where: str, loss: Tensor, weight: Any, reduction: str, *, mean_by_weight: bool = True
) -> Tensor:
    """PyTorch's ``weight=`` of ``mse_loss``, ``l1_loss`` and ``huber_loss``: each element's
    loss times its weight (of the input's shape), then reduced; 'mean' divides by the sum of
    the weights (by their count for ``huber_loss``, as PyTorch does)."""
    weight = as_tensor(weight)
    if weight.shape != loss.shape:
        raise ValueError(
            f"{where}: expected weight of the input's shape {loss.shape}, got {weight.shape}"
        )
    weighted = loss * weight
    if reduction == "mean" and mean_by_weight:
        return weighted.sum() / weight.sum()
    return _reduce(weighted, reduction)


def mse_loss(
    input: Any,
    target: Any,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
    weight: Any = None,
) -> Tensor:
    """Mean squared error: (input - target)**2, reduced.

    ``weight`` (of the input's shape), as in PyTorch, multiplies each element's loss; 'mean'
    is then sum(weight * loss) / sum(weight).
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction("mse_loss", size_average, reduce)
    if weight is not None:
        input, target = _pair("mse_loss", input, target, reduction)
        diff = input - target
        return _weighted("mse_loss", diff * diff, weight, reduction)
    if (reduction == "mean" or reduction == "sum") and isinstance(input, Tensor):
        # What _pair checks, in a few comparisons, for two tensors that already match.
        a, b = input.data, target.data if isinstance(target, Tensor) else None
        if b is not None and a.shape == b.shape and a.dtype == b.dtype and a.dtype.kind == "f":
            return MSELoss.apply(input, target, reduction == "mean")
    input, target = _pair("mse_loss", input, target, reduction)
    if reduction != "none":
        return MSELoss.apply(input, target, reduction == "mean")  # one node for three
    diff = input - target
    return diff * diff


def l1_loss(
    input: Any,
    target: Any,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
    weight: Any = None,
) -> Tensor:
    """Mean absolute error: |input - target|, reduced.

    ``weight`` (of the input's shape), as in PyTorch, multiplies each element's loss; 'mean'
    is then sum(weight * loss) / sum(weight).
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction("l1_loss", size_average, reduce)
    input, target = _pair("l1_loss", input, target, reduction)
    if weight is not None:
        return _weighted("l1_loss", ops.abs(input - target), weight, reduction)
    return _reduce(ops.abs(input - target), reduction)


def huber_loss(
    input: Any, target: Any, reduction: str = "mean", delta: float = 1.0, weight: Any = None
) -> Tensor:
    """0.5 d**2 where |d| < delta, else delta * (|d| - 0.5 delta); d = input - target.

    ``weight`` (of the input's shape), as in PyTorch, multiplies each element's loss before
    the reduction; 'mean' is then the mean of the products (not divided by sum(weight), as
    in ``mse_loss``: PyTorch's rule for ``huber_loss``).
    """
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta!r}")
    input, target = _pair("huber_loss", input, target, reduction)
    diff = input - target
    size = ops.abs(diff)
    # The square of diff clipped to the quadratic part: the branch where() leaves out must
    # pass back 0, not 0 * inf = NaN at an infinite diff. A NaN diff takes the quadratic
    # branch, through which hardtanh passes it: a NaN gradient, as in PyTorch.
    near = ops.hardtanh(diff, -delta, delta)
    loss = ops.where(~(size.data >= delta), 0.5 * near * near, delta * (size - 0.5 * delta))
    if weight is not None:
        return _weighted("huber_loss", loss, weight, reduction, mean_by_weight=False)
    return _reduce(loss, reduction)


def smooth_l1_loss(
    input: Any,
    target: Any,
    reduction: str = "mean",
    beta: float = 1.0,
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """0.5 d**2 / beta where |d| < beta, else |d| - 0.5 beta (Huber divided by beta)."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction("smooth_l1_loss", size_average, reduce)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta!r}")
    input, target = _pair("smooth_l1_loss", input, target, reduction)
    diff = input - target
    size = ops.abs(diff)
    if beta == 0:
        return _reduce(size, reduction)
    near = ops.hardtanh(diff, -beta, beta)  # see huber_loss
    loss = ops.where(~(size.data >= beta), 0.5 * near * near / beta, size - 0.5 * beta)
    return _reduce(loss, reduction)


def _weighted_mean(total: Tensor, denominator: Array) -> Tensor:
    """``total / denominator`` for the 'mean' of class-label losses.

    When every target is ignored (or has weight 0) the mean is of nothing: NaN, as in
    PyTorch, without a NumPy warning, and the gradient is zero (those rows contribute
    nothing), where a plain division would give NaN gradients too.
    """
    if denominator == 0:
        return total * 0 + np.nan
    return total / denominator.astype(total.dtype)


def _class_weights(where: str, weight: Any, classes: int, dtype: Any) -> Array | None:
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=dtype)
    if w.shape != (classes,):
        raise ValueError(f"{where}: expected weight of shape ({classes},), got {w.shape}")
    return w


def _to_rows(where: str, input: Tensor) -> tuple[Tensor, tuple[int, ...]]:
    """Logits as (rows, classes): (C,) -> (1, C); (N, C, d1, ...) -> (N*d1*..., C)."""
    if input.ndim == 0:
        raise ValueError(f"{where}: expected input of shape (N, C) or (C,), got a 0-d tensor")
    if input.ndim == 1:
        return input.reshape(1, -1), ()
    if input.ndim == 2:
        return input, (input.shape[0],)
    moved = ops.permute(input, 0, *range(2, input.ndim), 1)
    return moved.reshape(-1, input.shape[1]), (input.shape[0], *input.shape[2:])


def _label_weights(
    where: str,
    labels: Array,
    classes: int,
    class_weight: Array | None,
    ignore_index: int,
    label_smoothing: float,
    dtype: Any,
) -> tuple[Array, Array]:
    """The (rows, C) target-weight matrix for class labels, and each row's weight for 'mean'."""
    labels = labels.reshape(-1)
    kept = labels != ignore_index
    bad = kept & ((labels < 0) | (labels >= classes))
    if bad.any():
        raise LabelOutOfRangeError(
            f"{where}: target class {int(labels[bad][0])} is out of range for {classes} classes "
            f"(expected 0..{classes - 1}"
            + (f" or ignore_index={ignore_index})" if ignore_index >= 0 else ")")
        )
    rows = np.arange(labels.size)
    safe_labels = np.where(kept, labels, 0)
    w = np.ones(classes, dtype=dtype) if class_weight is None else class_weight
    row_weight = np.where(kept, w[safe_labels], 0).astype(dtype)
    matrix = np.zeros((labels.size, classes), dtype=dtype)
    matrix[rows, safe_labels] = (1 - label_smoothing) * row_weight
    if label_smoothing:
        matrix += (label_smoothing / classes) * (w[None, :] * kept[:, None])
    return matrix, row_weight


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """Cross-entropy between softmax(input) and the target, from raw logits.

    Parameters
    ----------
    input : Tensor of shape (N, C), (C,) or (N, C, d1, ...)
        Logits (unnormalized scores).
    target : Tensor
        Class labels (integers of shape (N,), (), or (N, d1, ...)), or class probabilities of
        the input's shape (which receive a gradient when they require one, as in PyTorch).
    weight : array_like of shape (C,), optional
        A weight per class. With labels and ``reduction='mean'`` the result is divided by the
        summed weights of the targets, as in PyTorch.
    ignore_index : int, default=-100
        Label whose samples contribute nothing (labels only).
    reduction : {'mean', 'sum', 'none'}, default='mean'
        The mean over the samples (weighted, as above), their sum, or one loss per sample.
    label_smoothing : float in [0, 1], default=0
        Mix the target with the uniform distribution by this amount.
    size_average, reduce : bool, optional
        PyTorch's deprecated flags, keyword only: either one, when given, sets
        ``reduction`` as in PyTorch (``reduce=False``: 'none'; else
        ``size_average=False``: 'sum'; else 'mean') and warns.

    Returns
    -------
    Tensor
        The reduced loss, or per-sample losses with ``reduction='none'``.

    Raises
    ------
    ValueError
        If a class label is out of range (an ``IndexError`` too, as in PyTorch), or a shape
        or option does not fit.
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction("cross_entropy", size_average, reduce)
    where = "cross_entropy"
    plain = _plain_labels(input, target, weight, ignore_index, reduction, label_smoothing)
    if plain is not None:
        return SoftmaxCrossEntropyLabels.apply(input, plain, reduction == "mean")
    _check_reduction(where, reduction)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{where}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    input = as_tensor(input)
    if not is_floating(input.dtype):
        raise TypeError(f"{where}: expected floating-point logits, got dtype {input.dtype}")
    target_data = target.data if isinstance(target, Tensor) else np.asarray(target)
    rows, out_shape = _to_rows(where, input)
    classes = rows.shape[1]
    w = _class_weights(where, weight, classes, input.dtype)
    if target_data.dtype.kind in "iu":
        expected = out_shape
        if target_data.shape != expected:
            raise ValueError(
                f"{where}: expected class labels of shape {expected} for input of shape "
                f"{input.shape}, got {target_data.shape}"
            )
        matrix, row_weight = _label_weights(
            where, target_data, classes, w, ignore_index, label_smoothing, input.dtype
        )
        denominator = row_weight.sum()
    elif is_floating(target_data.dtype):
        if ignore_index != -100:
            raise ValueError(
                f"{where}: ignore_index applies to class labels, got probability targets with "
                f"ignore_index={ignore_index}; give ignored rows zero weight instead"
            )
        if target_data.shape != input.shape:
            raise ValueError(
                f"{where}: expected class probabilities of the input's shape {input.shape}, "
                f"got {target_data.shape}"
            )
        denominator = np.asarray(rows.shape[0], dtype=input.dtype)
        if isinstance(target, Tensor) and target.requires_grad:
            # Soft targets that need a gradient (distillation from a trained teacher): the
            # fused op treats its targets as constants, so compose log_softmax instead.
            soft = _soft_target_rows(target.to(input.dtype), classes, label_smoothing, w)
            losses = -(soft * ops.log_softmax(rows, axis=1)).sum(axis=1)
            return _reduce_rows(losses, reduction, denominator, out_shape)
        probs = target_data.astype(input.dtype, copy=False)
        if input.ndim > 2:
            probs = np.moveaxis(probs, 1, -1)
        matrix = probs.reshape(-1, classes)
        if label_smoothing:
            matrix = matrix * (1 - label_smoothing) + label_smoothing / classes
        if w is not None:
            matrix = matrix * w
    else:
        raise TypeError(
            f"{where}: expected integer class labels or floating-point probabilities as target, "
            f"got dtype {target_data.dtype}"
        )
    losses = SoftmaxCrossEntropy.apply(rows, matrix)
    return _reduce_rows(losses, reduction, denominator, out_shape)


def _plain_labels(
    input: Any,
    target: Any,
    weight: Any,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
) -> Array | None:
    """The labels, when cross-entropy is the plain case that one fused node computes:
    (N, C) floating logits, N >= 1 labels all in [0, C) (so none ignored), no class weights,
    no smoothing, a reduced result. None otherwise, for the general path and its checks."""
    if weight is not None or label_smoothing != 0 or reduction not in ("mean", "sum"):
        return None
    if not isinstance(input, Tensor):
        return None
    logits = input.data
    labels = target.data if isinstance(target, Tensor) else target
    if (
        logits.ndim != 2
        or logits.dtype.kind != "f"
        or type(labels) is not np.ndarray
        or labels.dtype.kind not in "iu"
        or labels.shape != (logits.shape[0],)
        or labels.shape[0] == 0
    ):
        return None
    classes = logits.shape[1]
    if not isinstance(ignore_index, int) or 0 <= ignore_index < classes:
        return None
    if not _values_hold(labels, functools.partial(_labels_below, classes)):
        return None
    return labels


_AS_UNSIGNED = {np.dtype(f"i{size}"): np.dtype(f"u{size}") for size in (1, 2, 4, 8)}
"""Native-order signed integer dtypes and the unsigned dtypes of their size."""


def _labels_below(classes: int, labels: Array) -> bool:
    # Read as unsigned, a negative label is larger than any class, so one maximum checks both
    # ends. ufunc.reduce: what .max() calls, without its Python-level wrapper.
    unsigned = _AS_UNSIGNED.get(labels.dtype)
    if unsigned is not None:
        return bool(np.maximum.reduce(labels.view(unsigned)) < classes)
    return bool(np.minimum.reduce(labels) >= 0 and np.maximum.reduce(labels) < classes)


def _soft_target_rows(
    target: Tensor, classes: int, label_smoothing: float, weight: Array | None
) -> Tensor:
    """Probability targets as differentiable (rows, C) weights, like the fused path's."""
    if target.ndim > 2:
        target = ops.permute(target, 0, *range(2, target.ndim), 1)
    rows = target.reshape(-1, classes)
    if label_smoothing:
        rows = rows * (1 - label_smoothing) + label_smoothing / classes
    if weight is not None:
        rows = rows * weight
    return rows


def _reduce_rows(
    losses: Tensor, reduction: str, denominator: Array, out_shape: tuple[int, ...]
) -> Tensor:
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return _weighted_mean(losses.sum(), denominator)
    return losses.reshape(out_shape)


def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """Negative log-likelihood of class labels, given log-probabilities (N, C) as input."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction("nll_loss", size_average, reduce)
    where = "nll_loss"
    _check_reduction(where, reduction)
    input = as_tensor(input)
    labels = target.data if isinstance(target, Tensor) else np.asarray(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{where}: expected integer class labels, got dtype {labels.dtype}")
    rows, out_shape = _to_rows(where, input)
    if labels.shape != out_shape:
        raise ValueError(
            f"{where}: expected class labels of shape {out_shape} for input of shape "
            f"{input.shape}, got {labels.shape}"
        )
    w = _class_weights(where, weight, rows.shape[1], input.dtype)
    matrix, row_weight = _label_weights(
        where, labels, rows.shape[1], w, ignore_index, 0.0, input.dtype
    )
    # A class of weight 0 contributes nothing, even where its log-probability is -inf (a
    # masked class): 0 * -inf would be NaN.
    losses = -(ops.where(matrix != 0, rows, 0.0) * matrix).sum(axis=1)
    return _reduce_rows(losses, reduction, row_weight.sum(), out_shape)


def _elementwise_weight(where: str, name: str, weight: Any, input: Tensor) -> Tensor:
    """``weight`` as a tensor of the input's dtype, checked to broadcast to the input's shape.

    Checked because a larger weight would broadcast the loss instead: a 'none' result of the
    wrong shape, and a 'mean' over more elements than the input has. PyTorch rejects it too.
    """
    w = as_tensor(weight).to(input.dtype)
    try:
        fits = np.broadcast_shapes(w.shape, input.shape) == input.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{where}: expected {name} broadcastable to the input's shape {input.shape}, "
            f"got shape {w.shape}"
        )
    return w


def binary_cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """-w (y log p + (1 - y) log(1 - p)) for probabilities p in [0, 1]; each log is clamped
    at -100, as in PyTorch, so that p = 0 or 1 gives a finite loss.

    Notes
    -----
    The gradient is PyTorch's: (p - y) / max(p (1 - p), 1e-12) per element, finite for every
    p in [0, 1] and large for a confident wrong prediction (p = 0 where y = 1).
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction("binary_cross_entropy", size_average, reduce)
    input, target = _pair("binary_cross_entropy", input, target, reduction)
    if not _values_hold(input, _probabilities):
        raise ValueError(
            "binary_cross_entropy: expected probabilities in [0, 1] as input; for raw scores "
            "use binary_cross_entropy_with_logits"
        )
    if not _values_hold(target, _probabilities):
        raise ValueError(
            "binary_cross_entropy: expected targets in [0, 1] (labels or probabilities), got "
            "values outside"
        )
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * _elementwise_weight("binary_cross_entropy", "weight", weight, input)
    return _reduce(loss, reduction)


def _non_negative(values: Array) -> bool:
    return not (values < 0).any()


def _probabilities(p: Array) -> bool:
    return not ((p < 0).any() or (p > 1).any())


def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """Binary cross-entropy on raw scores x, stable for any x:
    (1 - y) x + (1 + (pos_weight - 1) y) softplus(-x), times ``weight``.

    A reduced loss ('mean' or 'sum') of float32 or float64 scores is one fused node
    (``binary_cross_entropy_with_logits`` in ``chainrule.autograd.ops.losses``), with the
    values of the composition to the last bit; 'none', an empty input, and a ``weight`` or
    ``pos_weight`` that requires grad take the composition.
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction("binary_cross_entropy_with_logits", size_average, reduce)
    if (
        (reduction == "mean" or reduction == "sum")
        and weight is None
        and pos_weight is None
        and isinstance(input, Tensor)
        and isinstance(target, Tensor)
    ):
        # What _pair checks, in a few comparisons, for two tensors that already match.
        x, y = input.data, target.data
        if x.shape == y.shape and x.dtype == y.dtype and x.dtype.char in "fd" and x.size:
            return BinaryCrossEntropyWithLogits.apply(
                input, target, None, None, reduction == "mean"
            )
    where = "binary_cross_entropy_with_logits"
    input, target = _pair(where, input, target, reduction)
    pw = None if pos_weight is None else _elementwise_weight(where, "pos_weight", pos_weight, input)
    w = None if weight is None else _elementwise_weight(where, "weight", weight, input)
    if (
        reduction != "none"
        and input.data.dtype.char in "fd"
        and input.data.size
        and not (w is not None and w.requires_grad)
        and not (pw is not None and pw.requires_grad)
    ):
        return BinaryCrossEntropyWithLogits.apply(input, target, w, pw, reduction == "mean")
    softplus_neg = ops.softplus(-input, threshold=np.inf)  # log(1 + e^-x), exact everywhere
    if pw is None:
        loss = (1 - target) * input + softplus_neg
    else:
        loss = (1 - target) * input + (1 + (pw - 1) * target) * softplus_neg
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


def kl_div(
    input: Any,
    target: Any,
    reduction: str = "mean",
    log_target: bool = False,
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """Kullback-Leibler divergence KL(target || q) with ``input`` = log q.

    Pointwise ``target * (log target - input)`` (0 where target = 0). ``reduction`` may also be
    ``'batchmean'``: the sum divided by the batch size, the true KL divergence per sample.
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction("kl_div", size_average, reduce)
    where = "kl_div"
    batchmean = reduction == "batchmean"
    input, target = _pair(where, input, target, "sum" if batchmean else reduction)
    if log_target:
        loss = ops.exp(target) * (target - input)
    else:
        positive = target.data > 0
        # t log t, 0 where t = 0; differentiable in t (log t + 1) when the target needs it.
        entropy_term = ops.where(positive, target * ops.log(ops.where(positive, target, 1)), 0)
        loss = entropy_term - target * input
    if batchmean:
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


def _floating_tensor(where: str, name: str, x: Any) -> Tensor:
    x = as_tensor(x)
    if not is_floating(x.dtype):
        raise TypeError(f"{where}: expected a floating-point {name}, got dtype {x.dtype}")
    return x


def _labels_as(target: Any, input: Tensor) -> Tensor:
    """A target of +-1 (or 0/1) labels, in the input's dtype, outside the graph."""
    data = target.data if isinstance(target, Tensor) else np.asarray(target)
    return Tensor._from_op(data.astype(input.dtype, copy=False), None)


def _broadcast_pair(where: str, x1: Tensor, x2: Tensor) -> tuple[int, ...]:
    """The shape that x1 and x2 broadcast to, or an error naming ``where`` and both shapes."""
    try:
        return tuple(np.broadcast_shapes(x1.shape, x2.shape))
    except ValueError:
        raise ValueError(
            f"{where}: expected x1 and x2 that broadcast together, got shapes {x1.shape} and "
            f"{x2.shape}"
        ) from None


def _pairwise_distance(
    x1: Tensor, x2: Tensor, p: float, eps: float, keepdim: bool, where: str = "pairwise_distance"
) -> Tensor:
    """||x1 - x2 + eps||_p over the last axis, as PyTorch computes it (eps inside the norm,
    so that equal vectors have a finite gradient).

    As in PyTorch, p may be any number: p = 0 counts the nonzero differences (gradient 0),
    p < 0 gives sum(|d|^p)^(1/p) (0 when some d is 0) and p = -inf the smallest |d|.
    """
    if isinstance(p, bool) or not isinstance(p, int | float | np.number) or np.isnan(p):
        raise ValueError(f"{where}: p must be a number (or inf), got p={p!r}")
    _broadcast_pair(where, x1, x2)
    d = x1 - x2 + eps
    if p > 0:
        return ops.norm(d, ord=p, axis=-1, keepdims=keepdim)
    if p == 0:
        count = (d.data != 0).sum(axis=-1, keepdims=keepdim).astype(d.dtype)
        # zeros that keep the graph, so that backward gives the inputs zero gradients
        nothing = ops.where(np.ones(d.shape, bool), 0.0, d).sum(axis=-1, keepdims=keepdim)
        return nothing + count
    size = ops.abs(d)
    if p == -np.inf:
        return ops.amin(size, -1, keepdim)
    # sum(|d|^p)^(1/p) is 0 when some |d| is 0 (its term is inf); take those rows' value,
    # and their zero gradient, from the mask, so that no 0^p reaches the graph
    zero = d.data == 0
    stuck = zero.any(axis=-1, keepdims=keepdim)
    terms = ops.where(zero, 1.0, size) ** p
    return ops.where(stuck, 0.0, terms.sum(axis=-1, keepdims=keepdim) ** (1 / p))


def poisson_nll_loss(
    input: Any,
    target: Any,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """Negative log-likelihood of a Poisson target with rate lambda.

    ``exp(input) - target * input`` when ``log_input`` (input = log lambda), else
    ``input - target * log(input + eps)``. ``full`` adds Stirling's approximation of
    log(target!), ``target log target - target + 0.5 log(2 pi target)``, where target > 1.
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction("poisson_nll_loss", size_average, reduce)
    input, target = _pair("poisson_nll_loss", input, target, reduction)
    loss = ops.exp(input) - target * input if log_input else input - target * ops.log(input + eps)
    if full:
        big = target.data > 1
        safe = ops.where(big, target, 1)  # log of 1, not of 0 or a negative count, masked out
        # Ops on the target, as in PyTorch: a target that requires grad gets the term's.
        stirling = safe * ops.log(safe) - safe + 0.5 * ops.log((2 * np.pi) * safe)
        loss = loss + ops.where(big, stirling, 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    input: Any,
    target: Any,
    var: Any,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of a Gaussian target with mean ``input`` and variance ``var``:
    0.5 (log max(var, eps) + (input - target)**2 / max(var, eps)), plus 0.5 log(2 pi) if
    ``full``.

    ``var`` has the input's shape, or that shape without its last axis, or one axis of size 1
    (one variance shared along it); a float is one variance for all. As in PyTorch, the
    clamp at ``eps`` is outside the graph: the gradient reaches ``var`` as if it were not
    clamped.
    """
    where = "gaussian_nll_loss"
    input, target = _pair(where, input, target, reduction)
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError(f"{where}: expected var >= 0, got {var!r}")
        var = Tensor._from_op(np.full(input.shape, var, dtype=input.dtype), None)
    var = as_tensor(var)
    if not _values_hold(var, _non_negative):
        raise ValueError(f"{where}: expected var >= 0 everywhere, got a negative entry")
    if var.shape != input.shape:
        if var.shape == input.shape[:-1]:
            var = var.unsqueeze(-1)
        elif not (
            var.ndim == input.ndim
            and sum(v for i, v in zip(input.shape, var.shape, strict=True) if i != v) == 1
        ):
            raise ValueError(
                f"{where}: expected var of the input's shape {input.shape}, of that shape "
                f"without its last axis, or with one axis of size 1; got shape {var.shape}"
            )
    var = var.to(input.dtype)
    clamped = var + (ops.clip(var, min=eps) - var).detach()
    diff = input - target
    loss = 0.5 * (ops.log(clamped) + diff * diff / clamped)
    if full:
        loss = loss + 0.5 * np.log(2 * np.pi)
    return _reduce(loss, reduction)


def margin_ranking_loss(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0.0,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """max(0, -target (input1 - input2) + margin), for target +1 (input1 should rank
    higher) or -1; the three broadcast together."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction("margin_ranking_loss", size_average, reduce)
    where = "margin_ranking_loss"
    _check_reduction(where, reduction)
    x1, x2 = _floating_tensor(where, "input1", input1), _floating_tensor(where, "input2", input2)
    y = as_tensor(target)
    if not x1.ndim == x2.ndim == y.ndim:
        raise ValueError(
            f"{where}: expected input1, input2 and target with the same number of dimensions, "
            f"got shapes {x1.shape}, {x2.shape} and {y.shape}"
        )
    # A floating target stays in the graph (PyTorch differentiates it too); labels of
    # another dtype are constants.
    labels = ops.cast(y, x1.dtype) if y.dtype.kind == "f" else _labels_as(y, x1)
    loss = ops.clip(-labels * (x1 - x2) + margin, min=0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(
    input: Any,
    target: Any,
    margin: float = 1.0,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """``input`` where target = 1, max(0, margin - input) where target = -1 (``input`` is
    usually a distance between two embeddings)."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction("hinge_embedding_loss", size_average, reduce)
    where = "hinge_embedding_loss"
    input, y = _pair(where, input, target, reduction)
    labels = y.data
    # PyTorch's form: a label that is neither 1 nor -1 gets both terms.
    loss = ops.where(labels != 1, ops.clip(margin - input, min=0), 0) + ops.where(
        labels != -1, input, 0
    )
    return _reduce(loss, reduction)


def soft_margin_loss(
    input: Any,
    target: Any,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """Two-class logistic loss log(1 + exp(-target * input)), for target +1 or -1."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction("soft_margin_loss", size_average, reduce)
    input, target = _pair("soft_margin_loss", input, target, reduction)
    return _reduce(ops.softplus(-target * input, threshold=np.inf), reduction)


def multilabel_soft_margin_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """One-against-all logistic loss over C classes, averaged over the classes (last axis):
    -(1/C) sum_c w_c (y_c log sigmoid(x_c) + (1 - y_c) log sigmoid(-x_c)), for 0/1 targets.
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction("multilabel_soft_margin_loss", size_average, reduce)
    where = "multilabel_soft_margin_loss"
    input, target = _pair(where, input, target, reduction)
    if input.ndim == 0:
        raise ValueError(f"{where}: expected input with a class axis, got a 0-d tensor")
    # -log sigmoid(x) = softplus(-x), exact for every x.
    loss = target * ops.softplus(-input, threshold=np.inf) + (1 - target) * ops.softplus(
        input, threshold=np.inf
    )
    if weight is not None:
        loss = loss * _elementwise_weight(where, "weight", weight, input)
    loss = loss.sum(axis=-1) / input.shape[-1]
    return _reduce(loss, reduction)


def cosine_embedding_loss(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0.0,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """1 - cos(x1, x2) where target = 1, max(0, cos(x1, x2) - margin) where target = -1.

    cos = x1 . x2 / sqrt((|x1|**2 + 1e-12) (|x2|**2 + 1e-12)), as PyTorch computes it, over
    the last axis of inputs of shape (N, D) with target (N,), or (D,) with a 0-d target.
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction("cosine_embedding_loss", size_average, reduce)
    where = "cosine_embedding_loss"
    _check_reduction(where, reduction)
    x1, x2 = _floating_tensor(where, "input1", input1), _floating_tensor(where, "input2", input2)
    y = as_tensor(target)
    if y.ndim > 1:
        raise ValueError(f"{where}: expected a 0-d or 1-d target, got shape {y.shape}")
    if not x1.ndim == x2.ndim == y.ndim + 1:
        raise ValueError(
            f"{where}: a {y.ndim}-d target expects {y.ndim + 1}-d inputs, got shapes "
            f"{x1.shape} and {x2.shape}"
        )
    epsilon = 1e-12
    dot = (x1 * x2).sum(axis=-1)
    cos = dot / ops.sqrt(((x1 * x1).sum(axis=-1) + epsilon) * ((x2 * x2).sum(axis=-1) + epsilon))
    labels = y.data
    loss = ops.where(labels == 1, 1 - cos, 0) + ops.where(
        labels == -1, ops.clip(cos - margin, min=0), 0
    )
    return _reduce(loss, reduction)


def triplet_margin_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), d the p-norm distance
    over the last axis (``pairwise_distance``); ``swap`` uses min(d(a, n), d(p, n)) for the
    negative distance."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction("triplet_margin_loss", size_average, reduce)
    where = "triplet_margin_loss"
    _check_reduction(where, reduction)
    if not margin > 0:
        raise ValueError(f"{where}: margin must be > 0, got {margin!r}")
    a = _floating_tensor(where, "anchor", anchor)
    pos = _floating_tensor(where, "positive", positive)
    neg = _floating_tensor(where, "negative", negative)
    distance = functools.partial(_pairwise_distance, p=p, eps=eps, keepdim=False, where=where)
    return _triplet(where, a, pos, neg, distance, margin, swap, reduction)


def _triplet(
    where: str,
    a: Tensor,
    pos: Tensor,
    neg: Tensor,
    distance: Callable[[Tensor, Tensor], Tensor],
    margin: float,
    swap: bool,
    reduction: str,
) -> Tensor:
    """max(0, margin + d(a, pos) - d(a, neg)), reduced; ``swap`` takes min(d(a, neg),
    d(pos, neg)) for the negative distance. The triplet losses check their margins first."""
    if not a.ndim == pos.ndim == neg.ndim:
        raise ValueError(
            f"{where}: expected anchor, positive and negative with the same number of "
            f"dimensions, got shapes {a.shape}, {pos.shape} and {neg.shape}"
        )
    dist_pos = distance(a, pos)
    dist_neg = distance(a, neg)
    if swap:
        dist_neg = ops.minimum(dist_neg, distance(pos, neg))
    return _reduce(ops.clip(margin + dist_pos - dist_neg, min=0), reduction)


def triplet_margin_with_distance_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    *,
    distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) with a distance of your
    own, as PyTorch's ``triplet_margin_with_distance_loss``.

    Parameters
    ----------
    anchor, positive, negative : Tensor of shape (N, D) or (D,)
        Embeddings, with the same number of axes.
    distance_function : callable, optional
        d(x1, x2): a function of two tensors giving a tensor of distances, one per row
        (``1 - F.cosine_similarity(x1, x2)``, an ``nn.PairwiseDistance`` layer...);
        default ``pairwise_distance`` (the Euclidean distance, eps=1e-6 inside the norm).
    margin : float, default=1.0
        > 0.
    swap : bool, default=False
        Use min(d(anchor, negative), d(positive, negative)) as the negative distance (the
        distance swap of Balntas et al., 2016).
    reduction : {'mean', 'sum', 'none'}, default='mean'

    Returns
    -------
    Tensor
        The loss; per triplet for ``reduction='none'``.

    Notes
    -----
    .. math::

        \\ell_i = \\max\\bigl(0,\\ m + d(a_i, p_i) - d(a_i, n_i)\\bigr)

    Gradients flow through ``distance_function``, which must be built of chainrule ops.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> a, p, n = cr.tensor([[0.0, 1.0]]), cr.tensor([[0.0, 2.0]]), cr.tensor([[1.0, 1.0]])
    >>> F.triplet_margin_with_distance_loss(
    ...     a, p, n, distance_function=lambda x, y: (x - y).abs().sum(-1), margin=0.5
    ... )
    tensor(0.5000)
    """
    where = "triplet_margin_with_distance_loss"
    _check_reduction(where, reduction)
    if not margin > 0:
        raise ValueError(f"{where}: margin must be greater than 0, got {margin!r}")
    if distance_function is not None and not callable(distance_function):
        raise TypeError(
            f"{where}: expected a callable distance_function (x1, x2) -> distances, got "
            f"{type(distance_function).__name__}"
        )
    distance: Callable[[Tensor, Tensor], Tensor]
    if distance_function is None:
        a = _floating_tensor(where, "anchor", anchor)
        pos = _floating_tensor(where, "positive", positive)
        neg = _floating_tensor(where, "negative", negative)
        # pairwise_distance's defaults, p=2 and eps=1e-6, as PyTorch's default
        distance = functools.partial(
            _pairwise_distance, p=2.0, eps=1e-6, keepdim=False, where=where
        )
    else:
        a, pos, neg = as_tensor(anchor), as_tensor(positive), as_tensor(negative)
        distance = distance_function
    return _triplet(where, a, pos, neg, distance, margin, swap, reduction)


def _margin_rows(where: str, input: Any, target: Any) -> tuple[Tensor, Array]:
    """``input`` as (N, C) scores and ``target`` as an integer array with N rows (an
    unbatched (C,) input counts as one row)."""
    x = as_tensor(input)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"{where}: expected input of shape (N, C) or (C,), got {x.shape}")
    if not is_floating(x.dtype):
        raise TypeError(f"{where}: expected a floating-point input, got dtype {x.dtype}")
    labels = target.data if isinstance(target, Tensor) else np.asarray(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{where}: expected integer class labels, got dtype {labels.dtype}")
    return x, labels


def multi_margin_loss(
    input: Any,
    target: Any,
    p: int = 1,
    margin: float = 1.0,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class hinge loss: (1/C) sum_{i != y} w_y max(0, margin - x_y + x_i)**p.

    Parameters
    ----------
    input : Tensor of shape (N, C) or (C,)
    target : integer array of shape (N,) or ()
        Class labels in 0..C-1.
    p : {1, 2}, default=1
    margin : float, default=1.0
    weight : Tensor of shape (C,), optional
        Weight of each target class.
    size_average, reduce : bool, optional
        PyTorch's deprecated flags (see ``_Loss``).
    reduction : {'mean', 'sum', 'none'}, default='mean'

    Returns
    -------
    Tensor: a scalar, or with ``reduction='none'`` one loss per row in the target's shape,
    as in PyTorch: (N,), or for unbatched input () or (1,)

    Raises
    ------
    ValueError
        For ``p`` other than 1 or 2, shapes that do not fit, or labels out of range.

    Examples
    --------
    >>> import chainrule as cr
    >>> loss = multi_margin_loss(cr.tensor([[0.1, 0.2, 0.4, 0.8]]), cr.tensor([3]))
    >>> round(loss.item(), 4)
    0.325
    """
    where = "multi_margin_loss"
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(where, size_average, reduce)
    _check_reduction(where, reduction)
    if p not in (1, 2) or isinstance(p, bool):
        raise ValueError(f"{where}: only p == 1 and p == 2 are supported, got p={p!r}")
    x, labels = _margin_rows(where, input, target)
    unbatched = x.ndim == 1
    rows = x.reshape(1, -1) if unbatched else x
    classes = rows.shape[1]
    target_shape = labels.shape
    labels = labels.reshape(-1)
    if labels.shape != (rows.shape[0],):
        raise ValueError(
            f"{where}: expected target of shape ({rows.shape[0]},) for input shape "
            f"{x.shape}, got {np.shape(target.data if isinstance(target, Tensor) else target)}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise LabelOutOfRangeError(
            f"{where}: target labels must be in [0, {classes - 1}], got "
            f"{labels.min()}..{labels.max()}"
        )
    chosen = rows[np.arange(rows.shape[0]), labels].reshape(-1, 1)
    hinge = ops.relu(margin - chosen + rows)
    if p == 2:
        hinge = hinge * hinge
    others = np.ones((rows.shape[0], classes), dtype=x.dtype)
    others[np.arange(rows.shape[0]), labels] = 0  # the target class itself is not a margin
    if weight is not None:
        w = _class_weights(where, weight, classes, x.dtype)
        assert w is not None
        others = others * w[labels][:, None]
    loss = (hinge * others).sum(axis=1) / classes
    if len(target_shape) <= 1:
        loss = loss.reshape(target_shape)  # PyTorch's: (1,) for a (1,) target of one row
    elif unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_margin_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-label hinge loss: (1/C) sum_{j in targets} sum_{i not in targets}
    max(0, 1 - (x_j - x_i)).

    Parameters
    ----------
    input : Tensor of shape (N, C) or (C,)
    target : integer array of the input's shape
        Each row lists the target classes, ended by the first -1 (what follows is
        ignored), as PyTorch's. A class listed k times counts k times in the first sum
        (PyTorch's convention).
    size_average, reduce : bool, optional
        PyTorch's deprecated flags.
    reduction : {'mean', 'sum', 'none'}, default='mean'

    Returns
    -------
    Tensor: a scalar, or shape (N,) (() for unbatched input) with ``reduction='none'``

    Raises
    ------
    ValueError
        When the target's shape differs from the input's or a label is out of range.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> round(multilabel_margin_loss(x, cr.tensor([[3, 0, -1, 1]])).item(), 4)
    0.85
    """
    where = "multilabel_margin_loss"
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(where, size_average, reduce)
    _check_reduction(where, reduction)
    x, labels = _margin_rows(where, input, target)
    if labels.shape != x.shape:
        raise ValueError(
            f"{where}: expected target of the input's shape {x.shape}, got {labels.shape}"
        )
    unbatched = x.ndim == 1
    rows = x.reshape(1, -1) if unbatched else x
    labels = labels.reshape(rows.shape)
    classes = rows.shape[1]
    # Each row's labels up to its first -1: how often each class is listed.
    listed = np.cumprod(labels != -1, axis=1).astype(bool)
    used = labels[listed]
    if used.size and (used.min() < 0 or used.max() >= classes):
        raise LabelOutOfRangeError(
            f"{where}: target labels must be in [0, {classes - 1}] (or -1 to end a row), "
            f"got {used.min()}..{used.max()}"
        )
    n = rows.shape[0]
    # Only the listed labels are gathered, padded to the longest list (T): the pairs are
    # (N, T, C), not (N, C, C), which at C = 1000 took seconds and gigabytes.
    longest = int(listed.sum(axis=1).max()) if n else 0
    length = max(longest, 1)
    targets = np.where(listed[:, :length], labels[:, :length], 0)
    valid = listed[:, :length].astype(x.dtype)
    others = np.ones(rows.shape, dtype=x.dtype)
    others[np.nonzero(listed)[0], used] = 0
    chosen = rows[np.arange(n)[:, None], targets]
    hinge = ops.relu(1 - chosen.reshape(n, length, 1) + rows.reshape(n, 1, classes))
    # pairs[n, t, i]: listed label t weighed against non-target i; a class listed k times
    # is k entries, so it counts k times, as in PyTorch.
    pairs = valid[:, :, None] * others[:, None, :]
    loss = (hinge * pairs).sum(axis=(1, 2)) / classes
    if unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction)
