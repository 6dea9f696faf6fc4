"""Pooling layers over NCHW images: ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.autograd.ops.conv import pair
from chainrule.backend import np
from chainrule.nn import _conv_functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


def _shown(sizes: tuple[Any, Any]) -> Any:
    """A size pair as ``print(model)`` shows it: one number when both agree, so that
    ``MaxPool2d(2)`` prints ``kernel_size=2`` as in PyTorch (which would print a pair given
    as ``(2, 2)`` as such; only the pair is kept here)."""
    return sizes[0] if sizes[0] == sizes[1] else tuple(sizes)


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
        Accepted for PyTorch's argument order; True is not supported.
    ceil_mode : bool, default=False
        Round the output size up, so that a last partial window counts.

    Notes
    -----
    The gradient of each window goes to its first maximum (row-major order), as in PyTorch.

    Shape: (N, C, H, W) or (C, H, W) to (N, C, H_out, W_out), H_out = (H + 2 * padding -
    dilation * (kernel - 1) - 1) // stride + 1 (rounded up with ``ceil_mode``).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.MaxPool2d(2)(cr.ones(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
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
        if return_indices:
            raise ValueError("MaxPool2d: return_indices=True is not supported")
        self.kernel_size = pair("MaxPool2d", "kernel_size", kernel_size)
        self.stride = pair("MaxPool2d", "stride", self.kernel_size if stride is None else stride)
        self.padding = pair("MaxPool2d", "padding", padding, minimum=0)
        self.dilation = pair("MaxPool2d", "dilation", dilation)
        self.return_indices, self.ceil_mode = False, bool(ceil_mode)

    def forward(self, x: Any) -> Tensor:
        return F.max_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode
        )

    def extra_repr(self) -> str:
        kernel_size, stride, padding, dilation = map(
            _shown, (self.kernel_size, self.stride, self.padding, self.dilation)
        )
        return (
            f"kernel_size={kernel_size}, stride={stride}, padding={padding}, "
            f"dilation={dilation}, ceil_mode={self.ceil_mode}"
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
        self.kernel_size = pair("AvgPool2d", "kernel_size", kernel_size)
        self.stride = pair("AvgPool2d", "stride", self.kernel_size if stride is None else stride)
        self.padding = pair("AvgPool2d", "padding", padding, minimum=0)
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

    def forward(self, x: Any) -> Tensor:
        return F.avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        kernel_size, stride, padding = map(_shown, (self.kernel_size, self.stride, self.padding))
        return f"kernel_size={kernel_size}, stride={stride}, padding={padding}"  # as PyTorch


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
        sizes = (
            tuple(output_size)
            if isinstance(output_size, tuple | list)
            else (output_size, output_size)
        )
        if len(sizes) != 2 or not all(
            s is None or (isinstance(s, int) and not isinstance(s, bool) and s > 0) for s in sizes
        ):
            raise ValueError(
                f"AdaptiveAvgPool2d: output_size must be a positive int or a pair of positive "
                f"ints or None, got output_size={output_size!r}"
            )
        self.output_size: tuple[int | None, int | None] = (sizes[0], sizes[1])

    def forward(self, x: Any) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={_shown(self.output_size)}"
