"""Functional forms of the image and sequence layers: convolution, pooling, unpooling and
channel dropout.

``conv2d``, ``max_pool2d`` and ``avg_pool2d`` are ops (``chainrule.autograd.ops.conv``), as
is ``max_unpool2d`` (``chainrule.autograd.ops.unpool``); the forms here compose ops:
``conv1d``, the 1-d pools and ``max_unpool1d`` are their 2-d forms on rows of height 1,
``adaptive_avg_pool2d`` an average pool or two products with averaging matrices,
``dropout2d`` a product with a mask of whole channels, and the power-average pools
``lp_pool1d`` and ``lp_pool2d`` an average pool of x**p, as PyTorch composes them.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import chainrule.autograd.ops as ops
from chainrule.autograd.ops import (
    avg_pool2d,
    conv2d,
    conv_transpose2d,
    edge_pad,
    max_pool2d,
    max_unpool2d,
)
from chainrule.autograd.ops._operands import as_tensor, floating_only, in_place
from chainrule.autograd.ops.conv import _image_input, _is_int, _pool_geometry, pair
from chainrule.autograd.ops.resample import AdaptiveAvgPool2d
from chainrule.autograd.ops.unpool import MaxUnpool2d, unpool_indices, unpool_output_size
from chainrule.backend import is_floating, np
from chainrule.tensor import Tensor, as_generator

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "dropout2d",
    "edge_pad",
    "lp_pool1d",
    "lp_pool2d",
    "max_pool1d",
    "max_pool1d_with_indices",
    "max_pool2d",
    "max_pool2d_with_indices",
    "max_unpool1d",
    "max_unpool2d",
]


def _single(where: str, name: str, value: Any, minimum: int = 1) -> int:
    """An int, or a 1-tuple of one, as PyTorch's 1-d layers accept."""
    if isinstance(value, tuple | list):
        if len(value) != 1:
            kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise ValueError(f"{where}: {name} must be {kind} or a 1-tuple, got {name}={value!r}")
        value = value[0]
    return pair(where, name, value, minimum)[0]


def _sequence_conv_input(
    where: str, x: Tensor, w: Tensor, bias: Any, groups: Any, transposed: bool
) -> None:
    """The checks that ``conv2d`` and ``conv_transpose2d`` make, made here on the 3-d shapes
    the user passed, so that errors name the 1-d function and not the (N, C, 1, L) rows."""
    _sequence_input(where, x)
    role = "in_channels, out_channels/groups" if transposed else "out_channels, in_channels/groups"
    if w.ndim != 3:
        raise ValueError(f"{where}: expected a 3-D weight ({role}, k), got shape {w.shape}")
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"{where}: groups must be a positive integer, got groups={groups!r}")
    split = "in_channels" if transposed else "out_channels"
    if w.shape[0] % groups:
        raise ValueError(
            f"{where}: {split} must be divisible by groups, got weight shape {w.shape} and "
            f"groups={groups}"
        )
    in_channels = w.shape[0] if transposed else w.shape[1] * groups
    if x.shape[-2] != in_channels:
        raise ValueError(
            f"{where}: expected input with {in_channels} channels (weight {w.shape}, "
            f"groups={groups}), got input shape {x.shape}"
        )
    if x.dtype != w.dtype:
        raise TypeError(
            f"{where}: expected input and weight of the same dtype, got {x.dtype} and "
            f"{w.dtype}; convert one with .to(dtype)"
        )
    if bias is not None:
        out_channels = w.shape[1] * groups if transposed else w.shape[0]
        b = as_tensor(bias)
        if b.shape != (out_channels,):
            raise ValueError(f"{where}: expected bias of shape ({out_channels},), got {b.shape}")
        if b.dtype != w.dtype:
            raise TypeError(
                f"{where}: expected bias of the weight's dtype {w.dtype}, got {b.dtype}"
            )


def conv1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution (cross-correlation) of (N, C_in, L) or (C_in, L) input with a weight
    of shape (C_out, C_in / groups, k): ``conv2d`` on rows of height 1.

    ``padding`` is an int, 'valid' or 'same' (stride 1); the other arguments are as in
    ``conv2d``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import conv1d
    >>> conv1d(cr.ones(1, 1, 5), cr.ones(1, 1, 3)).tolist()
    [[[3.0, 3.0, 3.0]]]
    """
    where = "conv1d"
    x, w = as_tensor(input), as_tensor(weight)
    _sequence_conv_input(where, x, w, bias, groups, transposed=False)
    steps = _single(where, "stride", stride)
    spread = _single(where, "dilation", dilation)
    length, span = x.shape[-1], spread * (w.shape[-1] - 1) + 1
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(
                f"{where}: padding must be 'valid', 'same', an int or a 1-tuple, got "
                f"padding={padding!r}"
            )
        if padding == "same" and steps != 1:
            raise ValueError(
                f"{where}: padding='same' needs stride 1, got stride={stride!r}; pad "
                f"explicitly for a strided convolution"
            )
        pads: Any = padding
        room = length if padding == "same" else length - span + 1
    else:
        pad = _single(where, "padding", padding, 0)
        pads, room = (0, pad), length + 2 * pad - span + 1
    if room < 1:  # the padded input is shorter than the kernel
        raise ValueError(
            f"{where}: the kernel {w.shape[-1]} (dilation {spread}) does not fit the padded "
            f"input: input length {length} with padding={padding!r} gives output length 0"
        )
    y = conv2d(x.unsqueeze(-2), w.unsqueeze(-2), bias, (1, steps), pads, (1, spread), groups)
    return y.squeeze(-2)


def conv_transpose1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """1-D transposed convolution of (N, C_in, L) or (C_in, L) input with a weight of shape
    (C_in, C_out / groups, k): ``conv_transpose2d`` on rows of height 1.

    L_out = (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1; the
    arguments are ints (or 1-tuples), as in ``conv_transpose2d``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import conv_transpose1d
    >>> conv_transpose1d(cr.ones(1, 1, 3), cr.ones(1, 1, 2)).tolist()
    [[[1.0, 2.0, 2.0, 1.0]]]
    """
    where = "conv_transpose1d"
    x, w = as_tensor(input), as_tensor(weight)
    _sequence_conv_input(where, x, w, bias, groups, transposed=True)
    steps = _single(where, "stride", stride)
    spread = _single(where, "dilation", dilation)
    pad = _single(where, "padding", padding, 0)
    extra = _single(where, "output_padding", output_padding, 0)
    if extra >= max(steps, spread):
        raise ValueError(
            f"{where}: output_padding must be smaller than either stride or dilation, got "
            f"output_padding={output_padding!r}, stride={stride!r}, dilation={dilation!r}"
        )
    length = (x.shape[-1] - 1) * steps - 2 * pad + spread * (w.shape[-1] - 1) + extra + 1
    if length < 1:
        raise ValueError(
            f"{where}: the output length {length} is not positive (input length "
            f"{x.shape[-1]}, kernel {w.shape[-1]}, stride {steps}, padding {pad}, dilation "
            f"{spread}, output_padding {extra})"
        )
    y = conv_transpose2d(
        x.unsqueeze(-2),
        w.unsqueeze(-2),
        bias,
        (1, steps),
        (0, pad),
        (0, extra),
        groups,
        (1, spread),
    )
    return y.squeeze(-2)


def _sequence_input(where: str, x: Tensor) -> None:
    if x.ndim not in (2, 3):
        raise ValueError(
            f"{where}: expected input of shape (N, C, L) or (C, L), got shape {x.shape}"
        )
    if not is_floating(x.dtype):
        raise TypeError(f"{where}: expected a floating-point input, got dtype {x.dtype}")


def _pool1d_arguments(
    where: str,
    length: int,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
) -> tuple[int, int, int, int]:
    """Kernel, stride, padding and dilation as ints, checked here so that errors name the
    1-d arguments; the output size follows the 2-d ops' (and PyTorch's) rule."""
    kernel = _single(where, "kernel_size", kernel_size)
    steps = kernel if stride is None or stride == [] or stride == () else stride
    steps = _single(where, "stride", steps)
    pad = _single(where, "padding", padding, 0)
    spread = _single(where, "dilation", dilation)
    if pad > kernel // 2:
        raise ValueError(
            f"{where}: padding must be at most half of kernel_size, got padding={padding!r} "
            f"and kernel_size={kernel_size!r}"
        )
    span = spread * (kernel - 1) + 1
    room = length + 2 * pad - span
    n = (room + (steps - 1 if ceil_mode else 0)) // steps + 1
    if ceil_mode and (n - 1) * steps >= length + pad:
        n -= 1
    if n < 1 or (room < 0 and not ceil_mode):
        raise ValueError(
            f"{where}: the window {kernel} (dilation {spread}) does not fit the input length "
            f"{length} with padding {pad}: output length {max(n, 0) if room >= 0 else 0}"
        )
    return kernel, steps, pad, spread


def max_pool1d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """The maximum of each window of (N, C, L) sequences: ``max_pool2d`` on rows of height 1.

    Parameters
    ----------
    input : Tensor of shape (N, C, L) or (C, L)
    kernel_size : int
    stride : int, default=kernel_size
    padding : int, default=0
        Implicit -inf on both sides, at most half the kernel.
    dilation : int, default=1
    ceil_mode : bool, default=False
        Round the output length up, so that a last partial window counts.
    return_indices : bool, default=False
        Also return where each maximum was, for ``max_unpool1d``.

    Returns
    -------
    Tensor of shape (N, C, L_out) or (C, L_out)
        L_out = (L + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1 (rounded
        up with ``ceil_mode``).
    indices : int64 Tensor of the output's shape
        With ``return_indices``: the position of each maximum in the (unpadded) input
        sequence, as PyTorch gives it; no gradient.

    Notes
    -----
    The gradient of each window goes to its first maximum, as in PyTorch; the indices name
    the same element.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import max_pool1d
    >>> max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[3.0, 2.0]]]
    >>> max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2, return_indices=True)[1].tolist()
    [[[1, 2]]]
    """
    x = as_tensor(input)
    _sequence_input("max_pool1d", x)
    kernel, steps, pad, spread = _pool1d_arguments(
        "max_pool1d", x.shape[-1], kernel_size, stride, padding, dilation, ceil_mode
    )
    rows = x.unsqueeze(-2)
    if not return_indices:
        y = max_pool2d(rows, (1, kernel), (1, steps), (0, pad), (1, spread), ceil_mode)
        return y.squeeze(-2)
    # Within rows of height 1, the 2-d position row * L + column is the column itself.
    y, indices = max_pool2d(
        rows, (1, kernel), (1, steps), (0, pad), (1, spread), ceil_mode, return_indices=True
    )
    return y.squeeze(-2), indices.squeeze(-2)


def max_pool2d_with_indices(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> tuple[Tensor, Tensor]:
    """``max_pool2d`` with its indices, whatever ``return_indices`` says (PyTorch's name).

    Parameters
    ----------
    input, kernel_size, stride, padding, dilation, ceil_mode
        As ``max_pool2d``.
    return_indices : bool, default=False
        Ignored, as in PyTorch: the indices always come.

    Returns
    -------
    output : Tensor of shape (N, C, H_out, W_out) or (C, H_out, W_out)
    indices : int64 Tensor of the output's shape
        The flat position ``row * W + column`` of each maximum in its input plane.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import max_pool2d_with_indices
    >>> max_pool2d_with_indices(cr.tensor([[[[1.0, 2.0], [4.0, 3.0]]]]), 2)[1].tolist()
    [[[[2]]]]
    """
    del return_indices
    y, indices = max_pool2d(
        input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True
    )
    return y, indices


def max_pool1d_with_indices(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> tuple[Tensor, Tensor]:
    """``max_pool1d`` with its indices, whatever ``return_indices`` says (PyTorch's name).

    Parameters
    ----------
    input, kernel_size, stride, padding, dilation, ceil_mode
        As ``max_pool1d``.
    return_indices : bool, default=False
        Ignored, as in PyTorch: the indices always come.

    Returns
    -------
    output : Tensor of shape (N, C, L_out) or (C, L_out)
    indices : int64 Tensor of the output's shape
        The position of each maximum in its input sequence.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import max_pool1d_with_indices
    >>> max_pool1d_with_indices(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)[1].tolist()
    [[[1, 2]]]
    """
    del return_indices
    y, indices = max_pool1d(
        input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True
    )
    return y, indices


def max_unpool1d(
    input: Any,
    indices: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> Tensor:
    """Undo a 1-d max pool: each value goes back where ``indices`` says its maximum was,
    zeros fill the rest (``max_unpool2d`` on rows of height 1).

    Parameters
    ----------
    input : Tensor of shape (N, C, L) or (C, L)
        The pooled values, floating-point.
    indices : int64 Tensor of the input's shape
        What ``max_pool1d(..., return_indices=True)`` returned.
    kernel_size : int or (int,)
    stride : int or (int,), default=kernel_size
    padding : int or (int,), default=0
    output_size : sequence of int, optional
        (L_out,) or (N, C, L_out); it must lie strictly within one stride of the default
        size.

    Returns
    -------
    Tensor of shape (N, C, L_out) or (C, L_out)
        By default L_out = (L - 1) * stride - 2 * padding + kernel_size.

    Raises
    ------
    ValueError
        If the input is not 2-D or 3-D, ``indices`` has another shape, or ``output_size``
        has the wrong length or lies a stride or more from the default.
    TypeError
        If the input is not floating-point or the indices are not int64.
    IndexError
        If an index lies outside [0, L_out).

    Notes
    -----
    y[n, c, indices[n, c, i]] = x[n, c, i], 0 elsewhere;
    dL/dx[n, c, i] = dL/dy[n, c, indices[n, c, i]].

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import max_pool1d, max_unpool1d
    >>> y, indices = max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2, return_indices=True)
    >>> max_unpool1d(y, indices, 2).tolist()
    [[[0.0, 3.0, 2.0, 0.0]]]
    """
    x = as_tensor(input)
    _sequence_input("max_unpool1d", x)
    kernel = _single("max_unpool1d", "kernel_size", kernel_size)
    steps = kernel if stride is None else _single("max_unpool1d", "stride", stride)
    pad = _single("max_unpool1d", "padding", padding, 0)
    (length,) = unpool_output_size(
        "max_unpool1d", x.shape, (kernel,), (steps,), (pad,), output_size
    )
    picks = unpool_indices("max_unpool1d", x, indices, length)
    rows, row_picks = x.unsqueeze(-2), picks.unsqueeze(-2)
    if x.ndim == 2:
        rows, row_picks = rows.unsqueeze(0), row_picks.unsqueeze(0)
    y = MaxUnpool2d.apply(rows, row_picks, out=(1, length)).squeeze(-2)
    return y if x.ndim == 3 else y.squeeze(0)


def avg_pool1d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """The mean of each window of (N, C, L) sequences: ``avg_pool2d`` on rows of height 1.

    Parameters
    ----------
    input : Tensor of shape (N, C, L) or (C, L)
    kernel_size : int
    stride : int, default=kernel_size
    padding : int, default=0
        Implicit zeros on both sides, at most half the kernel.
    ceil_mode : bool, default=False
        Round the output length up, so that a last partial window counts.
    count_include_pad : bool, default=True
        Divide by the window's size including its padding (the part of a ``ceil_mode``
        window past the padding never counts), or by the input elements alone.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import avg_pool1d
    >>> avg_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[2.0, 1.0]]]
    """
    x = as_tensor(input)
    _sequence_input("avg_pool1d", x)
    kernel, steps, pad, _ = _pool1d_arguments(
        "avg_pool1d", x.shape[-1], kernel_size, stride, padding, 1, ceil_mode
    )
    y = avg_pool2d(x.unsqueeze(-2), (1, kernel), (1, steps), (0, pad), ceil_mode, count_include_pad)
    return y.squeeze(-2)


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Tensor:
    """Average pooling of (N, C, L) sequences to length ``output_size`` whatever L is.

    Output bin i averages the elements from floor(i * L / out) to ceil((i + 1) * L / out) - 1,
    as in PyTorch: ``adaptive_avg_pool2d`` on rows of height 1.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import adaptive_avg_pool1d
    >>> adaptive_avg_pool1d(cr.tensor([[1.0, 3.0, 2.0]]), 2).tolist()
    [[2.0, 2.5]]
    """
    x = as_tensor(input)
    _sequence_input("adaptive_avg_pool1d", x)
    size = (
        output_size[0]
        if isinstance(output_size, tuple | list) and len(output_size) == 1
        else output_size
    )
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(
            f"adaptive_avg_pool1d: output_size must be a positive int, got "
            f"output_size={output_size!r}"
        )
    if x.shape[-1] == 0:
        raise ValueError(
            f"adaptive_avg_pool1d: expected input with a length of at least 1 to average, got "
            f"shape {x.shape}"
        )
    return adaptive_avg_pool2d(x.unsqueeze(-2), (1, int(size))).squeeze(-2)


def _adaptive_sizes(where: str, shape: tuple[int, ...], output_size: Any) -> tuple[int, int]:
    sizes = (output_size, output_size) if not isinstance(output_size, tuple | list) else output_size
    if len(sizes) != 2:
        raise ValueError(
            f"{where}: output_size must be an int or a pair of ints or None, got "
            f"output_size={output_size!r}"
        )
    if 0 in shape[-2:]:
        raise ValueError(
            f"{where}: expected input with a height and width of at least 1 to pool, got "
            f"shape {shape}"
        )
    result = []
    for size, given in zip(shape[-2:], sizes, strict=True):
        if given is None:
            result.append(size)
        elif isinstance(given, int | np.integer) and not isinstance(given, bool) and given > 0:
            result.append(int(given))
        else:
            raise ValueError(
                f"{where}: output_size must be positive ints or None, got "
                f"output_size={output_size!r}"
            )
    return result[0], result[1]


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size, whatever the input size.

    Output bin i of an axis of size n averages the elements from floor(i * n / out) to
    ceil((i + 1) * n / out) - 1, as in PyTorch; ``output_size`` is an int, or a pair whose
    entries may be None (keep the input's size).

    Notes
    -----
    When the output size divides the input size, this is ``avg_pool2d`` with kernel and
    stride n / out. Otherwise the bins are averaged by two matrix products,
    y = A_h x A_w^T, with the rows of A_h and A_w averaging the bins; where an inf or NaN
    would spread through them (0 * inf), only the bins that hold it are inf or NaN, in the
    output and in the gradient, as in PyTorch. float16 is averaged in float32.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import adaptive_avg_pool2d
    >>> adaptive_avg_pool2d(cr.ones(2, 3, 7, 5), 1).shape
    (2, 3, 1, 1)
    """
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"adaptive_avg_pool2d: expected input of shape (N, C, H, W) or (C, H, W), got "
            f"shape {x.shape}"
        )
    if not is_floating(x.dtype):
        raise TypeError(
            f"adaptive_avg_pool2d: expected a floating-point input, got dtype {x.dtype}"
        )
    out_h, out_w = _adaptive_sizes("adaptive_avg_pool2d", x.shape, output_size)
    h, w = x.shape[-2:]
    if (out_h, out_w) == (h, w):
        return x * 1.0  # a new tensor, as an identity layer in PyTorch returns a new one
    if h % out_h == 0 and w % out_w == 0:
        return avg_pool2d(x, (h // out_h, w // out_w))
    result: Tensor = AdaptiveAvgPool2d.apply(x, out=(out_h, out_w))
    return result


def dropout2d(
    input: Any,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: np.random.Generator | int | None = None,
) -> Tensor:
    """Zero whole channels with probability ``p`` and scale the rest by 1 / (1 - p); the
    identity when not ``training``.

    ``input`` is (N, C, H, W), one draw per sample and channel, or (C, H, W), one draw per
    channel. Other shapes raise ``ValueError`` (PyTorch still accepts them with a deprecation
    warning). ``inplace=True`` changes ``input`` itself and returns it, as PyTorch does
    (recorded under grad mode like ``Tensor.relu_``, refused for a leaf that requires grad).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import dropout2d
    >>> y = dropout2d(cr.ones(1, 4, 2, 2), 0.5, generator=0)
    >>> sorted({float(v) for v in y.numpy().ravel()})
    [0.0, 2.0]
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout2d: p must be in [0, 1], got p={p!r}")
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        # PyTorch still accepts other shapes with a deprecation warning (its "Defining a
        # Neural Network" recipe puts Dropout2d after a Linear layer) and will reject them;
        # chainrule rejects them now, and says what to use instead.
        raise ValueError(
            f"dropout2d: expected input of shape (N, C, H, W) or (C, H, W), got shape "
            f"{x.shape}; for (N, features) input, as after a Linear layer, use dropout "
            f"(nn.Dropout), which drops single entries as PyTorch's dropout2d does there"
        )
    channels = x.shape[:-2]
    if not training or p == 0:
        return x
    if inplace:
        return in_place("dropout2d", input, lambda t: dropout2d(t, p, generator=generator))
    x = floating_only(x, "dropout2d")  # as PyTorch: 1 / (1 - p) would be truncated
    if p == 1:
        return x * 0
    rng = as_generator(generator)
    keep = rng.random(channels, dtype=np.float32) >= p
    mask = keep.astype(x.dtype) * x.dtype.type(1 / (1 - p))
    return x * mask.reshape(*channels, 1, 1)


def _norm_type(where: str, norm_type: Any) -> float:
    """``norm_type`` as a float: a nonzero number (inf and -inf included), not NaN."""
    if (
        isinstance(norm_type, bool)
        or not isinstance(norm_type, numbers.Real)
        or math.isnan(norm_type)
        or norm_type == 0
    ):
        raise ValueError(
            f"{where}: norm_type must be a nonzero number (p of the p-norm, inf for the "
            f"maximum), got norm_type={norm_type!r}"
        )
    return float(norm_type)


def _power_sum_root(out: Tensor, window: int, p: float) -> Tensor:
    """(window * out)**(1/p), out the mean of x**p over each window, with PyTorch's values
    and gradients. PyTorch writes it (sign(out) * relu(|out|) * window)**(1/p): the same
    value, whose gradient is 0 where the sum is 0 (relu'(0) = 0 and sign' = 0 stop the inf
    of d(s**(1/p))/ds there), and NaN where a negative sum (odd p, negative inputs) has no
    real root. Here the zero sums are masked out of the root (its value there, 0**(1/p),
    taken as a constant), so that no inf * 0 reaches the graph."""
    total = out * window
    zero = total == 0
    root = ops.where(zero, 1.0, total).pow(1.0 / p)
    return ops.where(zero, 0.0 if p > 0 else math.inf, root)


def lp_pool2d(
    input: Any,
    norm_type: float,
    kernel_size: Any,
    stride: Any = None,
    ceil_mode: bool = False,
) -> Tensor:
    """Power-average pooling of NCHW images, as PyTorch's ``F.lp_pool2d``: the p-norm of
    each kernel_size window, moved by stride.

    Parameters
    ----------
    input : Tensor of shape (N, C, H, W) or (C, H, W)
    norm_type : float
        p, nonzero; ``inf`` gives the maximum of |x| over the window (``max_pool2d`` of
        ``abs(x)``) and ``-inf`` its minimum.
    kernel_size : int or (int, int)
    stride : int or (int, int), default=kernel_size
    ceil_mode : bool, default=False
        Round the output size up, so that a last partial window counts.

    Returns
    -------
    Tensor of shape (N, C, H_out, W_out) or (C, H_out, W_out)
        H_out = (H - kH) // stride + 1 (rounded up with ``ceil_mode``); no padding.

    Raises
    ------
    ValueError
        If ``norm_type`` is 0 or NaN, the input is not 3-D or 4-D, or the window does not
        fit.
    TypeError
        If the input is not floating-point.

    Notes
    -----
    As PyTorch computes it: with s = avg_pool2d(x**p) * kH * kW, the sum of x**p over the
    window, y = (sign(s) * relu(|s|))**(1/p), so that

        y = (sum over the window of x**p)**(1/p)

    (no absolute value: an odd p keeps the signs, and a negative sum gives NaN, as in
    PyTorch). dy/dx = x**(p - 1) * y**(1 - p) within the window, and 0 where the sum is 0.
    A ``ceil_mode`` window cut short by the edge is still multiplied by kH * kW, as in
    PyTorch: its mean of x**p is over the elements it holds.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import lp_pool2d
    >>> lp_pool2d(cr.tensor([[[[3.0, 0.0], [0.0, 4.0]]]]), 2, 2).tolist()
    [[[[5.0]]]]
    """
    x = as_tensor(input)
    p = _norm_type("lp_pool2d", norm_type)
    _image_input("lp_pool2d", x)
    kernel, *_ = _pool_geometry("lp_pool2d", x.shape, kernel_size, stride, 0, 1, ceil_mode)
    if math.isinf(p):
        y = max_pool2d(x.abs() if p > 0 else -x.abs(), kernel_size, stride, 0, 1, ceil_mode)
        return y if p > 0 else -y
    out = avg_pool2d(x.pow(p), kernel_size, stride, 0, ceil_mode)
    return _power_sum_root(out, kernel[0] * kernel[1], p)


def lp_pool1d(
    input: Any,
    norm_type: float,
    kernel_size: Any,
    stride: Any = None,
    ceil_mode: bool = False,
) -> Tensor:
    """Power-average pooling of (N, C, L) sequences, as PyTorch's ``F.lp_pool1d``: the
    p-norm of each kernel_size window, moved by stride.

    Parameters
    ----------
    input : Tensor of shape (N, C, L) or (C, L)
    norm_type : float
        p, nonzero; ``inf`` gives the maximum of |x| over the window and ``-inf`` its
        minimum.
    kernel_size : int or (int,)
    stride : int or (int,), default=kernel_size
    ceil_mode : bool, default=False
        Round the output length up, so that a last partial window counts.

    Returns
    -------
    Tensor of shape (N, C, L_out) or (C, L_out)
        L_out = (L - kernel_size) // stride + 1 (rounded up with ``ceil_mode``).

    Raises
    ------
    ValueError
        If ``norm_type`` is 0 or NaN, the input is not 2-D or 3-D, or the window does not
        fit.
    TypeError
        If the input is not floating-point.

    Notes
    -----
    y = (sum over the window of x**p)**(1/p), computed as PyTorch computes it: see
    ``lp_pool2d``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import lp_pool1d
    >>> lp_pool1d(cr.tensor([[[3.0, 4.0, 1.0, 1.0]]]), 1, 2).tolist()
    [[[7.0, 2.0]]]
    """
    x = as_tensor(input)
    p = _norm_type("lp_pool1d", norm_type)
    _sequence_input("lp_pool1d", x)
    kernel, steps, _, _ = _pool1d_arguments(
        "lp_pool1d", x.shape[-1], kernel_size, stride, 0, 1, ceil_mode
    )
    if math.isinf(p):
        y = max_pool1d(x.abs() if p > 0 else -x.abs(), kernel, steps, 0, 1, ceil_mode)
        return y if p > 0 else -y
    out = avg_pool1d(x.pow(p), kernel, steps, 0, ceil_mode)
    return _power_sum_root(out, kernel, p)
