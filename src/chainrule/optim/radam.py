"""RAdam: Adam whose adaptive step is switched on, and rectified, only once the variance
estimate has seen enough steps to be trusted."""

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


class RAdam(Optimizer):
    r"""RAdam: rectified Adam, plain momentum SGD in its first steps, then a rectified Adam.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters to optimize, or parameter groups (see ``Optimizer``).
    lr : float, default=1e-3
        Learning rate, >= 0.
    betas : tuple of float, default=(0.9, 0.999)
        Decay rates of the first and second moment estimates, each in [0, 1).
    eps : float, default=1e-8
        Added to the denominator for numerical stability, >= 0.
    weight_decay : float, default=0
        Weight decay, >= 0: an L2 penalty added to the gradient, or with
        ``decoupled_weight_decay`` a shrinking of the weights as AdamW does.
    decoupled_weight_decay : bool, default=False
        Shrink the weights by ``lr * weight_decay`` before the step instead of adding the L2
        term to the gradient.
    foreach, capturable : optional
        PyTorch's kernel switches, accepted so that PyTorch code runs unchanged, and ignored.
    maximize : bool, default=False
        Ascend the objective instead of descending it.
    differentiable : bool, default=False
        Must be False: the update runs in place, outside autograd.

    Raises
    ------
    ValueError
        If lr, eps or weight_decay is negative, or a beta lies outside [0, 1).

    Notes
    -----
    At step t (from 1), for each parameter w with gradient g (PyTorch's algorithm):

    1. g = -g if maximize; then w = w * (1 - lr * weight_decay) if decoupled, else
       g = g + weight_decay * w.
    2. m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g**2.
    3. m_hat = m / (1 - beta1**t).
    4. rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t).
    5. If rho_t > 5: r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2)
       rho_t)) and w = w - lr * m_hat * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r;
       else w = w - lr * m_hat.

    State: ``step`` (t), ``exp_avg`` (m), ``exp_avg_sq`` (v).

    Reference: Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond" (2020).

    Examples
    --------
    With the default betas the first steps are momentum SGD with a bias-corrected average:

    >>> import chainrule as cr
    >>> from chainrule.optim import RAdam
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = RAdam([w], lr=0.1)
    >>> (w ** 2).sum().backward()
    >>> opt.step()                    # m_hat = g = 2w, so w = w - 0.1 * 2w
    >>> [round(v, 6) for v in w.tolist()]
    [0.8, -1.6]
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_backend_options(type(self).__name__, differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: Mapping[str, Any]) -> None:
        check_nonnegative("RAdam", "lr", group["lr"])
        check_betas("RAdam", group["betas"])
        check_nonnegative("RAdam", "eps", group["eps"])
        check_nonnegative("RAdam", "weight_decay", group["weight_decay"])

    def step(self, closure: Closure | None = None) -> Any:
        """Take one step for every parameter that has a gradient.

        Parameters
        ----------
        closure : callable, optional
            Recomputes the loss (and gradients) and returns it; its result is returned.
        """
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            rho_inf = 2 / (1 - beta2) - 1  # the longest the variance's average can be
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.data)
                    state["exp_avg_sq"] = np.zeros_like(p.data)
                state["step"] += 1
                step = state["step"]
                if group["decoupled_weight_decay"]:
                    if weight_decay != 0:
                        p.data *= 1 - lr * weight_decay
                    grad = effective_grad(p, 0, group["maximize"])
                else:
                    grad = effective_grad(p, weight_decay, group["maximize"])

                m, v = state["exp_avg"], state["exp_avg_sq"]
                scratch = np.empty_like(m)
                lerp_(m, grad, 1 - beta1, scratch)
                v *= beta2
                np.multiply(grad, 1 - beta2, out=scratch)
                scratch *= grad
                v += scratch

                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                rho_t = rho_inf - 2 * step * beta2**step / bias_correction2
                # m_hat * lr, then (times the adaptive factor and the rectification), in
                # PyTorch's order of operations so that float32 runs agree.
                update = np.divide(m, bias_correction1, out=np.empty_like(m))  # 0-d too
                update *= lr
                if rho_t > 5.0:
                    # ** 0.5 rather than math.sqrt: PyTorch's rounding, to the last bit.
                    rect = (
                        (rho_t - 4)
                        * (rho_t - 2)
                        * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                    ) ** 0.5
                    np.sqrt(v, out=scratch)
                    scratch += eps
                    np.divide(bias_correction2**0.5, scratch, out=scratch)
                    update *= scratch
                    update *= rect
                p.data -= update
        return loss
