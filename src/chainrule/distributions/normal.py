"""The normal distribution, as PyTorch's ``torch.distributions.Normal``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from chainrule.distributions import constraints
from chainrule.distributions.distribution import (
    Distribution,
    GeneratorLike,
    broadcast_all,
)
from chainrule.tensor import Tensor, randn


class Normal(Distribution):
    """The normal (Gaussian) distribution N(loc, scale**2), as PyTorch's ``Normal``.

    Parameters
    ----------
    loc : float or Tensor
        The mean mu.
    scale : float or Tensor
        The standard deviation sigma, > 0. ``loc`` and ``scale`` broadcast together, and
        their shape is the ``batch_shape`` (() when both are numbers; numbers take the
        dtype of the tensor beside them, else the default dtype).
    validate_args : bool, optional
        Check that loc is not NaN and scale > 0, and the values given to ``log_prob`` and
        ``cdf``; default True (see ``Distribution``).

    Notes
    -----
    .. math::

        \\log p(x) = -\\frac{(x - \\mu)^2}{2\\sigma^2} - \\log\\sigma - \\log\\sqrt{2\\pi},
        \\qquad H = \\tfrac12 + \\tfrac12\\log(2\\pi) + \\log\\sigma

    ``rsample`` draws eps ~ N(0, 1) and returns mu + eps * sigma, whose gradient is 1 for
    mu and eps for sigma (the reparametrization trick of variational autoencoders).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.distributions import Normal
    >>> loc = cr.tensor([0.0, 1.0], dtype=cr.float64, requires_grad=True)
    >>> d = Normal(loc, 2.0)
    >>> d.batch_shape, d.sample((5,)).shape
    ((2,), (5, 2))
    >>> d.log_prob(cr.tensor([0.0, 0.0], dtype=cr.float64))
    tensor([-1.6121, -1.7371], dtype=float64, grad_fn=<SubBackward>)
    >>> d.rsample((3,)).sum().backward()
    >>> loc.grad
    tensor([3., 3.], dtype=float64)
    """

    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all("Normal", loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:
        """loc real, scale positive."""
        return {"loc": constraints.real, "scale": constraints.positive}

    @property
    def support(self) -> constraints.Constraint:
        """The real numbers."""
        return constraints.real

    @property
    def mean(self) -> Tensor:
        """loc."""
        return self.loc

    @property
    def mode(self) -> Tensor:
        """loc."""
        return self.loc

    @property
    def stddev(self) -> Tensor:
        """scale."""
        return self.scale

    @property
    def variance(self) -> Tensor:
        """scale**2."""
        return self.scale.pow(2)

    def rsample(
        self, sample_shape: Sequence[int] = (), *, generator: GeneratorLike = None
    ) -> Tensor:
        """loc + eps * scale with eps ~ N(0, 1) of shape ``sample_shape + batch_shape``,
        differentiable in loc and scale.

        Parameters
        ----------
        sample_shape : tuple of int, default=()
        generator : numpy.random.Generator or int, optional
            Where eps comes from; by default the generator ``cr.manual_seed`` seeds.
        """
        shape = self._extended_shape(sample_shape)
        eps = randn(size=shape, generator=generator, dtype=self.loc.dtype)
        return self.loc + eps * self.scale

    def log_prob(self, value: Tensor) -> Tensor:
        """-(x - loc)**2 / (2 scale**2) - log(scale) - log(sqrt(2 pi)).

        Parameters
        ----------
        value : Tensor
        """
        if self._validate_args:
            self._validate_sample(value)
        var = self.scale**2
        return (
            -((value - self.loc) ** 2) / (2 * var)
            - self.scale.log()
            - math.log(math.sqrt(2 * math.pi))
        )

    def cdf(self, value: Tensor) -> Tensor:
        """(1 + erf((x - loc) / (scale sqrt 2))) / 2.

        Parameters
        ----------
        value : Tensor
        """
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + ((value - self.loc) * self.scale.reciprocal() / math.sqrt(2)).erf())

    def icdf(self, value: Tensor) -> Tensor:
        """loc + scale sqrt(2) erfinv(2 value - 1).

        Parameters
        ----------
        value : Tensor
        """
        return self.loc + self.scale * (2 * value - 1).erfinv() * math.sqrt(2)

    def entropy(self) -> Tensor:
        """1/2 + log(2 pi)/2 + log(scale)."""
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()
