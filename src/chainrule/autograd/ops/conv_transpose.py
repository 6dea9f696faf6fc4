"""The transposed convolution ``conv_transpose2d``: the adjoint of ``conv2d`` in its input.

A transposed convolution of x with weight w is what conv2d's backward computes for the
gradient of its input: x plays the part of dL/dy, and the output that of dL/dx. Its forward
is therefore conv2d's input gradient (one matrix product W^T X, then col2im by phases: with
stride s, each of the s * s phases of the output is a stride-1 transposed convolution with
its share of the kernel, one contiguous add per kernel offset), and its backward is
conv2d's forward (im2col of the gradient, then one product) for dL/dx and conv2d's weight
gradient for dL/dw. Both reuse conv2d's flat layout (``_FlatLayout``); no element is
visited by a Python loop.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Context, Function, register
from chainrule.autograd.ops._operands import as_tensor
from chainrule.autograd.ops.conv import (
    Pads,
    Pair,
    _batched,
    _FlatLayout,
    _image_input,
    _is_int,
    _unbatched,
    pair,
)
from chainrule.backend import Array, np
from chainrule.tensor import Tensor

__all__ = ["ConvTranspose2d", "conv_transpose2d", "conv_transpose_size"]


@register("conv_transpose2d")
class ConvTranspose2d(Function):
    """y = b + conv2d's input gradient for dL/d(conv output) = x:
    y[n, c, h, v] = b[c] + sum over o, p, q, i, j with h = i*stride + p*dilation - pad_top,
    v = j*stride + q*dilation - pad_left of x[n, o, i, j] * w[o, c, p, q]
    (o over the input channels of c's group);
    dL/dx = conv2d(g, w) (same stride, padding, dilation, groups),
    dL/dw[o, c, p, q] = sum over n, i, j of x[n, o, i, j] * g_pad[n, c, i*stride + p*dilation,
    j*stride + q*dilation] (conv2d's weight gradient with g as its input and x as dL/dy),
    dL/db = g summed over images and positions.

    ``size`` is the (H, W) of the output; x may have fewer rows or columns than conv2d of
    that size gives (when output_padding >= stride, allowed with a larger dilation): the
    missing positions hold zeros.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: Array,
        w: Array,
        b: Array | None,
        *,
        stride: Pair,
        padding: Pads,
        dilation: Pair,
        groups: int,
        size: Pair,
    ) -> Array:
        n, o = x.shape[:2]
        c = w.shape[1] * groups
        ctx.input_size = x.shape[2:]
        # conv2d of the (N, C, *size) output has this many positions per axis
        out = tuple(
            (size[a] + padding[2 * a] + padding[2 * a + 1] - dilation[a] * (w.shape[2 + a] - 1) - 1)
            // stride[a]
            + 1
            for a in range(2)
        )
        if out != x.shape[2:]:
            extended = np.zeros((n, o, *out), dtype=x.dtype)
            extended[:, :, : x.shape[2], : x.shape[3]] = x
            x = extended
        layout = _FlatLayout((n, c, *size), w.shape, stride, padding, dilation, groups, out)
        weights = w.reshape(groups, o // groups, -1)
        y = layout.input_gradient(weights, x)
        if b is not None:
            y += b.reshape(c, 1, 1)
        ctx.save_for_backward(x, weights)
        ctx.layout = layout
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None, Array | None]:
        x, weights = ctx.saved
        layout: _FlatLayout = ctx.layout
        needs = ctx.needs_input_grad
        grad_x = grad_w = grad_b = None
        if needs[0] or needs[1]:
            cols = layout.window_matrix(layout.flatten(grad))
            if needs[0]:
                grad_x = layout.convolve(weights, cols)
                h, w = ctx.input_size
                if grad_x.shape[2:] != (h, w):
                    grad_x = np.ascontiguousarray(grad_x[:, :, :h, :w])
            if needs[1]:
                grad_w = layout.weight_gradient(cols, layout.gradient_positions(x))
        if needs[2]:
            grad_b = grad.sum(axis=(0, 2, 3))
        return grad_x, grad_w, grad_b


def conv_transpose_size(
    in_size: Pair, kernel: Pair, stride: Pair, padding: Pair, output_padding: Pair, dilation: Pair
) -> Pair:
    """(H_out, W_out) = (in - 1) * stride - 2 * padding + dilation * (kernel - 1) +
    output_padding + 1, per axis."""
    h, w = (
        (in_size[a] - 1) * stride[a]
        - 2 * padding[a]
        + dilation[a] * (kernel[a] - 1)
        + output_padding[a]
        + 1
        for a in range(2)
    )
    return h, w


def conv_transpose2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """2-D transposed convolution of NCHW images (the adjoint of ``conv2d`` in its input,
    sometimes called a deconvolution), as PyTorch's ``F.conv_transpose2d``.

    Parameters
    ----------
    input : Tensor of shape (N, C_in, H, W) or (C_in, H, W)
    weight : Tensor of shape (C_in, C_out / groups, kH, kW)
    bias : Tensor of shape (C_out,), optional
    stride, dilation : int or (int, int), default=1
    padding : int or (int, int), default=0
        ``dilation * (kernel - 1) - padding`` zeros are added on both sides of the input of
        the equivalent stride-1 convolution: the output loses ``padding`` rows (columns)
        on each side.
    output_padding : int or (int, int), default=0
        Rows (columns) added at the bottom (right) of the output, to pick among the output
        sizes that a strided ``conv2d`` maps to the same input size; each must be smaller
        than the stride or the dilation.
    groups : int, default=1
        Channels split into ``groups`` independent transposed convolutions.

    Returns
    -------
    Tensor of shape (N, C_out, H_out, W_out), with H_out = (H - 1) * stride - 2 * padding
    + dilation * (kH - 1) + output_padding + 1.

    Notes
    -----
    Each input pixel adds its values times the kernel into the output, the kernel placed
    at (i * stride - padding, j * stride - padding); ``conv_transpose2d(conv2d_grad)`` is
    what conv2d's backward computes, and this op's backward is a ``conv2d``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import conv_transpose2d
    >>> conv_transpose2d(cr.ones(1, 1, 2, 2), cr.ones(1, 1, 2, 2), stride=2).tolist()[0][0]
    [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
    """
    where = "conv_transpose2d"
    x, w = as_tensor(input), as_tensor(weight)
    _image_input(where, x)
    if w.ndim != 4:
        raise ValueError(
            f"{where}: expected a 4-D weight (in_channels, out_channels/groups, kH, kW), got "
            f"shape {w.shape}"
        )
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"{where}: groups must be a positive integer, got groups={groups!r}")
    in_channels, group_channels, kh, kw = w.shape
    if in_channels % groups:
        raise ValueError(
            f"{where}: in_channels must be divisible by groups, got weight shape {w.shape} "
            f"and groups={groups}"
        )
    if x.shape[-3] != in_channels:
        raise ValueError(
            f"{where}: expected input with {in_channels} channels (weight {w.shape}), got "
            f"input shape {x.shape}"
        )
    if x.dtype != w.dtype:
        raise TypeError(
            f"{where}: expected input and weight of the same dtype, got {x.dtype} and "
            f"{w.dtype}; convert one with .to(dtype)"
        )
    steps = pair(where, "stride", stride)
    spread = pair(where, "dilation", dilation)
    pads = pair(where, "padding", padding, minimum=0)
    extra = pair(where, "output_padding", output_padding, minimum=0)
    if any(e >= max(s, d) for e, s, d in zip(extra, steps, spread, strict=True)):
        raise ValueError(
            f"{where}: output_padding must be smaller than either stride or dilation, got "
            f"output_padding={output_padding!r}, stride={stride!r}, dilation={dilation!r}"
        )
    size = conv_transpose_size((x.shape[-2], x.shape[-1]), (kh, kw), steps, pads, extra, spread)
    if min(size) < 1:
        raise ValueError(
            f"{where}: the output size {size} is not positive (input {tuple(x.shape[-2:])}, "
            f"kernel {(kh, kw)}, stride {steps}, padding {pads}, dilation {spread}, "
            f"output_padding {extra})"
        )
    out_channels = group_channels * groups
    b = None
    if bias is not None:
        b = as_tensor(bias)
        if b.shape != (out_channels,):
            raise ValueError(f"{where}: expected bias of shape ({out_channels},), got {b.shape}")
        if b.dtype != w.dtype:
            raise TypeError(
                f"{where}: expected bias of the weight's dtype {w.dtype}, got {b.dtype}"
            )
    y = ConvTranspose2d.apply(
        _batched(x),
        w,
        b,
        stride=steps,
        padding=(pads[0], pads[0], pads[1], pads[1]),
        dilation=spread,
        groups=int(groups),
        size=size,
    )
    return _unbatched(y, x.ndim)
