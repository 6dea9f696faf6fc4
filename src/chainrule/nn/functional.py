"""Layers, activations and losses as functions (``import chainrule.nn.functional as F``).

The modules in ``chainrule.nn`` hold parameters and call these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import chainrule.autograd.ops as ops
from chainrule.autograd.grad_mode import is_grad_enabled, no_grad
from chainrule.autograd.ops import (
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    linear,
    log_softmax,
    logsumexp,
    relu,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from chainrule.autograd.ops._operands import as_tensor, floating_only, in_place
from chainrule.backend import Array, is_floating, np
from chainrule.nn._conv_functional import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    dropout2d,
    lp_pool1d,
    lp_pool2d,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d,
    max_pool2d_with_indices,
    max_unpool1d,
    max_unpool2d,
)
from chainrule.nn._embedding_bag import embedding_bag
from chainrule.nn._grid_functional import affine_grid, grid_sample
from chainrule.nn._image_functional import (
    adaptive_max_pool1d,
    adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d,
    adaptive_max_pool2d_with_indices,
    channel_shuffle,
    fold,
    pixel_shuffle,
    pixel_unshuffle,
    unfold,
)
from chainrule.nn._loss_functions import (
    _broadcast_pair,
    _pairwise_distance,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cross_entropy,
    gaussian_nll_loss,
    hinge_embedding_loss,
    huber_loss,
    kl_div,
    l1_loss,
    margin_ranking_loss,
    mse_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    nll_loss,
    poisson_nll_loss,
    smooth_l1_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from chainrule.nn._norm_functional import (
    _check_dtype,
    _in_dtype,
    _per_channel,
    _running_stat,
    bilinear,
    instance_norm,
    local_response_norm,
    rms_norm,
)
from chainrule.nn._random_functional import (
    alpha_dropout,
    dropout1d,
    feature_alpha_dropout,
    rrelu,
)
from chainrule.tensor import Tensor, as_generator

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_with_indices",
    "alpha_dropout",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "bilinear",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "cosine_embedding_loss",
    "cosine_similarity",
    "cross_entropy",
    "dropout",
    "dropout1d",
    "dropout2d",
    "elu",
    "embedding",
    "embedding_bag",
    "feature_alpha_dropout",
    "fold",
    "gaussian_nll_loss",
    "gelu",
    "group_norm",
    "hardtanh",
    "hinge_embedding_loss",
    "huber_loss",
    "instance_norm",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "local_response_norm",
    "log_softmax",
    "logsumexp",
    "margin_ranking_loss",
    "max_pool1d",
    "max_pool1d_with_indices",
    "max_pool2d",
    "max_pool2d_with_indices",
    "max_unpool1d",
    "max_unpool2d",
    "mse_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "pairwise_distance",
    "pixel_shuffle",
    "pixel_unshuffle",
    "poisson_nll_loss",
    "relu",
    "rms_norm",
    "rrelu",
    "scaled_dot_product_attention",
    "selu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "soft_margin_loss",
    "softmax",
    "softplus",
    "tanh",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
    "unfold",
]


def dropout(
    input: Any,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: np.random.Generator | int | None = None,
) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p) (inverted
    dropout, so that evaluation needs no rescaling). Identity when not ``training``.

    ``inplace=True`` changes ``input`` itself and returns it, as PyTorch does (recorded under
    grad mode like ``Tensor.relu_``, refused for a leaf that requires grad); the identity
    returns ``input`` either way."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p!r}")
    x = as_tensor(input)
    if not training or p == 0:
        return x
    if inplace:
        return in_place("dropout", input, lambda t: dropout(t, p, generator=generator))
    input = floating_only(x, "dropout")  # as PyTorch: 1 / (1 - p) would be truncated
    if p == 1:
        return input * 0
    rng = as_generator(generator)
    keep = rng.random(input.shape, dtype=np.float32) >= p
    mask = keep.astype(input.dtype) * input.dtype.type(1 / (1 - p))
    return input * mask


def _for_statistics(x: Tensor) -> Tensor:
    """``x`` in the dtype its mean and variance are computed in: float32 for float16 (whose
    squares overflow beyond 256), as PyTorch computes them; itself otherwise."""
    return x.to(np.float32) if x.dtype == np.float16 else x


def batch_norm(
    input: Any,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float | None = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel (axis 1) of (N, C, *) input, then scale and shift per channel.

    Parameters
    ----------
    input : Tensor of shape (N, C, *)
    running_mean, running_var : Tensor of shape (C,) or None
        Both or neither. Training: updated in place toward the batch's statistics,
        ``r = (1 - momentum) r + momentum b`` (unbiased variance); ``momentum=None`` (a
        cumulative average, which ``BatchNorm1d`` handles) leaves them as they are.
        Otherwise: what the input is normalized with.
    weight, bias : Tensor or array of shape (C,), optional
    training : bool, default=False
        Normalize with the batch's mean and biased variance; False: with the running ones.
    momentum : float or None, default=0.1
    eps : float, default=1e-5

    Returns
    -------
    Tensor of the input's shape

    Raises
    ------
    ValueError
        For input of fewer than 2 axes, one value per channel when training, only one of the
        running statistics, none when not training, or a ``weight``, ``bias`` or running
        statistic not of shape (C,).
    TypeError
        For a running statistic that is not a Tensor (an array, say), as PyTorch, or a
        ``weight``, ``bias`` or running statistic of another dtype than the input (float32
        is accepted beside float16 input, as PyTorch accepts it), in either mode.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0], [3.0]])
    >>> batch_norm(x, cr.zeros(1), cr.ones(1), training=True, eps=0.0).tolist()
    [[-1.0], [1.0]]
    """
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C) or (N, C, L), got {x.shape}")
    if (running_mean is None) != (running_var is None):
        given = "running_mean" if running_var is None else "running_var"
        raise ValueError(
            f"batch_norm: expected running_mean and running_var both given or both None, "
            f"got {given} only"
        )
    running_mean = _running_stat("batch_norm", "running_mean", running_mean, x)
    running_var = _running_stat("batch_norm", "running_var", running_var, x)
    weight = _per_channel("batch_norm", "weight", weight, x)
    bias = _per_channel("batch_norm", "bias", bias, x)
    axes = (0, *range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    count = int(np.prod((x.shape[0], *x.shape[2:])))  # values per channel
    if training and count == 0:
        # An empty batch (as in PyTorch): nothing to normalize, and no statistics to learn.
        normalized = x
    elif training:
        if count == 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input "
                f"shape {x.shape}"
            )
        wide = _for_statistics(x)
        mean = wide.mean(axis=axes, keepdims=True)
        centered = wide - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)
        if running_mean is not None and running_var is not None and momentum is not None:
            with no_grad():
                batch_mean = mean.data.reshape(-1)
                unbiased = var.data.reshape(-1) * (count / (count - 1))
                running_mean.data *= 1 - momentum
                running_mean.data += momentum * batch_mean
                running_var.data *= 1 - momentum
                running_var.data += momentum * unbiased
        normalized = (centered / ops.sqrt(var + eps)).to(x.dtype)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running statistics are required when not training")
        # Tensor ops on the buffers, not their arrays: a recorded train step
        # (chainrule.compile_step) then reads them afresh at every step.
        scale = 1 / ops.sqrt(running_var.reshape(shape) + eps)
        # In the statistics' dtype (float32 for float16 input), then back to the input's.
        centered = _for_statistics(x) - running_mean.reshape(shape)
        normalized = (centered * scale).to(x.dtype)
    if weight is not None:
        normalized = normalized * _in_dtype(weight, x).reshape(shape)
    if bias is not None:
        normalized = normalized + _in_dtype(bias, x).reshape(shape)
    return normalized


def layer_norm(
    input: Any,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize over the last ``len(normalized_shape)`` axes of each sample (biased
    variance), then scale by ``weight`` and shift by ``bias``.

    ``weight`` and ``bias`` must have the input's dtype (or float32 beside float16 input),
    as in PyTorch: a TypeError says which differs.
    """
    x = as_tensor(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape) :] != shape:
        raise ValueError(
            f"layer_norm: expected input whose last axes are {shape}, got shape {x.shape}"
        )
    weight = None if weight is None else as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and tuple(value.shape) != shape:
            raise ValueError(
                f"layer_norm: expected {name} of shape normalized_shape={shape}, got "
                f"{tuple(value.shape)}"
            )
        if value is not None:
            _check_dtype("layer_norm", name, value, x)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    wide = _for_statistics(x)
    centered = wide - wide.mean(axis=axes, keepdims=True)
    var = (centered * centered).mean(axis=axes, keepdims=True)
    out = (centered / ops.sqrt(var + eps)).to(x.dtype)
    if weight is not None:
        out = out * _in_dtype(weight, x)
    if bias is not None:
        out = out + _in_dtype(bias, x)
    return out


def group_norm(
    input: Any,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each group of channels of each sample, then scale and shift per channel.

    Parameters
    ----------
    input : Tensor of shape (N, C, *)
    num_groups : int
        G, which must divide C: channels c * C / G to (c + 1) * C / G - 1 form group c.
    weight, bias : Tensor of shape (C,), optional
        In the input's dtype (or float32 beside float16 input), as in PyTorch.
    eps : float, default=1e-5

    Returns
    -------
    Tensor of the input's shape

    Raises
    ------
    TypeError
        For input that is not floating point, or a ``weight`` or ``bias`` of another dtype.

    Notes
    -----
    y = (x - mean) / sqrt(var + eps) * weight + bias, with the mean and biased variance of
    the values of one sample's group (its C / G channels at every position).

    Examples
    --------
    >>> import chainrule as cr
    >>> group_norm(cr.tensor([[1.0, 3.0, 5.0, 9.0]]), 2, eps=0.0).tolist()
    [[-1.0, 1.0, -1.0, 1.0]]
    """
    x = as_tensor(input)
    if isinstance(num_groups, bool) or not isinstance(num_groups, int | np.integer):
        raise TypeError(f"group_norm: num_groups must be an int, got {num_groups!r}")
    if x.ndim < 2 or num_groups < 1 or x.shape[1] % num_groups:
        raise ValueError(
            f"group_norm: expected input of shape (N, C, *) with C divisible by num_groups, "
            f"got shape {x.shape} and num_groups={num_groups}"
        )
    if not is_floating(x.dtype):
        raise TypeError(f"group_norm: expected a floating-point input, got dtype {x.dtype}")
    channels = x.shape[1]
    weight = _per_channel("group_norm", "weight", weight, x)
    bias = _per_channel("group_norm", "bias", bias, x)
    per_group = channels // int(num_groups) * int(np.prod(x.shape[2:]))  # not -1: N may be 0
    groups = _for_statistics(x).reshape(x.shape[0], int(num_groups), per_group)
    centered = groups - groups.mean(axis=-1, keepdims=True)
    var = (centered * centered).mean(axis=-1, keepdims=True)
    out = (centered / ops.sqrt(var + eps)).reshape(x.shape).to(x.dtype)
    per_channel = (channels,) + (1,) * (x.ndim - 2)
    if weight is not None:
        out = out * _in_dtype(weight, x).reshape(per_channel)
    if bias is not None:
        out = out + _in_dtype(bias, x).reshape(per_channel)
    return out


def embedding(
    input: Any,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` picked by integer ``input`` (each in 0..rows-1); the row at
    ``padding_idx`` gets no gradient.

    As in PyTorch, ``max_norm`` first rescales, in place, each looked-up row whose
    ``norm_type``-norm exceeds it to norm ``max_norm`` (w *= max_norm / (norm + 1e-7));
    ``scale_grad_by_freq`` divides each row's gradient by the number of times its index
    occurs in ``input``. Gradients are dense: ``sparse=True`` is refused.
    """
    if sparse:
        raise ValueError(
            "embedding: sparse gradients are not supported (chainrule's gradients are dense "
            "arrays); pass sparse=False"
        )
    indices = input.data if isinstance(input, Tensor) else np.asarray(input)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: expected integer indices, got dtype {indices.dtype}")
    rows = weight.shape[0]
    # As in PyTorch, a negative index is an error: wrapping around would hide a bad label.
    if indices.size and (indices.min() < 0 or indices.max() >= rows):
        bad = indices[(indices < 0) | (indices >= rows)][0]
        expected = f"expected 0..{rows - 1}" if rows else "the table has no rows: no index is valid"
        raise IndexError(
            f"embedding: index {int(bad)} is out of range for {rows} embeddings ({expected})"
        )
    if max_norm is not None:
        _renorm_rows(weight, indices, max_norm, norm_type)
    out = weight[indices]
    if padding_idx is not None:
        padded = (indices == padding_idx % rows)[..., None]
        out = ops.where(padded, out.detach(), out)
    if scale_grad_by_freq and out.requires_grad:
        _, inverse, counts = np.unique(indices, return_inverse=True, return_counts=True)
        scale = Tensor((1.0 / counts)[inverse].reshape(indices.shape + (1,)).astype(out.dtype))
        out.register_hook(lambda grad: grad * scale)
    return out


def _renorm_rows(weight: Tensor, indices: Any, max_norm: float, norm_type: float) -> None:
    """PyTorch's ``embedding_renorm_``: each row named in ``indices`` whose norm exceeds
    ``max_norm`` is scaled, outside the graph, to norm ``max_norm``.

    Under grad mode the table is replaced by a rescaled copy, so that an op that saved the
    old table earlier in the graph (a tied output layer) still finds the values it used;
    PyTorch detects that case through its version counters and raises instead.
    """
    rows = np.unique(indices)
    if not rows.size:
        return
    data = weight.data
    norms = np.linalg.norm(data[rows], ord=norm_type, axis=1)
    too_long = norms > max_norm
    if not too_long.any():
        return
    if is_grad_enabled():
        data = data.copy()
    # The scale is computed in float64, then applied in the weight's dtype, as PyTorch does.
    scale = max_norm / (norms[too_long].astype(np.float64) + 1e-7)
    data[rows[too_long]] *= scale.astype(data.dtype)[:, None]
    weight.data = data


def one_hot(labels: Any, num_classes: int = -1) -> Tensor:
    """Integer labels of shape (...) as an int64 tensor of shape (..., num_classes)."""
    data = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    if data.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer labels, got dtype {data.dtype}")
    if num_classes < 0:
        num_classes = int(data.max()) + 1 if data.size else 0
    if data.size and (data.min() < 0 or data.max() >= num_classes):
        raise ValueError(
            f"one_hot: labels must be in [0, {num_classes - 1}], got {data.min()}..{data.max()}"
        )
    return Tensor._from_op(np.eye(num_classes, dtype=np.int64)[data], None)


# --------------------------------------------------------------------- more activations
from chainrule.autograd.ops.activations import (  # noqa: E402
    celu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    logsigmoid,
    mish,
    prelu,
    relu6,
    softmin,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
)

__all__ += [
    "celu",
    "glu",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "logsigmoid",
    "mish",
    "prelu",
    "relu6",
    "softmin",
    "softshrink",
    "softsign",
    "tanhshrink",
    "threshold",
]


def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``input`` divided by its ``p``-norm along ``dim``: x / max(||x||_p, eps).

    The clamp at ``eps`` keeps a zero vector at zero instead of dividing by zero.
    """
    x = as_tensor(input)
    norm = ops.norm(x, ord=p, axis=dim, keepdims=True)
    return x / ops.clip(norm, min=eps)


def pairwise_distance(
    x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """The ``p``-norm distance ||x1 - x2 + eps||_p over the last axis (x1 and x2 broadcast).

    As in PyTorch, ``eps`` is added inside the norm, so that two equal vectors have a
    distance of about eps and a finite gradient, and ``p`` may be any number: 0 counts
    the nonzero differences (gradient 0), p < 0 gives sum(|d|^p)^(1/p), -inf min |d|.
    """
    a, b = as_tensor(x1), as_tensor(x2)
    for name, x in (("x1", a), ("x2", b)):
        if not is_floating(x.dtype):
            raise TypeError(f"pairwise_distance: expected a floating-point {name}, got {x.dtype}")
    return _pairwise_distance(a, b, p, eps, keepdim)


def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between x1 and x2 along ``dim`` (x1 and x2 broadcast):
    sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)).

    As in PyTorch, each norm is clamped at ``eps`` outside the graph: the gradient is that
    of the unclamped norm, which differs only for vectors shorter than ``eps``.
    """
    a, b = as_tensor(x1), as_tensor(x2)
    for name, x in (("x1", a), ("x2", b)):
        if not is_floating(x.dtype):
            raise TypeError(f"cosine_similarity: expected a floating-point {name}, got {x.dtype}")
    shape = _broadcast_pair("cosine_similarity", a, b)
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"cosine_similarity: dim must be an int, got dim={dim!r}")
    n = max(len(shape), 1)
    if not -n <= dim < n:
        raise IndexError(
            f"cosine_similarity: dim must be in [{-n}, {n - 1}] for inputs of shape {shape}, "
            f"got dim={dim}"
        )
    a, b = ops.broadcast_to(a, shape), ops.broadcast_to(b, shape)

    def unit(x: Tensor) -> Tensor:
        norm = ops.norm(x, ord=2, axis=dim, keepdims=True)
        return x / (norm + (ops.clip(norm, min=eps) - norm).detach())

    return (unit(a) * unit(b)).sum(axis=dim)


def scaled_dot_product_attention(
    query: Any,
    key: Any,
    value: Any,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    generator: np.random.Generator | int | None = None,
    *,
    enable_gqa: bool = False,
) -> Tensor:
    """Attention: softmax(query @ key^T * scale + bias) @ value, as PyTorch's function
    computes it without a fused kernel.

    Parameters
    ----------
    query : Tensor of shape (..., L, E)
    key : Tensor of shape (..., S, E)
    value : Tensor of shape (..., S, Ev)
    attn_mask : Tensor of shape broadcasting to (..., L, S), optional
        A boolean mask is True where a query may attend to a key (False scores become
        -inf); a floating-point mask is added to the scores, in the query's dtype (so the
        float32 mask of ``Transformer.generate_square_subsequent_mask`` serves a float16
        query, and a float64 one a float32 query, as ``MultiheadAttention`` takes them).
    dropout_p : float, default=0.0
        Dropout on the attention weights; applied whenever it is above 0, as in PyTorch
        (pass ``dropout_p=0.0`` in evaluation).
    is_causal : bool, default=False
        Query i attends to keys 0..i only (the lower triangle of an (L, S) mask).
    scale : float, optional
        Factor on the scores; 1 / sqrt(E) when None.
    generator : numpy.random.Generator or int, optional
        Source of the dropout mask.
    enable_gqa : bool, default=False
        Grouped-query attention: ``key`` and ``value`` may have fewer heads (axis -3) than
        ``query``, Hk and Hv heads against Hq, each dividing Hq; key head j serves the
        Hq / Hk consecutive query heads j * Hq / Hk, ..., (j + 1) * Hq / Hk - 1 (and
        likewise for value), as if repeated with ``repeat_interleave(Hq // Hk, dim=-3)``.

    Returns
    -------
    Tensor of shape (..., L, Ev)

    Raises
    ------
    ValueError
        For both ``attn_mask`` and ``is_causal``, or an ``attn_mask`` neither bool nor
        floating point (an integer mask, such as old PyTorch code's uint8 "1 = attend", is
        refused, as PyTorch refuses it, rather than added to the scores); with
        ``enable_gqa``, for inputs of fewer than 3 dimensions or key/value head counts that
        do not divide the query's.

    Notes
    -----
    A query whose keys are all masked out (a padding row) attends to nothing: its output
    row is zeros and it passes no gradient back, as in PyTorch, instead of the NaN of a
    softmax over nothing but -inf.

    With ``enable_gqa`` the output's head h is that of query head h against key head
    h // (Hq / Hk) and value head h // (Hq / Hv); the gradient of a shared key or value
    head is the sum over the query heads it serves.

    Examples
    --------
    >>> import chainrule as cr
    >>> q = k = v = cr.ones(1, 3, 2)
    >>> scaled_dot_product_attention(q, k, v, is_causal=True).shape
    (1, 3, 2)
    >>> q, kv = cr.ones(1, 8, 3, 2), cr.ones(1, 2, 5, 2)  # 8 query heads, 2 key/value heads
    >>> scaled_dot_product_attention(q, kv, kv, enable_gqa=True).shape
    (1, 8, 3, 2)
    """
    q, k, v = as_tensor(query), as_tensor(key), as_tensor(value)
    if enable_gqa:
        k, v = _grouped_key_value(q, k, v)
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: expected attn_mask or is_causal, got both")
    if scale is None:
        scale = 1.0 / float(np.sqrt(q.shape[-1]))
    scores = q @ k.transpose(-2, -1) * scale
    if is_causal:
        allowed = np.tril(np.ones((q.shape[-2], k.shape[-2]), dtype=bool))
        scores = scores.masked_fill(~allowed, float("-inf"))
    elif attn_mask is not None:
        mask = as_tensor(attn_mask)
        if mask.dtype == np.bool_:
            scores = scores.masked_fill(~mask.data, float("-inf"))
        elif mask.dtype.kind == "f":
            scores = scores + (mask if mask.dtype == scores.dtype else mask.to(scores.dtype))
        else:
            raise ValueError(
                f"scaled_dot_product_attention: expected attn_mask of dtype bool (True = "
                f"attend) or floating point (added to the scores), got dtype {mask.dtype}; "
                f"for a 0/1 mask pass attn_mask.bool()"
            )
    weights = _attention_softmax(scores)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, generator=generator)
    return weights @ v


def _grouped_key_value(q: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """key and value with each head repeated to the query's head count (axis -3), for
    grouped-query attention: key head j serves query heads j * g, ..., (j + 1) * g - 1
    for g = Hq / Hk."""
    if min(q.ndim, k.ndim, v.ndim) < 3:
        raise ValueError(
            f"scaled_dot_product_attention: enable_gqa expected query, key and value of "
            f"shape (..., heads, length, features), at least 3 dimensions, got shapes "
            f"{q.shape}, {k.shape} and {v.shape}"
        )
    heads = q.shape[-3], k.shape[-3], v.shape[-3]
    if heads[0] == heads[1] == heads[2]:
        return k, v
    if heads[1] == 0 or heads[2] == 0 or heads[0] % heads[1] or heads[0] % heads[2]:
        raise ValueError(
            f"scaled_dot_product_attention: enable_gqa expected the numbers of key and value "
            f"heads (axis -3) to divide the number of query heads, got {heads[0]} query, "
            f"{heads[1]} key and {heads[2]} value heads (shapes {q.shape}, {k.shape} and "
            f"{v.shape})"
        )
    return (
        ops.repeat_interleave(k, heads[0] // heads[1], dim=-3),
        ops.repeat_interleave(v, heads[0] // heads[2], dim=-3),
    )


def _attention_softmax(scores: Tensor) -> Tensor:
    """softmax over the last axis, with weight 0 (and no gradient) for a row of nothing but
    -inf (a query whose keys are all masked out) instead of NaN."""
    # Softmax such rows as zeros (finite in forward and backward), then give them weight 0.
    dead = np.isneginf(scores.data).all(axis=-1, keepdims=True)
    if dead.any():
        return softmax(scores.masked_fill(dead, 0.0), dim=-1).masked_fill(dead, 0.0)
    return softmax(scores, dim=-1)


def pad(
    input: Any, pad: Sequence[int], mode: str = "constant", value: float | None = None
) -> Tensor:
    """Pad the last ``len(pad) // 2`` axes, as PyTorch's ``F.pad``: ``pad`` is (before,
    after) of the last axis, then of the one before it, and so on, so that
    ``pad(x, (0, 2))`` appends two zeros to each row.

    ``mode``: ``"constant"`` fills with ``value`` (0 by default); ``"reflect"`` mirrors the
    elements next to the edge (widths below the axis's size), ``"replicate"`` repeats the
    edge, ``"circular"`` wraps around (widths at most the size). In every mode a negative
    width crops instead, as in PyTorch: ``"reflect"`` and ``"replicate"`` pad the input
    first and then crop, ``"circular"`` crops first and wraps what is left.

    Examples
    --------
    >>> import chainrule as cr
    >>> pad(cr.ones(1, 2), (1, 0, 0, 1)).tolist()
    [[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    >>> pad(cr.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect").tolist()
    [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    """
    x = as_tensor(input)
    widths = [int(w) for w in pad]
    if len(widths) % 2 or len(widths) // 2 > x.ndim:
        raise ValueError(
            f"pad: expected an even number of widths, at most 2 per axis of a {x.ndim}-d "
            f"tensor, got {tuple(pad)}"
        )
    if mode in ("reflect", "replicate", "circular"):
        if value is not None:
            raise ValueError(f"pad: mode {mode!r} takes no value (only 'constant' does)")
        return _edge_pad(x, widths, mode, tuple(pad))
    if mode != "constant":
        raise ValueError(
            f"pad: expected mode 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}"
        )
    first = x.ndim - len(widths) // 2
    if min(widths, default=0) < 0:  # a negative width crops that many elements
        kept = [slice(None)] * x.ndim
        for k in range(len(widths) // 2):
            before, after = widths[2 * k], widths[2 * k + 1]
            axis = x.ndim - 1 - k
            head, tail = max(-before, 0), max(-after, 0)
            if head + tail > x.shape[axis]:
                raise ValueError(
                    f"pad: expected crops that leave axis {axis} (size {x.shape[axis]}) "
                    f"something, got {tuple(pad)}"
                )
            kept[axis] = slice(head, x.shape[axis] - tail)
        x = x[tuple(kept)]
        widths = [max(w, 0) for w in widths]
    pairs = [(0, 0)] * first
    pairs += [(widths[i], widths[i + 1]) for i in reversed(range(0, len(widths), 2))]
    return ops.pad(x, pairs, 0.0 if value is None else value)


def _crop(x: Tensor, widths: Sequence[int]) -> Tensor:
    """x without -w elements at each side whose width w is negative (PyTorch's order)."""
    kept = [slice(None)] * x.ndim
    for k in range(len(widths) // 2):
        axis = x.ndim - 1 - k
        head, tail = max(-widths[2 * k], 0), max(-widths[2 * k + 1], 0)
        kept[axis] = slice(head, x.shape[axis] - tail)
    return x[tuple(kept)]


def _edge_pad(x: Tensor, widths: list[int], mode: str, given: tuple[Any, ...]) -> Tensor:
    """``pad`` in the modes that copy the input's elements, negative widths included."""
    for k in range(len(widths) // 2):
        axis, (before, after) = x.ndim - 1 - k, widths[2 * k : 2 * k + 2]
        size = x.shape[axis]
        kept = size - max(-before, 0) - max(-after, 0)
        if mode == "circular" and kept >= 0 and max(before, after) > kept:
            raise ValueError(
                f"pad: circular padding of axis {axis} (size {size}, {kept} after cropping) "
                f"must be at most {kept}, got {given}"
            )
        if mode == "circular" and kept < 0:
            raise ValueError(
                f"pad: the widths {given} crop more than the {size} elements of axis {axis}"
            )
        # PyTorch leaves an empty axis when circular crops take everything, else refuses
        if size + before + after < (0 if mode == "circular" else 1):
            raise ValueError(
                f"pad: the widths {given} leave axis {axis} (size {size}) with "
                f"{size + before + after} elements in mode {mode!r}"
            )
    if min(widths, default=0) >= 0:
        return ops.edge_pad(x, tuple(widths), mode)
    grown = tuple(max(w, 0) for w in widths)
    if mode == "circular":  # wraps the elements that the crop leaves
        return ops.edge_pad(_crop(x, widths), grown, mode)
    # reflect and replicate copy from the whole input, then crop (PyTorch's indexing)
    return _crop(ops.edge_pad(x, grown, mode), widths)


_INTERPOLATE_MODES = {
    "nearest": (3, 4),
    "nearest-exact": (3, 4),
    "linear": (3,),
    "bilinear": (4,),
    "bicubic": (4,),
    "area": (3, 4),
}
"""The ``mode``s that ``interpolate`` and ``nn.Upsample`` compute, with the input ranks each
takes, as in PyTorch: (N, C, L) and (N, C, H, W) for nearest, nearest-exact and area."""
_INTERPOLATING_MODES = ("linear", "bilinear", "bicubic")
_MODE_NAMES = "'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic' or 'area'"


def _check_interpolate_mode(where: str, mode: Any, align_corners: Any, antialias: Any) -> None:
    """Refuse what ``interpolate`` does not compute, saying what it expects instead."""
    if mode == "trilinear":
        raise ValueError(
            f"{where}: mode='trilinear' resizes (N, C, D, H, W) volumes, which chainrule does "
            f"not compute; expected mode {_MODE_NAMES}"
        )
    if mode not in _INTERPOLATE_MODES:
        raise ValueError(f"{where}: expected mode {_MODE_NAMES}, got mode={mode!r}")
    if mode not in _INTERPOLATING_MODES and align_corners is not None:
        raise ValueError(
            f"{where}: align_corners applies to the interpolating modes (linear, bilinear, "
            f"bicubic), not to mode={mode!r}; got align_corners={align_corners!r}, expected None"
        )
    if align_corners is not None and not isinstance(align_corners, bool):
        raise TypeError(f"{where}: align_corners must be a bool or None, got {align_corners!r}")
    if antialias and mode not in ("bilinear", "bicubic"):
        raise ValueError(
            f"{where}: antialias=True applies to modes 'bilinear' and 'bicubic' (as in "
            f"PyTorch), got mode={mode!r}"
        )


def _linear_sources(
    size: int, out: int, scale_factor: float | None, align_corners: bool
) -> tuple[Array, Array, Array]:
    """For each of ``out`` outputs along an axis of ``size`` inputs: the two inputs it lies
    between and its weight on the second, as PyTorch's linear kernels compute them.

    With ``align_corners`` the first and last outputs sit on the first and last inputs
    (source i * (size - 1) / (out - 1)); without, outputs sit at the centres of ``out``
    equal cells over the input (source (i + 0.5) * s - 0.5, s = 1 / scale_factor or
    size / out, clamped at 0). An output of the input's size copies it.
    """
    if out == size:
        same = np.arange(out)
        return same, same, np.zeros(out)
    at = np.arange(out, dtype=np.float64)
    step = _source_scale(size, out, scale_factor, align_corners)
    source = at * step if align_corners else np.maximum((at + 0.5) * step - 0.5, 0.0)
    first = np.minimum(np.floor(source).astype(np.int64), size - 1)
    second = np.minimum(first + 1, size - 1)
    return first, second, np.clip(source - first, 0.0, 1.0)


def _nearest_sources(
    size: int, out: int, scale_factor: float | None, *, exact: bool, double: bool, direct: bool
) -> Array:
    """Which input element each of ``out`` outputs copies in mode 'nearest' (``exact``
    False) or 'nearest-exact', as PyTorch's CPU kernels pick it, capped at size - 1.

    PyTorch has two kernels, which round differently. The ``direct`` one (its 2-d kernel
    for outputs with H_out + W_out <= 128) takes s = 1 / scale_factor (or size / out) in
    float32 and copies floor(i * s) ('nearest'; an output of the input's size copies it,
    one of twice its size repeats each element twice, whatever the scale factor) or
    floor((i + 0.5) * s) with the product rounded to float32 ('nearest-exact'). The
    separable one (sequences, and larger 2-d outputs) computes s and the source in the
    input's precision (float64 for ``double`` inputs, else float32): floor(i * s), or
    floor(max((i + 0.5) * s - 0.5, 0) + 0.5), each rounded to float32 before the floor
    (the float32 source a fused multiply-add, rounded once)."""
    if direct and not exact and out == size:
        return np.arange(out)
    if direct and not exact and out == 2 * size:
        return np.arange(out) // 2
    precision = np.float64 if double and not direct else np.float32
    if scale_factor is not None and scale_factor > 0:
        scale = np.float64(precision(1.0 / scale_factor))
    else:
        scale = np.float64(precision(size) / precision(out))
    at = np.arange(out, dtype=np.float64)
    if not exact:
        source = at * scale  # exact in float64 for a float32 scale
    elif direct:
        source = (at + 0.5) * scale
    else:
        # rounded to float32 once (a fused multiply-add; exact in float64 for float32 s)
        centre = (at + 0.5) * scale - 0.5
        source = np.maximum(centre.astype(precision), 0).astype(np.float64) + 0.5
    picks = np.floor(source.astype(np.float32)).astype(np.int64)
    return np.minimum(picks, size - 1)


def _nearest_kernel(dtype: Any, sizes: Sequence[int]) -> dict[str, bool]:
    """The ``double`` and ``direct`` arguments of ``_nearest_sources`` for an input of
    ``dtype`` resized to spatial size ``sizes``: PyTorch's direct 2-d kernel serves outputs
    with H_out + W_out <= 128, its separable kernel the rest."""
    return {
        "double": np.dtype(dtype) == np.float64,
        "direct": len(sizes) == 2 and sum(sizes) <= 128,
    }


_CUBIC_A = -0.75
"""The cubic convolution's parameter in PyTorch's bicubic mode (Keys' kernel with a = -0.75)."""


def _cubic_near(t: Array, a: float) -> Array:
    """The cubic kernel at distances |t| <= 1: (a + 2) t^3 - (a + 3) t^2 + 1."""
    return ((a + 2) * t - (a + 3)) * t * t + 1


def _cubic_far(t: Array, a: float) -> Array:
    """The cubic kernel at distances 1 < |t| < 2: a t^3 - 5a t^2 + 8a t - 4a."""
    return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a


def _source_scale(size: int, out: int, scale_factor: float | None, align_corners: bool) -> float:
    """Input steps per output step, as PyTorch's ``area_pixel_compute_scale``."""
    if align_corners:
        return (size - 1) / (out - 1) if out > 1 else 0.0
    return 1.0 / scale_factor if scale_factor else size / out


def _cubic_taps(
    size: int, out: int, scale_factor: float | None, align_corners: bool
) -> tuple[Array, Array]:
    """The four inputs each of ``out`` outputs reads in bicubic mode, and their weights.

    Output i sits at source x = i * s (``align_corners``) or (i + 0.5) * s - 0.5 (not
    clamped, unlike linear mode); with x0 = floor(x) and t = x - x0 it reads inputs
    x0 - 1, x0, x0 + 1, x0 + 2 (clamped to the axis, so that the border repeats) with
    weights W(t + 1), W(t), W(1 - t), W(2 - t) of the cubic kernel W with a = -0.75.
    """
    scale = _source_scale(size, out, scale_factor, align_corners)
    at = np.arange(out, dtype=np.float64)
    source = at * scale if align_corners else (at + 0.5) * scale - 0.5
    first = np.minimum(np.floor(source), size - 1)
    t = np.clip(source - first, 0.0, 1.0)
    weights = np.stack(
        [
            _cubic_far(t + 1.0, _CUBIC_A),
            _cubic_near(t, _CUBIC_A),
            _cubic_near(1.0 - t, _CUBIC_A),
            _cubic_far((1.0 - t) + 1.0, _CUBIC_A),
        ],
        axis=1,
    )
    taps = np.clip(first.astype(np.int64)[:, None] + np.arange(-1, 3), 0, size - 1)
    return taps, weights


def _antialias_taps(
    size: int, out: int, scale_factor: float | None, align_corners: bool, cubic: bool
) -> tuple[Array, Array]:
    """The inputs each of ``out`` outputs averages with ``antialias=True``, and their weights.

    With s the input steps per output step, output i is centred at c = s (i + 0.5) and the
    kernel (the triangle max(0, 1 - |t|) of bilinear, or the cubic of a = -0.5 of bicubic,
    as in PIL) is stretched by max(s, 1): input j, centred at j + 0.5, weighs
    W((j + 0.5 - c) / max(s, 1)) for the j within the stretched support, and the weights of
    each output are divided by their sum (PyTorch's ``_upsample_*_aa``).
    """
    scale = _source_scale(size, out, scale_factor, align_corners)
    support = (2.0 if cubic else 1.0) * max(scale, 1.0)
    width = math.ceil(support) * 2 + 1
    centre = scale * (np.arange(out, dtype=np.float64) + 0.5)
    low = np.maximum(np.trunc(centre - support + 0.5), 0).astype(np.int64)
    high = np.minimum(np.trunc(centre + support + 0.5).astype(np.int64), size)
    count = np.clip(high - low, 0, width)
    offsets = np.arange(width)
    shrink = 1.0 / scale if scale >= 1.0 else 1.0
    distance = np.abs((offsets + low[:, None] - centre[:, None] + 0.5) * shrink)
    if cubic:
        kernel = np.where(
            distance < 1.0,
            _cubic_near(distance, -0.5),
            np.where(distance < 2.0, _cubic_far(distance, -0.5), 0.0),
        )
    else:
        kernel = np.maximum(1.0 - distance, 0.0)
    kernel = np.where(offsets < count[:, None], kernel, 0.0)
    total = kernel.sum(axis=1, keepdims=True)
    weights = np.divide(kernel, total, out=kernel.copy(), where=total != 0)
    return np.minimum(low[:, None] + offsets, size - 1), weights


def _resample_taps(
    mode: str,
    size: int,
    out: int,
    scale_factor: float | None,
    align_corners: bool,
    antialias: bool,
) -> tuple[Array, Array]:
    """The inputs and weights of each output along one axis in bicubic mode or with
    ``antialias``, for ``ops.resample``."""
    if antialias:
        return _antialias_taps(size, out, scale_factor, align_corners, mode == "bicubic")
    return _cubic_taps(size, out, scale_factor, align_corners)


def interpolate(
    input: Any,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize (N, C, L) sequences or (N, C, H, W) images, as PyTorch's ``interpolate``: by
    copying the nearest element, by interpolating between the nearest two ('linear',
    'bilinear') or four ('bicubic') along each axis, or by averaging ('area').

    Parameters
    ----------
    input : Tensor of shape (N, C, L) or (N, C, H, W)
    size : int or tuple of int, optional
        The output's spatial size (one int for every axis, or one per axis).
    scale_factor : float or tuple of float, optional
        The output's size is floor(size * scale_factor) per axis. Exactly one of ``size``
        and ``scale_factor`` is given.
    mode : {'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'area'}, \
default='nearest'
        'nearest', 'nearest-exact' and 'area' take sequences and images, 'linear' sequences,
        'bilinear' and 'bicubic' images. 'trilinear' (volumes) is refused.
    align_corners : bool, optional
        For 'linear', 'bilinear' and 'bicubic', as in PyTorch: True puts the corner outputs
        on the corner inputs; False (the default) treats elements as cells and interpolates
        between their centres. Must be None for the other modes.
    recompute_scale_factor : bool, optional
        With ``scale_factor``: place outputs by size / out_size instead of by
        1 / scale_factor (the two differ for scale factors that do not divide evenly).
    antialias : bool, default=False
        For 'bilinear' and 'bicubic': when shrinking, average over every input under a
        kernel stretched to the output's spacing (as PIL and PyTorch do), instead of reading
        the nearest two or four.

    Returns
    -------
    Tensor of shape (N, C, L_out) or (N, C, H_out, W_out)

    Raises
    ------
    ValueError
        For a mode this function does not compute, an input rank the mode does not take,
        align_corners or antialias given to a mode without them, or sizes and scale factors
        that are not one positive value per axis.

    Notes
    -----
    Each spatial axis is resized in turn; with s the input steps per output step
    (1 / scale_factor, or size / out_size; with ``align_corners``,
    (size - 1) / (out_size - 1)), output i along an axis is:

    - 'nearest': a copy of input min(floor(i * s), size - 1);
    - 'nearest-exact': a copy of input min(floor((i + 0.5) * s), size - 1), the input
      whose cell holds the output's centre; in both nearest modes s and the source are
      rounded as PyTorch's CPU kernels round them: in float32, except float64 inputs
      whose output is a sequence or an image with H_out + W_out > 128, computed in
      float64 and rounded to float32 (the two differ where the source lies within a
      rounding of an integer);
    - 'linear', 'bilinear': (1 - t) x[j] + t x[j + 1] at source x = (i + 0.5) s - 0.5
      (clamped at 0), or i s with ``align_corners``; j = floor(x), t = x - j;
    - 'bicubic': sum over k = -1..2 of W(t - k) x[j + k] at the same source (not clamped),
      indices clamped to the axis, with Keys' cubic kernel W(d) = (a + 2)|d|^3 -
      (a + 3)|d|^2 + 1 for |d| <= 1, a|d|^3 - 5a|d|^2 + 8a|d| - 4a for 1 < |d| < 2, else 0,
      and a = -0.75;
    - ``antialias``: sum over j of w_j x[j] / sum over j of w_j, with
      w_j = K((j + 0.5 - c) / max(s, 1)), c = s (i + 0.5), K the triangle max(0, 1 - |d|)
      (bilinear) or W with a = -0.5 (bicubic, PIL's), over the inputs within the kernel's
      support (1 or 2, times max(s, 1)); an axis that keeps its size is copied;
    - 'area': the mean of inputs floor(i * size / out_size) to
      ceil((i + 1) * size / out_size) - 1, ``adaptive_avg_pool1d``/``2d`` to the output
      size.

    The gradient of an input element is the sum of the gradients of the outputs that read
    it, times its weights. PyTorch's gradients differ in five corner cases, where its
    backward does not follow its forward: 'nearest' on sequences where a scale factor
    other than 1 or 2 gives an output of the input's length or twice it (its backward
    assumes a plain copy or repetition); the nearest modes where the float32 rounding of
    the 2-d kernel for small outputs picks another element than the forward's (its
    backward always rounds so); the nearest modes on float64 input through the separable
    kernel (sequences, or images with H_out + W_out > 128), where its backward rounds the
    source in float32 and its forward in float64, so that the two pick different elements
    where the source lies within a rounding of an integer; 'bicubic' where a scale factor
    other than 1 keeps the size of both axes (its backward assumes a copy); ``antialias``
    where a scale factor other than 1 keeps the size of an axis (its forward copies that
    axis, as here, while its backward interpolates along it). And PyTorch's antialiased
    forward reads the wrong rows when the output is one column wide and the height
    changes: here that output is what the same resize of the transposed image gives.

    Examples
    --------
    >>> import chainrule as cr
    >>> interpolate(cr.tensor([[[1.0, 2.0]]]), scale_factor=2).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    >>> interpolate(cr.tensor([[[0.0, 1.0, 2.0, 3.0]]]), size=2, mode="area").tolist()
    [[[0.5, 2.5]]]
    """
    _check_interpolate_mode("interpolate", mode, align_corners, antialias)
    x = as_tensor(input)
    if x.ndim not in _INTERPOLATE_MODES[mode]:
        shapes = " or ".join(_SPATIAL_SHAPES[rank] for rank in _INTERPOLATE_MODES[mode])
        raise ValueError(
            f"interpolate: expected input of shape {shapes} for mode {mode!r}, got shape {x.shape}"
        )
    spatial = x.shape[2:]
    if mode != "area" and 0 in spatial:  # as PyTorch: no element to resize from
        raise ValueError(
            f"interpolate: expected an input with every spatial size above 0 for mode "
            f"{mode!r}, got shape {x.shape}"
        )
    sizes, scales = _interpolate_sizes(spatial, size, scale_factor, recompute_scale_factor)
    if mode == "area":  # PyTorch's own definition of the mode
        if x.ndim == 3:
            return adaptive_avg_pool1d(x, sizes[0])
        return adaptive_avg_pool2d(x, (sizes[0], sizes[1]))
    out = x
    for axis, (n_in, n_out, scale) in enumerate(zip(spatial, sizes, scales, strict=True)):
        if antialias and n_in == n_out:  # PyTorch's antialiased kernels skip it, whatever
            continue  # the scale factor
        if mode in ("nearest", "nearest-exact"):
            exact = mode == "nearest-exact"
            kernel = _nearest_kernel(x.dtype, sizes)
            picks = _nearest_sources(n_in, n_out, scale, exact=exact, **kernel)
            out = ops.index_select(out, axis + 2, picks)
            continue
        if mode == "bicubic" or antialias:
            taps, weights = _resample_taps(
                mode, n_in, n_out, scale, bool(align_corners), bool(antialias)
            )
            out = ops.resample(out, axis + 2, taps, weights)
            continue
        first, second, weight = _linear_sources(n_in, n_out, scale, bool(align_corners))
        if n_in == n_out:
            continue
        # The two weights in the dtype PyTorch computes them in (float32 for float16), the
        # second's complement taken there, as its kernels do; one sparse map per axis.
        near = weight.astype(np.float32 if x.dtype == np.float16 else x.dtype)
        taps = np.stack([first, second], axis=1)
        out = ops.resample(out, axis + 2, taps, np.stack([1 - near, near], axis=1))
    return x.clone() if out is x else out


_SPATIAL_SHAPES = {3: "(N, C, L)", 4: "(N, C, H, W)"}


def _interpolate_sizes(
    spatial: tuple[int, ...],
    size: Any,
    scale_factor: Any,
    recompute_scale_factor: bool | None,
) -> tuple[list[int], list[float | None]]:
    """The output size of each spatial axis, and the scale factor its elements are picked by
    (None: by input size / output size)."""
    dims = len(spatial)

    def per_axis(name: str, value: Any) -> list[Any]:
        if not isinstance(value, tuple | list):
            return [value] * dims
        if len(value) != dims:
            raise ValueError(
                f"interpolate: expected {name} with {dims} entries (one per spatial axis of an "
                f"input with spatial size {spatial}), got {name}={value!r}"
            )
        return list(value)

    if (size is None) == (scale_factor is None):
        raise ValueError(
            f"interpolate: expected exactly one of size and scale_factor, got size={size!r} "
            f"and scale_factor={scale_factor!r}"
        )
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(
                "interpolate: recompute_scale_factor=True is not meaningful with an explicit "
                "size; pass scale_factor instead"
            )
        sizes = per_axis("size", size)
        if not all(
            isinstance(s, int | np.integer) and not isinstance(s, bool) and s > 0 for s in sizes
        ):
            raise ValueError(f"interpolate: expected size of positive ints, got size={size!r}")
        return [int(s) for s in sizes], [None] * dims
    factors = per_axis("scale_factor", scale_factor)
    if not all(
        isinstance(f, int | float | np.number) and not isinstance(f, bool) and f > 0
        for f in factors
    ):
        raise ValueError(
            f"interpolate: expected scale_factor of positive numbers, got "
            f"scale_factor={scale_factor!r}"
        )
    sizes = [math.floor(n * float(f)) for n, f in zip(spatial, factors, strict=True)]
    if min(sizes) < 1:
        raise ValueError(
            f"interpolate: expected an output of at least one element per axis, got size "
            f"{tuple(sizes)} from input size {spatial} and scale_factor={scale_factor!r}"
        )
    scales = [None if recompute_scale_factor else float(f) for f in factors]
    return sizes, scales


__all__ += ["interpolate"]


def gumbel_softmax(
    logits: Any,
    tau: float = 1.0,
    hard: bool = False,
    eps: float = 1e-10,
    dim: int = -1,
    *,
    generator: np.random.Generator | int | None = None,
) -> Tensor:
    """A differentiable sample from the categorical distribution given by ``logits``.

    Parameters
    ----------
    logits : Tensor
        Unnormalized log-probabilities along ``dim``.
    tau : float, default=1.0
        Temperature: the smaller, the closer the soft sample is to one-hot.
    hard : bool, default=False
        Return a one-hot sample whose gradient is the soft sample's (the straight-through
        estimator: y_hard - y_soft.detach() + y_soft).
    eps : float, default=1e-10
        Unused, as in PyTorch (kept for its signature).
    dim : int, default=-1
    generator : numpy.random.Generator or int, optional
        Source of the Gumbel noise (None: the default generator, see
        ``chainrule.manual_seed``).

    Returns
    -------
    Tensor of the logits' shape

    Notes
    -----
    y = softmax((logits + g) / tau) along ``dim``, with g = -log(e), e ~ Exponential(1),
    independent Gumbel(0, 1) noise for each element.

    Examples
    --------
    >>> import chainrule as cr
    >>> y = gumbel_softmax(cr.zeros(2, 3), hard=True, generator=0)
    >>> y.sum(axis=-1).tolist()
    [1.0, 1.0]
    """
    x = as_tensor(logits)
    if not is_floating(x.dtype):
        raise TypeError(f"gumbel_softmax: expected floating-point logits, got dtype {x.dtype}")
    if not tau > 0:
        raise ValueError(f"gumbel_softmax: tau must be > 0, got {tau!r}")
    rng = as_generator(generator)
    gumbels = -np.log(rng.standard_exponential(x.shape)).astype(x.dtype)
    soft = softmax((x + gumbels) / tau, dim)
    if not hard:
        return soft
    index = np.expand_dims(soft.data.argmax(axis=dim), dim)
    one_hot_sample = np.zeros(x.shape, dtype=x.dtype)
    np.put_along_axis(one_hot_sample, index, 1, axis=dim)
    return Tensor(one_hot_sample) - soft.detach() + soft


def relu_(input: Tensor) -> Tensor:
    """In-place ``relu``: ``input`` becomes max(input, 0) and is returned. Under grad mode
    it is recorded like ``Tensor.relu_`` (refused for a leaf that requires grad).

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([-1.0, 2.0])
    >>> relu_(x) is x, x.tolist()
    (True, [0.0, 2.0])
    """
    return input._inplace("relu_", relu)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place ``elu``, recorded under grad mode like ``Tensor.relu_``.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([0.0, 2.0])
    >>> elu_(x).tolist()
    [0.0, 2.0]
    """
    return input._inplace("elu_", lambda t: elu(t, alpha))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place ``leaky_relu``, recorded under grad mode like ``Tensor.relu_``.

    Examples
    --------
    >>> import chainrule as cr
    >>> leaky_relu_(cr.tensor([-2.0, 2.0]), 0.5).tolist()
    [-1.0, 2.0]
    """
    return input._inplace("leaky_relu_", lambda t: leaky_relu(t, negative_slope))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place ``hardtanh``, recorded under grad mode like ``Tensor.relu_``.

    Examples
    --------
    >>> import chainrule as cr
    >>> hardtanh_(cr.tensor([-2.0, 0.5, 2.0])).tolist()
    [-1.0, 0.5, 1.0]
    """
    return input._inplace("hardtanh_", lambda t: hardtanh(t, min_val, max_val))


def selu_(input: Tensor) -> Tensor:
    """In-place ``selu``, recorded under grad mode like ``Tensor.relu_``.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([0.0, 2.0], dtype="float64")
    >>> selu_(x) is x, [round(v, 6) for v in x.tolist()]
    (True, [0.0, 2.101402])
    """
    return input._inplace("selu_", selu)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place ``celu``, recorded under grad mode like ``Tensor.relu_``.

    Examples
    --------
    >>> import chainrule as cr
    >>> celu_(cr.tensor([0.0, 2.0]), alpha=0.5).tolist()
    [0.0, 2.0]
    """
    return input._inplace("celu_", lambda t: celu(t, alpha))


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place ``threshold``: ``input`` becomes x where x > threshold, else ``value``;
    recorded under grad mode like ``Tensor.relu_``.

    Examples
    --------
    >>> import chainrule as cr
    >>> threshold_(cr.tensor([-1.0, 0.5, 2.0]), 0.5, -9.0).tolist()
    [-9.0, -9.0, 2.0]
    """
    return input._inplace("threshold_", lambda t: ops.threshold(t, threshold, value))


def rrelu_(
    input: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    *,
    generator: np.random.Generator | int | None = None,
) -> Tensor:
    """In-place ``rrelu`` (random slopes from ``generator`` while ``training``), recorded
    under grad mode like ``Tensor.relu_``.

    Examples
    --------
    >>> import chainrule as cr
    >>> rrelu_(cr.tensor([-2.0, 3.0], dtype="float64"), 0.1, 0.3).tolist()
    [-0.4, 3.0]
    """
    return input._inplace("rrelu_", lambda t: rrelu(t, lower, upper, training, generator=generator))


__all__ += [
    "affine_grid",
    "celu_",
    "channel_shuffle",
    "elu_",
    "grid_sample",
    "gumbel_softmax",
    "hardtanh_",
    "leaky_relu_",
    "lp_pool1d",
    "lp_pool2d",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "relu_",
    "rrelu_",
    "selu_",
    "threshold_",
]
