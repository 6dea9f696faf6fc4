"""The Bernoulli distribution, as PyTorch's ``torch.distributions.Bernoulli``."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from chainrule.autograd.ops import broadcast_tensors
from chainrule.distributions import constraints
from chainrule.distributions.distribution import (
    Distribution,
    GeneratorLike,
    broadcast_all,
)
from chainrule.nn.functional import binary_cross_entropy_with_logits
from chainrule.tensor import Tensor, as_generator


def clamp_probs(probs: Tensor) -> Tensor:
    """``probs`` clamped to [eps, 1 - eps], eps the machine epsilon of their dtype (as
    PyTorch's ``clamp_probs``), so that their logits are finite."""
    eps = float(np.finfo(probs.dtype).eps)
    return probs.clamp(min=eps, max=1 - eps)


class Bernoulli(Distribution):
    """The Bernoulli distribution: 1 with probability ``probs``, else 0, as PyTorch's
    ``Bernoulli``; given by ``probs`` or by ``logits`` (log-odds), not both.

    Parameters
    ----------
    probs : float or Tensor, optional
        The probability of 1, in [0, 1].
    logits : float or Tensor, optional
        The log-odds log(p / (1 - p)); its shape (or that of ``probs``) is the
        ``batch_shape``. The other parameter is computed when first read:
        probs = sigmoid(logits), logits = log(p') - log(1 - p') with p' the probabilities
        clamped to [eps, 1 - eps].
    validate_args : bool, optional
        Check ``probs`` (in [0, 1]) or ``logits`` (not NaN), and that values given to
        ``log_prob`` are 0 or 1; default True (see ``Distribution``).

    Notes
    -----
    .. math::

        \\log p(x) = x \\log p + (1 - x) \\log(1 - p)
        = -\\mathrm{BCEWithLogits}(\\text{logits}, x), \\qquad
        H = \\mathrm{BCEWithLogits}(\\text{logits}, p)

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.distributions import Bernoulli
    >>> d = Bernoulli(logits=cr.tensor([0.0, 2.0], dtype=cr.float64))
    >>> d.probs
    tensor([0.5000, 0.8808], dtype=float64)
    >>> d.log_prob(cr.tensor([1.0, 0.0], dtype=cr.float64))
    tensor([-0.6931, -2.1269], dtype=float64)
    """

    has_enumerate_support = True

    def __init__(
        self, probs: Any = None, logits: Any = None, validate_args: bool | None = None
    ) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        given = probs if probs is not None else logits
        (param,) = broadcast_all("Bernoulli", given)
        if probs is not None:
            self.probs = param
        else:
            self.logits = param
        self._param = param
        super().__init__(param.shape, validate_args=validate_args)

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:
        """probs in [0, 1], logits real."""
        return {"probs": constraints.unit_interval, "logits": constraints.real}

    @property
    def support(self) -> constraints.Constraint:
        """{0, 1}."""
        return constraints.boolean

    @cached_property
    def logits(self) -> Tensor:
        """log(p / (1 - p)), the probabilities clamped to [eps, 1 - eps] first."""
        clamped = clamp_probs(self.probs)
        return clamped.log() - (-clamped).log1p()

    @cached_property
    def probs(self) -> Tensor:
        """sigmoid(logits)."""
        return self.logits.sigmoid()

    @property
    def param_shape(self) -> tuple[int, ...]:
        """The shape of the parameter given."""
        return self._param.shape

    @property
    def mean(self) -> Tensor:
        """probs."""
        return self.probs

    @property
    def mode(self) -> Tensor:
        """1 where probs > 1/2, 0 where below, NaN at 1/2 (no gradient)."""
        p = self.probs.data
        mode = np.where(p == 0.5, np.nan, (p >= 0.5).astype(p.dtype)).astype(p.dtype)
        return Tensor._from_op(mode, None)

    @property
    def variance(self) -> Tensor:
        """probs (1 - probs)."""
        return self.probs * (1 - self.probs)

    def sample(
        self, sample_shape: Sequence[int] = (), *, generator: GeneratorLike = None
    ) -> Tensor:
        """0/1 draws of shape ``sample_shape + batch_shape``, in the dtype of probs, without
        gradient.

        Parameters
        ----------
        sample_shape : tuple of int, default=()
        generator : numpy.random.Generator or int, optional
            Where the draws come from; by default the generator ``cr.manual_seed`` seeds.
        """
        shape = self._extended_shape(sample_shape)
        p = self.probs.data
        drawn = as_generator(generator).random(shape) < np.broadcast_to(p, shape)
        return Tensor._from_op(drawn.astype(p.dtype), None)

    def log_prob(self, value: Tensor) -> Tensor:
        """x log p + (1 - x) log(1 - p), computed from the logits.

        Parameters
        ----------
        value : Tensor
        """
        if self._validate_args:
            self._validate_sample(value)
        logits, target = broadcast_all("Bernoulli.log_prob", self.logits, value)
        # PyTorch's type promotion: float64 values score float32 logits in float64
        dtype = np.promote_types(logits.dtype, target.dtype)
        if dtype.kind != "f":
            dtype = logits.dtype
        logits, target = logits.to(dtype), target.to(dtype)
        return -binary_cross_entropy_with_logits(logits, target, reduction="none")

    def entropy(self) -> Tensor:
        """-p log p - (1 - p) log(1 - p), computed from the logits."""
        logits, probs = broadcast_tensors(self.logits, self.probs)
        return binary_cross_entropy_with_logits(logits, probs, reduction="none")

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """The values 0 and 1 along a new first axis, followed by the batch axes.

        Parameters
        ----------
        expand : bool, default=True
            Repeat the values over the batch shape; else keep those axes of size 1.
        """
        values = np.arange(2, dtype=self._param.dtype).reshape((-1,) + (1,) * len(self.batch_shape))
        if expand:
            values = np.broadcast_to(values, (2, *self.batch_shape))
        return Tensor._from_op(np.array(values), None)
