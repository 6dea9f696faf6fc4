"""The continuous uniform distribution, as PyTorch's ``torch.distributions.Uniform``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.distributions import constraints
from chainrule.distributions.distribution import (
    Distribution,
    GeneratorLike,
    broadcast_all,
)
from chainrule.tensor import Tensor, rand


class Uniform(Distribution):
    """The uniform distribution on [low, high), as PyTorch's ``Uniform``.

    Parameters
    ----------
    low : float or Tensor
        The lower end (included).
    high : float or Tensor
        The upper end (excluded), > low. ``low`` and ``high`` broadcast together into the
        ``batch_shape`` (() when both are numbers).
    validate_args : bool, optional
        Check that low < high, and that values given to ``log_prob`` and ``cdf`` lie in
        [low, high]; default True (see ``Distribution``).

    Notes
    -----
    .. math::

        \\log p(x) = \\log[\\text{low} \\le x < \\text{high}] - \\log(\\text{high} -
        \\text{low}), \\qquad H = \\log(\\text{high} - \\text{low})

    ``rsample`` draws u ~ U[0, 1) and returns low + u (high - low), differentiable in both
    ends.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.distributions import Uniform
    >>> d = Uniform(cr.tensor([0.0, -1.0]), cr.tensor([2.0, 1.0]))
    >>> d.mean, d.entropy()
    (tensor([1., 0.]), tensor([0.6931, 0.6931]))
    >>> bool(((d.sample((100,)) >= d.low) & (d.sample((100,)) < d.high)).all())
    True
    """

    has_rsample = True

    def __init__(self, low: Any, high: Any, validate_args: bool | None = None) -> None:
        self.low, self.high = broadcast_all("Uniform", low, high)
        super().__init__(self.low.shape, validate_args=validate_args)

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:
        """low < high (each checked against the other)."""
        return {"low": constraints.less_than(self.high), "high": constraints.greater_than(self.low)}

    @property
    def support(self) -> constraints.Constraint:
        """[low, high] (PyTorch's closed interval)."""
        return constraints.interval(self.low, self.high)

    @property
    def mean(self) -> Tensor:
        """(low + high) / 2."""
        return (self.high + self.low) / 2

    @property
    def mode(self) -> Tensor:
        """NaN: every point of [low, high) is as likely."""
        return math.nan * self.high

    @property
    def stddev(self) -> Tensor:
        """(high - low) / sqrt(12)."""
        return (self.high - self.low) / 12**0.5

    @property
    def variance(self) -> Tensor:
        """(high - low)**2 / 12."""
        return (self.high - self.low).pow(2) / 12

    def rsample(
        self, sample_shape: Sequence[int] = (), *, generator: GeneratorLike = None
    ) -> Tensor:
        """low + u (high - low) with u ~ U[0, 1) of shape ``sample_shape + batch_shape``,
        differentiable in low and high.

        Parameters
        ----------
        sample_shape : tuple of int, default=()
        generator : numpy.random.Generator or int, optional
            Where u comes from; by default the generator ``cr.manual_seed`` seeds.
        """
        shape = self._extended_shape(sample_shape)
        u = rand(size=shape, generator=generator, dtype=self.low.dtype)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value: Tensor) -> Tensor:
        """-log(high - low) inside [low, high), -inf outside (with ``validate_args=False``;
        the check refuses values outside [low, high]).

        Parameters
        ----------
        value : Tensor
        """
        if self._validate_args:
            self._validate_sample(value)
        x = value.data if isinstance(value, Tensor) else np.asarray(value)
        inside = (self.low.data <= x) & (self.high.data > x)
        with np.errstate(divide="ignore"):
            log_inside = np.log(inside.astype(self.low.dtype))
        return log_inside - (self.high - self.low).log()

    def cdf(self, value: Tensor) -> Tensor:
        """(x - low) / (high - low), clamped to [0, 1].

        Parameters
        ----------
        value : Tensor
        """
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(min=0, max=1)

    def icdf(self, value: Tensor) -> Tensor:
        """low + value (high - low).

        Parameters
        ----------
        value : Tensor
        """
        return value * (self.high - self.low) + self.low

    def entropy(self) -> Tensor:
        """log(high - low)."""
        return (self.high - self.low).log()
