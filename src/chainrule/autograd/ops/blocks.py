"""Sliding blocks of NCHW images: ``unfold2d`` (im2col) and ``fold2d`` (col2im), the ops
behind ``nn.functional.unfold`` and ``nn.functional.fold``.

The two are adjoint linear maps, so each one's backward is the other's forward. Unfold
copies the windows of the padded input (one strided view, ``conv._windows``, copied once),
and fold adds them back where they were read (``conv._scatter``: one strided add per kernel
offset, or one assignment when the windows do not overlap). Each element is touched once per
window that holds it, where the grouped convolution with one-hot kernels that these replace
touched it once per window and kernel offset: kH * kW times the work.
"""

from __future__ import annotations

from chainrule.autograd.function import Context, Function, register
from chainrule.autograd.ops.conv import Pads, Pair, _padded, _scatter_windows, _windows
from chainrule.backend import Array, np

__all__ = ["Fold2d", "Unfold2d"]


def _im2col(
    x: Array, kernel: Pair, dilation: Pair, padding: Pads, stride: Pair, blocks: Pair
) -> Array:
    """(N, C * kH * kW, L): row (c, p, q), column (i, j) holds
    x_pad[n, c, i*stride + p*dilation, j*stride + q*dilation]."""
    n, c = x.shape[:2]
    view = _windows(_padded(x, padding, 0.0), kernel, stride, dilation, blocks)
    cols = np.empty((n, c, *kernel, *blocks), dtype=x.dtype)  # leaves the op: a fresh array
    np.copyto(cols, view.transpose(2, 3, 0, 1, 4, 5))
    return cols.reshape(n, c * kernel[0] * kernel[1], blocks[0] * blocks[1])


def _col2im(
    cols: Array,
    size: Pair,
    kernel: Pair,
    dilation: Pair,
    padding: Pads,
    stride: Pair,
    blocks: Pair,
) -> Array:
    """(N, C, H, W): every entry of ``cols`` (N, C * kH * kW, L) added where ``_im2col``
    read it; entries that fell on padding are dropped."""
    n = cols.shape[0]
    kh, kw = kernel
    channels = cols.shape[1] // (kh * kw)
    by_offset = cols.reshape(n, channels, kh * kw, *blocks).transpose(2, 0, 1, 3, 4)
    top, bottom, left, right = padding
    padded_shape = (n, channels, size[0] + top + bottom, size[1] + left + right)
    return _scatter_windows(by_offset, padded_shape, kernel, stride, padding, dilation)


@register("unfold2d")
class Unfold2d(Function):
    """y[n, c*kH*kW + p*kW + q, i*L_w + j] = x_pad[n, c, i*stride + p*dilation,
    j*stride + q*dilation] (im2col, zeros in the padding);  dL/dx = col2im(g): each entry
    of g added back at the element it was read from (where windows overlap, the shares
    add), dropped where it was read from the padding.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: Array,
        *,
        kernel: Pair,
        dilation: Pair,
        padding: Pads,
        stride: Pair,
        blocks: Pair,
    ) -> Array:
        ctx.geometry = (x.shape[2:], kernel, dilation, padding, stride, blocks)
        return _im2col(x, kernel, dilation, padding, stride, blocks)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        return (_col2im(grad, *ctx.geometry),)


@register("fold2d")
class Fold2d(Function):
    """y = col2im(x): y[n, c, h, v] = sum over p, q, i, j with h = i*stride + p*dilation -
    pad_top, v = j*stride + q*dilation - pad_left of x[n, c*kH*kW + p*kW + q, i*L_w + j]
    (unfold2d's adjoint);  dL/dx = im2col(g), the windows of the gradient padded with zeros.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: Array,
        *,
        size: Pair,
        kernel: Pair,
        dilation: Pair,
        padding: Pads,
        stride: Pair,
        blocks: Pair,
    ) -> Array:
        ctx.geometry = (kernel, dilation, padding, stride, blocks)
        return _col2im(x, size, kernel, dilation, padding, stride, blocks)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        return (_im2col(grad, *ctx.geometry),)
