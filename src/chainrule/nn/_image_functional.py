"""Functional forms that rearrange images: sliding blocks (``unfold``, ``fold``), pixel
shuffles, channel shuffles, and the front doors of adaptive max pooling.

``unfold`` and ``fold`` check their arguments and call the ``unfold2d`` and ``fold2d`` ops
(``autograd/ops/blocks.py``: a copy of the strided windows, and its adjoint, one strided
add per kernel offset); the pixel and channel shuffles are a reshape, a permutation and a
reshape; adaptive max pooling checks its arguments and calls the ``adaptive_max_pool2d``
op (``autograd/ops/adaptive_max.py``).
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.ops._operands import as_tensor
from chainrule.autograd.ops.adaptive_max import AdaptiveMaxPool2d, adaptive_max
from chainrule.autograd.ops.blocks import Fold2d, Unfold2d
from chainrule.autograd.ops.conv import pair
from chainrule.backend import is_floating, np
from chainrule.nn._conv_functional import _adaptive_sizes
from chainrule.tensor import Tensor, _read_in_python

__all__ = [
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "channel_shuffle",
    "fold",
    "pixel_shuffle",
    "pixel_unshuffle",
    "unfold",
]


def _blocks(
    where: str, size: tuple[int, int], kernel: Any, dilation: Any, padding: Any, stride: Any
) -> tuple[tuple[int, int], ...]:
    """Kernel, dilation, padding, stride as pairs and the number of blocks per axis."""
    k = pair(where, "kernel_size", kernel)
    d = pair(where, "dilation", dilation)
    p = pair(where, "padding", padding, minimum=0)
    s = pair(where, "stride", stride)
    n = tuple((size[a] + 2 * p[a] - d[a] * (k[a] - 1) - 1) // s[a] + 1 for a in range(2))
    if min(n) < 1 or any(size[a] + 2 * p[a] < d[a] * (k[a] - 1) + 1 for a in range(2)):
        raise ValueError(
            f"{where}: the kernel {k} (dilation {d}) does not fit the size {size} with padding "
            f"{p}: no sliding blocks"
        )
    return k, d, p, s, (n[0], n[1])


def unfold(
    input: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
) -> Tensor:
    """Extract sliding blocks of NCHW images as columns (im2col), as PyTorch's ``F.unfold``.

    Parameters
    ----------
    input : Tensor of shape (N, C, H, W) or (C, H, W)
    kernel_size : int or (int, int)
    dilation : int or (int, int), default=1
    padding : int or (int, int), default=0
        Zeros added on both sides.
    stride : int or (int, int), default=1

    Returns
    -------
    Tensor of shape (N, C * kH * kW, L) or (C * kH * kW, L)
        Row c * kH * kW + p * kW + q holds offset (p, q) of channel c in each of the L
        blocks (row-major over the block positions).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import unfold
    >>> unfold(cr.arange(9.0).reshape(1, 1, 3, 3), 2).tolist()
    [[[0.0, 1.0, 3.0, 4.0], [1.0, 2.0, 4.0, 5.0], [3.0, 4.0, 6.0, 7.0], [4.0, 5.0, 7.0, 8.0]]]
    """
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"unfold: expected input of shape (N, C, H, W) or (C, H, W), got shape {x.shape}"
        )
    if not is_floating(x.dtype):
        raise TypeError(f"unfold: expected a floating-point input, got dtype {x.dtype}")
    k, d, p, s, blocks = _blocks(
        "unfold", (x.shape[-2], x.shape[-1]), kernel_size, dilation, padding, stride
    )
    images = x if x.ndim == 4 else x.reshape(1, *x.shape)
    pads = (p[0], p[0], p[1], p[1])
    y = Unfold2d.apply(images, kernel=k, dilation=d, padding=pads, stride=s, blocks=blocks)
    return y if x.ndim == 4 else y.reshape(*y.shape[1:])


def fold(
    input: Any,
    output_size: Any,
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Tensor:
    """Sum columns of sliding blocks back into images (col2im), the adjoint of ``unfold``,
    as PyTorch's ``F.fold``: where blocks overlap, their values add.

    Parameters
    ----------
    input : Tensor of shape (N, C * kH * kW, L) or (C * kH * kW, L)
        L must be the number of blocks that ``unfold`` takes from an ``output_size`` image.
    output_size : int or (int, int)
        (H, W) of the images.
    kernel_size, dilation, padding, stride : int or (int, int)
        As in ``unfold``.

    Returns
    -------
    Tensor of shape (N, C, H, W) or (C, H, W)

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import fold
    >>> fold(cr.ones(1, 4, 4), (3, 3), 2).tolist()
    [[[[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]]]
    """
    x = as_tensor(input)
    if x.ndim not in (2, 3):
        raise ValueError(
            f"fold: expected input of shape (N, C * kH * kW, L) or (C * kH * kW, L), got shape "
            f"{x.shape}"
        )
    if not is_floating(x.dtype):
        raise TypeError(f"fold: expected a floating-point input, got dtype {x.dtype}")
    size = pair("fold", "output_size", output_size)
    k, d, p, s, blocks = _blocks("fold", size, kernel_size, dilation, padding, stride)
    rows, length = x.shape[-2:]
    if rows % (k[0] * k[1]):
        raise ValueError(
            f"fold: expected the size of dimension {x.ndim - 2} of the input ({rows}) to be "
            f"divisible by the kernel's {k[0] * k[1]} elements (kernel_size={k})"
        )
    if length != blocks[0] * blocks[1]:
        raise ValueError(
            f"fold: expected {blocks[0] * blocks[1]} blocks ({blocks[0]} x {blocks[1]}) for "
            f"output_size={size}, kernel_size={k}, dilation={d}, padding={p}, stride={s}, got "
            f"input shape {x.shape}"
        )
    columns = x if x.ndim == 3 else x.reshape(1, *x.shape)
    pads = (p[0], p[0], p[1], p[1])
    y = Fold2d.apply(
        columns, size=size, kernel=k, dilation=d, padding=pads, stride=s, blocks=blocks
    )
    return y if x.ndim == 3 else y.reshape(*y.shape[1:])


def _shuffle_input(where: str, x: Tensor, factor: Any, name: str) -> int:
    if isinstance(factor, bool) or not isinstance(factor, int | np.integer) or factor < 1:
        raise ValueError(f"{where}: {name} must be a positive integer, got {name}={factor!r}")
    if x.ndim < 3:
        raise ValueError(
            f"{where}: expected input of shape (*, C, H, W) with at least 3 dimensions, got "
            f"shape {x.shape}"
        )
    return int(factor)


def pixel_shuffle(input: Any, upscale_factor: int) -> Tensor:
    """Rearrange (*, C * r**2, H, W) into (*, C, H * r, W * r), r = ``upscale_factor``:
    channel c * r**2 + i * r + j becomes the pixels at offset (i, j) of each r x r block of
    output channel c (sub-pixel convolution), as PyTorch's ``F.pixel_shuffle``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import pixel_shuffle
    >>> pixel_shuffle(cr.arange(4.0).reshape(1, 4, 1, 1), 2).tolist()
    [[[[0.0, 1.0], [2.0, 3.0]]]]
    """
    x = as_tensor(input)
    r = _shuffle_input("pixel_shuffle", x, upscale_factor, "upscale_factor")
    *lead, c, h, w = x.shape
    if c % (r * r):
        raise ValueError(
            f"pixel_shuffle: expected channels divisible by upscale_factor**2 = {r * r}, got "
            f"shape {x.shape}"
        )
    b = len(lead)
    blocks = x.reshape(*lead, c // (r * r), r, r, h, w)
    order = (*range(b), b, b + 3, b + 1, b + 4, b + 2)
    return blocks.permute(*order).reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Any, downscale_factor: int) -> Tensor:
    """Rearrange (*, C, H * r, W * r) into (*, C * r**2, H, W), r = ``downscale_factor``:
    the inverse of ``pixel_shuffle``, as PyTorch's ``F.pixel_unshuffle``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import pixel_unshuffle
    >>> pixel_unshuffle(cr.arange(4.0).reshape(1, 1, 2, 2), 2).reshape(-1).tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    x = as_tensor(input)
    r = _shuffle_input("pixel_unshuffle", x, downscale_factor, "downscale_factor")
    *lead, c, h, w = x.shape
    if h % r or w % r:
        raise ValueError(
            f"pixel_unshuffle: expected height and width divisible by downscale_factor={r}, "
            f"got shape {x.shape}"
        )
    b = len(lead)
    blocks = x.reshape(*lead, c, h // r, r, w // r, r)
    order = (*range(b), b, b + 2, b + 4, b + 1, b + 3)
    return blocks.permute(*order).reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input: Any, groups: int) -> Tensor:
    """Interleave the channels of ``groups`` groups (ShuffleNet's channel shuffle), as
    PyTorch's ``F.channel_shuffle``: the channels, seen as a (groups, C / groups) matrix,
    are transposed.

    Parameters
    ----------
    input : Tensor of shape (N, C, *), at least 3 dimensions
        The channels are dimension 1.
    groups : int
        Positive, dividing C.

    Returns
    -------
    Tensor of the input's shape
        Output channel i * groups + g is input channel g * (C / groups) + i.

    Raises
    ------
    ValueError
        If ``groups`` is not a positive integer or does not divide C, or the input has
        fewer than 3 dimensions.

    Notes
    -----
    A reshape to (N, groups, C / groups, *), a swap of those two axes and a reshape back;
    the gradient is the inverse permutation of the output's gradient.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import channel_shuffle
    >>> channel_shuffle(cr.arange(6.0).reshape(1, 6, 1), 2).reshape(-1).tolist()
    [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    """
    x = as_tensor(input)
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer) or groups < 1:
        raise ValueError(
            f"channel_shuffle: groups must be a positive integer, got groups={groups!r}"
        )
    if x.ndim < 3:
        raise ValueError(
            f"channel_shuffle: expected input of shape (N, C, *) with at least 3 dimensions, "
            f"got shape {x.shape}"
        )
    n, c, *rest = x.shape
    g = int(groups)
    if c % g:
        raise ValueError(
            f"channel_shuffle: expected the number of channels (dimension 1) to be divisible "
            f"by groups={g}, got shape {x.shape}"
        )
    grouped = x.reshape(n, g, c // g, *rest)
    return grouped.transpose(1, 2).reshape(n, c, *rest)


def adaptive_max_pool2d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling to a fixed output size, whatever the input size, as PyTorch's
    ``F.adaptive_max_pool2d``: output bin i of an axis of size n takes the maximum of the
    elements from floor(i * n / out) to ceil((i + 1) * n / out) - 1.

    Parameters
    ----------
    input : Tensor of shape (N, C, H, W) or (C, H, W)
    output_size : int or (int or None, int or None)
        None keeps the input's size along that axis.
    return_indices : bool, default=False
        Also return where each maximum was: int64 positions ``row * W + column`` in each
        input plane, PyTorch's (the first of tied maxima in row-major order, the last
        NaN), with no gradient; ``max_unpool2d`` takes them.

    Returns
    -------
    Tensor of shape (N, C, out_h, out_w) or (C, out_h, out_w)
    indices : int64 Tensor of the output's shape
        With ``return_indices``.

    Raises
    ------
    ValueError
        If the input is not 3-D or 4-D, its height or width is 0, or ``output_size`` is
        not positive ints or None.
    TypeError
        If the input is not floating-point.

    Notes
    -----
    With bins R_i = [floor(i * H / out_h), ceil((i + 1) * H / out_h)) and C_j likewise
    over W,

        y[..., i, j] = max over (r, c) in R_i x C_j of x[..., r, c],

    and dL/dx[..., r, c] is the sum of g[..., i, j] over the bins whose maximum is (r, c):
    the element the indices name, as in PyTorch (neighbouring bins share an element where
    H / out_h or W / out_w is not an integer, and may share their maximum). One op
    (``adaptive_max_pool2d``), which takes the maximum over each bin's columns and then
    over its rows; see ``chainrule.autograd.ops.adaptive_max``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import adaptive_max_pool2d
    >>> adaptive_max_pool2d(cr.arange(12.0).reshape(1, 1, 3, 4), (2, 1)).tolist()
    [[[[7.0], [11.0]]]]
    """
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"adaptive_max_pool2d: expected input of shape (N, C, H, W) or (C, H, W), got "
            f"shape {x.shape}"
        )
    if not is_floating(x.dtype):
        raise TypeError(
            f"adaptive_max_pool2d: expected a floating-point input, got dtype {x.dtype}"
        )
    out_h, out_w = _adaptive_sizes("adaptive_max_pool2d", x.shape, output_size)
    y = AdaptiveMaxPool2d.apply(x, out=(out_h, out_w))
    if not return_indices:
        return y
    _read_in_python("adaptive_max_pool2d with return_indices=True finds its indices in Python")
    _, picks = adaptive_max(x.data, (out_h, out_w), with_indices=True)
    assert picks is not None
    return y, Tensor._from_op(picks, None)


def adaptive_max_pool1d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling of (N, C, L) sequences to length ``output_size`` whatever L is:
    ``adaptive_max_pool2d`` on rows of height 1.

    With ``return_indices``, also the position of each maximum in its input sequence
    (int64, PyTorch's; no gradient).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import adaptive_max_pool1d
    >>> adaptive_max_pool1d(cr.tensor([[1.0, 3.0, 2.0]]), 2).tolist()
    [[3.0, 3.0]]
    >>> adaptive_max_pool1d(cr.tensor([[1.0, 3.0, 2.0]]), 2, return_indices=True)[1].tolist()
    [[1, 1]]
    """
    x = as_tensor(input)
    if x.ndim not in (2, 3):
        raise ValueError(
            f"adaptive_max_pool1d: expected input of shape (N, C, L) or (C, L), got shape {x.shape}"
        )
    size = (
        output_size[0]
        if isinstance(output_size, tuple | list) and len(output_size) == 1
        else output_size
    )
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(
            f"adaptive_max_pool1d: output_size must be a positive int, got "
            f"output_size={output_size!r}"
        )
    if x.shape[-1] == 0:
        raise ValueError(
            f"adaptive_max_pool1d: expected input with a length of at least 1 to pool, got "
            f"shape {x.shape}"
        )
    if not return_indices:
        return adaptive_max_pool2d(x.unsqueeze(-2), (1, int(size))).squeeze(-2)
    # Within rows of height 1, the 2-d position row * L + column is the column itself.
    y, indices = adaptive_max_pool2d(x.unsqueeze(-2), (1, int(size)), return_indices=True)
    return y.squeeze(-2), indices.squeeze(-2)


def adaptive_max_pool2d_with_indices(
    input: Any, output_size: Any, return_indices: bool = False
) -> tuple[Tensor, Tensor]:
    """``adaptive_max_pool2d`` with its indices, whatever ``return_indices`` says
    (PyTorch's name; the argument is ignored, as there).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import adaptive_max_pool2d_with_indices
    >>> x = cr.arange(12.0).reshape(1, 1, 3, 4)
    >>> adaptive_max_pool2d_with_indices(x, (2, 1))[1].tolist()
    [[[[7], [11]]]]
    """
    del return_indices
    y, indices = adaptive_max_pool2d(input, output_size, return_indices=True)
    return y, indices


def adaptive_max_pool1d_with_indices(
    input: Any, output_size: Any, return_indices: bool = False
) -> tuple[Tensor, Tensor]:
    """``adaptive_max_pool1d`` with its indices, whatever ``return_indices`` says
    (PyTorch's name; the argument is ignored, as there).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import adaptive_max_pool1d_with_indices
    >>> adaptive_max_pool1d_with_indices(cr.tensor([[1.0, 3.0, 2.0]]), 2)[1].tolist()
    [[1, 1]]
    """
    del return_indices
    y, indices = adaptive_max_pool1d(input, output_size, return_indices=True)
    return y, indices
