"""Activation layers: one module per activation op, with PyTorch's names and options."""

from __future__ import annotations

from typing import Any

import chainrule.nn.functional as F
from chainrule.backend import np
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


def _inplace(inplace: bool) -> str:
    return ", inplace=True" if inplace else ""


class _Activation(Module):
    """An activation with no parameters. ``inplace`` is accepted for PyTorch compatibility
    and ignored: chainrule never overwrites an input, and the result is the same."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Activation):
    """max(x, 0)."""

    def forward(self, x: Any) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """x where x > 0, else ``negative_slope * x``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x: Any) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + _inplace(self.inplace)


class ELU(Module):
    """x where x > 0, else alpha * (exp(x) - 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, x: Any) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + _inplace(self.inplace)


class SELU(_Activation):
    """Scaled ELU with the self-normalizing constants."""

    def forward(self, x: Any) -> Tensor:
        return F.selu(x)


class GELU(Module):
    """x * Phi(x) (Phi the standard normal CDF); ``approximate='tanh'`` for the tanh form."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Any) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(_Activation):
    """x * sigmoid(x) (swish)."""

    def forward(self, x: Any) -> Tensor:
        return F.silu(x)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Any) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x: Any) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)


class Hardtanh(Module):
    """x clipped to [min_val, max_val]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if min_val >= max_val:
            raise ValueError(
                f"Hardtanh: min_val must be less than max_val, got min_val={min_val}, "
                f"max_val={max_val}"
            )
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, x: Any) -> Tensor:
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + _inplace(self.inplace)


def _implicit_dim(dim: int | None, x: Any) -> int:
    """``dim``, or for ``dim=None`` PyTorch's legacy choice: axis 0 for inputs of 0, 1 or 3
    dimensions (an unbatched vector or image), axis 1 otherwise (the classes of a batch)."""
    if dim is not None:
        return dim
    return 0 if np.ndim(x.data if isinstance(x, Tensor) else x) in (0, 1, 3) else 1


class Softmax(Module):
    """Softmax along ``dim`` (default: the last axis).

    ``dim=None`` chooses the axis as PyTorch does (see ``_implicit_dim``); pass the axis.
    """

    def __init__(self, dim: int | None = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        return F.softmax(x, _implicit_dim(self.dim, x))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim`` (default: the last axis), computed stably.

    ``dim=None`` chooses the axis as PyTorch does, as for ``Softmax``.
    """

    def __init__(self, dim: int | None = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        return F.log_softmax(x, _implicit_dim(self.dim, x))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
