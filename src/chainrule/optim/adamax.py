"""Adamax: Adam with the second moment replaced by an exponentially weighted infinity norm."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainrule.backend import np
from chainrule.optim.optimizer import (
    Closure,
    Optimizer,
    ParamsT,
    check_backend_options,
    check_betas,
    check_nonnegative,
    effective_grad,
    lerp_,
)


class Adamax(Optimizer):
    r"""Adamax: Adam's variant that scales steps by a decaying maximum of |g| (infinity norm).

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters to optimize, or parameter groups (see ``Optimizer``).
    lr : float, default=2e-3
        Learning rate, >= 0.
    betas : tuple of float, default=(0.9, 0.999)
        Decay rates of the first moment and of the infinity norm, each in [0, 1).
    eps : float, default=1e-8
        Added to |g| for numerical stability, >= 0.
    weight_decay : float, default=0
        L2 penalty added to the gradient, >= 0.
    maximize : bool, default=False
        Ascend the objective instead of descending it.
    foreach, capturable : optional
        PyTorch's kernel switches, accepted so that PyTorch code runs unchanged, and ignored.
    differentiable : bool, default=False
        Must be False: the update runs in place, outside autograd.

    Raises
    ------
    ValueError
        If lr, eps or weight_decay is negative, or a beta lies outside [0, 1).

    Notes
    -----
    At step t (from 1), for each parameter w with gradient g (PyTorch's algorithm):

    1. g = -g if maximize; g = g + weight_decay * w.
    2. m = beta1 * m + (1 - beta1) * g.
    3. u = max(beta2 * u, |g| + eps)  (elementwise).
    4. w = w - lr / (1 - beta1**t) * m / u.

    State: ``step`` (t), ``exp_avg`` (m), ``exp_inf`` (u).

    Reference: Kingma and Ba, "Adam: A Method for Stochastic Optimization" (2015), section 7.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import Adamax
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adamax([w], lr=0.1)
    >>> (w ** 2).sum().backward()
    >>> opt.step()                    # m / u = 0.1 g / |g|, bias-corrected by 1 / 0.1
    >>> [round(v, 6) for v in w.tolist()]
    [0.9, -1.9]
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_backend_options(type(self).__name__, differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: Mapping[str, Any]) -> None:
        check_nonnegative("Adamax", "lr", group["lr"])
        check_betas("Adamax", group["betas"])
        check_nonnegative("Adamax", "eps", group["eps"])
        check_nonnegative("Adamax", "weight_decay", group["weight_decay"])

    def step(self, closure: Closure | None = None) -> Any:
        """Take one step for every parameter that has a gradient.

        Parameters
        ----------
        closure : callable, optional
            Recomputes the loss (and gradients) and returns it; its result is returned.
        """
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps = group["lr"], group["eps"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.data)
                    state["exp_inf"] = np.zeros_like(p.data)
                state["step"] += 1
                grad = effective_grad(p, group["weight_decay"], group["maximize"])
                m, u = state["exp_avg"], state["exp_inf"]
                scratch = np.empty_like(m)
                lerp_(m, grad, 1 - beta1, scratch)
                u *= beta2
                np.abs(grad, out=scratch)
                scratch += eps
                np.maximum(u, scratch, out=u)
                clr = lr / (1 - beta1 ** state["step"])
                np.divide(m, u, out=scratch)
                scratch *= -clr
                p.data += scratch
        return loss
