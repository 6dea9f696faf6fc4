"""Activation layers: one module per activation op, with PyTorch's names and options."""

from __future__ import annotations

from typing import Any

import chainrule.nn.functional as F
from chainrule.backend import default_float, np
from chainrule.nn._random_functional import check_bounds
from chainrule.nn.module import Module, cast_input
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor, dtype_of_to, own_generator


def _inplace(inplace: bool) -> str:
    return ", inplace=True" if inplace else ""


class _Activation(Module):
    """An activation with no parameters. ``inplace=True`` changes the input itself and
    returns it, as in PyTorch (see ``functional.relu``)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Activation):
    """max(x, 0)."""

    def forward(self, input: Any) -> Tensor:
        return F.relu(input, self.inplace)


class LeakyReLU(Module):
    """x where x > 0, else ``negative_slope * x``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Any) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + _inplace(self.inplace)


class ELU(Module):
    """x where x > 0, else alpha * (exp(x) - 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Any) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + _inplace(self.inplace)


class SELU(_Activation):
    """Scaled ELU with the self-normalizing constants."""

    def forward(self, input: Any) -> Tensor:
        return F.selu(input, self.inplace)


class GELU(Module):
    """x * Phi(x) (Phi the standard normal CDF); ``approximate='tanh'`` for the tanh form."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Any) -> Tensor:
        return F.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(_Activation):
    """x * sigmoid(x) (swish)."""

    def forward(self, input: Any) -> Tensor:
        return F.silu(input, self.inplace)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Any) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, input: Any) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, input: Any) -> Tensor:
        return F.tanh(input)


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

    def forward(self, input: Any) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + _inplace(self.inplace)


def _implicit_dim(dim: int | None, x: Any) -> int:
    """``dim``, or for ``dim=None`` PyTorch's legacy choice: axis 0 for inputs of 0, 1 or 3
    dimensions (an unbatched vector or image), axis 1 otherwise (the classes of a batch)."""
    if dim is not None:
        return dim
    return 0 if np.ndim(x.data if isinstance(x, Tensor) else x) in (0, 1, 3) else 1


# The user's call of the module, seen from the warning's caller (as PyTorch's layers pass):
# _softmax_axis, F.softmax, forward, Module.__call__, the user.
_STACKLEVEL = 5


class Softmax(Module):
    """Softmax along ``dim``.

    ``dim=None`` (PyTorch's default) chooses the axis as PyTorch does, with PyTorch's
    deprecation warning: axis 0 for inputs of 0, 1 or 3 dimensions, axis 1 otherwise (see
    ``_implicit_dim``); pass the axis (``dim=-1`` for the last).
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Tensor:
        return F.softmax(input, self.dim, _stacklevel=_STACKLEVEL)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim``, computed stably.

    ``dim=None`` (PyTorch's default) chooses the axis as PyTorch does, with its warning, as
    for ``Softmax``.
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Tensor:
        return F.log_softmax(input, self.dim, _stacklevel=_STACKLEVEL)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax2d(Module):
    """Softmax over the channels at each position of an image: along axis -3 of (N, C, H, W)
    or (C, H, W) input.

    Raises
    ------
    ValueError
        If the input is not 3-d or 4-d.

    Notes
    -----
    y[..., c, h, w] = exp(x[..., c, h, w]) / sum over k of exp(x[..., k, h, w]);
    dL/dx = y * (dL/dy - sum over c of y * dL/dy), as for ``Softmax``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> y = nn.Softmax2d()(cr.randn(2, 3, 4, 5, generator=0))
    >>> y.shape, bool(abs(y.sum(axis=1).numpy() - 1).max() < 1e-6)
    ((2, 3, 4, 5), True)
    """

    def forward(self, input: Any) -> Tensor:
        shape = np.shape(input.data if isinstance(input, Tensor) else input)
        if len(shape) not in (3, 4):
            raise ValueError(
                f"Softmax2d: expected input of shape (N, C, H, W) or (C, H, W), got shape "
                f"{tuple(shape)}"
            )
        return F.softmax(input, -3)


class _PlainActivation(_Activation):
    """An activation whose PyTorch repr shows no arguments, not even ``inplace=True``."""

    def extra_repr(self) -> str:
        return ""


class ReLU6(_Activation):
    """min(max(x, 0), 6); the derivative at 0 and at 6 is 0, as in PyTorch."""

    def forward(self, input: Any) -> Tensor:
        return F.relu6(input, self.inplace)


class Hardsigmoid(_PlainActivation):
    """relu6(x + 3) / 6."""

    def forward(self, input: Any) -> Tensor:
        return F.hardsigmoid(input, self.inplace)


class Hardswish(_PlainActivation):
    """x * relu6(x + 3) / 6 (MobileNetV3)."""

    def forward(self, input: Any) -> Tensor:
        return F.hardswish(input, self.inplace)


class Mish(_Activation):
    """x * tanh(softplus(x))."""

    def forward(self, input: Any) -> Tensor:
        return F.mish(input, self.inplace)


class LogSigmoid(Module):
    """log(sigmoid(x)), finite for every input."""

    def forward(self, input: Any) -> Tensor:
        return F.logsigmoid(input)


class Softsign(Module):
    """x / (1 + |x|)."""

    def forward(self, input: Any) -> Tensor:
        return F.softsign(input)


class Tanhshrink(Module):
    """x - tanh(x)."""

    def forward(self, input: Any) -> Tensor:
        return F.tanhshrink(input)


class RReLU(Module):
    """Randomized leaky ReLU: while training, x where x > 0, else r x with a slope r drawn
    for each element uniformly from [lower, upper]; in evaluation mode the leaky ReLU of
    slope (lower + upper) / 2.

    Parameters
    ----------
    lower, upper : float, default=1/8 and 1/3
        The range of the random slopes, lower <= upper.
    inplace : bool, default=False
        True: the input itself is changed and returned, as in PyTorch.
    generator : numpy.random.Generator or int, optional
        The layer's own source of slopes, so that runs repeat exactly given a seed (as a
        ``Dropout`` layer draws its masks); when None, one seeded from the default
        generator (see ``chainrule.manual_seed``).

    Raises
    ------
    ValueError
        If lower > upper.

    Notes
    -----
    The gradient is the slope used: 1 where x > 0, else r (training) or (lower + upper) / 2
    (evaluation); see ``functional.rrelu``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> layer = nn.RReLU(0.1, 0.3, generator=0)
    >>> y = layer(cr.full((1000,), -1.0)).numpy()
    >>> bool(-0.3 <= y.min() and y.max() <= -0.1)
    True
    >>> layer.eval()(cr.tensor([-1.0, 2.0])).tolist()
    [-0.20000000298023224, 2.0]
    """

    def __init__(
        self,
        lower: float = 1.0 / 8,
        upper: float = 1.0 / 3,
        inplace: bool = False,
        generator: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        check_bounds("RReLU", lower, upper)
        self.lower, self.upper, self.inplace = lower, upper, inplace
        self.generator = own_generator(generator)

    def forward(self, input: Any) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace, self.generator)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + _inplace(self.inplace)


class CELU(Module):
    """x where x > 0, else alpha * (exp(x / alpha) - 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if alpha == 0:
            raise ValueError(f"CELU: alpha must be nonzero, got {alpha!r}")
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Any) -> Tensor:
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + _inplace(self.inplace)


class Threshold(Module):
    """x where x > threshold, else ``value``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Any) -> Tensor:
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}" + _inplace(self.inplace)


class Hardshrink(Module):
    """x where |x| > lambd, else 0."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Any) -> Tensor:
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Module):
    """x - lambd where x > lambd, x + lambd where x < -lambd, else 0."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        if lambd < 0:
            raise ValueError(f"Softshrink: lambd must be >= 0, got {lambd!r}")
        self.lambd = lambd

    def forward(self, input: Any) -> Tensor:
        return F.softshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class GLU(Module):
    """a * sigmoid(b), ``a`` and ``b`` the two halves of the input along ``dim``."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Tensor:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    """softmax(-x) along ``dim``; ``dim=None`` (PyTorch's default) chooses the axis as
    PyTorch does, with its warning, as for ``Softmax``."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Tensor:
        return F.softmin(input, self.dim, _stacklevel=_STACKLEVEL)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class PReLU(Module):
    """x where x > 0, else ``weight * x``, with a learned slope: one for all channels
    (``num_parameters=1``) or one per channel (axis 1 of the input).

    Parameters
    ----------
    num_parameters : int, default=1
        How many slopes: 1, or the number of channels of the input.
    init : float, default=0.25
        The slopes' initial value.
    device : str or torch-style device, optional
        Only the CPU (``"cpu"``); accepted so that PyTorch code runs unchanged.
    dtype : dtype, default=float32
        The dtype of ``weight``, and of the output: input is converted to it, as by the
        other layers with weights.

    Attributes
    ----------
    weight : Parameter of shape (num_parameters,)
        The slopes for x <= 0.
    """

    def __init__(
        self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        dtype_of_to("PReLU", (), None, device)
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int | np.integer):
            raise ValueError(
                f"PReLU: num_parameters must be a positive integer, got {num_parameters!r}"
            )
        if num_parameters <= 0:
            raise ValueError(
                f"PReLU: num_parameters must be a positive integer, got {num_parameters!r}"
            )
        self.num_parameters, self.init = int(num_parameters), init
        dt = np.dtype(dtype) if dtype is not None else default_float()
        self.weight = Parameter(np.full(self.num_parameters, init, dtype=dt))

    def reset_parameters(self, generator: np.random.Generator | int | None = None) -> None:
        """Set every slope back to ``init`` (``generator`` is unused: nothing is random)."""
        self.weight.data[...] = self.init

    def forward(self, input: Any) -> Tensor:
        return F.prelu(cast_input(input, self.weight.dtype), self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
