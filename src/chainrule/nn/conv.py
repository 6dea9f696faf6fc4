"""Convolution layers ``Conv1d`` and ``Conv2d``, transposed convolutions
``ConvTranspose1d`` and ``ConvTranspose2d``, and ``small_cnn``: a ready-made network for
small images given as flat rows (the command line's ``--arch cnn``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from chainrule.autograd.ops.conv import conv_pads, edge_pad_rule_broken
from chainrule.backend import default_float, np
from chainrule.nn import _conv_functional as F
from chainrule.nn import init
from chainrule.nn.activation import ReLU
from chainrule.nn.containers import Sequential
from chainrule.nn.layers import Dropout, Flatten, Linear, Unflatten
from chainrule.nn.module import Module, cast_input
from chainrule.nn.normalization import BatchNorm2d
from chainrule.nn.parameter import Parameter
from chainrule.nn.pooling import MaxPool2d
from chainrule.tensor import Tensor, as_generator, dtype_of_to

GeneratorLike = np.random.Generator | int | None

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _tuple(where: str, name: str, value: Any, n: int, minimum: int) -> tuple[int, ...]:
    """``value`` as n ints, each >= minimum: an int for all of them, or n of them."""
    values = (value,) * n if _is_int(value) else value
    if (
        not isinstance(values, tuple | list)
        or len(values) != n
        or not all(_is_int(v) and v >= minimum for v in values)
    ):
        kind = "positive integers" if minimum == 1 else f"integers >= {minimum}"
        raise ValueError(f"{where}: {name} must be an int or {n} {kind}, got {name}={value!r}")
    return tuple(int(v) for v in values)


class _ConvNd(Module):
    """What Conv1d and Conv2d share: arguments, parameters, initialization, printing."""

    n_dims = 2
    _convolve: Callable[..., Tensor]  # the functional form: conv1d or conv2d

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] | str = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
        generator: GeneratorLike = None,
        *,
        device: Any = None,
    ) -> None:
        super().__init__()
        where, n = type(self).__name__, self.n_dims
        dtype_of_to(where, (), None, device)
        for name, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("groups", groups),
        ):
            if not _is_int(value) or value < 1:
                raise ValueError(
                    f"{where}: {name} must be a positive integer, got {name}={value!r}"
                )
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{where}: in_channels and out_channels must be divisible by groups, got "
                f"in_channels={in_channels}, out_channels={out_channels}, groups={groups}"
            )
        if padding_mode not in PADDING_MODES:
            raise ValueError(
                f"{where}: padding_mode must be one of {PADDING_MODES}, got "
                f"padding_mode={padding_mode!r}"
            )
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _tuple(where, "kernel_size", kernel_size, n, 1)
        self.stride = _tuple(where, "stride", stride, n, 1)
        self.dilation = _tuple(where, "dilation", dilation, n, 1)
        self.padding: tuple[int, ...] | str
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"{where}: padding must be 'valid', 'same', an int or {n} ints, got "
                    f"padding={padding!r}"
                )
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(
                    f"{where}: padding='same' needs stride 1, got stride={self.stride}; pad "
                    f"explicitly for a strided convolution"
                )
            self.padding = padding
        else:
            self.padding = _tuple(where, "padding", padding, n, 0)
        self.groups, self.padding_mode = int(groups), padding_mode
        dt = np.dtype(dtype) if dtype is not None else default_float()
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dt))
        self.bias: Parameter | None
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: GeneratorLike = None) -> None:
        rng = as_generator(generator)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=rng)
        if self.bias is not None:
            fan_in = self.in_channels // self.groups * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound, generator=rng)

    def forward(self, input: Any) -> Tensor:
        input = self._input(input)
        if self.padding_mode == "zeros":
            padding: Any = self.padding
        else:
            input = F.edge_pad(input, self._checked_edge_pads(input.shape), self.padding_mode)
            padding = 0
        return self._convolve(
            input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )

    def _input(self, x: Any) -> Tensor:
        """``x`` in the weight's dtype, after checking its shape."""
        shape = np.shape(x.data if isinstance(x, Tensor) else x)
        n = self.n_dims
        if len(shape) not in (n + 1, n + 2) or shape[-n - 1] != self.in_channels:
            axes = ("H", "W") if n == 2 else ("L",)
            batched = ", ".join(("N", str(self.in_channels), *axes))
            single = ", ".join((str(self.in_channels), *axes))
            raise ValueError(
                f"{type(self).__name__}: expected input of shape ({batched}) or ({single}), "
                f"got shape {shape}"
            )
        return cast_input(x, self.weight.dtype)

    def _edge_pads(self) -> tuple[int, ...]:
        """PyTorch's order for edge_pad: (left, right) of the last axis first."""
        kernel, stride, dilation = (
            (int(v[0]), int(v[-1])) if self.n_dims == 2 else (1, int(v[0]))
            for v in (self.kernel_size, self.stride, self.dilation)
        )
        padding: Any = self.padding
        if not isinstance(padding, str) and self.n_dims == 1:
            padding = (0, *padding)
        pads = conv_pads(type(self).__name__, padding, kernel, stride, dilation)
        top, bottom, left, right = pads
        return (left, right) if self.n_dims == 1 else (left, right, top, bottom)

    def _checked_edge_pads(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """``_edge_pads``, once checked against the input's ``shape``: a reflected border
        must be smaller than the input along its axis, a wrapped one at most as large (as
        PyTorch requires), and an edge to replicate must exist."""
        pads = self._edge_pads()
        names = ("height", "width") if self.n_dims == 2 else ("length",)
        for k, name in enumerate(reversed(names)):  # the last axis first, as ``pads``
            size, border = shape[-1 - k], max(pads[2 * k], pads[2 * k + 1])
            rule = edge_pad_rule_broken(self.padding_mode, size, border)
            if rule is None:
                continue
            raise ValueError(
                f"{type(self).__name__}: {self.padding_mode} padding must be {rule} the "
                f"input's {name}, got padding {border} for an input of {name} {size} (shape "
                f"{tuple(shape)})"
            )
        return pads

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * self.n_dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self.n_dims:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv2d(_ConvNd):
    """2-D convolution over NCHW images: y = b + sum over channels of w (*) x, with (*) the
    cross-correlation, as in PyTorch.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride : int or (int, int), default=1
    padding : int, (int, int), 'valid' or 'same', default=0
        'same' (stride 1 only) keeps the size, the odd pixel going to the bottom and right.
    dilation : int or (int, int), default=1
    groups : int, default=1
        Split the channels into ``groups`` independent convolutions (both channel counts
        must divide by it; groups = in_channels is a depthwise convolution).
    bias : bool, default=True
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}, default='zeros'
        What the padding holds: zeros, or copies of the image's own border.
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
        Source of the initial weights (when None, the default generator: see
        ``chainrule.manual_seed``).
    device : str or torch-style device, optional
        Only the CPU (``"cpu"``); accepted so that PyTorch code runs unchanged.

    Notes
    -----
    ``weight`` has shape (out_channels, in_channels / groups, kH, kW), as in PyTorch, and
    starts like PyTorch's: U(-k, k) with k = 1 / sqrt(fan_in), fan_in = in_channels /
    groups * kH * kW (He uniform with a = sqrt(5)); so does ``bias``. State dicts move
    between the two libraries unchanged.

    Shape: input (N, C_in, H, W) or (C_in, H, W); output (N, C_out, H_out, W_out) with
    H_out = (H + pad_top + pad_bottom - dilation * (kH - 1) - 1) // stride + 1.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> conv = nn.Conv2d(1, 4, 3, padding=1, generator=0)
    >>> conv(cr.ones(2, 1, 8, 8)).shape
    (2, 4, 8, 8)
    """

    n_dims = 2

    _convolve = staticmethod(F.conv2d)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) sequences; the arguments are Conv2d's, one int each.

    ``weight`` has shape (out_channels, in_channels / groups, kernel_size) and starts like
    PyTorch's (fan_in = in_channels / groups * kernel_size).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Conv1d(3, 5, 4, stride=2, generator=0)(cr.ones(2, 3, 10)).shape
    (2, 5, 4)
    """

    n_dims = 1

    _convolve = staticmethod(F.conv1d)


class _ConvTransposeNd(Module):
    """What ConvTranspose1d and ConvTranspose2d share: arguments, parameters,
    initialization, the output size, printing."""

    n_dims = 2
    _convolve: Callable[..., Tensor]  # conv_transpose1d or conv_transpose2d

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        output_padding: int | Sequence[int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | Sequence[int] = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
        generator: GeneratorLike = None,
    ) -> None:
        super().__init__()
        where, n = type(self).__name__, self.n_dims
        dtype_of_to(where, (), None, device)
        for name, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("groups", groups),
        ):
            if not _is_int(value) or value < 1:
                raise ValueError(
                    f"{where}: {name} must be a positive integer, got {name}={value!r}"
                )
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{where}: in_channels and out_channels must be divisible by groups, got "
                f"in_channels={in_channels}, out_channels={out_channels}, groups={groups}"
            )
        if padding_mode != "zeros":
            raise ValueError(
                f'{where}: only "zeros" padding_mode is supported, as in PyTorch, got '
                f"padding_mode={padding_mode!r}"
            )
        if isinstance(padding, str):
            raise ValueError(f"{where}: padding must be an int or {n} ints, got {padding!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _tuple(where, "kernel_size", kernel_size, n, 1)
        self.stride = _tuple(where, "stride", stride, n, 1)
        self.padding = _tuple(where, "padding", padding, n, 0)
        self.dilation = _tuple(where, "dilation", dilation, n, 1)
        self.output_padding = _tuple(where, "output_padding", output_padding, n, 0)
        for extra, step, spread in zip(
            self.output_padding, self.stride, self.dilation, strict=True
        ):
            if extra >= max(step, spread):
                raise ValueError(
                    f"{where}: output_padding must be smaller than either stride or dilation, "
                    f"got output_padding={self.output_padding}, stride={self.stride}, "
                    f"dilation={self.dilation}"
                )
        self.groups, self.padding_mode = int(groups), padding_mode
        dt = np.dtype(dtype) if dtype is not None else default_float()
        shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dt))
        self.bias: Parameter | None
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: GeneratorLike = None) -> None:
        rng = as_generator(generator)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=rng)
        if self.bias is not None:
            # PyTorch's fan_in is the weight's: out_channels / groups * kernel elements.
            fan_in = self.out_channels // self.groups * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound, generator=rng)

    def forward(self, input: Any, output_size: Sequence[int] | None = None) -> Tensor:
        x = self._input(input)
        extra = self._output_padding(x.shape, output_size)
        return self._convolve(
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            extra,
            self.groups,
            self.dilation,
        )

    def _output_padding(
        self, shape: tuple[int, ...], output_size: Sequence[int] | None
    ) -> tuple[int, ...]:
        """``output_padding``, or the one that gives ``output_size`` (its last n_dims
        entries), which must lie within a stride of the smallest output size."""
        if output_size is None:
            return self.output_padding
        where, n = type(self).__name__, self.n_dims
        sizes = list(output_size)
        # As in PyTorch: the spatial sizes, or the whole shape of the output (batch and
        # channels, or channels alone for an unbatched input).
        whole = len(shape)
        if len(sizes) == whole:
            sizes = sizes[-n:]
        if len(sizes) != n or not all(_is_int(v) for v in sizes):
            raise ValueError(
                f"{where}: for {whole}-D input, output_size must have {n} or {whole} ints, "
                f"got output_size={output_size!r}"
            )
        extra = []
        for axis in range(n):
            smallest = (
                (shape[-n + axis] - 1) * self.stride[axis]
                - 2 * self.padding[axis]
                + self.dilation[axis] * (self.kernel_size[axis] - 1)
                + 1
            )
            largest = smallest + self.stride[axis] - 1
            if not smallest <= sizes[axis] <= largest:
                raise ValueError(
                    f"{where}: requested output_size {tuple(sizes)} is out of range: axis "
                    f"{axis} must be between {smallest} and {largest} for input shape {shape}"
                )
            extra.append(int(sizes[axis]) - smallest)
        return tuple(extra)

    def _input(self, x: Any) -> Tensor:
        """``x`` in the weight's dtype, after checking its shape."""
        shape = np.shape(x.data if isinstance(x, Tensor) else x)
        n = self.n_dims
        if len(shape) not in (n + 1, n + 2) or shape[-n - 1] != self.in_channels:
            axes = ("H", "W") if n == 2 else ("L",)
            batched = ", ".join(("N", str(self.in_channels), *axes))
            single = ", ".join((str(self.in_channels), *axes))
            raise ValueError(
                f"{type(self).__name__}: expected input of shape ({batched}) or ({single}), "
                f"got shape {shape}"
            )
        return cast_input(x, self.weight.dtype)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * self.n_dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self.n_dims:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self.n_dims:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution over NCHW images (the adjoint of ``Conv2d`` in its
    input), as in PyTorch: each input pixel adds the kernel, scaled by its values, into the
    output at stride steps. Upsamples by ``stride`` in a decoder or a generator.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride : int or (int, int), default=1
    padding : int or (int, int), default=0
        Rows (columns) removed from each side of the full output.
    output_padding : int or (int, int), default=0
        Rows (columns) added at the bottom (right) of the output; smaller than the stride
        or the dilation. ``forward``'s ``output_size`` chooses it instead.
    groups : int, default=1
        Split the channels into ``groups`` independent transposed convolutions (both
        channel counts must divide by it).
    bias : bool, default=True
    dilation : int or (int, int), default=1
    padding_mode : {'zeros'}, default='zeros'
        The only mode PyTorch's transposed convolutions accept.
    device : str or torch-style device, optional
        Only the CPU (``"cpu"``); accepted so that PyTorch code runs unchanged.
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
        Source of the initial weights (when None, the default generator).

    Notes
    -----
    ``weight`` has shape (in_channels, out_channels / groups, kH, kW), as in PyTorch, and
    starts like PyTorch's: U(-k, k) with k = 1 / sqrt(fan_in), fan_in = out_channels /
    groups * kH * kW; so does ``bias``. State dicts move between the two libraries
    unchanged.

    Shape: input (N, C_in, H, W) or (C_in, H, W); output (N, C_out, H_out, W_out) with
    H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1.
    ``forward(input, output_size=None)``: ``output_size`` (H_out, W_out), or (N, C_out,
    H_out, W_out), picks the output_padding that gives that size.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> up = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, generator=0)
    >>> up(cr.ones(1, 4, 5, 5)).shape
    (1, 2, 9, 9)
    >>> up(cr.ones(1, 4, 5, 5), output_size=(10, 10)).shape
    (1, 2, 10, 10)
    """

    n_dims = 2

    _convolve = staticmethod(F.conv_transpose2d)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over (N, C, L) sequences; the arguments are
    ConvTranspose2d's, one int each.

    ``weight`` has shape (in_channels, out_channels / groups, kernel_size) and starts like
    PyTorch's (fan_in = out_channels / groups * kernel_size).

    Shape: input (N, C_in, L) or (C_in, L); output (N, C_out, L_out) with L_out = (L - 1)
    * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ConvTranspose1d(3, 5, 4, stride=2, generator=0)(cr.ones(2, 3, 10)).shape
    (2, 5, 22)
    """

    n_dims = 1

    _convolve = staticmethod(F.conv_transpose1d)


SMALL_CNN_HIDDEN = 128
SMALL_CNN_DROPOUT = 0.25
"""``small_cnn``'s default hidden width and dropout (``chainrule train --arch cnn`` takes
them too)."""


def small_cnn(
    image_shape: Sequence[int],
    n_classes: int,
    channels: Sequence[int] = (32, 64),
    hidden: int | Sequence[int] = SMALL_CNN_HIDDEN,
    dropout: float = SMALL_CNN_DROPOUT,
    dtype: Any = None,
    generator: GeneratorLike = None,
    batch_norm: bool = True,
    activation: Callable[[], Module] = ReLU,
) -> Sequential:
    """A small convolutional classifier for images given as flat rows.

    ``Unflatten`` to ``image_shape`` (C, H, W); then, for each entry of ``channels``, a 3x3
    convolution with 'same' padding, batch normalization, the activation (ReLU) and 2x2 max
    pooling; then, for each hidden width, a ``Linear`` layer with the activation and
    dropout; and a ``Linear`` layer to ``n_classes`` logits. On the digits
    (``digits_cnn``), 15 epochs of Adam (lr 2e-3, cosine schedule, batches of 32) reach
    98.6% to 99.7% on a held-out 20%, depending on the seed (``examples/cnn_digits.py``).

    Parameters
    ----------
    image_shape : (int, int, int)
        (channels, height, width) of one image; a row of the input holds C * H * W values in
        that order (an 8x8 grey image: (1, 8, 8), 64 values).
    n_classes : int
    channels : sequence of int, default=(32, 64)
        Output channels of each convolution block; each halves the height and width.
    hidden : int or sequence of int, default=128
        Width of the hidden ``Linear`` layer, or of each of several; an empty sequence
        leaves none (the pooled features go straight to the logits).
    dropout : float, default=0.25
        Dropout after each hidden layer.
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
        Source of every initial weight.
    batch_norm : bool, default=True
        Whether each convolution block has its ``BatchNorm2d``.
    activation : callable returning a Module, default=ReLU
        Makes the activation of each convolution block and hidden layer (``nn.Tanh``,
        ``nn.GELU``, ``lambda: nn.LeakyReLU(0.1)``).

    Returns
    -------
    Sequential
        Input (N, C * H * W), output (N, n_classes) logits; ``chainrule.save`` stores and
        rebuilds it.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.conv import small_cnn
    >>> small_cnn((1, 8, 8), 10, generator=0)(cr.ones(5, 64)).shape
    (5, 10)
    >>> from chainrule import nn
    >>> net = small_cnn((1, 8, 8), 10, hidden=(), batch_norm=False, activation=nn.Tanh)
    >>> [type(m).__name__ for m in net][:5]
    ['Unflatten', 'Conv2d', 'Tanh', 'MaxPool2d', 'Conv2d']
    """
    shape = tuple(image_shape)
    if len(shape) != 3 or not all(_is_int(v) and v > 0 for v in shape):
        raise ValueError(
            f"small_cnn: image_shape must be 3 positive ints (channels, height, width), got "
            f"image_shape={image_shape!r}"
        )
    if not _is_int(n_classes) or n_classes < 1:
        raise ValueError(f"small_cnn: n_classes must be a positive integer, got {n_classes!r}")
    given: Any = (hidden,) if _is_int(hidden) else hidden
    if not isinstance(given, Sequence) or not all(_is_int(v) and v > 0 for v in given):
        raise ValueError(
            f"small_cnn: hidden must be a positive int or a sequence of them, got hidden={hidden!r}"
        )
    widths = [int(v) for v in given]
    rng = as_generator(generator)
    layers: list[Module] = [Unflatten(1, shape)]
    depth, height, width = shape
    for out in channels:
        if min(height, width) < 2:
            raise ValueError(
                f"small_cnn: image_shape {shape} is too small for {len(channels)} blocks of "
                f"2x2 pooling; use fewer channels entries"
            )
        layers.append(Conv2d(depth, out, 3, padding="same", dtype=dtype, generator=rng))
        if batch_norm:
            layers.append(BatchNorm2d(out, dtype=dtype))
        layers += [activation(), MaxPool2d(2)]
        depth, height, width = out, height // 2, width // 2
    layers.append(Flatten())
    features = depth * height * width
    for size in widths:
        layers += [
            Linear(features, size, dtype=dtype, generator=rng),
            activation(),
            Dropout(dropout, generator=rng),
        ]
        features = size
    layers.append(Linear(features, n_classes, dtype=dtype, generator=rng))
    return Sequential(*layers)


def digits_cnn(dtype: Any = None, generator: GeneratorLike = None) -> Sequential:
    """``small_cnn`` for scikit-learn's digits: rows of 64 pixels (8x8 images), 10 classes.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.conv import digits_cnn
    >>> digits_cnn(generator=0)(cr.ones(3, 64)).shape
    (3, 10)
    """
    return small_cnn((1, 8, 8), 10, dtype=dtype, generator=generator)


__all__ = [
    "Conv1d",
    "Conv2d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "digits_cnn",
    "small_cnn",
]
