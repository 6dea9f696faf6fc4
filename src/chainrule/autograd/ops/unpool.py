"""``max_unpool2d``: the partial inverse of a max pool, which puts each pooled value back
where the pool's indices say it came from and zeros everywhere else (SegNet's decoder).

The indices are PyTorch's: flat positions ``row * W_out + column`` within each (N, C)
plane of the output, as ``max_pool2d(..., return_indices=True)`` gives them for its input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from chainrule.autograd.function import Context, Function, register
from chainrule.autograd.ops._operands import as_tensor
from chainrule.autograd.ops.conv import Pair, _batched, _image_input, _unbatched, pair
from chainrule.backend import Array, np
from chainrule.tensor import Tensor


@register("max_unpool2d")
class MaxUnpool2d(Function):
    """y[n, c].flat[indices[n, c, i, j]] = x[n, c, i, j], 0 elsewhere;
    dL/dx[n, c, i, j] = g[n, c].flat[indices[n, c, i, j]] (a gather).

    # NOTE: where two inputs name the same position, the later one in row-major order is
    # written, and both read its gradient back, as PyTorch does (the gather is then not the
    # derivative of the forward; a max pool's indices name distinct positions unless its
    # windows overlap and share a maximum).
    """

    @staticmethod
    def forward(ctx: Context, x: Array, indices: Array, *, out: Pair) -> Array:
        n, c = x.shape[:2]
        plane = math.prod(x.shape[2:])  # not -1: n or c may be 0
        picks = indices.reshape(n, c, plane)
        y = np.zeros((n, c, out[0] * out[1]), dtype=x.dtype)
        np.put_along_axis(y, picks, x.reshape(n, c, plane), axis=2)
        ctx.save_for_backward(picks)
        ctx.input_shape = x.shape
        return y.reshape(n, c, *out)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        (picks,) = ctx.saved
        n, c = grad.shape[:2]
        grad_x = np.take_along_axis(grad.reshape(n, c, math.prod(grad.shape[2:])), picks, axis=2)
        return grad_x.reshape(ctx.input_shape), None


def unpool_output_size(
    where: str,
    shape: tuple[int, ...],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    output_size: Any,
) -> tuple[int, ...]:
    """The spatial size of the unpooled output, PyTorch's rule: (size - 1) * stride +
    kernel - 2 * padding per axis, or ``output_size`` (its last axes where it also names the
    batch and channels) when it lies strictly within one stride of that."""
    axes = len(kernel)
    default = [(shape[-axes + d] - 1) * stride[d] + kernel[d] - 2 * padding[d] for d in range(axes)]
    if output_size is None:
        sizes = default
    else:
        given = list(output_size) if isinstance(output_size, Sequence) else None
        if given is not None and len(given) == axes + 2:
            given = given[2:]
        if (
            given is None
            or len(given) != axes
            or not all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in given)
        ):
            raise ValueError(
                f"{where}: output_size should be a sequence of {axes} or {axes + 2} ints, got "
                f"output_size={output_size!r}"
            )
        for d in range(axes):
            low, high = default[d] - stride[d], default[d] + stride[d]
            if not low < given[d] < high:
                raise ValueError(
                    f'{where}: invalid output_size "{output_size}" (dim {d} must be between '
                    f"{low} and {high}, exclusive)"
                )
        sizes = [int(s) for s in given]
    for d in range(axes):
        if sizes[d] < 0:
            raise ValueError(
                f"{where}: output_size must contain non-negative spatial dimensions, but got "
                f"output_size[{d}]={sizes[d]} (from input {tuple(shape)}, kernel_size "
                f"{tuple(kernel)}, stride {tuple(stride)}, padding {tuple(padding)})"
            )
    return tuple(sizes)


def unpool_indices(where: str, x: Tensor, indices: Any, plane: int) -> Tensor:
    """``indices`` as an int64 tensor of ``x``'s shape, each in [0, plane)."""
    picks = as_tensor(indices)
    if picks.dtype != np.int64:
        raise TypeError(f"{where}: expected int64 indices, got dtype {picks.dtype}")
    if picks.shape != x.shape:
        raise ValueError(
            f"{where}: expected indices of the input's shape {x.shape}, got shape {picks.shape}"
        )
    if picks.data.size and (picks.data.min() < 0 or picks.data.max() >= plane):
        bad = picks.data[(picks.data < 0) | (picks.data >= plane)].flat[0]
        raise IndexError(
            f"{where}: found an invalid max index {bad}: expected indices in [0, {plane}), the "
            f"positions of an output plane of {plane} elements"
        )
    return picks


def max_unpool2d(
    input: Any,
    indices: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> Tensor:
    """Undo a max pool: each value goes back where ``indices`` says its maximum was, zeros
    fill the rest.

    Parameters
    ----------
    input : Tensor of shape (N, C, H, W) or (C, H, W)
        The pooled values, floating-point.
    indices : int64 Tensor of the input's shape
        What ``max_pool2d(..., return_indices=True)`` returned: flat positions within each
        output plane, ``row * W_out + column``.
    kernel_size : int or (int, int)
    stride : int or (int, int), default=kernel_size
    padding : int or (int, int), default=0
    output_size : sequence of int, optional
        (H_out, W_out), or (N, C, H_out, W_out) of which the last two count; each must lie
        strictly within one stride of the default size. Pass the pooled input's size where
        the pool dropped rows or columns (an odd size, ``ceil_mode``).

    Returns
    -------
    Tensor of shape (N, C, H_out, W_out) or (C, H_out, W_out)
        By default H_out = (H - 1) * stride - 2 * padding + kernel_size.

    Raises
    ------
    ValueError
        If the input is not 3-D or 4-D, ``indices`` has another shape, or ``output_size``
        has the wrong length or lies a stride or more from the default.
    TypeError
        If the input is not floating-point or the indices are not int64.
    IndexError
        If an index lies outside the output plane.

    Notes
    -----
    y[n, c].flat[indices[n, c, i, j]] = x[n, c, i, j], 0 elsewhere; the gradient of x is
    the upstream gradient read back at the indices:
    dL/dx[n, c, i, j] = dL/dy[n, c].flat[indices[n, c, i, j]].

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import max_pool2d, max_unpool2d
    >>> x = cr.tensor([[[[1.0, 2.0], [4.0, 3.0]]]])
    >>> y, indices = max_pool2d(x, 2, return_indices=True)
    >>> max_unpool2d(y, indices, 2)
    tensor([[[[0., 0.],
              [4., 0.]]]])
    """
    x = as_tensor(input)
    _image_input("max_unpool2d", x)
    kernel = pair("max_unpool2d", "kernel_size", kernel_size)
    steps = kernel if stride is None else pair("max_unpool2d", "stride", stride)
    pads = pair("max_unpool2d", "padding", padding, minimum=0)
    height, width = unpool_output_size("max_unpool2d", x.shape, kernel, steps, pads, output_size)
    picks = unpool_indices("max_unpool2d", x, indices, height * width)
    y = MaxUnpool2d.apply(_batched(x), _batched(picks), out=(height, width))
    return _unbatched(y, x.ndim)


__all__ = ["MaxUnpool2d", "max_unpool2d"]
