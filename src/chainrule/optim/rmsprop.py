"""RMSprop: steps divided by a running root mean square of the gradient."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from chainrule.backend import np
from chainrule.optim.optimizer import (
    Closure,
    Optimizer,
    ParamsT,
    check_backend_options,
    check_nonnegative,
    effective_grad,
    lerp_,
)


class RMSprop(Optimizer):
    r"""RMSprop: divide each step by the root of a running mean of squared gradients.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters to optimize, or parameter groups (see ``Optimizer``).
    lr : float, default=1e-2
        Learning rate, >= 0.
    alpha : float, default=0.99
        Smoothing constant of the running mean of g**2, >= 0.
    eps : float, default=1e-8
        Added to the denominator for numerical stability, >= 0.
    weight_decay : float, default=0
        L2 penalty added to the gradient, >= 0.
    momentum : float, default=0
        Momentum factor, >= 0.
    centered : bool, default=False
        Divide by an estimate of the gradient's variance (subtract the squared running mean
        of g) instead of its raw second moment.
    maximize : bool, default=False
        Ascend the objective instead of descending it.
    foreach, capturable : optional
        PyTorch's kernel switches, accepted so that PyTorch code runs unchanged, and ignored.
    differentiable : bool, default=False
        Must be False: the update runs in place, outside autograd.

    Raises
    ------
    ValueError
        If lr, alpha, eps, weight_decay or momentum is negative.

    Notes
    -----
    For each parameter w with gradient g (PyTorch's algorithm; note eps sits outside the
    root, unlike in some other libraries):

    1. g = -g if maximize; g = g + weight_decay * w.
    2. v = alpha * v + (1 - alpha) * g**2.
    3. If centered: a = alpha * a + (1 - alpha) * g and d = sqrt(v - a**2) + eps;
       else d = sqrt(v) + eps.
    4. With momentum mu > 0: b = mu * b + g / d and w = w - lr * b;
       else w = w - lr * g / d.

    State: ``step``, ``square_avg`` (v), and ``momentum_buffer`` (b) with momentum,
    ``grad_avg`` (a) when centered.

    Reference: Hinton, Neural Networks for Machine Learning, lecture 6e (2012).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import RMSprop
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = RMSprop([w], lr=0.01, alpha=0.75)
    >>> (w ** 2).sum().backward()
    >>> opt.step()                    # g / sqrt(0.25 * g**2) = 2 sign(g)
    >>> w
    tensor([ 0.9800, -1.9800], requires_grad=True)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_backend_options(type(self).__name__, differentiable)
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: Mapping[str, Any]) -> None:
        for name in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            check_nonnegative("RMSprop", name, group[name])

    def step(self, closure: Closure | None = None) -> Any:
        """Take one step for every parameter that has a gradient.

        Parameters
        ----------
        closure : callable, optional
            Recomputes the loss (and gradients) and returns it; its result is returned.
        """
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            momentum, centered = group["momentum"], group["centered"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = np.zeros_like(p.data)
                # Also when momentum or centering is turned on midway, as a schedule may do.
                if momentum > 0 and "momentum_buffer" not in state:
                    state["momentum_buffer"] = np.zeros_like(p.data)
                if centered and "grad_avg" not in state:
                    state["grad_avg"] = np.zeros_like(p.data)
                state["step"] += 1
                grad = effective_grad(p, group["weight_decay"], group["maximize"])
                square_avg = state["square_avg"]
                scratch = np.empty_like(square_avg)
                square_avg *= alpha
                np.multiply(grad, 1 - alpha, out=scratch)
                scratch *= grad
                square_avg += scratch
                if centered:
                    grad_avg = state["grad_avg"]
                    lerp_(grad_avg, grad, 1 - alpha, scratch)
                    avg = np.multiply(grad_avg, grad_avg, out=scratch)
                    # a**2 overflows only where v has (v >= a**2): v - a**2 is inf there,
                    # as PyTorch's fused addcmul gives, not inf - inf = NaN. The sum of
                    # squares (BLAS, one read) is finite unless some v is inf or NaN (or
                    # merely large, where the mending below changes nothing).
                    if not math.isfinite(np.vdot(square_avg, square_avg)):
                        avg[np.isinf(square_avg)] = 0
                    np.subtract(square_avg, avg, out=avg)
                    np.sqrt(avg, out=avg)
                else:
                    avg = np.sqrt(square_avg, out=scratch)
                avg += eps
                if momentum > 0:
                    buf = state["momentum_buffer"]
                    buf *= momentum
                    np.divide(grad, avg, out=avg)
                    buf += avg
                    np.multiply(buf, -lr, out=avg)
                else:
                    np.divide(grad, avg, out=avg)
                    avg *= -lr
                p.data += avg
        return loss
