"""``chainrule.distributions``: probability distributions with sampling, log-densities and
gradients, as PyTorch's ``torch.distributions`` (for VAEs, policy gradients, metric
learning).

``Normal``, ``Uniform`` (both with reparametrized ``rsample``), ``Bernoulli`` and
``Categorical``, each with ``sample``, ``log_prob``, ``entropy``, ``mean``, ``variance``,
``batch_shape`` and PyTorch's checks of parameters and values; ``kl_divergence`` between two
of one family. Draws come from chainrule's generators (``generator=`` on ``sample`` and
``rsample``, else the one ``cr.manual_seed`` seeds); the numbers differ from PyTorch's, the
values and gradients of the formulas do not.

>>> import chainrule as cr
>>> from chainrule.distributions import Normal, kl_divergence
>>> mu = cr.tensor([0.5], dtype=cr.float64, requires_grad=True)
>>> kl = kl_divergence(Normal(mu, 1.0), Normal(0.0, 1.0)).sum()
>>> kl.backward()
>>> kl.item(), mu.grad
(0.125, tensor([0.5000], dtype=float64))
"""

from __future__ import annotations

from chainrule.distributions import constraints
from chainrule.distributions.bernoulli import Bernoulli
from chainrule.distributions.categorical import Categorical
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.kl import kl_divergence, register_kl
from chainrule.distributions.normal import Normal
from chainrule.distributions.uniform import Uniform

__all__ = [
    "Bernoulli",
    "Categorical",
    "Distribution",
    "Normal",
    "Uniform",
    "constraints",
    "kl_divergence",
    "register_kl",
]
