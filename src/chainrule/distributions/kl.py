"""Kullback-Leibler divergences between distributions, as PyTorch's
``torch.distributions.kl_divergence``, and ``register_kl`` to add a pair."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from chainrule.autograd.ops import softplus, where
from chainrule.distributions.bernoulli import Bernoulli
from chainrule.distributions.categorical import Categorical
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.normal import Normal
from chainrule.distributions.uniform import Uniform
from chainrule.tensor import Tensor

KLFunction = Callable[[Any, Any], Tensor]
F = TypeVar("F", bound=KLFunction)

_KL_REGISTRY: dict[tuple[type, type], KLFunction] = {}


def register_kl(type_p: type, type_q: type) -> Callable[[F], F]:
    """A decorator that makes ``kl_divergence(p, q)`` call the decorated function for
    ``p`` of ``type_p`` and ``q`` of ``type_q`` (or of their subclasses; the pair nearest
    in the classes' hierarchies wins).

    Parameters
    ----------
    type_p, type_q : type
        Subclasses of ``Distribution``.

    Examples
    --------
    >>> from chainrule.distributions import Distribution, Normal
    >>> class Standard(Normal):
    ...     pass
    >>> @register_kl(Standard, Standard)
    ... def _kl_standard(p, q):
    ...     return p.loc * 0
    >>> kl_divergence(Standard(0.0, 1.0), Standard(0.0, 1.0))
    tensor(0.)
    """
    for given in (type_p, type_q):
        if not (isinstance(given, type) and issubclass(given, Distribution)):
            raise TypeError(f"register_kl: expected subclasses of Distribution, got {given!r}")

    def decorate(function: F) -> F:
        _KL_REGISTRY[type_p, type_q] = function
        return function

    return decorate


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p || q) = E_p[log p(X) - log q(X)], over the broadcast batch shapes of ``p`` and
    ``q``, with gradients for both sets of parameters.

    Parameters
    ----------
    p, q : Distribution
        Of a registered pair: Normal-Normal, Bernoulli-Bernoulli, Categorical-Categorical,
        Uniform-Uniform (or a pair added by ``register_kl``).

    Returns
    -------
    Tensor
        Of the broadcast ``batch_shape``; inf where q gives probability 0 to what p does
        not.

    Raises
    ------
    NotImplementedError
        For a pair without a formula, naming both types (as PyTorch).

    Notes
    -----
    .. math::

        \\mathrm{KL}(N(\\mu_1, \\sigma_1^2) \\| N(\\mu_2, \\sigma_2^2))
        = \\tfrac12\\left(r + \\left(\\frac{\\mu_1 - \\mu_2}{\\sigma_2}\\right)^2 - 1
        - \\log r\\right),\\ r = (\\sigma_1 / \\sigma_2)^2

        \\mathrm{KL}(\\mathrm{Bern}(p) \\| \\mathrm{Bern}(q))
        = p \\log\\frac{p}{q} + (1 - p)\\log\\frac{1 - p}{1 - q}, \\qquad
        \\mathrm{KL}(\\mathrm{Cat}(p) \\| \\mathrm{Cat}(q)) = \\sum_k p_k \\log\\frac{p_k}{q_k}

        \\mathrm{KL}(U[a_1, b_1] \\| U[a_2, b_2]) = \\log\\frac{b_2 - a_2}{b_1 - a_1}
        \\text{ if } [a_1, b_1] \\subseteq [a_2, b_2], \\text{ else } \\infty

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.distributions import Normal, kl_divergence
    >>> kl_divergence(Normal(0.0, 1.0), Normal(1.0, 2.0))
    tensor(0.4431)
    """
    found = _lookup(type(p), type(q))
    if found is None:
        raise NotImplementedError(
            f"No KL(p || q) is implemented for p type {type(p).__name__} and q type "
            f"{type(q).__name__}"
        )
    return found(p, q)


def _lookup(type_p: type, type_q: type) -> KLFunction | None:
    """The function registered for the nearest pair of base classes, if any."""
    matches = [
        (type_p.__mro__.index(a) + type_q.__mro__.index(b), function)
        for (a, b), function in _KL_REGISTRY.items()
        if issubclass(type_p, a) and issubclass(type_q, b)
    ]
    return min(matches, key=lambda match: match[0])[1] if matches else None


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> Tensor:
    var_ratio = (p.scale / q.scale).pow(2)
    t1 = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    # PyTorch's masks: inf where q rules out what p allows, 0 where p puts no mass (with
    # zero gradient there, as PyTorch's in-place fills give)
    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t1 = where(q.probs.data == 0, math.inf, t1)
    t1 = where(p.probs.data == 0, 0.0, t1)
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    t2 = where(q.probs.data == 1, math.inf, t2)
    t2 = where(p.probs.data == 1, 0.0, t2)
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> Tensor:
    t = p.probs * (p.logits - q.logits)
    t = where(q.probs.data == 0, math.inf, t)
    t = where(p.probs.data == 0, 0.0, t)
    return t.sum(-1)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p: Uniform, q: Uniform) -> Tensor:
    result = ((q.high - q.low) / (p.high - p.low)).log()
    outside = (q.low.data > p.low.data) | (q.high.data < p.high.data)
    return where(outside, math.inf, result)
