"""Weight initializers, in place, each drawing from an explicit generator.

Every function takes ``generator``: a ``numpy.random.Generator``, an int seed, or None for
the default generator (which ``chainrule.manual_seed`` seeds). The names and formulas are
PyTorch's (``torch.nn.init``); they modify the tensor's array in place and return the
tensor. A NumPy array (a parameter's ``.data``) is filled in place too.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator
from typing import Any

from chainrule.backend import np
from chainrule.tensor import _DEFAULT_GENERATOR, Tensor, as_generator

GeneratorLike = np.random.Generator | int | None

_LINEAR_LIKE = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "identity",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended scale of the weights before ``nonlinearity``.

    linear, conv and sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu:
    sqrt(2 / (1 + slope**2)) (slope ``param``, default 0.01); selu: 3/4.
    """
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, int | float):
            raise ValueError(f"calculate_gain: negative slope must be a number, got {slope!r}")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
        f"{[*_LINEAR_LIKE, 'tanh', 'relu', 'leaky_relu', 'selu']}"
    )


def _fans(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel)."""
    if tensor.ndim < 2:
        raise ValueError(
            f"init: fan in and fan out need a tensor with at least 2 dimensions, got shape "
            f"{tensor.shape}"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape (out, in, *kernel), as PyTorch's private
    helper of the same name, which tutorials call: ``in * prod(kernel)`` and
    ``out * prod(kernel)``.

    Raises
    ------
    ValueError
        If the tensor has fewer than 2 dimensions.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.init._calculate_fan_in_and_fan_out(cr.ones(8, 3, 5, 5))
    (75, 200)
    """
    return _fans(tensor)


_RANDOM_INIT_SKIPPED = contextvars.ContextVar("random_init_skipped", default=False)


@contextlib.contextmanager
def _random_init_skipped() -> Iterator[None]:
    """Within it, ``uniform_`` and ``normal_`` (and the initializers built on them, which
    every built-in layer's ``reset_parameters`` uses) leave the tensor as it is and draw
    nothing, as PyTorch's ``skip_init``: for a model whose weights are all replaced
    (``load``) or never read (``describe_model``'s check), so that building it costs no
    draws (most of the time of building a large model). The default generator's state is
    put back after, as ``torch.load`` leaves it: a layer that keeps a generator of its own
    (dropout, ``RReLU``, attention) seeds it from the default one as it is built."""
    token = _RANDOM_INIT_SKIPPED.set(True)
    state = _DEFAULT_GENERATOR.bit_generator.state
    try:
        yield
    finally:
        _DEFAULT_GENERATOR.bit_generator.state = state
        _RANDOM_INIT_SKIPPED.reset(token)


def _fill(tensor: Tensor, values: Any) -> Tensor:
    # A parameter's ``.data`` is its NumPy array, which PyTorch's DCGAN tutorial passes:
    # ``nn.init.normal_(m.weight.data, 0.0, 0.02)``. Fill the array itself.
    target = tensor if isinstance(tensor, np.ndarray) else tensor.data
    target[...] = values
    return tensor


def uniform_(
    tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: GeneratorLike = None
) -> Tensor:
    """Fill with samples of U(a, b)."""
    if _RANDOM_INIT_SKIPPED.get():
        return tensor
    rng = as_generator(generator)
    return _fill(tensor, rng.uniform(a, b, size=tensor.shape))


def normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: GeneratorLike = None
) -> Tensor:
    """Fill with samples of N(mean, std**2)."""
    if _RANDOM_INIT_SKIPPED.get():
        return tensor
    rng = as_generator(generator)
    return _fill(tensor, rng.normal(mean, std, size=tensor.shape))


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: GeneratorLike = None,
) -> Tensor:
    """Fill with samples of N(mean, std**2) conditioned on [a, b] (bounds in the values' own
    units, as in PyTorch, not in standard deviations).

    Where [a, b] holds at least a tenth of the distribution, samples are drawn and those
    outside redrawn; on a narrower interval or one far in a tail (where redrawing would
    take many rounds), by the inverse of the normal CDF over [a, b], as PyTorch draws them.
    """
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a!r}, b={b!r}")
    rng = as_generator(generator)
    low, high = (_normal_cdf((bound - mean) / std) for bound in (a, b))
    if high - low < 0.1:
        # SciPy's inverse CDF of the truncated normal works in the nearer tail, so that an
        # interval 10 or 40 standard deviations out still gets its own distribution.
        from scipy.stats import truncnorm

        u = rng.uniform(size=tensor.shape)
        alpha, beta = (a - mean) / std, (b - mean) / std
        values = np.clip(truncnorm.ppf(u, alpha, beta) * std + mean, a, b)
        return _fill(tensor, values)
    values = rng.normal(mean, std, size=tensor.shape)
    outside = (values < a) | (values > b)
    for _ in range(1000):
        if not outside.any():
            break
        values[outside] = rng.normal(mean, std, size=int(outside.sum()))
        outside = (values < a) | (values > b)
    else:
        raise ValueError(
            f"trunc_normal_: [a, b] = [{a}, {b}] is too far from N({mean}, {std}**2) to sample"
        )
    return _fill(tensor, values)


def _normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal, zeros elsewhere)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: expected a 2-D tensor, got shape {tensor.shape}")
    rows, cols = tensor.shape
    return _fill(tensor, np.eye(rows, cols))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a convolution weight (3-, 4- or 5-D) so that the convolution passes its input
    through: a 1 at the kernel's centre linking output channel d to input channel d, zeros
    elsewhere; with ``groups``, the same within each group of output channels.

    Parameters
    ----------
    tensor : Tensor of shape (out_channels, in_channels / groups, *kernel)
        The weight to fill.
    groups : int, default=1
        The convolution's groups; must divide ``out_channels``.

    Raises
    ------
    ValueError
        If the tensor is not 3-, 4- or 5-D, or groups does not divide its first dimension.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn import init
    >>> w = init.dirac_(cr.empty(2, 2, 3))
    >>> w[:, :, 1].tolist(), float(w.sum())
    ([[1.0, 0.0], [0.0, 1.0]], 2.0)
    """
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: expected a 3-, 4- or 5-D tensor, got shape {tensor.shape}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"dirac_: groups must be a positive int, got {groups!r}")
    if tensor.shape[0] % groups != 0:
        raise ValueError(
            f"dirac_: groups must divide the first dimension, got groups={groups} for shape "
            f"{tensor.shape}"
        )
    per_group = tensor.shape[0] // groups
    values = np.zeros(tensor.shape)
    centre = tuple(size // 2 for size in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(per_group, tensor.shape[1])):
            values[(g * per_group + d, d, *centre)] = 1
    return _fill(tensor, values)


def sparse_(
    tensor: Tensor, sparsity: float, std: float = 0.01, generator: GeneratorLike = None
) -> Tensor:
    """Fill a 2-D tensor with N(0, std**2) samples, then zero ``ceil(sparsity * rows)``
    randomly chosen entries of every column (Martens, 2010).

    Parameters
    ----------
    tensor : Tensor of shape (rows, cols)
        The weight to fill.
    sparsity : float
        Fraction of each column to set to zero, in [0, 1].
    std : float, default=0.01
        Standard deviation of the nonzero entries.
    generator : numpy.random.Generator, int or None, optional
        Source of the random numbers.

    Raises
    ------
    ValueError
        If the tensor is not 2-D, or sparsity lies outside [0, 1].

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn import init
    >>> w = init.sparse_(cr.empty(10, 3), sparsity=0.3, generator=0)
    >>> [int((w[:, j] == 0).sum()) for j in range(3)]
    [3, 3, 3]
    """
    if tensor.ndim != 2:
        raise ValueError(f"sparse_: expected a 2-D tensor, got shape {tensor.shape}")
    if isinstance(sparsity, bool) or not isinstance(sparsity, int | float):
        raise ValueError(f"sparse_: sparsity must be a number in [0, 1], got {sparsity!r}")
    if not 0 <= sparsity <= 1:
        raise ValueError(f"sparse_: sparsity must be in [0, 1], got {sparsity!r}")
    rows, cols = tensor.shape
    n_zeros = math.ceil(sparsity * rows)
    rng = as_generator(generator)
    values = rng.normal(0.0, std, size=(rows, cols))
    for col in range(cols):
        values[rng.permutation(rows)[:n_zeros], col] = 0
    return _fill(tensor, values)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    return _fill(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: GeneratorLike = None) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: GeneratorLike = None) -> Tensor:
    """Glorot normal: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: GeneratorLike = None,
) -> Tensor:
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan). A tensor with no elements is left
    as it is, as in PyTorch."""
    if math.prod(tensor.shape) == 0:
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: GeneratorLike = None,
) -> Tensor:
    """He normal: N(0, std**2) with std = gain / sqrt(fan). A tensor with no elements is left
    as it is, as in PyTorch."""
    if math.prod(tensor.shape) == 0:
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: GeneratorLike = None) -> Tensor:
    """A (semi-)orthogonal matrix, from the QR decomposition of a Gaussian matrix, times gain.

    Tensors with more than 2 dimensions are treated as (shape[0], rest) matrices.
    """
    if tensor.ndim < 2:
        raise ValueError(
            f"orthogonal_: expected a tensor with at least 2 dimensions, got shape {tensor.shape}"
        )
    if math.prod(tensor.shape) == 0:  # nothing to fill (PyTorch's no-op)
        return tensor
    rows = tensor.shape[0]
    cols = math.prod(tensor.shape) // rows
    rng = as_generator(generator)
    flat = rng.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # makes the decomposition unique, hence the distribution uniform
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))
