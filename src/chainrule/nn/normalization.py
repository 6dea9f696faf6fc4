"""Normalization layers: ``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm``, ``GroupNorm``,
``InstanceNorm1d``, ``InstanceNorm2d``, ``RMSNorm`` and ``LocalResponseNorm``."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import chainrule.nn.functional as F
from chainrule.backend import default_float, np
from chainrule.nn.module import Module, cast_input
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor, dtype_of_to


def _is_positive_int(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | np.integer) and bool(value > 0)


def _layer_shape(where: str, normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    """A layer's ``normalized_shape`` as a tuple of positive ints, or a clear error."""
    shape = (
        (normalized_shape,)
        if isinstance(normalized_shape, int | np.integer)
        else tuple(normalized_shape)
    )
    if not shape or not all(_is_positive_int(n) for n in shape):
        raise ValueError(
            f"{where}: normalized_shape must be positive integers, got {normalized_shape!r}"
        )
    return tuple(int(n) for n in shape)


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share: arguments, parameters, running-statistics
    buffers and their updates (PyTorch's, so state dicts interchange). Subclasses say which
    input ranks they take; the statistics are per channel (axis 1) over every other axis."""

    _may_be_missing = ("num_batches_tracked",)  # absent from older PyTorch state dicts

    _ranks: tuple[int, ...]

    def _shapes(self) -> str:
        raise NotImplementedError

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
        *,
        bias: bool = True,
        device: Any = None,
    ) -> None:
        super().__init__()
        dtype_of_to(type(self).__name__, (), None, device)
        if not _is_positive_int(num_features):
            raise ValueError(
                f"{type(self).__name__}: num_features must be a positive integer, got "
                f"num_features={num_features!r}"
            )
        num_features = int(num_features)
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(
                f"{type(self).__name__}: momentum must be in [0, 1] or None, got {momentum!r}"
            )
        if not eps >= 0:  # 0 as PyTorch (BatchNorm then refuses batch statistics, below)
            raise ValueError(f"{type(self).__name__}: eps must be >= 0, got {eps!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dt = np.dtype(dtype) if dtype is not None else default_float()
        self.weight: Parameter | None
        self.bias: Parameter | None
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(num_features, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.running_mean: Tensor | None
        self.running_var: Tensor | None
        self.num_batches_tracked: Tensor | None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Forget the running statistics: mean 0, variance 1, no batch counted (as PyTorch's
        ``reset_running_stats``, which ``optim.swa_utils.update_bn`` needs)."""
        if self.running_mean is not None and self.running_var is not None:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
        if self.num_batches_tracked is not None:
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self, generator: Any = None) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, input: Any) -> Tensor:
        shape = np.shape(input.data if isinstance(input, Tensor) else input)
        name = type(self).__name__
        if len(shape) not in self._ranks or shape[1] != self.num_features:
            raise ValueError(f"{name}: expected input of shape {self._shapes()}, got {shape}")
        reference = self.weight if self.weight is not None else self.running_mean
        if reference is not None:
            input = cast_input(input, reference.dtype)
        # As in PyTorch, where track_running_stats may be switched off after construction:
        # buffers that exist normalize in evaluation mode, and only training while tracking
        # updates them.
        tracking = self.training and self.track_running_stats
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        if use_batch and int(np.prod((shape[0], *shape[2:]))) == 1:  # an empty batch goes on
            # Checked before the batch is counted, so that a rejected batch leaves no trace.
            raise ValueError(
                f"{name}: expected more than 1 value per channel when using batch "
                f"statistics, got input shape {shape}"
            )
        if use_batch and self.eps == 0:  # as PyTorch: a constant channel would give 0 / 0
            raise ValueError(
                f"{name}: eps must be > 0 to normalize with a batch's statistics (in training "
                f"mode, or without running statistics), got eps={self.eps!r}; eps=0 serves "
                f"evaluation with running statistics only"
            )
        momentum = self.momentum
        if tracking and self.num_batches_tracked is not None:
            self.num_batches_tracked.data += 1
            if momentum is None:  # cumulative moving average
                momentum = 1.0 / int(self.num_batches_tracked.data)
        in_use = tracking or not self.training
        return F.batch_norm(
            input,
            self.running_mean if in_use else None,
            self.running_var if in_use else None,
            self.weight,
            self.bias,
            training=use_batch,
            momentum=momentum,
            eps=self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) input, per channel C.

    y = (x - mean) / sqrt(var + eps) * weight + bias, with the batch's statistics while
    training and the running ones in evaluation mode.

    Parameters
    ----------
    num_features : int
        C, the number of channels.
    eps : float, default=1e-5
        Added to the variance; >= 0, and > 0 to normalize with a batch's statistics
        (as PyTorch: eps=0 serves evaluation with running statistics).
    momentum : float or None, default=0.1
        Weight of each new batch in the running statistics; None for a cumulative average.
    affine : bool, default=True
        Learn ``weight`` (ones) and ``bias`` (zeros).
    bias : bool, default=True
        With ``affine``, whether to learn ``bias`` too (keyword only, as in PyTorch).
    track_running_stats : bool, default=True
        Keep ``running_mean``, ``running_var`` and ``num_batches_tracked`` buffers; without
        them, batch statistics are used in evaluation mode too. Switched off on a built
        layer, as in PyTorch, it keeps the buffers: evaluation normalizes with them, and
        training neither updates them nor counts its batches.
    dtype : dtype, optional
        The dtype of ``weight``, ``bias`` and the running statistics; by default the
        default float dtype (float32).
    device : str or torch-style device, optional
        Only the CPU (``"cpu"``); accepted so that PyTorch code runs unchanged.
    """

    _ranks = (2, 3)

    def _shapes(self) -> str:
        return f"(N, {self.num_features}) or (N, {self.num_features}, L)"


class _AffineNorm(Module):
    """A normalization whose learned scale starts at ones and shift at zeros (LayerNorm's
    and GroupNorm's; batch normalization also keeps running statistics)."""

    weight: Parameter | None
    bias: Parameter | None

    def _affine(self, shape: tuple[int, ...], dtype: Any, affine: bool, bias: bool) -> None:
        """Register ``weight`` and ``bias`` of ``shape``, or None where switched off."""
        dt = np.dtype(dtype) if dtype is not None else default_float()
        if affine:
            self.weight = Parameter(np.ones(shape, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(shape, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self, generator: Any = None) -> None:
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0


class LayerNorm(_AffineNorm):
    """Normalization over the last axes of each sample: y = (x - mean) / sqrt(var + eps) *
    weight + bias, with ``weight`` and ``bias`` of ``normalized_shape``."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
        *,
        device: Any = None,
    ) -> None:
        super().__init__()
        dtype_of_to("LayerNorm", (), None, device)
        shape = _layer_shape("LayerNorm", normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.elementwise_affine = elementwise_affine
        self._affine(shape, dtype, elementwise_affine, bias)

    def forward(self, input: Any) -> Tensor:
        if self.weight is not None:
            input = cast_input(input, self.weight.dtype)
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) images, per channel C over N, H and W.

    y = (x - mean) / sqrt(var + eps) * weight + bias, with the batch's statistics while
    training and the running ones in evaluation mode; the arguments, buffers and updates
    are ``BatchNorm1d``'s (and PyTorch's), so state dicts interchange.

    Parameters
    ----------
    num_features : int
        C, the number of channels.
    eps : float, default=1e-5
        Added to the variance; >= 0, and > 0 to normalize with a batch's statistics
        (as PyTorch: eps=0 serves evaluation with running statistics).
    momentum : float or None, default=0.1
        Weight of each new batch in the running statistics; None for a cumulative average.
    affine : bool, default=True
        Learn ``weight`` (ones) and ``bias`` (zeros).
    track_running_stats : bool, default=True
        Keep ``running_mean``, ``running_var`` (unbiased) and ``num_batches_tracked``.
    dtype : dtype, optional
        The dtype of ``weight``, ``bias`` and the running statistics; by default the
        default float dtype (float32).
    bias : bool, default=True
        With ``affine``, whether to learn ``bias`` too (keyword only).
    device : str or torch-style device, optional
        Only the CPU (``"cpu"``); accepted so that PyTorch code runs unchanged.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> y = nn.BatchNorm2d(3)(cr.randn(4, 3, 5, 5, generator=0))
    >>> bool(abs(y.numpy().mean(axis=(0, 2, 3))).max() < 1e-5)
    True
    """

    _ranks = (4,)

    def _shapes(self) -> str:
        return f"(N, {self.num_features}, H, W)"


class GroupNorm(_AffineNorm):
    """Group normalization: the channels of each sample split into ``num_groups`` groups,
    each normalized over its channels and every position, then an affine map per channel.

    y = (x - mean) / sqrt(var + eps) * weight + bias, with the mean and (biased) variance of
    each sample's group; the same in training and evaluation (no running statistics).

    Parameters
    ----------
    num_groups : int
        G; must divide ``num_channels``.
    num_channels : int
        C, the size of the input's axis 1.
    eps : float, default=1e-5
        Added to the variance; >= 0.
    affine : bool, default=True
        Learn ``weight`` (ones) and ``bias`` (zeros), one per channel.
    dtype : dtype, default=float32
    bias : bool, default=True
        With ``affine``, whether to learn ``bias`` too (keyword only, as in PyTorch).
    device : str or torch-style device, optional
        Only the CPU (``"cpu"``); accepted so that PyTorch code runs unchanged.

    Notes
    -----
    Shape: input (N, C, *), output the same. ``GroupNorm(1, C)`` normalizes each sample
    over all its values (as ``LayerNorm`` over (C, *) with one weight per channel);
    ``GroupNorm(C, C)`` each channel of each sample (instance normalization).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> y = nn.GroupNorm(2, 4)(cr.randn(3, 4, 5, generator=0))
    >>> bool(abs(y.numpy().reshape(3, 2, 10).mean(axis=-1)).max() < 1e-5)
    True
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        dtype: Any = None,
        *,
        bias: bool = True,
        device: Any = None,
    ) -> None:
        super().__init__()
        dtype_of_to("GroupNorm", (), None, device)
        for name, value in (("num_groups", num_groups), ("num_channels", num_channels)):
            if not _is_positive_int(value):
                raise ValueError(
                    f"GroupNorm: {name} must be a positive integer, got {name}={value!r}"
                )
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels must be divisible by num_groups, got "
                f"num_channels={num_channels} and num_groups={num_groups}"
            )
        if not eps >= 0:
            raise ValueError(f"GroupNorm: eps must be >= 0, got {eps!r}")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = eps, bool(affine)
        self._affine((self.num_channels,), dtype, affine, bias)

    def forward(self, input: Any) -> Tensor:
        shape = np.shape(input.data if isinstance(input, Tensor) else input)
        if len(shape) < 2 or shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm: expected input of shape (N, {self.num_channels}, *), got {shape}"
            )
        if self.weight is not None:
            input = cast_input(input, self.weight.dtype)
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class _InstanceNorm(_BatchNorm):
    """What InstanceNorm1d and InstanceNorm2d share: ``_BatchNorm``'s arguments, parameters
    and buffers (so state dicts interchange with PyTorch's), with PyTorch's instance-norm
    defaults and forward. ``_ranks`` holds the unbatched rank, then the batched one."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(
            num_features,
            eps,
            momentum,
            affine,
            track_running_stats,
            dtype,
            bias=bias,
            device=device,
        )

    def forward(self, input: Any) -> Tensor:
        shape = np.shape(input.data if isinstance(input, Tensor) else input)
        name = type(self).__name__
        if len(shape) not in self._ranks:
            raise ValueError(f"{name}: expected input of shape {self._shapes()}, got {shape}")
        unbatched = len(shape) == self._ranks[0]
        feature_dim = 0 if unbatched else 1
        if shape[feature_dim] != self.num_features:
            if self.affine or self.running_mean is not None:
                raise ValueError(
                    f"{name}: expected input's size at dim={feature_dim} to match "
                    f"num_features ({self.num_features}), got shape {shape}"
                )
            # As PyTorch: without parameters or buffers, num_features is unused.
            warnings.warn(
                f"{name}: input's size at dim={feature_dim} does not match num_features "
                f"({self.num_features}); it is unused since affine=False",
                UserWarning,
                stacklevel=2,
            )
        reference = self.weight if self.weight is not None else self.running_mean
        if reference is not None:
            input = cast_input(input, reference.dtype)
        input = input if isinstance(input, Tensor) else Tensor(np.asarray(input))
        if unbatched:
            input = input.unsqueeze(0)
        # PyTorch's choices: the running statistics are passed whenever they exist, and the
        # input's own statistics are used while training or when not tracking (so a layer
        # whose tracking was switched off after construction still updates its buffers);
        # momentum=None means no update (it is not a cumulative average here), and
        # num_batches_tracked is never counted.
        out = F.instance_norm(
            input,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            use_input_stats=self.training or not self.track_running_stats,
            momentum=self.momentum if self.momentum is not None else 0.0,
            eps=self.eps,
        )
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) or unbatched (C, L) input: each channel of each
    sample normalized over its positions L.

    y = (x - mean) / sqrt(var + eps) * weight + bias, with the mean and biased variance of
    each (sample, channel); with ``track_running_stats``, evaluation mode uses running
    statistics instead.

    Parameters
    ----------
    num_features : int
        C, the number of channels.
    eps : float, default=1e-5
        Added to the variance; >= 0.
    momentum : float or None, default=0.1
        Weight of each new batch in the running statistics (None: they are not updated).
    affine : bool, default=False
        Learn ``weight`` (ones) and ``bias`` (zeros), one per channel.
    track_running_stats : bool, default=False
        Keep ``running_mean``, ``running_var`` and ``num_batches_tracked`` buffers (the
        last, as in PyTorch, never counts). In training they move toward the batch average
        of each instance's mean and unbiased variance; evaluation normalizes with them.
    device : str or torch-style device, optional
        Only the CPU (``"cpu"``); accepted so that PyTorch code runs unchanged.
    dtype : dtype, default=float32
    bias : bool, default=True
        With ``affine``, whether to learn ``bias`` too (keyword only, as in PyTorch).

    Notes
    -----
    Shape: input (N, C, L) or (C, L), output the same. With a channel count other than
    ``num_features``, a layer without parameters or buffers warns (the count is unused);
    one with them raises.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> y = nn.InstanceNorm1d(3)(cr.randn(2, 3, 8, generator=0))
    >>> bool(abs(y.numpy().mean(axis=-1)).max() < 1e-5)
    True
    """

    _ranks = (2, 3)

    def _shapes(self) -> str:
        return f"(N, {self.num_features}, L) or ({self.num_features}, L)"


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) or unbatched (C, H, W) images: each channel
    of each sample normalized over its H x W positions.

    y = (x - mean) / sqrt(var + eps) * weight + bias; arguments, buffers and running
    statistics are ``InstanceNorm1d``'s (and PyTorch's).

    Parameters
    ----------
    num_features : int
        C, the number of channels.
    eps : float, default=1e-5
        Added to the variance; >= 0.
    momentum : float or None, default=0.1
        Weight of each new batch in the running statistics (None: they are not updated).
    affine : bool, default=False
        Learn ``weight`` (ones) and ``bias`` (zeros), one per channel.
    track_running_stats : bool, default=False
        Keep ``running_mean``, ``running_var`` (unbiased) and ``num_batches_tracked``, and
        normalize with the first two in evaluation mode.
    device : str or torch-style device, optional
        Only the CPU (``"cpu"``).
    dtype : dtype, default=float32
    bias : bool, default=True
        With ``affine``, whether to learn ``bias`` too (keyword only).

    Notes
    -----
    Shape: input (N, C, H, W) or (C, H, W), output the same.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> y = nn.InstanceNorm2d(3, affine=True)(cr.randn(2, 3, 4, 4, generator=0))
    >>> y.shape
    (2, 3, 4, 4)
    """

    _ranks = (3, 4)

    def _shapes(self) -> str:
        return f"(N, {self.num_features}, H, W) or ({self.num_features}, H, W)"


class RMSNorm(Module):
    """Root-mean-square normalization over the last axes of each sample: y = x /
    sqrt(mean(x**2) + eps) * weight, with ``weight`` of ``normalized_shape``.

    Parameters
    ----------
    normalized_shape : int or sequence of int
        The trailing axes normalized over.
    eps : float, optional
        Added to the mean square; None (the default): the machine epsilon of the dtype the
        statistics are computed in (float32 for float16 input), as PyTorch's.
    elementwise_affine : bool, default=True
        Learn ``weight`` (ones); there is no bias.
    device : str or torch-style device, optional
        Only the CPU (``"cpu"``).
    dtype : dtype, default=float32

    Notes
    -----
    Shape: input (*, *normalized_shape), output the same.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> y = nn.RMSNorm(4)(cr.randn(2, 4, generator=0))
    >>> bool(abs((y.numpy() ** 2).mean(axis=-1) - 1).max() < 1e-5)
    True
    """

    weight: Parameter | None

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        dtype_of_to("RMSNorm", (), None, device)
        shape = _layer_shape("RMSNorm", normalized_shape)
        if eps is not None and not eps >= 0:
            raise ValueError(f"RMSNorm: eps must be >= 0 or None, got {eps!r}")
        self.normalized_shape = shape
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            dt = np.dtype(dtype) if dtype is not None else default_float()
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dt))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self, generator: Any = None) -> None:
        if self.weight is not None:
            self.weight.data[...] = 1

    def forward(self, x: Any) -> Tensor:
        if self.weight is not None:
            x = cast_input(x, self.weight.dtype)
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


class LocalResponseNorm(Module):
    """Local response normalization across channels (AlexNet's): each value divided by
    (k + alpha / size * sum of squares over ``size`` neighbouring channels)**beta.

    Parameters
    ----------
    size : int
        The number of channels in each neighbourhood: channels c - size // 2 to
        c + (size - 1) // 2, missing ones counting as zeros.
    alpha : float, default=1e-4
    beta : float, default=0.75
    k : float, default=1.0

    Notes
    -----
    Shape: input (N, C, *) with at least three axes, output the same. No parameters.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.LocalResponseNorm(2)(cr.randn(2, 3, 4, generator=0)).shape
    (2, 3, 4)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        if not _is_positive_int(size):
            raise ValueError(f"LocalResponseNorm: size must be a positive integer, got {size!r}")
        self.size, self.alpha, self.beta, self.k = int(size), alpha, beta, k

    def forward(self, input: Any) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
