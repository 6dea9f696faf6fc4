"""Pooling layers over NCHW images (``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``,
``AdaptiveMaxPool2d``) and NCL sequences (``MaxPool1d``, ``AvgPool1d``,
``AdaptiveAvgPool1d``, ``AdaptiveMaxPool1d``), the power-average pools ``LPPool2d`` and
``LPPool1d``, the max pools' partial inverses ``MaxUnpool2d`` and ``MaxUnpool1d``, and the
resizing layer ``Upsample``, which goes the other way.

As in PyTorch, each layer keeps its size arguments as given (``MaxPool2d(2).kernel_size`` is
2, ``MaxPool2d((2, 2)).kernel_size`` is (2, 2); a stride left out is the kernel size as
given, except in the LPPools, which keep None as PyTorch's do; ``AvgPool1d`` alone keeps
1-tuples), checked when built, and ``print(model)`` shows
them so."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import chainrule.nn.functional as functional
from chainrule.autograd.ops.conv import pair
from chainrule.backend import np
from chainrule.nn import _conv_functional as F
from chainrule.nn._conv_functional import _single
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


def _adaptive_pair(where: str, output_size: Any) -> Any:
    """``output_size`` as given, once checked: a positive int, None, or a pair of them."""
    sizes = (
        tuple(output_size) if isinstance(output_size, tuple | list) else (output_size, output_size)
    )
    if len(sizes) != 2 or not all(
        s is None or (isinstance(s, int | np.integer) and not isinstance(s, bool) and s > 0)
        for s in sizes
    ):
        raise ValueError(
            f"{where}: output_size must be a positive int or a pair of positive "
            f"ints or None, got output_size={output_size!r}"
        )
    return output_size


class MaxPool2d(Module):
    """The maximum of each kernel_size window, moved by stride.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), default=kernel_size
    padding : int or (int, int), default=0
        Implicit -inf on both sides; at most half the kernel.
    dilation : int or (int, int), default=1
    return_indices : bool, default=False
        Return ``(output, indices)``: where each maximum was, as ``MaxUnpool2d`` takes it
        (the flat position ``row * W + column`` in its input plane; int64, no gradient).
    ceil_mode : bool, default=False
        Round the output size up, so that a last partial window counts.

    Notes
    -----
    The gradient of each window goes to its first maximum (row-major order), as in PyTorch;
    the indices name the same element.

    Shape: (N, C, H, W) or (C, H, W) to (N, C, H_out, W_out), H_out = (H + 2 * padding -
    dilation * (kernel - 1) - 1) // stride + 1 (rounded up with ``ceil_mode``).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.MaxPool2d(2)(cr.ones(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    >>> y, indices = nn.MaxPool2d(2, return_indices=True)(cr.ones(1, 3, 8, 8))
    >>> print(indices.dtype)
    int64
    """

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
        dilation: int | Sequence[int] = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        pair("MaxPool2d", "kernel_size", kernel_size)
        pair("MaxPool2d", "stride", self.stride)
        pair("MaxPool2d", "padding", padding, minimum=0)
        pair("MaxPool2d", "dilation", dilation)
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)

    def forward(self, input: Any) -> Any:
        return F.max_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            return_indices=self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """The mean of each kernel_size window, moved by stride.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), default=kernel_size
    padding : int or (int, int), default=0
        Implicit zeros on both sides; at most half the kernel.
    ceil_mode : bool, default=False
        Round the output size up, so that a last partial window counts.
    count_include_pad : bool, default=True
        Divide by the window's size including its zeros, or by the input elements alone.
    divisor_override : int, optional
        Divide every window's sum by this instead.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.AvgPool2d(3, stride=2, padding=1)(cr.ones(1, 1, 8, 8)).shape
    (1, 1, 4, 4)
    """

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        pair("AvgPool2d", "kernel_size", kernel_size)
        pair("AvgPool2d", "stride", self.stride)
        pair("AvgPool2d", "padding", padding, minimum=0)
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)
        if divisor_override is not None and (
            isinstance(divisor_override, bool)
            or not isinstance(divisor_override, int | np.integer)
            or divisor_override < 1
        ):
            raise ValueError(
                f"AvgPool2d: divisor_override must be a positive integer or None, got "
                f"divisor_override={divisor_override!r}"
            )
        self.divisor_override = None if divisor_override is None else int(divisor_override)

    def forward(self, input: Any) -> Tensor:
        return F.avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to ``output_size`` whatever the input's size (PyTorch's bins:
    floor(i * H / out) to ceil((i + 1) * H / out)).

    Parameters
    ----------
    output_size : int or (int or None, int or None)
        None keeps the input's size along that axis.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.AdaptiveAvgPool2d((2, None))(cr.ones(1, 3, 5, 7)).shape
    (1, 3, 2, 7)
    """

    def __init__(self, output_size: int | Sequence[int | None] | None) -> None:
        super().__init__()
        self.output_size: int | Sequence[int | None] | None = _adaptive_pair(
            "AdaptiveAvgPool2d", output_size
        )

    def forward(self, input: Any) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class MaxPool1d(Module):
    """The maximum of each kernel_size window of a sequence, moved by stride.

    Parameters
    ----------
    kernel_size : int or (int,)
    stride : int or (int,), default=kernel_size
    padding : int or (int,), default=0
        Implicit -inf on both sides; at most half the kernel.
    dilation : int or (int,), default=1
    return_indices : bool, default=False
        Return ``(output, indices)``: the position of each maximum in its input sequence, as
        ``MaxUnpool1d`` takes it (int64, no gradient).
    ceil_mode : bool, default=False
        Round the output length up, so that a last partial window counts.

    Notes
    -----
    The gradient of each window goes to its first maximum, as in PyTorch; the indices name
    the same element.

    Shape: (N, C, L) or (C, L) to (N, C, L_out), L_out = (L + 2 * padding - dilation *
    (kernel_size - 1) - 1) // stride + 1 (rounded up with ``ceil_mode``).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.MaxPool1d(2)(cr.ones(1, 3, 8)).shape
    (1, 3, 4)
    """

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
        dilation: int | Sequence[int] = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        _single("MaxPool1d", "kernel_size", kernel_size)
        _single("MaxPool1d", "stride", self.stride)
        _single("MaxPool1d", "padding", padding, 0)
        _single("MaxPool1d", "dilation", dilation)
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)

    def forward(self, input: Any) -> Any:
        return F.max_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            return_indices=self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool1d(Module):
    """The mean of each kernel_size window of a sequence, moved by stride.

    Parameters
    ----------
    kernel_size : int
    stride : int, default=kernel_size
    padding : int, default=0
        Implicit zeros on both sides; at most half the kernel.
    ceil_mode : bool, default=False
        Round the output length up, so that a last partial window counts.
    count_include_pad : bool, default=True
        Divide by the window's size including its zeros, or by the input elements alone.

    Notes
    -----
    As in PyTorch, the sizes are kept as 1-tuples (``kernel_size=(3,)``).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.AvgPool1d(3, stride=2, padding=1)(cr.ones(1, 1, 8)).shape
    (1, 1, 4)
    """

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        kernel = _single("AvgPool1d", "kernel_size", kernel_size)
        self.kernel_size = (kernel,)
        self.stride = (_single("AvgPool1d", "stride", kernel if stride is None else stride),)
        self.padding = (_single("AvgPool1d", "padding", padding, 0),)
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)

    def forward(self, input: Any) -> Tensor:
        return F.avg_pool1d(
            input,
            self.kernel_size[0],
            self.stride[0],
            self.padding[0],
            self.ceil_mode,
            self.count_include_pad,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """Average pooling of a sequence to length ``output_size`` whatever its length
    (PyTorch's bins: floor(i * L / out) to ceil((i + 1) * L / out)).

    Parameters
    ----------
    output_size : int

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.AdaptiveAvgPool1d(2)(cr.ones(1, 3, 5)).shape
    (1, 3, 2)
    """

    def __init__(self, output_size: int | Sequence[int]) -> None:
        super().__init__()
        _single("AdaptiveAvgPool1d", "output_size", output_size)
        self.output_size = output_size

    def forward(self, input: Any) -> Tensor:
        return F.adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to ``output_size`` whatever the input's size (PyTorch's bins:
    floor(i * H / out) to ceil((i + 1) * H / out) - 1).

    Parameters
    ----------
    output_size : int or (int or None, int or None)
        None keeps the input's size along that axis.
    return_indices : bool, default=False
        Return ``(output, indices)``: where each maximum was (int64 positions ``row * W +
        column`` in its input plane, PyTorch's; no gradient).

    Shape
    -----
    (N, C, H, W) or (C, H, W) to (N, C, H_out, W_out) or (C, H_out, W_out).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.AdaptiveMaxPool2d((2, None))(cr.ones(1, 3, 5, 7)).shape
    (1, 3, 2, 7)
    """

    def __init__(
        self, output_size: int | Sequence[int | None] | None, return_indices: bool = False
    ) -> None:
        super().__init__()
        self.output_size: int | Sequence[int | None] | None = _adaptive_pair(
            "AdaptiveMaxPool2d", output_size
        )
        self.return_indices = bool(return_indices)

    def forward(self, input: Any) -> Any:
        return functional.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(Module):
    """Max pooling of a sequence to length ``output_size`` whatever its length (PyTorch's
    bins: floor(i * L / out) to ceil((i + 1) * L / out) - 1).

    Parameters
    ----------
    output_size : int
    return_indices : bool, default=False
        Return ``(output, indices)``: the position of each maximum in its input sequence
        (int64, PyTorch's; no gradient).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.AdaptiveMaxPool1d(2)(cr.ones(1, 3, 5)).shape
    (1, 3, 2)
    """

    def __init__(self, output_size: int | Sequence[int], return_indices: bool = False) -> None:
        super().__init__()
        _single("AdaptiveMaxPool1d", "output_size", output_size)
        self.output_size = output_size
        self.return_indices = bool(return_indices)

    def forward(self, input: Any) -> Any:
        return functional.adaptive_max_pool1d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _LPPool(Module):
    """What LPPool1d and LPPool2d share (PyTorch's ``_LPPoolNd``): the options, checked with
    the subclass's ``_sizes``, and the forward through its ``_pool``."""

    _sizes: Any  # checks a size argument: pair for images, _single for sequences
    _pool: Any  # the functional form

    def __init__(
        self,
        norm_type: float,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        where = type(self).__name__
        F._norm_type(where, norm_type)
        self._sizes(where, "kernel_size", kernel_size)
        if stride is not None:
            self._sizes(where, "stride", stride)
        self.norm_type, self.kernel_size, self.stride = norm_type, kernel_size, stride
        self.ceil_mode = bool(ceil_mode)

    def forward(self, input: Any) -> Tensor:
        return self._pool(
            input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode
        )

    def extra_repr(self) -> str:
        return (
            f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, ceil_mode={self.ceil_mode}"
        )


class LPPool2d(_LPPool):
    """Power-average pooling: the p-norm of each kernel_size window, moved by stride, as
    PyTorch's ``nn.LPPool2d``.

    Parameters
    ----------
    norm_type : float
        p, nonzero: 1 sums each window, 2 takes its Euclidean norm, ``inf`` the maximum of
        |x| (max pooling of absolute values).
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Default: the kernel size. Kept as given (None shows as None, as in PyTorch).
    ceil_mode : bool, default=False
        Round the output size up, so that a last partial window counts.

    Notes
    -----
    On each window X, f(X) = (sum over x in X of x**p)**(1/p), computed as PyTorch computes
    it (see ``chainrule.nn.functional.lp_pool2d``): no absolute value, so an odd p keeps
    the signs and a negative sum gives NaN; the gradient is 0 where the sum is 0.

    Shape: (N, C, H, W) or (C, H, W) to (N, C, H_out, W_out), H_out = (H - kH) // stride
    + 1 (rounded up with ``ceil_mode``).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.LPPool2d(2, 3, stride=2)(cr.ones(1, 3, 7, 7)).shape
    (1, 3, 3, 3)
    """

    _sizes = staticmethod(pair)
    _pool = staticmethod(F.lp_pool2d)


class LPPool1d(_LPPool):
    """Power-average pooling of sequences: the p-norm of each kernel_size window, moved by
    stride, as PyTorch's ``nn.LPPool1d``.

    Parameters
    ----------
    norm_type : float
        p, nonzero; ``inf`` gives the maximum of |x| over each window.
    kernel_size : int or (int,)
    stride : int or (int,), optional
        Default: the kernel size. Kept as given (None shows as None, as in PyTorch).
    ceil_mode : bool, default=False
        Round the output length up, so that a last partial window counts.

    Notes
    -----
    On each window X, f(X) = (sum over x in X of x**p)**(1/p), as in ``LPPool2d``.

    Shape: (N, C, L) or (C, L) to (N, C, L_out), L_out = (L - kernel_size) // stride + 1
    (rounded up with ``ceil_mode``).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.LPPool1d(1, 2)(cr.tensor([[[3.0, 4.0, 1.0, 1.0]]])).tolist()
    [[[7.0, 2.0]]]
    """

    _sizes = staticmethod(_single)
    _pool = staticmethod(F.lp_pool1d)


class MaxUnpool2d(Module):
    """The partial inverse of ``MaxPool2d``: each pooled value goes back where its maximum
    was, and zeros fill the rest (SegNet's decoder).

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), default=kernel_size
    padding : int or (int, int), default=0
        The pool's; together they give the output size.

    Notes
    -----
    ``forward(input, indices, output_size=None)`` takes the pool's output and the indices it
    returned (``MaxPool2d(..., return_indices=True)``):
    y[n, c].flat[indices[n, c, i, j]] = x[n, c, i, j], and
    dL/dx[n, c, i, j] = dL/dy[n, c].flat[indices[n, c, i, j]].
    As in PyTorch, the sizes are kept as pairs (``kernel_size=(2, 2)``).

    Shape: (N, C, H, W) or (C, H, W) to (N, C, H_out, W_out), H_out = (H - 1) * stride -
    2 * padding + kernel_size, or ``output_size`` (strictly within one stride of that): pass
    the pooled input's size where the pool dropped a last row or column.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    >>> y, indices = pool(cr.ones(1, 3, 5, 5))
    >>> unpool(y, indices, output_size=(5, 5)).shape
    (1, 3, 5, 5)
    """

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
    ) -> None:
        super().__init__()
        self.kernel_size = pair("MaxUnpool2d", "kernel_size", kernel_size)
        self.stride = pair("MaxUnpool2d", "stride", kernel_size if stride is None else stride)
        self.padding = pair("MaxUnpool2d", "padding", padding, minimum=0)

    def forward(self, input: Any, indices: Any, output_size: Sequence[int] | None = None) -> Tensor:
        return F.max_unpool2d(
            input, indices, self.kernel_size, self.stride, self.padding, output_size
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(Module):
    """The partial inverse of ``MaxPool1d``: each pooled value goes back where its maximum
    was, and zeros fill the rest.

    Parameters
    ----------
    kernel_size : int or (int,)
    stride : int or (int,), default=kernel_size
    padding : int or (int,), default=0
        The pool's; together they give the output length.

    Notes
    -----
    ``forward(input, indices, output_size=None)`` takes the pool's output and the indices it
    returned (``MaxPool1d(..., return_indices=True)``): y[n, c, indices[n, c, i]] =
    x[n, c, i], and dL/dx[n, c, i] = dL/dy[n, c, indices[n, c, i]]. As in PyTorch, the
    sizes are kept as 1-tuples (``kernel_size=(2,)``).

    Shape: (N, C, L) or (C, L) to (N, C, L_out), L_out = (L - 1) * stride - 2 * padding +
    kernel_size, or ``output_size`` (strictly within one stride of that).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> y, indices = nn.MaxPool1d(2, return_indices=True)(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]))
    >>> nn.MaxUnpool1d(2)(y, indices).tolist()
    [[[0.0, 3.0, 2.0, 0.0]]]
    """

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
    ) -> None:
        super().__init__()
        kernel = _single("MaxUnpool1d", "kernel_size", kernel_size)
        self.kernel_size = (kernel,)
        self.stride = (_single("MaxUnpool1d", "stride", kernel if stride is None else stride),)
        self.padding = (_single("MaxUnpool1d", "padding", padding, 0),)

    def forward(self, input: Any, indices: Any, output_size: Sequence[int] | None = None) -> Tensor:
        return F.max_unpool1d(
            input, indices, self.kernel_size[0], self.stride[0], self.padding[0], output_size
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Upsample(Module):
    """Resize (N, C, L) sequences or (N, C, H, W) images to ``size`` or by ``scale_factor``:
    copying the nearest element (``mode='nearest'`` or ``'nearest-exact'``), interpolating
    between the nearest two (``'linear'`` for sequences, ``'bilinear'`` for images) or four
    (``'bicubic'``, images) along each axis, or averaging (``'area'``).

    Parameters
    ----------
    size : int or tuple of int, optional
        The output's spatial size.
    scale_factor : float or tuple of float, optional
        The output's size is floor(size * scale_factor) per axis. Exactly one of ``size`` and
        ``scale_factor`` is given.
    mode : {'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'area'}, \
default='nearest'
        'trilinear' (volumes) is refused.
    align_corners : bool, optional
        For 'linear', 'bilinear' and 'bicubic' (see
        ``chainrule.nn.functional.interpolate``).
    recompute_scale_factor : bool, optional
        See ``chainrule.nn.functional.interpolate``.

    Notes
    -----
    Shape: (N, C, L) to (N, C, L_out) or (N, C, H, W) to (N, C, H_out, W_out). In nearest
    mode, the element picked for output i is min(floor(i / scale_factor), size - 1), as
    PyTorch picks it; 'nearest-exact' picks min(floor((i + 0.5) / scale_factor), size - 1);
    bicubic weighs four inputs per axis by Keys' cubic kernel (a = -0.75); the formulas of
    every mode are in ``chainrule.nn.functional.interpolate``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Upsample(scale_factor=2)(cr.ones(1, 3, 4, 5)).shape
    (1, 3, 8, 10)
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        scale_factor: float | Sequence[float] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        functional._check_interpolate_mode("Upsample", mode, align_corners, False)
        if (size is None) == (scale_factor is None):
            raise ValueError(
                f"Upsample: expected exactly one of size and scale_factor, got size={size!r} "
                f"and scale_factor={scale_factor!r}"
            )
        self.size: int | tuple[int, ...] | None
        self.scale_factor: float | tuple[float, ...] | None
        if isinstance(size, tuple | list):
            self.size = tuple(_positive_size(s, size) for s in size)
        else:
            self.size = None if size is None else _positive_size(size, size)
        if isinstance(scale_factor, tuple | list):
            self.scale_factor = tuple(_factor(f, scale_factor) for f in scale_factor)
        else:
            self.scale_factor = (
                None if scale_factor is None else _factor(scale_factor, scale_factor)
            )
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Any) -> Tensor:
        return functional.interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            return f"scale_factor={self.scale_factor!r}, mode={self.mode!r}"
        return f"size={self.size!r}, mode={self.mode!r}"


def _positive_size(value: Any, given: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"Upsample: size must be positive ints, got size={given!r}")
    return int(value)


def _factor(value: Any, given: Any) -> float:
    # NumPy's scalars (np.float32(2), np.int64(2)) are numbers.Real; a bool is one too.
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value) > 0:
        raise ValueError(
            f"Upsample: scale_factor must be positive numbers, got scale_factor={given!r}"
        )
    return float(value)
