"""More normalizations and distances as functions: ``instance_norm``, ``rms_norm``,
``local_response_norm`` and ``bilinear``, composed of differentiable ops (re-exported by
``chainrule.nn.functional``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import chainrule.autograd.ops as ops
from chainrule.autograd.grad_mode import no_grad
from chainrule.autograd.ops._operands import as_tensor
from chainrule.backend import is_floating, np
from chainrule.tensor import Tensor


def _for_statistics(x: Tensor) -> Tensor:
    """``x`` in the dtype its statistics are computed in: float32 for float16, as PyTorch."""
    return x.to(np.float32) if x.dtype == np.float16 else x


def _floating(where: str, x: Tensor) -> None:
    if not is_floating(x.dtype):
        raise TypeError(f"{where}: expected a floating-point input, got dtype {x.dtype}")


def _check_dtype(where: str, name: str, value: Tensor, x: Tensor) -> None:
    """Refuse a weight, bias or running statistic of another dtype than the input, as
    ``F.linear`` and PyTorch do (a float64 one would silently widen a float32 network's
    output to float64); float32 beside float16 input is PyTorch's mixed precision, whose
    statistics are computed in float32 anyway."""
    if value.dtype == x.dtype or not is_floating(x.dtype):
        return
    if x.dtype == np.float16 and value.dtype == np.float32:
        return
    expected = "float16 (or float32)" if x.dtype == np.float16 else str(x.dtype)
    raise TypeError(
        f"{where}: expected {name} of the input's dtype {expected}, got {value.dtype}; "
        f"convert one with .to(dtype)"
    )


def _in_dtype(value: Tensor, x: Tensor) -> Tensor:
    """``value`` (a float32 parameter beside float16 input) in the input's dtype, so that the
    output keeps it, as PyTorch's."""
    return value if value.dtype == x.dtype else value.to(x.dtype)


def _per_channel(where: str, name: str, value: Any, x: Tensor) -> Tensor | None:
    """``weight`` or ``bias`` as a Tensor of shape (C,) for input ``x`` of shape (N, C, *);
    None stays None. Arrays and lists are accepted, as by the other functions here, in the
    input's dtype (see ``_check_dtype``)."""
    if value is None:
        return None
    tensor = as_tensor(value)
    if tuple(tensor.shape) != (x.shape[1],):
        raise ValueError(
            f"{where}: expected {name} of shape ({x.shape[1]},) for input shape {x.shape}, "
            f"got {tuple(tensor.shape)}"
        )
    _check_dtype(where, name, tensor, x)
    return tensor


def _running_stat(where: str, name: str, value: Any, x: Tensor) -> Tensor | None:
    """``running_mean`` or ``running_var``, checked: a Tensor of shape (C,) (it is updated in
    place, so a copy made from an array would silently drop the update), or None."""
    if value is not None and not isinstance(value, Tensor):
        raise TypeError(
            f"{where}: expected {name} to be a Tensor of shape ({x.shape[1]},) (running "
            f"statistics are updated in place), got {type(value).__name__}"
        )
    return _per_channel(where, name, value, x)


def instance_norm(
    input: Any,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel of each sample over its positions, then scale and shift per
    channel.

    Parameters
    ----------
    input : Tensor of shape (N, C, *)
        At least one position axis.
    running_mean, running_var : Tensor of shape (C,), optional
        Running statistics. With ``use_input_stats`` they are updated in place, as
        PyTorch's: r = (1 - momentum) r + momentum b, where b averages over the batch each
        instance's mean (for ``running_mean``) or unbiased variance (for ``running_var``).
        Without it they are what the input is normalized with.
    weight, bias : Tensor or array of shape (C,), optional
    use_input_stats : bool, default=True
        Normalize with each instance's own statistics; False: with the running ones.
    momentum : float, default=0.1
    eps : float, default=1e-5

    Returns
    -------
    Tensor of the input's shape

    Raises
    ------
    ValueError
        For input of fewer than 3 axes, for one position per channel when normalizing with
        input statistics, without running statistics when ``use_input_stats`` is False, or
        when ``weight``, ``bias`` or a running statistic is not of shape (C,).
    TypeError
        For a running statistic that is not a Tensor (an array, say), as PyTorch, or a
        ``weight``, ``bias`` or running statistic of another dtype than the input (float32
        is accepted beside float16 input, as PyTorch accepts it).

    Notes
    -----
    y = (x - mean) / sqrt(var + eps) * weight + bias, with the mean and biased variance of
    each (sample, channel) over its positions. Statistics of float16 input are computed in
    float32, as PyTorch's.

    Examples
    --------
    >>> import chainrule as cr
    >>> instance_norm(cr.tensor([[[1.0, 3.0], [2.0, 6.0]]]), eps=0.0).tolist()
    [[[-1.0, 1.0], [-1.0, 1.0]]]
    """
    x = as_tensor(input)
    if x.ndim < 3:
        raise ValueError(
            f"instance_norm: expected input of shape (N, C, *) with at least one position "
            f"axis, got shape {x.shape}"
        )
    _floating("instance_norm", x)
    channels = x.shape[1]
    weight = _per_channel("instance_norm", "weight", weight, x)
    bias = _per_channel("instance_norm", "bias", bias, x)
    running_mean = _running_stat("instance_norm", "running_mean", running_mean, x)
    running_var = _running_stat("instance_norm", "running_var", running_var, x)
    axes = tuple(range(2, x.ndim))
    per_channel = (1, channels) + (1,) * (x.ndim - 2)
    if use_input_stats:
        count = int(np.prod(x.shape[2:]))
        if count <= 1:
            raise ValueError(
                f"instance_norm: expected more than 1 position per channel when using input "
                f"statistics, got input shape {x.shape}"
            )
        wide = _for_statistics(x)
        mean = wide.mean(axis=axes, keepdims=True)
        centered = wide - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)
        # An empty batch has no statistics to learn (batch_norm's rule too).
        if (running_mean is not None or running_var is not None) and x.shape[0] > 0:
            with no_grad():
                if running_mean is not None:
                    batch_mean = mean.data.reshape(x.shape[:2]).mean(axis=0)
                    running_mean.data *= 1 - momentum
                    running_mean.data += (momentum * batch_mean).astype(running_mean.dtype)
                if running_var is not None:
                    unbiased = var.data.reshape(x.shape[:2]) * (count / (count - 1))
                    running_var.data *= 1 - momentum
                    running_var.data += (momentum * unbiased.mean(axis=0)).astype(running_var.dtype)
        out = (centered / ops.sqrt(var + eps)).to(x.dtype)
    else:
        if running_mean is None or running_var is None:
            raise ValueError(
                "instance_norm: running_mean and running_var are required when "
                "use_input_stats=False"
            )
        mean_data = running_mean.data.reshape(per_channel)
        scale = 1 / np.sqrt(running_var.data.reshape(per_channel) + eps)
        out = (x - mean_data.astype(x.dtype)) * scale.astype(x.dtype)
    if weight is not None:
        out = out * _in_dtype(weight, x).reshape(per_channel)
    if bias is not None:
        out = out + _in_dtype(bias, x).reshape(per_channel)
    return out


def _normalized_shape(where: str, normalized_shape: Any) -> tuple[int, ...]:
    shape = (
        (normalized_shape,)
        if isinstance(normalized_shape, int | np.integer)
        else tuple(normalized_shape)
    )
    if any(isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0 for n in shape):
        raise ValueError(
            f"{where}: normalized_shape must be non-negative integers, got {normalized_shape!r}"
        )
    return tuple(int(n) for n in shape)


def rms_norm(
    input: Any,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """Divide each sample by the root mean square of its last axes, then scale.

    Parameters
    ----------
    input : Tensor of shape (*, *normalized_shape)
    normalized_shape : int or sequence of int
        The trailing axes the mean square is taken over.
    weight : Tensor of shape normalized_shape, optional
    eps : float, optional
        Added to the mean square; None: the machine epsilon of the dtype the statistics are
        computed in (``finfo(float32).eps`` for float16 and float32 input,
        ``finfo(float64).eps`` for float64), as PyTorch's.

    Returns
    -------
    Tensor of the input's shape

    Raises
    ------
    ValueError
        When the input's trailing axes, or ``weight``'s shape, differ from
        ``normalized_shape``.

    Notes
    -----
    y = x / sqrt(mean(x**2) + eps) * weight. float16 input is normalized in float32 (the
    weight applied there too), then rounded back, as PyTorch does.

    Examples
    --------
    >>> import chainrule as cr
    >>> rms_norm(cr.tensor([[2.0, -2.0, 2.0, 2.0]]), 4, eps=0.0).tolist()
    [[1.0, -1.0, 1.0, 1.0]]
    """
    x = as_tensor(input)
    shape = _normalized_shape("rms_norm", normalized_shape)
    if x.ndim < len(shape) or x.shape[x.ndim - len(shape) :] != shape:
        raise ValueError(
            f"rms_norm: expected input whose last axes are {shape}, got shape {x.shape}"
        )
    _floating("rms_norm", x)
    if weight is not None and tuple(weight.shape) != shape:
        raise ValueError(f"rms_norm: expected weight of shape {shape}, got {tuple(weight.shape)}")
    wide = _for_statistics(x)
    if eps is None:
        eps = float(np.finfo(wide.dtype).eps)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean_square = (wide * wide).mean(axis=axes, keepdims=True)
    out = wide * ops.rsqrt(mean_square + eps)
    if weight is not None:
        out = out * weight
    return out.to(x.dtype)


def local_response_norm(
    input: Any, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """Divide each value by a power of the sum of squares over neighbouring channels.

    Parameters
    ----------
    input : Tensor of shape (N, C, *)
        At least three axes.
    size : int
        The number of channels in each neighbourhood.
    alpha : float, default=1e-4
    beta : float, default=0.75
    k : float, default=1.0

    Returns
    -------
    Tensor of the input's shape

    Raises
    ------
    ValueError
        For input of fewer than 3 axes or a ``size`` that is not a positive integer.

    Notes
    -----
    y_c = x_c / (k + alpha / size * sum_{c'} x_{c'}**2)**beta, the sum over channels
    c - size // 2 to c + (size - 1) // 2 (missing channels count as zeros), as PyTorch's.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([[[1.0], [2.0]]], dtype="float64")
    >>> local_response_norm(x, 2, alpha=2.0, beta=1.0).tolist()
    [[[0.5], [0.3333333333333333]]]
    """
    x = as_tensor(input)
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"local_response_norm: size must be a positive integer, got {size!r}")
    if x.ndim < 3:
        raise ValueError(
            f"local_response_norm: expected input of 3 or more axes (N, C, *), got shape {x.shape}"
        )
    _floating("local_response_norm", x)
    size = int(size)
    channels = x.shape[1]
    widths = [(0, 0)] * x.ndim
    widths[1] = (size // 2, (size - 1) // 2)
    squares = ops.pad(x * x, widths)
    total = squares[:, 0:channels]
    for j in range(1, size):
        total = total + squares[:, j : j + channels]
    return x / ((total * (alpha / size) + k) ** beta)


def bilinear(input1: Any, input2: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """The bilinear map y_o = x1^T W_o x2 + b_o.

    Parameters
    ----------
    input1 : Tensor of shape (*, in1_features)
    input2 : Tensor of shape (*, in2_features)
        The same leading axes as ``input1``.
    weight : Tensor of shape (out_features, in1_features, in2_features)
    bias : Tensor of shape (out_features,), optional

    Returns
    -------
    Tensor of shape (*, out_features)

    Raises
    ------
    ValueError
        When the shapes do not fit together.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([[[1.0, 0.0], [0.0, 2.0]]])
    >>> bilinear(cr.tensor([[1.0, 3.0]]), cr.tensor([[5.0, 7.0]]), w).tolist()
    [[47.0]]
    """
    x1, x2 = as_tensor(input1), as_tensor(input2)
    w = as_tensor(weight)
    if w.ndim != 3:
        raise ValueError(
            f"bilinear: expected weight of shape (out_features, in1_features, in2_features), "
            f"got {w.shape}"
        )
    out_features, in1, in2 = w.shape
    if (
        x1.ndim < 1
        or x1.shape[:-1] != x2.shape[:-1]
        or x1.shape[-1] != in1
        or x2.ndim != x1.ndim
        or x2.shape[-1] != in2
    ):
        raise ValueError(
            f"bilinear: expected input1 of shape (*, {in1}) and input2 of shape (*, {in2}) "
            f"with the same leading axes, got {x1.shape} and {x2.shape}"
        )
    if bias is not None and tuple(bias.shape) != (out_features,):
        raise ValueError(
            f"bilinear: expected bias of shape ({out_features},), got {tuple(bias.shape)}"
        )
    out = ops.einsum("...i,oij,...j->...o", x1, w, x2)
    return out + bias if bias is not None else out
