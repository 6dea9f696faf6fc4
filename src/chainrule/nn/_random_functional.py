"""The functionals that draw random numbers while training, besides ``dropout`` and
``dropout2d``: ``dropout1d``, ``alpha_dropout``, ``feature_alpha_dropout`` and ``rrelu``.

Each is a product of the input with an array drawn from a generator (plus a constant for
the alpha dropouts), so the engine's ``mul`` gives the gradient: the drawn factor itself.
Like ``dropout``, each draws its numbers from ``generator`` (None: the default generator, see
``chainrule.manual_seed``); the layers pass their own. The numbers differ from PyTorch's,
whose generator chainrule does not reproduce; what a draw means (which elements, with what
probability, scaled how) is PyTorch's.
"""

from __future__ import annotations

import math
from typing import Any

from chainrule.autograd.ops import leaky_relu
from chainrule.autograd.ops._operands import as_tensor, floating_only, in_place
from chainrule.backend import Array, np
from chainrule.tensor import Tensor, as_generator

__all__ = ["alpha_dropout", "dropout1d", "feature_alpha_dropout", "rrelu"]

GeneratorLike = np.random.Generator | int | None

SELU_NEGATIVE_SATURATION = 1.7580993408473766
"""SELU's scale * alpha, -lim SELU(x) as x -> -inf: the value alpha dropout drops to."""


def check_p(where: str, p: Any) -> None:
    """Raise unless the dropout probability ``p`` is a number in [0, 1]."""
    if isinstance(p, bool) or not isinstance(p, int | float | np.integer | np.floating):
        raise TypeError(f"{where}: p must be a number, got {type(p).__name__}")
    if not 0 <= p <= 1:
        raise ValueError(f"{where}: p must be in [0, 1], got p={p!r}")


def _keep(generator: GeneratorLike, shape: tuple[int, ...], p: float, dtype: Any) -> Array:
    """1 (kept, with probability 1 - p) or 0, of ``shape`` and ``dtype``, as ``dropout``
    draws its mask."""
    rng = as_generator(generator)
    return (rng.random(shape, dtype=np.float32) >= p).astype(dtype)


def dropout1d(
    input: Any,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: GeneratorLike = None,
) -> Tensor:
    """Zero whole channels of sequences with probability ``p`` and scale the rest by
    1 / (1 - p); the identity when not ``training``.

    Parameters
    ----------
    input : Tensor of shape (N, C, L) or (C, L)
        One draw per sample and channel, or per channel.
    p : float in [0, 1], default=0.5
        The probability that a channel is zeroed.
    training : bool, default=True
    inplace : bool, default=False
        True: ``input`` itself is changed and returned, as in PyTorch (recorded under grad
        mode like ``Tensor.relu_``, refused for a leaf that requires grad).
    generator : numpy.random.Generator or int, optional
        Source of the mask (None: the default generator).

    Returns
    -------
    Tensor of the input's shape

    Raises
    ------
    ValueError
        If ``p`` lies outside [0, 1] or the input is not 2-d or 3-d.

    Notes
    -----
    y[n, c, :] = x[n, c, :] * m[n, c] / (1 - p), m[n, c] = 1 with probability 1 - p, else 0;
    dy/dx = m / (1 - p).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import dropout1d
    >>> y = dropout1d(cr.ones(1, 4, 3), 0.5, generator=0)
    >>> sorted({float(v) for v in y.numpy().ravel()})
    [0.0, 2.0]
    """
    check_p("dropout1d", p)
    x = as_tensor(input)
    if x.ndim not in (2, 3):
        raise ValueError(
            f"dropout1d: expected input of shape (N, C, L) or (C, L), got shape {x.shape}; "
            f"for (N, features) input use dropout (nn.Dropout), and for images dropout2d"
        )
    if not training or p == 0:
        return x
    if inplace:
        return in_place("dropout1d", input, lambda t: dropout1d(t, p, generator=generator))
    x = floating_only(x, "dropout1d")  # as PyTorch: 1 / (1 - p) would be truncated
    if p == 1:
        return x * 0
    channels = x.shape[:-1]
    mask = _keep(generator, channels, p, x.dtype) * x.dtype.type(1 / (1 - p))
    return x * mask.reshape(*channels, 1)


def _alpha_dropout(
    x: Tensor, p: float, mask_shape: tuple[int, ...], generator: GeneratorLike
) -> Tensor:
    """``alpha_dropout`` in training, with one draw for each element of ``mask_shape``."""
    if p == 1:
        return x * 0
    keep = _keep(generator, mask_shape, p, x.dtype)
    alpha = SELU_NEGATIVE_SATURATION
    a = 1 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    # PyTorch's operations in PyTorch's order, so that the values agree to the bit given a
    # mask: b = (m - 1) * alpha * a + alpha * a * p, then y = x * (m * a) + b.
    shift = keep - 1
    shift *= alpha * a
    shift += alpha * a * p
    keep *= a
    return x * keep + shift


def alpha_dropout(
    input: Any,
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
    generator: GeneratorLike = None,
) -> Tensor:
    """Dropout for self-normalizing networks (SELU): dropped elements are set to SELU's
    negative saturation value, and an affine map keeps the mean and variance.

    Parameters
    ----------
    input : Tensor
    p : float in [0, 1], default=0.5
        The probability that an element is dropped.
    training : bool, default=False
        PyTorch's default for this function (the layer passes its own mode).
    inplace : bool, default=False
        True: ``input`` itself is changed and returned, as in PyTorch (recorded under grad
        mode like ``Tensor.relu_``, refused for a leaf that requires grad).
    generator : numpy.random.Generator or int, optional
        Source of the mask (None: the default generator).

    Returns
    -------
    Tensor of the input's shape

    Raises
    ------
    ValueError
        If ``p`` lies outside [0, 1].
    TypeError
        If the input is not floating-point while training.

    Notes
    -----
    With alpha' = 1.7580993408473766 (SELU's scale * alpha), m = 1 with probability 1 - p,
    else 0, and

        a = 1 / sqrt((alpha'**2 p + 1) (1 - p)),  b = (m - 1) alpha' a + alpha' a p,

    y = x * m * a + b: a kept element becomes a x + alpha' a p, a dropped one
    -alpha' a (1 - p). For input of mean 0 and variance 1, y has mean 0 and variance 1
    again. dy/dx = m a. With p = 1 the output is 0.

    Reference: Klambauer et al., "Self-Normalizing Neural Networks" (2017).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import alpha_dropout
    >>> y = alpha_dropout(cr.zeros(1000, dtype="float64"), 0.2, training=True, generator=0)
    >>> sorted({round(float(v), 4) for v in y.numpy()})
    [-1.2362, 0.309]
    """
    check_p("alpha_dropout", p)
    x = as_tensor(input)
    if not training or p == 0 or x.data.size == 0:
        return x
    if inplace:
        return in_place(
            "alpha_dropout", input, lambda t: alpha_dropout(t, p, True, False, generator)
        )
    x = floating_only(x, "alpha_dropout")
    return _alpha_dropout(x, float(p), x.shape, generator)


def feature_alpha_dropout(
    input: Any,
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
    generator: GeneratorLike = None,
) -> Tensor:
    """Alpha dropout of whole channels: ``alpha_dropout`` with one draw per sample and
    channel (axes 0 and 1), shared by the channel's positions.

    Parameters
    ----------
    input : Tensor of shape (N, C, ...)
        As PyTorch draws it: axis 0 is the batch and axis 1 the channels (an unbatched
        (C, D, H, W) input is read so too: one draw per (C, D) pair).
    p : float in [0, 1], default=0.5
        The probability that a channel is dropped.
    training : bool, default=False
        PyTorch's default for this function (the layer passes its own mode).
    inplace : bool, default=False
        True: ``input`` itself is changed and returned, as in PyTorch (recorded under grad
        mode like ``Tensor.relu_``, refused for a leaf that requires grad).
    generator : numpy.random.Generator or int, optional
        Source of the mask (None: the default generator).

    Returns
    -------
    Tensor of the input's shape

    Raises
    ------
    ValueError
        If ``p`` lies outside [0, 1] or the input has fewer than 2 dimensions.
    TypeError
        If the input is not floating-point while training.

    Notes
    -----
    y = x * m * a + b with m[n, c] drawn once per sample and channel, a and b as in
    ``alpha_dropout``; dy/dx = m a.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import feature_alpha_dropout
    >>> y = feature_alpha_dropout(cr.zeros(2, 3, 4), 0.5, training=True, generator=0)
    >>> bool((y.numpy().min(axis=2) == y.numpy().max(axis=2)).all())  # whole channels
    True
    """
    check_p("feature_alpha_dropout", p)
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(
            f"feature_alpha_dropout: expected input of at least 2 dimensions (N, C, ...), "
            f"got shape {x.shape}; for single features use alpha_dropout"
        )
    if not training or p == 0 or x.data.size == 0:
        return x
    if inplace:
        return in_place(
            "feature_alpha_dropout",
            input,
            lambda t: feature_alpha_dropout(t, p, True, False, generator),
        )
    x = floating_only(x, "feature_alpha_dropout")
    mask_shape = x.shape[:2] + (1,) * (x.ndim - 2)
    return _alpha_dropout(x, float(p), mask_shape, generator)


def check_bounds(where: str, lower: Any, upper: Any) -> None:
    """Raise unless ``lower`` and ``upper``, the range of ``rrelu``'s slopes, are numbers with
    lower <= upper."""
    for name, value in (("lower", lower), ("upper", upper)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise TypeError(f"{where}: {name} must be a number, got {type(value).__name__}")
    if not lower <= upper:
        raise ValueError(f"{where}: expected lower <= upper, got lower={lower!r}, upper={upper!r}")


def rrelu(
    input: Any,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
    generator: GeneratorLike = None,
) -> Tensor:
    """Randomized leaky ReLU: while training, each element at or below 0 is multiplied by a
    slope drawn uniformly from [lower, upper]; otherwise the leaky ReLU of slope
    (lower + upper) / 2.

    Parameters
    ----------
    input : Tensor
        Floating-point, of any shape.
    lower, upper : float, default=1/8 and 1/3
        The range of the random slopes, lower <= upper.
    training : bool, default=False
        PyTorch's default for this function (the layer passes its own mode).
    inplace : bool, default=False
        True: ``input`` itself is changed and returned, as in PyTorch (recorded under grad
        mode like ``Tensor.relu_``, refused for a leaf that requires grad).
    generator : numpy.random.Generator or int, optional
        Source of the slopes (None: the default generator).

    Returns
    -------
    Tensor of the input's shape

    Raises
    ------
    ValueError
        If lower > upper.
    TypeError
        If the input is not floating-point.

    Notes
    -----
    Training: y = x where x > 0, else r x with r ~ U(lower, upper) drawn for each element
    (one draw per element of the input, used where x <= 0); dy/dx = 1 where x > 0, else r,
    the slope used. Evaluation: y = x where x > 0, else s x with s = (lower + upper) / 2;
    dy/dx = 1 where x > 0, else s.

    NOTE: at x = 0 the derivative is the slope (r, or s), as in PyTorch.

    Reference: Xu et al., "Empirical Evaluation of Rectified Activations in Convolutional
    Network" (2015).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.functional import rrelu
    >>> rrelu(cr.tensor([-2.0, 3.0]), 0.1, 0.3).tolist()    # slope (0.1 + 0.3) / 2
    [-0.4000000059604645, 3.0]
    >>> y = rrelu(cr.tensor([-2.0, 3.0]), 0.1, 0.3, training=True, generator=0)
    >>> -0.6 <= y[0].item() <= -0.2, y[1].item()
    (True, 3.0)
    """
    check_bounds("rrelu", lower, upper)
    if inplace:
        return in_place(
            "rrelu", input, lambda t: rrelu(t, lower, upper, training, generator=generator)
        )
    x = floating_only(input, "rrelu")
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    rng = as_generator(generator)
    slopes = rng.uniform(lower, upper, x.shape).astype(x.dtype)
    noise = np.where(x.data <= 0, slopes, x.dtype.type(1))
    return x * noise
