"""Layers that rearrange or resize images: ``Unfold`` and ``Fold`` (sliding blocks to
columns and back), ``PixelShuffle`` and ``PixelUnshuffle`` (channels to pixels and back),
``ChannelShuffle`` (channels of groups interleaved), and the fixed-mode resizers
``UpsamplingNearest2d`` and ``UpsamplingBilinear2d``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.autograd.ops.conv import pair
from chainrule.backend import np
from chainrule.nn import _image_functional as F
from chainrule.nn.module import Module
from chainrule.nn.pooling import Upsample
from chainrule.tensor import Tensor


def _check_pairs(where: str, kernel_size: Any, dilation: Any, padding: Any, stride: Any) -> None:
    """Refuse, when the layer is built, what ``fold`` and ``unfold`` would refuse on the first
    call: each argument an int or a pair (a 2-D layer: three sizes are not two)."""
    pair(where, "kernel_size", kernel_size)
    pair(where, "dilation", dilation)
    pair(where, "padding", padding, minimum=0)
    pair(where, "stride", stride)


class Unfold(Module):
    """Extract sliding blocks of (N, C, H, W) images as columns (im2col), as PyTorch's
    ``nn.Unfold``: see ``chainrule.nn.functional.unfold``.

    Parameters
    ----------
    kernel_size : int or (int, int)
    dilation : int or (int, int), default=1
    padding : int or (int, int), default=0
    stride : int or (int, int), default=1

    Shape
    -----
    (N, C, H, W) or (C, H, W) to (N, C * kH * kW, L) or (C * kH * kW, L), L the number of
    blocks.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Unfold(kernel_size=(2, 3))(cr.ones(2, 5, 3, 4)).shape
    (2, 30, 4)
    """

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        dilation: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        stride: int | Sequence[int] = 1,
    ) -> None:
        super().__init__()
        _check_pairs("Unfold", kernel_size, dilation, padding, stride)
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input: Any) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
            f"padding={self.padding}, stride={self.stride}"
        )


class Fold(Module):
    """Sum columns of sliding blocks back into images (col2im), as PyTorch's ``nn.Fold``:
    see ``chainrule.nn.functional.fold``; overlapping blocks add.

    Parameters
    ----------
    output_size : int or (int, int)
    kernel_size : int or (int, int)
    dilation : int or (int, int), default=1
    padding : int or (int, int), default=0
    stride : int or (int, int), default=1

    Shape
    -----
    (N, C * kH * kW, L) or (C * kH * kW, L) to (N, C, H, W) or (C, H, W).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Fold(output_size=(4, 5), kernel_size=2)(cr.ones(1, 12, 12)).shape
    (1, 3, 4, 5)
    """

    def __init__(
        self,
        output_size: int | Sequence[int],
        kernel_size: int | Sequence[int],
        dilation: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        stride: int | Sequence[int] = 1,
    ) -> None:
        super().__init__()
        pair("Fold", "output_size", output_size)
        _check_pairs("Fold", kernel_size, dilation, padding, stride)
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Any) -> Tensor:
        return F.fold(
            input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride
        )

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
            f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}"
        )


class PixelShuffle(Module):
    """Rearrange (*, C * r**2, H, W) into (*, C, H * r, W * r), r = ``upscale_factor``
    (sub-pixel convolution), as PyTorch's ``nn.PixelShuffle``.

    Parameters
    ----------
    upscale_factor : int

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.PixelShuffle(3)(cr.ones(1, 9, 4, 4)).shape
    (1, 1, 12, 12)
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Any) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """Rearrange (*, C, H * r, W * r) into (*, C * r**2, H, W), r = ``downscale_factor``:
    the inverse of ``PixelShuffle``, as PyTorch's ``nn.PixelUnshuffle``.

    Parameters
    ----------
    downscale_factor : int

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.PixelUnshuffle(3)(cr.ones(1, 1, 12, 12)).shape
    (1, 9, 4, 4)
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Any) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """Interleave the channels of ``groups`` groups (ShuffleNet's channel shuffle), as
    PyTorch's ``nn.ChannelShuffle``: see ``chainrule.nn.functional.channel_shuffle``.

    Parameters
    ----------
    groups : int
        Positive; it must divide the input's channels.

    Shape
    -----
    (N, C, *) to the same shape: output channel i * groups + g is input channel
    g * (C / groups) + i.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ChannelShuffle(2)(cr.arange(4.0).reshape(1, 4, 1, 1)).reshape(-1).tolist()
    [0.0, 2.0, 1.0, 3.0]
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        if isinstance(groups, bool) or not isinstance(groups, int | np.integer) or groups < 1:
            raise ValueError(
                f"ChannelShuffle: groups must be a positive integer, got groups={groups!r}"
            )
        self.groups = int(groups)

    def forward(self, input: Any) -> Tensor:
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class UpsamplingNearest2d(Upsample):
    """Resize (N, C, H, W) images by copying the nearest pixel: ``Upsample`` with
    ``mode='nearest'``, as PyTorch's ``nn.UpsamplingNearest2d``.

    Parameters
    ----------
    size : int or (int, int), optional
    scale_factor : float or (float, float), optional
        Exactly one of ``size`` and ``scale_factor``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.UpsamplingNearest2d(scale_factor=2)(cr.ones(1, 3, 4, 5)).shape
    (1, 3, 8, 10)
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        scale_factor: float | Sequence[float] | None = None,
    ) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Resize (N, C, H, W) images by bilinear interpolation with the corner pixels aligned:
    ``Upsample`` with ``mode='bilinear', align_corners=True``, as PyTorch's
    ``nn.UpsamplingBilinear2d``.

    Parameters
    ----------
    size : int or (int, int), optional
    scale_factor : float or (float, float), optional
        Exactly one of ``size`` and ``scale_factor``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.UpsamplingBilinear2d(size=3)(cr.tensor([[[[0.0, 1.0]]]])).tolist()
    [[[[0.0, 0.5, 1.0], [0.0, 0.5, 1.0], [0.0, 0.5, 1.0]]]]
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        scale_factor: float | Sequence[float] | None = None,
    ) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


__all__ = [
    "ChannelShuffle",
    "Fold",
    "PixelShuffle",
    "PixelUnshuffle",
    "Unfold",
    "UpsamplingBilinear2d",
    "UpsamplingNearest2d",
]
