"""``chainrule.special``: PyTorch's ``torch.special`` functions, with gradients.

The special functions with derivatives of their own (``erfinv``, ``erfc``, ``erfcx``,
``gammaln``, ``digamma``, ``polygamma``, ``i0``, ``i0e``, ``i1``, ``i1e``, ``ndtr``,
``log_ndtr``, ``ndtri``, ``entr``) are in ``chainrule.autograd.ops.special``, their values
from ``scipy.special``; the rest are chainrule's functions of the same meaning under
``torch.special``'s names (``expit`` is ``sigmoid``, ``gammaln`` is ``lgamma``, ``psi`` is
``digamma``).

>>> import chainrule as cr
>>> x = cr.tensor([0.25, 0.5], dtype=cr.float64, requires_grad=True)
>>> cr.special.erfinv(x).sum().backward()
>>> x.grad  # sqrt(pi) / 2 * exp(erfinv(x)**2)
tensor([0.9324, 1.1126], dtype=float64)
"""

from __future__ import annotations

from chainrule.autograd.ops.activations import log_softmax, logsumexp, softmax
from chainrule.autograd.ops.activations import sigmoid as expit
from chainrule.autograd.ops.elementwise import log1p
from chainrule.autograd.ops.more import erf, expm1

# round like Python's, kept out of __all__ (as in chainrule itself) so that a star import
# leaves the builtin alone.
from chainrule.autograd.ops.more import round as round
from chainrule.autograd.ops.special import (
    digamma,
    entr,
    erfc,
    erfcx,
    erfinv,
    i0,
    i0e,
    i1,
    i1e,
    log_ndtr,
    multigammaln,
    ndtr,
    ndtri,
    polygamma,
    xlog1py,
)
from chainrule.autograd.ops.special import digamma as psi
from chainrule.autograd.ops.special import lgamma as gammaln
from chainrule.autograd.ops.trig import exp2, logit, sinc, xlogy

__all__ = [
    "digamma",
    "entr",
    "erf",
    "erfc",
    "erfcx",
    "erfinv",
    "exp2",
    "expit",
    "expm1",
    "gammaln",
    "i0",
    "i0e",
    "i1",
    "i1e",
    "log1p",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "multigammaln",
    "ndtr",
    "ndtri",
    "polygamma",
    "psi",
    "sinc",
    "softmax",
    "xlog1py",
    "xlogy",
]
