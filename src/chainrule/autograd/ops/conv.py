"""Convolution and pooling of images in NCHW layout: ``conv2d``, ``max_pool2d``,
``avg_pool2d``, and ``edge_pad`` (the reflect, replicate and circular borders that a
convolution may pad with).

Each op reads its input through *windows*: a strided view of the padded input with one axis
per kernel offset and one per output position, built without copying an element. One copy
of that view is the im2col matrix; ``conv2d`` is then one matrix product per layer (batched
over images or groups), and the pools reduce over the kernel axes. Backward runs the steps
in reverse: the gradient of the window matrix returns to the input by one strided add per
kernel offset (col2im), or, when windows do not overlap (a pool whose stride covers its
kernel), by a single strided assignment. There is no ``np.add.at`` and no loop over output
positions. ``_FlatLayout`` explains how conv2d's col2im goes by phases of the padded planes
instead, one contiguous add per kernel offset, and ``_Workspace`` why large temporaries are
reused. A depthwise convolution (one input channel per group) skips the window matrix:
``_Depthwise`` sums shifted input planes, with BLAS ``axpy`` calls per channel or NumPy
calls per kernel offset.

One file, over the usual length, because the four ops share the window arithmetic (output
sizes, views, the scatter back, the scratch arrays) and the argument checks of their front
doors; ``benchmarks/README.md`` (conv_train.py) has the measurements behind each choice.
"""

from __future__ import annotations

import math
import sys
import threading
from typing import Any

from chainrule import _blas
from chainrule.autograd.function import Context, Function, masked, register
from chainrule.autograd.ops._operands import as_tensor
from chainrule.backend import Array, is_floating, np
from chainrule.tensor import Tensor, _read_in_python

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]
"""Widths added before and after the rows, then before and after the columns."""


# --------------------------------------------------------------------- windows
def _windows(
    xp: Array, kernel: Pair, stride: Pair, dilation: Pair, out: Pair, writeable: bool = False
) -> Array:
    """A (kh, kw, N, C, OH, OW) view of ``xp`` (N, C, H, W): the element that kernel offset
    (p, q) meets at output position (i, j), ``xp[n, c, i*stride + p*dilation,
    j*stride + q*dilation]``."""
    n, c = xp.shape[:2]
    step_n, step_c, step_h, step_w = xp.strides
    shape = (*kernel, n, c, *out)
    strides = (
        dilation[0] * step_h,
        dilation[1] * step_w,
        step_n,
        step_c,
        stride[0] * step_h,
        stride[1] * step_w,
    )
    return np.lib.stride_tricks.as_strided(xp, shape, strides, writeable=writeable)


def _scatter(
    target: Array, cols: Array, stride: Pair, dilation: Pair, mask: Array | None = None
) -> None:
    """Add ``cols`` (kh, kw, N, C, OH, OW), where ``mask`` holds if given, into the zero-filled
    ``target`` (N, C, H, W) at the positions ``_windows`` read them from: the adjoint of
    taking windows (col2im)."""
    kh, kw, _, _, oh, ow = cols.shape
    (sh, sw), (dh, dw) = stride, dilation
    if sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1:
        # Disjoint windows: every element of the target receives at most one value.
        view = _windows(target, (kh, kw), stride, dilation, (oh, ow), writeable=True)
        if mask is None:
            view[...] = cols
        else:
            masked(cols, mask, out=view)
        return
    for p in range(kh):
        rows = slice(p * dh, p * dh + sh * (oh - 1) + 1, sh)
        for q in range(kw):
            columns = slice(q * dw, q * dw + sw * (ow - 1) + 1, sw)
            piece = cols[p, q] if mask is None else masked(cols[p, q], mask[p, q])
            target[:, :, rows, columns] += piece


def _padded(x: Array, pads: Pads, value: float) -> Array:
    """``x`` with ``value`` around its last two axes (``x`` itself when ``pads`` are 0)."""
    top, bottom, left, right = pads
    if not (top or bottom or left or right):
        return x
    n, c, h, w = x.shape
    xp = WORKSPACE.empty((n, c, h + top + bottom, w + left + right), x.dtype)
    xp.fill(value)
    xp[:, :, top : top + h, left : left + w] = x
    return xp


def _interior(xp: Array, pads: Pads) -> Array:
    """The part of ``xp`` that ``_padded`` did not add, as a contiguous array."""
    top, bottom, left, right = pads
    if not (top or bottom or left or right):
        return xp
    h, w = xp.shape[2] - top - bottom, xp.shape[3] - left - right
    return np.ascontiguousarray(xp[:, :, top : top + h, left : left + w])


# --------------------------------------------------------------------- workspace
class _Workspace:
    """Scratch arrays that the ops here reuse from one call to the next.

    A training step needs the same large temporaries every time (window matrices of
    several MB). Fresh memory costs a page fault per 4 KiB, and the C allocator hands freed
    memory back to the system between steps, so every step paid those faults again: 15 to
    30% of a LeNet step on 28x28 images in our runs (benchmarks/README.md). An array is handed out
    again only when nothing but the workspace refers to it, as its reference count shows
    (a view of it, a saved context or a user's variable all count). The workspace keeps at
    most ``LIMIT_BYTES``; when a new shape needs room, idle arrays of other shapes go.
    """

    MIN_BYTES = 1 << 16  # smaller arrays come cheaply from the allocator's free lists
    PER_SHAPE = 4
    LIMIT_BYTES = 128 << 20

    def __init__(self) -> None:
        self.arrays: dict[tuple[tuple[int, ...], str], list[Array]] = {}
        self.held = 0
        self.lock = threading.Lock()
        probe = [np.empty(1)]
        # References to an idle array: its list's, and getrefcount's argument.
        self.idle_refs = self._refs(probe, 0) if hasattr(sys, "getrefcount") else -1

    @staticmethod
    def _refs(arrays: list[Array], k: int) -> int:
        return sys.getrefcount(arrays[k])

    def empty(self, shape: tuple[int, ...], dtype: Any) -> Array:
        """An array of ``shape`` and ``dtype`` with arbitrary contents."""
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes < self.MIN_BYTES or self.idle_refs < 0:
            return np.empty(shape, dtype=dtype)
        key = (tuple(shape), dtype.str)
        with self.lock:
            arrays = self.arrays.setdefault(key, [])
            for k in range(len(arrays)):
                if self._refs(arrays, k) == self.idle_refs:
                    return arrays[k]
            fresh = np.empty(shape, dtype=dtype)
            if len(arrays) < self.PER_SHAPE and nbytes <= self.LIMIT_BYTES:
                if self.held + nbytes > self.LIMIT_BYTES:
                    self._evict(self.held + nbytes - self.LIMIT_BYTES)
                if self.held + nbytes <= self.LIMIT_BYTES:
                    arrays.append(fresh)
                    self.held += nbytes
            return fresh

    def _evict(self, nbytes: int) -> None:
        """Let go of idle arrays until ``nbytes`` are freed (or none is idle)."""
        for arrays in self.arrays.values():
            k = 0
            while k < len(arrays) and nbytes > 0:
                if self._refs(arrays, k) == self.idle_refs:
                    nbytes -= arrays[k].nbytes
                    self.held -= arrays[k].nbytes
                    del arrays[k]
                else:
                    k += 1

    def zeros(self, shape: tuple[int, ...], dtype: Any) -> Array:
        array = self.empty(shape, dtype)
        array.fill(0)
        return array

    def clear(self) -> None:
        """Let go of every array (the ones in use stay with their users)."""
        with self.lock:
            self.arrays.clear()
            self.held = 0


WORKSPACE = _Workspace()
"""The scratch arrays of conv2d, max_pool2d and avg_pool2d (``WORKSPACE.clear()`` frees
them)."""


# --------------------------------------------------------------------- ops
@register("conv2d")
class Conv2d(Function):
    """y[n, o, i, j] = b[o] + sum over c, p, q of
    w[o, c, p, q] * x_pad[n, c, i*stride + p*dilation, j*stride + q*dilation]
    (c over the channels of o's group);  with X the window matrix (channels and offsets,
    positions) and G the gradient as (out channels, positions):
    dL/dw = G X^T, dL/dx = col2im(W^T G), dL/db = G summed over positions.

    The window matrix is one strided copy of the padded input; col2im goes by phases of
    the padded planes, one contiguous add per kernel offset. See ``_FlatLayout`` for both
    and for the two orders of the products, and ``_Depthwise`` for depthwise convolutions
    (one input channel per group), computed without products.
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
        out: Pair,
    ) -> Array:
        o = w.shape[0]
        if _Depthwise.applies(x.shape, groups):
            depthwise = _Depthwise(x.shape, w.shape, stride, padding, dilation, out)
            # untracked (no_grad) contexts have no needs at all
            y, runs = depthwise.convolve(x, w, b, keep_input=any(ctx.needs_input_grad[1:2]))
            ctx.save_for_backward(runs, w)
            ctx.layout = depthwise
            return y
        layout = _FlatLayout(x.shape, w.shape, stride, padding, dilation, groups, out)
        cols = layout.window_matrix(layout.flatten(x))
        weights = w.reshape(groups, o // groups, -1)
        y = layout.convolve(weights, cols)
        if b is not None:
            y += b.reshape(o, 1, 1)
        ctx.save_for_backward(cols, weights)
        ctx.layout = layout
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None, Array | None]:
        needs = ctx.needs_input_grad
        if isinstance(ctx.layout, _Depthwise):
            runs, w = ctx.saved
            grad_x, grad_w = ctx.layout.gradients(runs, w, grad, needs)
            return grad_x, grad_w, grad.sum(axis=(0, 2, 3)) if needs[2] else None
        cols, weights = ctx.saved
        layout: _FlatLayout = ctx.layout
        g = layout.gradient_positions(grad) if needs[1] else None
        grad_w = grad_b = grad_x = None
        if g is not None:
            grad_w = layout.weight_gradient(cols, g)
        if needs[2]:
            grad_b = grad.sum(axis=(0, 2, 3))
        if needs[0]:
            grad_x = layout.input_gradient(weights, grad, g)
        return grad_x, grad_w, grad_b


class _FlatLayout:
    """Where conv2d's elements sit in the flat buffer of padded image planes.

    Plane (n, c) holds padded row r, column t at ``r * Wp + t``; output position (i, j) of
    kernel offset (p, q) reads ``(i * stride_h + p * dilation_h) * Wp + j * stride_w + q *
    dilation_w`` of it, and the window matrix is one strided copy of those elements.

    dL/dx, the adjoint, comes back by *phases* (``col2im_planes``): split the padded plane
    by stride into stride_h * stride_w phases, phase (a, b) holding rows a, a + stride_h,
    ... and columns b, b + stride_w, ... as a flat Hq x Wq grid (one phase, the plane
    itself, at stride 1). Kernel offset (p, q) lands only on phase ((p * dilation_h) %
    stride_h, (q * dilation_w) % stride_w), shifted there by ((p * dilation_h) // stride_h,
    (q * dilation_w) // stride_w): with dL/dy spread over an Hq x Wq grid (zeros past the
    outputs), each offset's share of every plane is one contiguous add. The product W^T G
    then runs over the whole grid, Hq * Wq columns per image instead of OH * OW, and
    col2im without phases adds each offset's share at the positions alone: one strided add
    per offset, or one assignment when no two windows overlap. The phases are taken while
    their extra columns cost less than the strided adds: while ``phases_cost`` <=
    ``PHASES_MAX_COST``, so not for a kernel large against its input.

    Two orders, chosen by the number of positions per image (measured with OpenBLAS on
    LeNet's and the digits network's layers):

    - per image (planes image-major): one product per image and group, a batched matmul
      whose window matrix stays in cache; faster for large images;
    - per batch (planes channel-major): one product per group over every image's
      positions; faster when an image has few positions (a 4x4 map has 16), where the
      batched products are too thin.
    """

    PER_IMAGE_MIN_POSITIONS = 64
    PHASES_MAX_COST = 16.0
    """dL/dx goes by phases while ``phases_cost`` is at most this."""

    def __init__(
        self,
        x_shape: tuple[int, ...],
        w_shape: tuple[int, ...],
        stride: Pair,
        padding: Pads,
        dilation: Pair,
        groups: int,
        out: Pair,
    ) -> None:
        n, c, h, w = x_shape
        kh, kw = w_shape[2:]
        top, bottom, left, right = padding
        hp, wp = h + top + bottom, w + left + right
        self.x_shape, self.w_shape = x_shape, w_shape
        self.padding, self.groups, self.out = padding, groups, out
        self.stride, self.dilation = stride, dilation
        self.padded = (hp, wp)
        self.plane = hp * wp
        self.steps = (stride[0] * wp, stride[1])  # per output row, output column
        self.offsets = (dilation[0] * wp, dilation[1])  # per kernel row, kernel column
        self.phase_grid = (-(-hp // stride[0]), -(-wp // stride[1]))
        self.by_phases = self.phases_cost() <= self.PHASES_MAX_COST
        # Windows that share no element (a stride past the kernel, or a single output
        # row or column) return to the input by one assignment.
        self.disjoint = all(
            o == 1 or s > d * (k - 1)
            for o, s, d, k in zip(out, stride, dilation, (kh, kw), strict=True)
        )
        self.per_image = out[0] * out[1] >= self.PER_IMAGE_MIN_POSITIONS
        # Element strides of the image and channel axes in the buffer.
        self.step_n, self.step_c = (c, 1) if self.per_image else (1, n)

    def phases_cost(self) -> float:
        """(Hq * Wq / (OH * OW) - 1) * (1 + out per group / 64) * OW: the extra columns of
        the phases' product, each with its multiply-adds (one per output channel of the
        group), against the strided adds they save, which cost more per element as the
        rows they add (OW elements) get shorter.

        The form and its constants fit timings of forward and backward on 50 layers
        (benchmarks/README.md, layer_ops.py): phases for the 16-channel 4x4 / 2
        transposed convolution (cost 2.5, 1.8 times faster than without) and 3x3 on a 2x2
        map of 16 channels (cost 7.5, 1.35 times), col2im for 3x3 on 4x4 maps of 256
        channels (cost 25, 15% faster), 7x7 on 7x7 maps of 64 (cost 34, 20%) and a
        dilation of 8 on 32x32 (cost 60, 1.7 times); within 7% of the faster way on all
        but a 1-channel 8x8 layer of 0.1 ms."""
        o_group = self.w_shape[0] // self.groups
        positions = self.out[0] * self.out[1]
        extra = math.prod(self.phase_grid) / positions - 1
        return extra * (1 + o_group / 64) * self.out[1]

    # ----------------------------------------------------------------- the input buffer
    def _grid(self, buffer: Array) -> Array:
        """The (N, C, Hp, Wp) padded input inside the flat buffer."""
        n, c = self.x_shape[:2]
        hp, wp = self.padded
        item = buffer.itemsize
        strides = (self.step_n * self.plane * item, self.step_c * self.plane * item)
        return np.lib.stride_tricks.as_strided(
            buffer, (n, c, hp, wp), strides + (wp * item, item), writeable=True
        )

    def flatten(self, x: Array) -> Array:
        """The padded input as the flat buffer (zeros in the padding and past each plane)."""
        n, c, h, w = x.shape
        top, _, left, _ = self.padding
        buffer = WORKSPACE.zeros((n * c * self.plane,), x.dtype)
        self._grid(buffer)[:, :, top : top + h, left : left + w] = x
        return buffer

    def unflatten(self, buffer: Array) -> Array:
        """The (N, C, H, W) input whose flat buffer is ``buffer``: the adjoint of flatten."""
        h, w = self.x_shape[2:]
        top, _, left, _ = self.padding
        return self._grid(buffer)[:, :, top : top + h, left : left + w].copy()

    def _view(self, buffer: Array, writeable: bool = False) -> Array:
        """(N, groups, channels per group, kh, kw, OH, OW) over the flat buffer."""
        n, c = self.x_shape[:2]
        item = buffer.itemsize
        channels = c // self.groups
        shape = (n, self.groups, channels, *self.w_shape[2:], *self.out)
        steps = (
            self.step_n * self.plane,
            channels * self.step_c * self.plane,
            self.step_c * self.plane,
            *self.offsets,
            *self.steps,
        )
        return np.lib.stride_tricks.as_strided(
            buffer, shape, tuple(item * s for s in steps), writeable=writeable
        )

    # ----------------------------------------------------------------- window matrices
    def window_matrix(self, buffer: Array) -> Array:
        """A copy of the windows: (N, groups, rows, positions) per image, or (groups, rows,
        N * positions) per batch; rows are (channel, kernel row, kernel column)."""
        view = self._view(buffer)
        if not self.per_image:
            view = np.moveaxis(view, 0, -3)
        cols = WORKSPACE.empty(view.shape, buffer.dtype)
        np.copyto(cols, view)
        if self.per_image:
            rows = math.prod(view.shape[2:-2])
            return cols.reshape(*view.shape[:2], rows, math.prod(self.out))
        rows = math.prod(view.shape[1:-3])
        return cols.reshape(self.groups, rows, math.prod(view.shape[-3:]))

    def to_images(self, product: Array) -> Array:
        """(N, out, OH, OW) from the product of the weights and the window matrix."""
        n, o = self.x_shape[0], self.w_shape[0]
        if self.per_image:
            return product.reshape(n, o, *self.out)
        return product.reshape(o, n, *self.out).transpose(1, 0, 2, 3)

    def _products_layout(self, array: Array) -> Array:
        """``array``, (N, out, ...) per image or (out, N, ...) per batch, in the products'
        layout: (N, groups, out per group, -1) or (groups, out per group, -1)."""
        o_group = self.w_shape[0] // self.groups
        if self.per_image:
            return array.reshape(array.shape[0], self.groups, o_group, math.prod(array.shape[2:]))
        return array.reshape(self.groups, o_group, math.prod(array.shape[1:]))

    def gradient_positions(self, grad: Array) -> Array:
        """dL/dy in the products' layout."""
        if self.per_image:
            return self._products_layout(grad)
        g = WORKSPACE.empty((grad.shape[1], grad.shape[0], *self.out), grad.dtype)
        g.transpose(1, 0, 2, 3)[...] = grad
        return self._products_layout(g)

    def gradient_planes(self, grad: Array) -> Array:
        """dL/dy on a phase grid (Hq x Wq, outputs first), zero elsewhere: (N, groups, out
        per group, Hq * Wq) per image, (groups, out per group, N * Hq * Wq) per batch."""
        n, o, oh, ow = grad.shape
        wq = self.phase_grid[1]
        size = math.prod(self.phase_grid)
        shape = (n, o, size) if self.per_image else (o, n, size)
        planes = WORKSPACE.empty(shape, grad.dtype)
        images = planes if self.per_image else planes.transpose(1, 0, 2)
        rows = images[:, :, : oh * wq].reshape(n, o, oh, wq)
        rows[..., :ow] = grad
        rows[..., ow:] = 0
        images[:, :, oh * wq :] = 0
        return self._products_layout(planes)

    def weight_gradient(self, cols: Array, g: Array) -> Array:
        """dL/dw = G X^T, summed over the images."""
        if self.per_image:
            n, groups, rows, _ = cols.shape
            per_image = WORKSPACE.empty((n, groups, rows, g.shape[2]), cols.dtype)
            # (rows, positions) @ (positions, out): measured faster than the other order
            _blas.matmul(cols, g.transpose(0, 1, 3, 2), out=per_image)
            grad = per_image.sum(axis=0)
        else:
            grad = _blas.matmul(cols, g.transpose(0, 2, 1))
        return grad.transpose(0, 2, 1).reshape(self.w_shape)

    def convolve(self, weights: Array, cols: Array) -> Array:
        """The (N, out, OH, OW) convolution from the weights (groups, out per group, rows)
        and the window matrix ``cols`` (without the bias)."""
        n, o = self.x_shape[0], self.w_shape[0]
        out = self.out
        y = np.empty((n, o, *out), dtype=cols.dtype)
        if self.per_image:
            rows = (n, self.groups, o // self.groups, cols.shape[-1])
            _blas.matmul(weights, cols, out=y.reshape(rows))
        else:
            shape = cols.shape[:-2] + (o // self.groups, cols.shape[-1])
            product = WORKSPACE.empty(shape, cols.dtype)
            _blas.matmul(weights, cols, out=product)
            y[...] = self.to_images(product)
        return y

    def input_gradient(self, weights: Array, grad: Array, positions: Array | None = None) -> Array:
        """dL/dx (N, C, H, W) from the weights (groups, out per group, rows) and dL/dy:
        the transposed convolution of ``grad``; ``positions`` is
        ``gradient_positions(grad)`` where already made.

        By phases (``by_phases``), except where a weight is infinite or NaN: the phase grid
        multiplies every weight by the zeros around the outputs too, and inf * 0 would put
        NaN where PyTorch's sums have none."""
        if self.by_phases and np.isfinite(weights).all():
            return self.from_phases(self.col2im_planes(weights, self.gradient_planes(grad)))
        if positions is None:
            positions = self.gradient_positions(grad)
        # NumPy's BLAS, not MKL: on these products, thin (the inner size is the output
        # channels of a group), MKL measured up to 4 times slower
        return self.unflatten(self.col2im(np.matmul(weights.transpose(0, 2, 1), positions)))

    # ----------------------------------------------------------------- col2im
    def col2im(self, cols: Array) -> Array:
        """The flat buffer that receives the window gradients ``cols`` (the layout of
        ``window_matrix``) where ``window_matrix`` read them: a strided add per offset, or
        one assignment for windows that share no element."""
        n, c = self.x_shape[:2]
        buffer = WORKSPACE.zeros((n * c * self.plane,), cols.dtype)
        target = self._view(buffer, writeable=True)
        if self.per_image:
            source = cols.reshape(target.shape)
        else:
            source = np.moveaxis(cols.reshape(np.moveaxis(target, 0, -3).shape), -3, 0)
        if self.disjoint:
            target[...] = source
            return buffer
        kh, kw = self.w_shape[2:]
        for p in range(kh):
            for q in range(kw):
                target[:, :, :, p, q] += source[:, :, :, p, q]
        return buffer

    def col2im_planes(self, weights: Array, planes: Array) -> Array:
        """The phases of dL/d(padded input), (phases, N, C, Hq * Wq) per image or (phases,
        C, N, Hq * Wq) per batch, flat, from the weights (groups, out, rows) and
        ``gradient_planes``: W^T times the planes gives each kernel offset's share of every
        plane, and that share lands on its phase shifted by the offset, one contiguous add
        per offset (rows ordered offsets first for that). An offset's shift takes the
        zeros at the end of the last plane past its phase, onto the next phase or the
        zeros after the last."""
        kh, kw = self.w_shape[2:]
        groups, o_group, _ = weights.shape
        channels = self.w_shape[1]
        offsets_first = weights.reshape(groups, o_group, channels, kh * kw).transpose(0, 3, 2, 1)
        by_offset = offsets_first.reshape(groups, kh * kw * channels, o_group)
        shape = planes.shape[:-2] + (kh * kw * channels, planes.shape[-1])
        shares = WORKSPACE.empty(shape, planes.dtype)
        np.matmul(by_offset, planes, out=shares)  # not MKL: see input_gradient
        lead = planes.shape[:-2]  # (N, groups) per image, (groups,) per batch
        shares = shares.reshape(*lead, kh * kw, channels * planes.shape[-1])
        phases = self._phase_offsets()
        size = math.prod(self.x_shape[:2]) * math.prod(self.phase_grid)  # one phase
        reach = max(shift for offsets in phases for _, shift in offsets)
        buffer = WORKSPACE.empty((len(phases) * size + reach,), planes.dtype)
        buffer[len(phases) * size :] = 0
        adds = []
        for phase, offsets in enumerate(phases):
            whole = buffer[phase * size : (phase + 1) * size].reshape(*lead, shares.shape[-1])
            if offsets and offsets[0][1] == 0:
                whole[...] = shares[..., offsets[0][0], :]
                offsets = offsets[1:]
            else:
                whole.fill(0)  # a phase that no unshifted offset covers
            adds += [(k, phase * size + shift) for k, shift in offsets]
        for k, start in adds:  # every phase written first: the shifts reach past their own
            target = buffer[start : start + size].reshape(*lead, shares.shape[-1])
            target += shares[..., k, :]
        return buffer[: len(phases) * size]

    def _phase_offsets(self) -> list[list[tuple[int, int]]]:
        """For each phase, its kernel offsets k = p * kw + q with their shifts on the phase
        grid, the unshifted first."""
        kh, kw = self.w_shape[2:]
        (sh, sw), (dh, dw) = self.stride, self.dilation
        wq = self.phase_grid[1]
        phases: list[list[tuple[int, int]]] = [[] for _ in range(sh * sw)]
        for k, (p, q) in enumerate(np.ndindex(kh, kw)):
            shift = (p * dh) // sh * wq + (q * dw) // sw
            phases[(p * dh) % sh * sw + (q * dw) % sw].append((k, shift))
        return [sorted(offsets, key=lambda pair: pair[1]) for offsets in phases]

    def from_phases(self, buffer: Array) -> Array:
        """The (N, C, H, W) input whose phases ``col2im_planes`` gave: each phase's grid
        written back to its rows and columns of the input, the padding left out."""
        n, c, h, w = self.x_shape
        count = self.stride[0] * self.stride[1]
        if self.per_image:
            grid = buffer.reshape(count, n, c, *self.phase_grid)
        else:
            grid = buffer.reshape(count, c, n, *self.phase_grid).transpose(0, 2, 1, 3, 4)
        x = np.empty((n, c, h, w), dtype=buffer.dtype)
        for phase, (rows, columns), (x_rows, x_columns) in _phase_slices(
            (h, w), self.padding, self.stride
        ):
            x[:, :, x_rows, x_columns] = grid[phase, :, :, rows, columns]
        return x


class _Depthwise:
    """conv2d with one input channel per group (groups == in channels > 1: MobileNet's
    depthwise layers), computed as sums of shifted planes, with no window matrix.

    Output channel o reads only input channel o // k (k the channel multiplier, out
    channels / in channels), so each output plane is a sum of kh * kw shifted input planes,
    each times one weight. The padded input is split by stride into sh * sw *phases*,
    phase (a, b) holding the rows a, a + sh, ... and the columns b, b + sw, ... (one phase
    at stride 1); kernel offset (p, q) reads phase ((p * dh) % sh, (q * dw) % sw), shifted
    by ((p * dh) // sh, (q * dw) // sw). The buffer holds, for each channel, its phases,
    for each phase its N planes of Hq x Wq, flat and one after the other: an offset is then
    one shift s_k of a whole channel run. With g zero at every position that is not an
    output (rows of Wq keep Wq - OW extra columns, as in ``_FlatLayout``):

    - forward: y_run[t] = sum over offsets k of w[c, k] * x_run[t + s_k];
    - dL/dx: dx_run[t + s_k] += w[c, k] * g_run[t] (the adjoint);
    - dL/dw[c, k] = sum over t of g_run[t] * x_run[t + s_k].

    Two ways to walk that, chosen by the run length (``BY_CHANNEL_MIN_RUN``, measured in
    benchmarks/README.md):

    - by channel, for long runs: one BLAS ``axpy`` (y += a x, one pass) and one ``dot`` per
      channel and offset. NumPy's multiply and add take two passes and measured half as
      fast, ``np.einsum`` for the dot products 2.5 times slower;
    - by offset, for short runs (many channels on small planes, where C * kh * kw calls of
      about 1 us each cost 10 to 40 times the arithmetic): one NumPy multiply and add per
      offset over every channel's run at once, each channel times its own weight, and one
      ``np.einsum`` per offset for the weight gradient.

    The general path copies the windows (kh * kw times the input) and runs one (1 x kh*kw)
    @ (kh*kw x positions) product per plane: a training step (forward and backward) through
    it measured as fast on 7x7 to 14x14 planes of 512 to 960 channels and up to 6 times
    slower elsewhere, though its forward alone is 2 to 4 times faster on such small planes.

    Reads that a shift takes past the end of a run are left out: they would only reach
    positions that are not outputs. A multiplier k > 1 repeats the input planes k times
    first, and backward sums the k gradients of each input plane. float16 is summed in
    float32 (the bias included) and rounded once, as PyTorch does.
    """

    BY_CHANNEL_MIN_RUN = 8192
    """Runs (N * Hq * Wq elements) at least this long are walked by channel, shorter ones
    by offset: the crossover measured on float32 layers of 16 to 128 channels (runs of
    6,400 were faster by offset, of 10,000 by channel)."""

    @staticmethod
    def applies(x_shape: tuple[int, ...], groups: int) -> bool:
        # groups == 1 with one input channel (LeNet's first layer) stays with the products:
        # its window matrix is small, and several output channels share it. An empty input
        # (no images, or planes of no rows or columns) has empty runs: the general path
        # handles it.
        return groups > 1 and groups == x_shape[1] and math.prod(x_shape) > 0

    def __init__(
        self,
        x_shape: tuple[int, ...],
        w_shape: tuple[int, ...],
        stride: Pair,
        padding: Pads,
        dilation: Pair,
        out: Pair,
    ) -> None:
        n, c, h, w = x_shape
        o, _, kh, kw = w_shape
        top, bottom, left, right = padding
        (sh, sw), (dh, dw) = stride, dilation
        self.x_shape, self.w_shape, self.out = x_shape, w_shape, out
        self.multiplier = o // c
        self.stride, self.padding = stride, padding
        # rows and columns of a phase (ceil of the padded size over the stride)
        self.grid = (-(-(h + top + bottom) // sh), -(-(w + left + right) // sw))
        self.run = n * self.grid[0] * self.grid[1]  # one phase of one channel
        self.by_channel = self.run >= self.BY_CHANNEL_MIN_RUN
        self.phases = sh * sw
        # where offset (p, q) starts reading in a channel's phases
        self.starts = [
            ((p * dh) % sh * sw + (q * dw) % sw) * self.run
            + (p * dh) // sh * self.grid[1]
            + (q * dw) // sw
            for p, q in np.ndindex(kh, kw)
        ]

    def _planes(self, runs: Array) -> Array:
        """The (out, phases, N, Hq, Wq) view of channel runs."""
        return runs.reshape(runs.shape[0], self.phases, -1, *self.grid)

    def flatten(self, x: Array) -> Array:
        """The channel runs (out, phases * run) of the padded input, zeros elsewhere."""
        if self.multiplier > 1:
            x = np.repeat(x, self.multiplier, axis=1)
        runs = WORKSPACE.zeros((x.shape[1], self.phases * self.run), x.dtype)
        planes = self._planes(runs)
        images = x.transpose(1, 0, 2, 3)
        for phase, (rows, columns), (x_rows, x_columns) in _phase_slices(
            self.x_shape[2:], self.padding, self.stride
        ):
            planes[:, phase, :, rows, columns] = images[:, :, x_rows, x_columns]
        return runs

    def _outputs(self, runs: Array) -> Array:
        """The (out, N, OH, OW) view of the output positions in runs of one phase (out,
        run)."""
        oh, ow = self.out
        return runs.reshape(runs.shape[0], -1, *self.grid)[:, :, :oh, :ow]

    def convolve(
        self, x: Array, w: Array, b: Array | None, keep_input: bool
    ) -> tuple[Array, Array | None]:
        """The (N, out, OH, OW) convolution, and the input's channel runs where
        ``keep_input`` (the weight gradient reads them)."""
        dtype = x.dtype
        runs = self.flatten(x.astype(_wide(dtype), copy=False))
        kernels = w.reshape(w.shape[0], -1).astype(runs.dtype, copy=False)
        sums = WORKSPACE.zeros((kernels.shape[0], self.run), runs.dtype)
        self._shift_add(runs, kernels, sums, adjoint=False)
        if b is not None:
            sums += b.reshape(-1, 1)
        y = np.empty((x.shape[0], kernels.shape[0], *self.out), dtype=dtype)
        y.transpose(1, 0, 2, 3)[...] = self._outputs(sums)
        return y, runs if keep_input else None

    def _shift_add(self, source: Array, kernels: Array, target: Array, adjoint: bool) -> None:
        """Forward: target_run[t] += sum over offsets k of w[c, k] * source_run[t + s_k];
        adjoint: target_run[t + s_k] += w[c, k] * source_run[t]; for every channel c."""
        if self.by_channel:
            axpy = _blas_function("axpy", source.dtype)
            for c in range(kernels.shape[0]):
                for weight, start in zip(kernels[c], self.starts, strict=True):
                    n = self.run - start % self.run
                    if adjoint:
                        axpy(source[c], target[c], n=n, a=weight, offy=start)
                    else:
                        axpy(source[c], target[c], n=n, a=weight, offx=start)
            return
        product = WORKSPACE.empty(source.shape[:1] + (self.run,), source.dtype)
        for k, start in enumerate(self.starts):
            n = self.run - start % self.run
            np.multiply(
                source[:, :n] if adjoint else source[:, start : start + n],
                kernels[:, k : k + 1],
                out=product[:, :n],
            )
            if adjoint:
                target[:, start : start + n] += product[:, :n]
            else:
                target[:, :n] += product[:, :n]

    def gradients(
        self, runs: Array | None, w: Array, grad: Array, needs: tuple[bool, ...]
    ) -> tuple[Array | None, Array | None]:
        """dL/dx (N, C, H, W) and dL/dw (out, 1, kh, kw) where ``needs`` asks for them, from
        the input's channel runs (for dL/dw), the weights and dL/dy."""
        o = grad.shape[1]
        wide = _wide(grad.dtype)
        g = WORKSPACE.zeros((o, self.run), wide)
        self._outputs(g)[...] = grad.transpose(1, 0, 2, 3)
        kernels = w.reshape(o, -1).astype(wide, copy=False)
        grad_x = grad_w = None
        if needs[1]:
            assert runs is not None
            grad_w = np.empty(kernels.shape, wide)
            if self.by_channel:
                dot = _blas_function("dot", wide)
                for c in range(o):
                    for k, start in enumerate(self.starts):
                        n = self.run - start % self.run
                        grad_w[c, k] = dot(runs[c], g[c], n=n, offx=start)
            else:
                for k, start in enumerate(self.starts):
                    n = self.run - start % self.run
                    np.einsum("ct,ct->c", runs[:, start : start + n], g[:, :n], out=grad_w[:, k])
            grad_w = grad_w.reshape(self.w_shape).astype(grad.dtype, copy=False)
        if needs[0]:
            shares = WORKSPACE.zeros((o, self.phases * self.run), wide)
            self._shift_add(g, kernels, shares, adjoint=True)
            n, channels, h, w_ = self.x_shape
            grad_x = np.empty((n, o, h, w_), wide)
            images = grad_x.transpose(1, 0, 2, 3)
            planes = self._planes(shares)
            for phase, (rows, columns), (x_rows, x_columns) in _phase_slices(
                self.x_shape[2:], self.padding, self.stride
            ):
                images[:, :, x_rows, x_columns] = planes[:, phase, :, rows, columns]
            if self.multiplier > 1:
                grad_x = grad_x.reshape(n, channels, self.multiplier, h, w_).sum(axis=2)
            grad_x = grad_x.astype(grad.dtype, copy=False)
        return grad_x, grad_w


def _phase_slices(
    size: tuple[int, ...], padding: Pads, stride: Pair
) -> list[tuple[int, tuple[slice, slice], tuple[slice, slice]]]:
    """For each phase of an (H, W) input padded by ``padding`` and split by ``stride`` (phase
    (a, b) holds the padded rows a, a + stride_h, ... and columns b, b + stride_w, ...): its
    index a * stride_w + b, the slices of the phase grid that hold input elements, and
    those of the (unpadded) input they hold."""
    h, w = size
    top, _, left, _ = padding
    result = []
    for a, b in np.ndindex(*stride):
        pieces = []
        for start, step, length in ((top - a, stride[0], h), (left - b, stride[1], w)):
            first = -start % step  # the first input row (column) in this phase
            count = len(range(first, length, step))
            at = (first + start) // step
            pieces.append((slice(at, at + count), slice(first, length, step)))
        (rows, x_rows), (columns, x_columns) = pieces
        result.append((a * stride[1] + b, (rows, columns), (x_rows, x_columns)))
    return result


def _wide(dtype: Any) -> Any:
    """The dtype a depthwise convolution sums in: float32 for float16 (rounded once at the
    end, as PyTorch and the general path do), the dtype itself otherwise."""
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def _blas_function(name: str, dtype: Any) -> Any:
    """SciPy's BLAS ``axpy`` (y <- a x + y, in place) or ``dot`` for float32 and float64
    (SciPy comes with scikit-learn, a dependency); for other dtypes (float16) a NumPy
    stand-in with the same arguments."""
    dtype = np.dtype(dtype)
    key = (name, dtype)
    if key not in _BLAS_FUNCTIONS:
        if dtype in (np.dtype(np.float32), np.dtype(np.float64)):
            from scipy.linalg import blas

            function = blas.get_blas_funcs(name, dtype=dtype)
        else:
            function = _numpy_axpy if name == "axpy" else _numpy_dot
        _BLAS_FUNCTIONS[key] = function
    return _BLAS_FUNCTIONS[key]


_BLAS_FUNCTIONS: dict[tuple[str, Any], Any] = {}


def _numpy_axpy(x: Array, y: Array, n: int, a: Any, offx: int = 0, offy: int = 0) -> Array:
    y[offy : offy + n] += a * x[offx : offx + n]
    return y


def _numpy_dot(x: Array, y: Array, n: int, offx: int = 0, offy: int = 0) -> Any:
    return np.dot(x[offx : offx + n], y[offy : offy + n])


COPY_FACTOR = 16
"""A pool copies its windows (one strided copy, then reductions over whole arrays: the
fastest way for the usual 2x2 or 3x3 kernels) while they hold at most this many times the
input's elements. Past that (stride 1 with a 5x5 kernel or larger, as in spatial pyramid
pooling) it walks the kernel offsets instead, each a strided view of the input, in memory
of the output's size rather than k*k times it."""


def _copies_windows(x: Array, kernel: Pair, out: Pair) -> bool:
    return kernel[0] * kernel[1] * x.shape[0] * x.shape[1] * out[0] * out[1] <= (
        COPY_FACTOR * x.size
    )


@register("max_pool2d")
class MaxPool2d(Function):
    """y[n, c, i, j] = max over the window (p, q) of x_pad[n, c, i*stride + p*dilation,
    j*stride + q*dilation];  dL/dx = g at the window's maximum, 0 elsewhere.

    Backward needs where each maximum was: a mask over the copied windows, or (where the
    windows are walked offset by offset, see COPY_FACTOR) the input and the output, from
    which the same walk finds each window's maximum again.

    # NOTE: ties go to the first maximum in the window's row-major order, a NaN wins over
    # numbers (the last NaN among several), and padding is never chosen: PyTorch's choices.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: Array,
        *,
        kernel: Pair,
        stride: Pair,
        padding: Pads,
        dilation: Pair,
        out: Pair,
    ) -> Array:
        xp = _padded(x, padding, -np.inf)
        tracked = any(ctx.needs_input_grad)
        if _copies_windows(x, kernel, out):
            cols = _window_copy(xp, kernel, stride, dilation, out)
            y = cols.max(axis=0)
            if tracked:
                valid = _valid_offsets(x.shape, kernel, stride, padding, dilation, out)
                ctx.save_for_backward(_argmax_mask(cols, y, valid))
        else:
            windows = _windows(xp, kernel, stride, dilation, out)
            y = windows[0, 0].copy()
            for p, q in list(np.ndindex(*kernel))[1:]:
                np.maximum(y, windows[p, q], out=y)  # a NaN wins, as in PyTorch
            if tracked:
                # the workspace may hand its padded array out again
                ctx.save_for_backward(xp if xp is x else xp.copy(), y)
        ctx.input_shape = x.shape
        ctx.padded_shape = xp.shape
        ctx.geometry = (kernel, stride, padding, dilation)
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        kernel, stride, padding, dilation = ctx.geometry
        if len(ctx.saved) == 2:
            xp, y = ctx.saved
            return (_max_grad_by_offset(xp, y, grad, ctx.input_shape, *ctx.geometry),)
        (mask,) = ctx.saved
        cols = np.broadcast_to(grad, mask.shape)
        grad_x = _scatter_windows(cols, ctx.padded_shape, kernel, stride, padding, dilation, mask)
        return (grad_x,)


def _max_grad_by_offset(
    xp: Array,
    y: Array,
    grad: Array,
    shape: tuple[int, ...],
    kernel: Pair,
    stride: Pair,
    pads: Pads,
    dilation: Pair,
) -> Array:
    """dL/dx of a max pool whose windows were walked offset by offset: the first offset of
    each window (row-major) that holds its maximum, and is not padding, takes the gradient;
    in a window whose maximum is NaN, its last NaN does."""
    out = y.shape[2:]
    windows = _windows(xp, kernel, stride, dilation, out)
    # from the workspace when only the interior leaves this function
    target = WORKSPACE.zeros(xp.shape, grad.dtype) if any(pads) else np.zeros(xp.shape, grad.dtype)
    spots = _windows(target, kernel, stride, dilation, out, writeable=True)
    valid = _valid_offsets(shape, kernel, stride, pads, dilation, out)
    offsets = list(enumerate(np.ndindex(*kernel)))
    seen = np.zeros(y.shape, dtype=np.bool_)  # windows whose offset has been found
    chosen = np.empty(y.shape, dtype=np.bool_)
    for k, (p, q) in offsets:
        np.equal(windows[p, q], y, out=chosen)
        if valid is not None:
            chosen &= valid[k]  # padding ties with an input of -inf, and loses
        np.greater(chosen, seen, out=chosen)  # for booleans, a > b is a and not b
        seen |= chosen
        spots[p, q] += masked(grad, chosen)
    nan_windows = np.isnan(y)
    if nan_windows.any():  # NaN equals nothing: those windows got nothing above
        np.logical_not(nan_windows, out=seen)
        for _, (p, q) in reversed(offsets):
            np.isnan(windows[p, q], out=chosen)
            np.greater(chosen, seen, out=chosen)
            seen |= chosen
            spots[p, q] += masked(grad, chosen)
    return _interior(target, pads)


def _max_indices(
    xp: Array,
    shape: tuple[int, ...],
    kernel: Pair,
    stride: Pair,
    pads: Pads,
    dilation: Pair,
    out: Pair,
) -> Array:
    """(N, C, OH, OW) int64: where each window's maximum lies in its (unpadded) input plane,
    as the flat position row * W + column, the window chosen as PyTorch chooses it.

    PyTorch walks each window's input elements in row-major order from its first one and
    moves on where ``value > best or isnan(value)``: the first of equal maxima, the last NaN,
    and the window's first input element when every value is -inf. Walked here offset by
    offset over whole arrays (memory of the output's size), with padding never taken.
    """
    width = shape[3]
    windows = _windows(xp, kernel, stride, dilation, out)
    starts = []  # per axis: the first row (column) of each window that is not padding
    for axis, before in ((0, pads[0]), (1, pads[2])):
        first = np.arange(out[axis]) * stride[axis] - before
        behind = np.maximum(-first, 0)
        starts.append(first + -(-behind // dilation[axis]) * dilation[axis])
    rows = np.arange(out[0]) * stride[0] - pads[0]
    columns = np.arange(out[1]) * stride[1] - pads[2]
    picks = np.broadcast_to(
        starts[0][:, None] * width + starts[1][None, :], windows.shape[2:]
    ).astype(np.int64)
    best = np.full(windows.shape[2:], -np.inf, dtype=xp.dtype)
    valid = _valid_offsets(shape, kernel, stride, pads, dilation, out)
    take = np.empty(best.shape, dtype=np.bool_)
    for k, (p, q) in enumerate(np.ndindex(*kernel)):
        values = windows[p, q]
        np.greater(values, best, out=take)
        take |= np.isnan(values)
        if valid is not None:
            take &= valid[k]
        where = (rows[:, None] + p * dilation[0]) * width + columns[None, :] + q * dilation[1]
        np.copyto(best, values, where=take)
        np.copyto(picks, where, where=take)
    return picks


def _window_copy(xp: Array, kernel: Pair, stride: Pair, dilation: Pair, out: Pair) -> Array:
    """(kh * kw, N, C, OH, OW): each kernel offset's element of every window, copied."""
    view = _windows(xp, kernel, stride, dilation, out)
    cols = WORKSPACE.empty(view.shape, xp.dtype)
    np.copyto(cols, view)
    return cols.reshape(kernel[0] * kernel[1], *view.shape[2:])


def _scatter_windows(
    cols: Array,
    padded_shape: tuple[int, ...],
    kernel: Pair,
    stride: Pair,
    pads: Pads,
    dilation: Pair,
    mask: Array | None = None,
) -> Array:
    """dL/dx from dL/d(windows) (kh * kw, N, C, OH, OW), where ``mask`` holds if given: summed
    back where each window element came from."""
    if any(pads):
        target = WORKSPACE.zeros(padded_shape, cols.dtype)
    else:
        target = np.zeros(padded_shape, dtype=cols.dtype)  # leaves the op: a fresh array
    by_offset = (*kernel, *cols.shape[1:])
    if mask is not None:
        mask = mask.reshape(by_offset)
    _scatter(target, cols.reshape(by_offset), stride, dilation, mask)
    return _interior(target, pads)


def _valid_offsets(
    shape: tuple[int, ...], kernel: Pair, stride: Pair, pads: Pads, dilation: Pair, out: Pair
) -> Array | None:
    """(kh*kw, 1, 1, OH, OW): whether offset (p, q) of window (i, j) falls on the input
    rather than on padding; None when there is no padding."""
    if not any(pads):
        return None
    per_axis = []
    for axis, before in ((0, pads[0]), (1, pads[2])):
        rows = np.arange(out[axis]) * stride[axis] - before
        offsets = np.arange(kernel[axis])[:, None] * dilation[axis] + rows[None, :]
        per_axis.append((offsets >= 0) & (offsets < shape[2 + axis]))
    valid = per_axis[0][:, None, :, None] & per_axis[1][None, :, None, :]
    return valid.reshape(kernel[0] * kernel[1], 1, 1, *out)


def _argmax_mask(cols: Array, y: Array, valid: Array | None) -> Array:
    """True at the one offset of each window that receives the gradient."""
    mask = WORKSPACE.empty(cols.shape, np.bool_)
    np.equal(cols, y, out=mask)
    if valid is not None:
        mask &= valid
    seen = mask[0].copy()
    for k in range(1, len(mask)):
        np.greater(mask[k], seen, out=mask[k])  # for booleans, a > b is a and not b
        seen |= mask[k]
    nan_windows = np.isnan(y)
    if nan_windows.any():
        nan_mask = np.isnan(cols) & nan_windows
        later = np.zeros_like(nan_windows)
        for k in range(len(mask) - 1, -1, -1):
            np.greater(nan_mask[k], later, out=nan_mask[k])
            later |= nan_mask[k]
        mask = np.where(nan_windows, nan_mask, mask)
    return mask


@register("avg_pool2d")
class AvgPool2d(Function):
    """y[n, c, i, j] = (sum over the window of x_pad) / divisor[i, j];
    dL/dx = g / divisor spread over each window (summed where windows overlap).

    The sum is taken over copied windows or offset by offset (see COPY_FACTOR), in float32
    for float16 input, as PyTorch accumulates: a float16 sum of a large window overflows.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: Array,
        *,
        kernel: Pair,
        stride: Pair,
        padding: Pads,
        out: Pair,
        divisor: Array,
    ) -> Array:
        xp = _padded(x, padding, 0.0)
        wide = np.float32 if x.dtype == np.float16 else x.dtype
        if _copies_windows(x, kernel, out):
            total = _window_copy(xp, kernel, stride, (1, 1), out).sum(axis=0, dtype=wide)
        else:
            windows = _windows(xp, kernel, stride, (1, 1), out)
            total = np.zeros(windows.shape[2:], dtype=wide)
            for p, q in np.ndindex(*kernel):
                np.add(total, windows[p, q], out=total)
        divisor = divisor.astype(wide)  # kept wide: a float16 65536 would be inf
        total /= divisor
        y = total.astype(x.dtype, copy=False)
        ctx.divisor = divisor
        ctx.padded_shape = xp.shape
        ctx.geometry = (kernel, stride, padding)
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        kernel, stride, padding = ctx.geometry
        share = (grad / ctx.divisor).astype(grad.dtype, copy=False)
        cols = np.broadcast_to(share, (kernel[0] * kernel[1], *share.shape))
        return (_scatter_windows(cols, ctx.padded_shape, kernel, stride, padding, (1, 1)),)


_NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@register("edge_pad")
class EdgePad(Function):
    """y = x extended along its last axes by mirroring ('reflect', the edge itself not
    repeated), repeating the edge ('replicate') or wrapping around ('circular');
    dL/dx = g with each border element's gradient added back to the element it copies."""

    @staticmethod
    def forward(ctx: Context, x: Array, *, widths: tuple[Pair, ...], mode: str) -> Array:
        ctx.widths, ctx.mode = widths, mode
        lead = ((0, 0),) * (x.ndim - len(widths))
        return np.pad(x, lead + widths, mode=_NUMPY_PAD_MODES[mode])  # type: ignore[call-overload]

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        first = grad.ndim - len(ctx.widths)
        for k in range(len(ctx.widths) - 1, -1, -1):
            before, after = ctx.widths[k]
            grad = _fold(grad, first + k, before, after, ctx.mode)
        return (grad,)


def _fold(grad: Array, axis: int, before: int, after: int, mode: str) -> Array:
    """The adjoint of padding one axis: the border's gradient added onto what it copied."""
    if not (before or after):
        return grad
    g = np.moveaxis(grad, axis, -1)
    size = g.shape[-1] - before - after
    folded = g[..., before : before + size].copy()
    head, tail = g[..., :before], g[..., before + size :]
    if mode == "replicate":
        folded[..., 0] += head.sum(axis=-1)
        folded[..., -1] += tail.sum(axis=-1)
    elif mode == "reflect":  # head[i] copies x[before - i], tail[k] copies x[size - 2 - k]
        folded[..., 1 : before + 1] += head[..., ::-1]
        folded[..., size - 1 - after : size - 1] += tail[..., ::-1]
    else:  # circular: head copies the last ``before`` elements, tail the first ``after``
        folded[..., size - before :] += head
        folded[..., :after] += tail
    return np.ascontiguousarray(np.moveaxis(folded, -1, axis))


# --------------------------------------------------------------------- argument checks
def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def pair(where: str, name: str, value: Any, minimum: int = 1) -> Pair:
    """``value`` as (height, width): an int for both, or a pair of ints, each >= minimum."""
    values = (value, value) if _is_int(value) else value
    if (
        not isinstance(values, tuple | list)
        or len(values) != 2
        or not all(_is_int(v) and v >= minimum for v in values)
    ):
        kind = "positive integers" if minimum == 1 else f"integers >= {minimum}"
        raise ValueError(
            f"{where}: {name} must be an int or a pair of {kind}, got {name}={value!r}"
        )
    return int(values[0]), int(values[1])


def same_pads(kernel: Pair, dilation: Pair) -> Pads:
    """Padding='same' as PyTorch pads: dilation*(kernel-1) in all, the odd one at the end."""
    total = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
    return (total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2)


def conv_pads(where: str, padding: Any, kernel: Pair, stride: Pair, dilation: Pair) -> Pads:
    """Explicit (top, bottom, left, right) widths for ``padding``: an int, a pair, 'valid' or
    'same' (stride 1 only, as in PyTorch)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(
                    f"{where}: padding='same' needs stride 1, got stride={stride}; pad "
                    f"explicitly for a strided convolution"
                )
            return same_pads(kernel, dilation)
        raise ValueError(
            f"{where}: padding must be 'valid', 'same', an int or a pair of ints, "
            f"got padding={padding!r}"
        )
    ph, pw = pair(where, "padding", padding, minimum=0)
    return (ph, ph, pw, pw)


def _image_input(where: str, x: Tensor) -> None:
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{where}: expected input of shape (N, C, H, W) or (C, H, W), got shape {x.shape}"
        )
    if not is_floating(x.dtype):
        raise TypeError(f"{where}: expected a floating-point input, got dtype {x.dtype}")


def _batched(x: Tensor) -> Tensor:
    return x if x.ndim == 4 else x.reshape(1, *x.shape)


def _unbatched(y: Tensor, input_ndim: int) -> Tensor:
    return y if input_ndim == 4 else y.reshape(*y.shape[1:])


def _conv_out(
    where: str, shape: tuple[int, ...], kernel: Pair, stride: Pair, pads: Pads, dilation: Pair
) -> Pair:
    sizes = []
    for axis in range(2):
        padded = shape[-2 + axis] + pads[2 * axis] + pads[2 * axis + 1]
        span = dilation[axis] * (kernel[axis] - 1) + 1
        sizes.append((padded - span) // stride[axis] + 1 if padded >= span else 0)
    if min(sizes) < 1:
        raise ValueError(
            f"{where}: the kernel {kernel} (dilation {dilation}) does not fit the padded input: "
            f"input {tuple(shape[-2:])} with padding {pads} gives output size {tuple(sizes)}"
        )
    return sizes[0], sizes[1]


def conv2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of NCHW images.

    Parameters
    ----------
    input : Tensor of shape (N, C_in, H, W) or (C_in, H, W)
    weight : Tensor of shape (C_out, C_in / groups, kH, kW)
    bias : Tensor of shape (C_out,), optional
    stride, dilation : int or (int, int), default=1
    padding : int, (int, int), 'valid' or 'same', default=0
        Zeros added on both sides; 'same' keeps the size (stride 1), the odd pixel going
        to the bottom and right as in PyTorch.
    groups : int, default=1
        Channels split into ``groups`` independent convolutions.

    Returns
    -------
    Tensor of shape (N, C_out, H_out, W_out), with
    H_out = (H + pad_top + pad_bottom - dilation * (kH - 1) - 1) // stride + 1.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import conv2d
    >>> x = cr.ones(1, 1, 4, 4)
    >>> conv2d(x, cr.ones(2, 1, 3, 3), padding=1).shape
    (1, 2, 4, 4)
    """
    x, w = as_tensor(input), as_tensor(weight)
    _image_input("conv2d", x)
    if w.ndim != 4:
        raise ValueError(
            f"conv2d: expected a 4-D weight (out_channels, in_channels/groups, kH, kW), got "
            f"shape {w.shape}"
        )
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"conv2d: groups must be a positive integer, got groups={groups!r}")
    out_channels, group_channels, kh, kw = w.shape
    if out_channels % groups:
        raise ValueError(
            f"conv2d: out_channels must be divisible by groups, got weight shape {w.shape} "
            f"and groups={groups}"
        )
    if x.shape[-3] != group_channels * groups:
        raise ValueError(
            f"conv2d: expected input with {group_channels * groups} channels (weight "
            f"{w.shape}, groups={groups}), got input shape {x.shape}"
        )
    if x.dtype != w.dtype:
        raise TypeError(
            f"conv2d: expected input and weight of the same dtype, got {x.dtype} and "
            f"{w.dtype}; convert one with .to(dtype)"
        )
    stride = pair("conv2d", "stride", stride)
    dilation = pair("conv2d", "dilation", dilation)
    pads = conv_pads("conv2d", padding, (kh, kw), stride, dilation)
    out = _conv_out("conv2d", x.shape, (kh, kw), stride, pads, dilation)
    b = None
    if bias is not None:
        b = as_tensor(bias)
        if b.shape != (out_channels,):
            raise ValueError(f"conv2d: expected bias of shape ({out_channels},), got {b.shape}")
        if b.dtype != w.dtype:
            raise TypeError(f"conv2d: expected bias of the weight's dtype {w.dtype}, got {b.dtype}")
    y = Conv2d.apply(
        _batched(x),
        w,
        b,
        stride=stride,
        padding=pads,
        dilation=dilation,
        groups=int(groups),
        out=out,
    )
    return _unbatched(y, x.ndim)


def _pool_geometry(
    where: str,
    shape: tuple[int, ...],
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
) -> tuple[Pair, Pair, Pair, Pair, Pair, Pads]:
    """Kernel, stride, padding, dilation, output size and the padding to apply (with the
    extra rows and columns that ``ceil_mode`` windows reach past the padded input)."""
    kernel = pair(where, "kernel_size", kernel_size)
    # None or an empty sequence (PyTorch's default): the kernel. Not `stride == []`, which a
    # NumPy integer answers with an array.
    given = stride is not None and not (isinstance(stride, list | tuple) and len(stride) == 0)
    steps = pair(where, "stride", stride if given else kernel)
    pad = pair(where, "padding", padding, minimum=0)
    dilation = pair(where, "dilation", dilation)
    if pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:
        raise ValueError(
            f"{where}: padding must be at most half of kernel_size, got padding={padding!r} "
            f"and kernel_size={kernel_size!r}"
        )
    out = []
    extra = []
    for axis in range(2):
        size = shape[-2 + axis]
        span = dilation[axis] * (kernel[axis] - 1) + 1
        room = size + 2 * pad[axis] - span
        n = (room + (steps[axis] - 1 if ceil_mode else 0)) // steps[axis] + 1
        # As in PyTorch, the last window must start on the input or the left padding.
        if ceil_mode and (n - 1) * steps[axis] >= size + pad[axis]:
            n -= 1
        # ceil_mode also keeps one window wider than the padded input, as PyTorch does.
        out.append(n if room >= 0 or ceil_mode else 0)
        extra.append(max(0, (n - 1) * steps[axis] + span - size - 2 * pad[axis]))
    if min(out) < 1:
        raise ValueError(
            f"{where}: the window {kernel} (dilation {dilation}) does not fit the input "
            f"{tuple(shape[-2:])} with padding {pad}: output size {tuple(out)}"
        )
    pads = (pad[0], pad[0] + extra[0], pad[1], pad[1] + extra[1])
    return kernel, steps, pad, dilation, (out[0], out[1]), pads


def max_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """The maximum of each window of NCHW images.

    Parameters
    ----------
    input : Tensor of shape (N, C, H, W) or (C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), default=kernel_size
    padding : int or (int, int), default=0
        Implicit -inf on both sides, at most half the kernel.
    dilation : int or (int, int), default=1
    ceil_mode : bool, default=False
        Round the output size up, so that a last partial window counts.
    return_indices : bool, default=False
        Also return where each maximum was, for ``max_unpool2d``.

    Returns
    -------
    Tensor of shape (N, C, H_out, W_out) or (C, H_out, W_out)
        H_out = (H + 2 * padding - dilation * (kH - 1) - 1) // stride + 1, rounded up with
        ``ceil_mode``.
    indices : int64 Tensor of the output's shape
        With ``return_indices``: the position of each maximum in its input plane,
        ``row * W + column`` (rows and columns of the unpadded input), as PyTorch gives it.
        It carries no gradient.

    Notes
    -----
    The gradient goes to the first maximum of each window in row-major order, as in
    PyTorch; the indices name the same element (a window of NaN names its last NaN).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import max_pool2d
    >>> x = cr.tensor([[[[1.0, 2.0], [4.0, 3.0]]]])
    >>> max_pool2d(x, 2)
    tensor([[[[4.]]]])
    >>> max_pool2d(x, 2, return_indices=True)[1]
    tensor([[[[2]]]])
    """
    x = as_tensor(input)
    _image_input("max_pool2d", x)
    kernel, steps, _, dilation, out, pads = _pool_geometry(
        "max_pool2d", x.shape, kernel_size, stride, padding, dilation, ceil_mode
    )
    batched = _batched(x)
    y = MaxPool2d.apply(
        batched, kernel=kernel, stride=steps, padding=pads, dilation=dilation, out=out
    )
    if not return_indices:
        return _unbatched(y, x.ndim)
    _read_in_python(
        "max_pool2d with return_indices=True finds its indices outside the recorded ops"
    )
    xp = _padded(batched.data, pads, -np.inf)
    picks = _max_indices(xp, batched.shape, kernel, steps, pads, dilation, out)
    indices = Tensor._from_op(picks, None)
    return _unbatched(y, x.ndim), _unbatched(indices, x.ndim)


def _window_counts(
    size: int, kernel: int, stride: int, pad: int, out: int, include_pad: bool
) -> Array:
    """How many elements each window along one axis averages (PyTorch's divisor)."""
    starts = np.arange(out) * stride - pad
    ends = np.minimum(starts + kernel, size + pad)
    if include_pad:
        return ends - starts
    return np.minimum(ends, size) - np.maximum(starts, 0)


def avg_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean of each window of NCHW images.

    Parameters
    ----------
    input : Tensor of shape (N, C, H, W) or (C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), default=kernel_size
    padding : int or (int, int), default=0
        Implicit zeros on both sides, at most half the kernel.
    ceil_mode : bool, default=False
        Round the output size up, so that a last partial window counts.
    count_include_pad : bool, default=True
        Divide by the window's size including its padding (the part of a ``ceil_mode``
        window past the padding never counts), or by the input elements alone.
    divisor_override : int, optional
        Divide every window's sum by this instead.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import avg_pool2d
    >>> avg_pool2d(cr.tensor([[[[1.0, 2.0], [4.0, 3.0]]]]), 2)
    tensor([[[[2.5000]]]])
    """
    x = as_tensor(input)
    _image_input("avg_pool2d", x)
    if divisor_override is not None and (not _is_int(divisor_override) or divisor_override < 1):
        raise ValueError(
            f"avg_pool2d: divisor_override must be a positive integer or None, got "
            f"divisor_override={divisor_override!r}"
        )
    kernel, steps, pad, _, out, pads = _pool_geometry(
        "avg_pool2d", x.shape, kernel_size, stride, padding, 1, ceil_mode
    )
    if divisor_override is not None:
        divisor = np.asarray(divisor_override)
    else:
        counts = [
            _window_counts(x.shape[-2 + a], kernel[a], steps[a], pad[a], out[a], count_include_pad)
            for a in range(2)
        ]
        divisor = counts[0][:, None] * counts[1][None, :]
        if np.all(divisor == divisor[0, 0]):
            divisor = np.asarray(divisor[0, 0])
    y = AvgPool2d.apply(
        _batched(x), kernel=kernel, stride=steps, padding=pads, out=out, divisor=divisor
    )
    return _unbatched(y, x.ndim)


def edge_pad_rule_broken(mode: str, size: int, border: int) -> str | None:
    """The rule a border of ``border`` elements breaks on an axis of ``size`` for ``mode``,
    as PyTorch's: ``"smaller than"`` for a reflected border not smaller than the axis,
    ``"at most"`` for a wrapped one larger than it or an edge of an empty axis to replicate;
    None where it keeps the rule."""
    if mode == "reflect" and border >= size:
        return "smaller than"
    if mode == "circular" and border > size:
        return "at most"
    if mode == "replicate" and size == 0 and border:
        return "at most"  # no edge to replicate
    return None


def edge_pad(input: Any, pad: Any, mode: str = "reflect") -> Tensor:
    """Pad the last axes with copies of the input's own elements.

    Parameters
    ----------
    input : Tensor
    pad : sequence of int
        PyTorch's order: (left, right) for the last axis, then (top, bottom) for the one
        before, and so on; each >= 0.
    mode : {'reflect', 'replicate', 'circular'}, default='reflect'
        'reflect' mirrors without repeating the edge (each width below the axis's size),
        'replicate' repeats the edge, 'circular' wraps around (each width at most the size).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.autograd.ops import edge_pad
    >>> edge_pad(cr.tensor([[1.0, 2.0, 3.0]]), (2, 1), "reflect")
    tensor([[3., 2., 1., 2., 3., 2.]])
    """
    x = as_tensor(input)
    if mode not in _NUMPY_PAD_MODES:
        raise ValueError(
            f"edge_pad: mode must be 'reflect', 'replicate' or 'circular', got mode={mode!r}"
        )
    flat = tuple(pad) if isinstance(pad, tuple | list) else None
    if (
        flat is None
        or not flat
        or len(flat) % 2
        or len(flat) // 2 > x.ndim
        or not all(_is_int(v) and v >= 0 for v in flat)
    ):
        raise ValueError(
            f"edge_pad: pad must be (before, after) pairs of integers >= 0, last axis first, "
            f"for at most {x.ndim} axes, got pad={pad!r}"
        )
    pairs = [(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]
    widths = tuple(reversed(pairs))
    first = x.ndim - len(widths)
    for k, (before, after) in enumerate(widths):
        size = x.shape[first + k]
        if edge_pad_rule_broken(mode, size, max(before, after)) is None:
            continue
        if mode == "replicate":
            raise ValueError(f"edge_pad: cannot replicate the edge of empty axis {first + k}")
        limit = size - 1 if mode == "reflect" else size
        raise ValueError(
            f"edge_pad: {mode} padding of axis {first + k} (size {size}) must be at most "
            f"{limit}, got {(before, after)}"
        )
    return EdgePad.apply(x, widths=widths, mode=mode)


__all__ = [
    "AvgPool2d",
    "Conv2d",
    "EdgePad",
    "MaxPool2d",
    "avg_pool2d",
    "conv2d",
    "conv_pads",
    "edge_pad",
    "max_pool2d",
    "pair",
    "same_pads",
]
