"""The categorical distribution, as PyTorch's ``torch.distributions.Categorical``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from chainrule.distributions import constraints
from chainrule.distributions.bernoulli import clamp_probs
from chainrule.distributions.distribution import Distribution, GeneratorLike
from chainrule.tensor import Tensor, as_generator, as_tensor


class Categorical(Distribution):
    """The distribution over the classes 0, ..., K - 1 with probabilities ``probs`` (or
    ``logits``, log-probabilities up to a constant) along the last axis, as PyTorch's
    ``Categorical``; given by one of them, not both.

    Parameters
    ----------
    probs : Tensor of shape (..., K), optional
        Nonnegative weights, normalized to sum to 1 along the last axis.
    logits : Tensor of shape (..., K), optional
        Unnormalized log-probabilities, normalized as logits - logsumexp(logits). The
        leading axes of the one given are the ``batch_shape``; the other parameter is
        computed when first read (probs = softmax(logits), logits = log(probs clamped to
        [eps, 1 - eps])).
    validate_args : bool, optional
        Check the normalized ``probs`` (>= 0, summing to 1) or ``logits`` (no NaN), and
        that values given to ``log_prob`` are classes 0, ..., K - 1; default True (see
        ``Distribution``).

    Notes
    -----
    .. math::

        \\log p(k) = \\text{logits}_k - \\log\\sum_j e^{\\text{logits}_j}, \\qquad
        H = -\\sum_k p_k \\log p_k

    (the terms of classes of probability 0 are 0; there is no ``rsample``).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.distributions import Categorical
    >>> d = Categorical(probs=cr.tensor([[1.0, 3.0], [1.0, 1.0]], dtype=cr.float64))
    >>> d.batch_shape, d.probs
    ((2,), tensor([[0.2500, 0.7500],
            [0.5000, 0.5000]], dtype=float64))
    >>> d.log_prob(cr.tensor([1, 0]))
    tensor([-0.2877, -0.6931], dtype=float64)
    >>> d.sample((4,)).shape
    (4, 2)
    """

    has_enumerate_support = True

    def __init__(
        self, probs: Any = None, logits: Any = None, validate_args: bool | None = None
    ) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        name = "probs" if probs is not None else "logits"
        given = as_tensor(probs if probs is not None else logits)
        if given.ndim < 1:
            raise ValueError(f"`{name}` parameter must be at least one-dimensional.")
        # NaN for rows that sum to 0 or hold +inf logits, which the check then refuses
        with np.errstate(invalid="ignore", divide="ignore"):
            if probs is not None:
                self.probs = given / given.sum(-1, keepdims=True)
                self._param = self.probs
            else:
                self.logits = given - given.logsumexp(-1, keepdims=True)
                self._param = self.logits
        self._num_events = given.shape[-1]
        batch_shape = given.shape[:-1] if given.ndim > 1 else ()
        super().__init__(batch_shape, validate_args=validate_args)

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:
        """probs on the simplex, logits real vectors."""
        return {"probs": constraints.simplex, "logits": constraints.real_vector}

    @property
    def support(self) -> constraints.Constraint:
        """The integers 0, ..., K - 1."""
        return constraints.integer_interval(0, self._num_events - 1)

    @cached_property
    def logits(self) -> Tensor:
        """log(probs), the probabilities clamped to [eps, 1 - eps] first."""
        return clamp_probs(self.probs).log()

    @cached_property
    def probs(self) -> Tensor:
        """softmax(logits) along the last axis."""
        return self.logits.softmax(-1)

    @property
    def param_shape(self) -> tuple[int, ...]:
        """The shape of the parameter given, (..., K)."""
        return self._param.shape

    @property
    def mean(self) -> Tensor:
        """NaN (classes have no mean), of shape ``batch_shape``."""
        return Tensor._from_op(np.full(self.batch_shape, math.nan, self._param.dtype), None)

    @property
    def mode(self) -> Tensor:
        """The most likely class (int64)."""
        return self.probs.argmax(-1)

    @property
    def variance(self) -> Tensor:
        """NaN, of shape ``batch_shape``."""
        return self.mean

    def sample(
        self, sample_shape: Sequence[int] = (), *, generator: GeneratorLike = None
    ) -> Tensor:
        """Classes (int64) of shape ``sample_shape + batch_shape``, without gradient.

        Parameters
        ----------
        sample_shape : tuple of int, default=()
        generator : numpy.random.Generator or int, optional
            Where the draws come from; by default the generator ``cr.manual_seed`` seeds.
        """
        shape = self._extended_shape(sample_shape)
        cumulative = np.cumsum(self.probs.data.astype(np.float64), axis=-1)
        cumulative /= cumulative[..., -1:]
        # u in (0, 1] and the count of the cumulative sums below it: class k is drawn for
        # u in (c_{k-1}, c_k], so a class of probability 0 never is
        u = 1.0 - as_generator(generator).random(shape)
        drawn = (u[..., None] > cumulative).sum(-1)
        return Tensor._from_op(np.minimum(drawn, self._num_events - 1).astype(np.int64), None)

    def log_prob(self, value: Tensor) -> Tensor:
        """logits[value], the normalized log-probability of each class in ``value``.

        Parameters
        ----------
        value : Tensor
            Classes, of a shape that broadcasts with ``batch_shape``.
        """
        if self._validate_args:
            self._validate_sample(value)
        index = np.asarray(value.data if isinstance(value, Tensor) else value).astype(np.int64)
        shape = np.broadcast_shapes(index.shape + (1,), self.logits.shape)
        index = np.broadcast_to(index[..., None], shape)[..., :1]
        return self.logits.expand(*shape).gather(-1, Tensor._from_op(index, None)).squeeze(-1)

    def entropy(self) -> Tensor:
        """-sum_k p_k log p_k along the last axis (logits clamped to the dtype's lowest
        finite number, so that classes of probability 0 add 0)."""
        lowest = float(np.finfo(self.logits.dtype).min)
        return -(self.logits.clamp(min=lowest) * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """The classes 0, ..., K - 1 (int64) along a new first axis, followed by the batch
        axes.

        Parameters
        ----------
        expand : bool, default=True
            Repeat the classes over the batch shape; else keep those axes of size 1.
        """
        k = self._num_events
        values = np.arange(k, dtype=np.int64).reshape((-1,) + (1,) * len(self.batch_shape))
        if expand:
            values = np.broadcast_to(values, (k, *self.batch_shape))
        return Tensor._from_op(np.array(values), None)
