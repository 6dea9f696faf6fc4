"""NAdam: Adam with Nesterov momentum and a warming-up momentum schedule."""

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
    scalar_state,
)


class NAdam(Optimizer):
    r"""NAdam: Adam whose step looks ahead along the momentum, as Nesterov's method does.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters to optimize, or parameter groups (see ``Optimizer``).
    lr : float, default=2e-3
        Learning rate, >= 0.
    betas : tuple of float, default=(0.9, 0.999)
        Decay rates of the first and second moment averages, each in [0, 1).
    eps : float, default=1e-8
        Added to the denominator for numerical stability, >= 0.
    weight_decay : float, default=0
        L2 penalty (or decoupled decay rate, see below), >= 0.
    momentum_decay : float, default=4e-3
        Speed (psi) at which the momentum coefficient warms up to beta1, >= 0.
    decoupled_weight_decay : bool, default=False
        Shrink the weights directly, as AdamW does, instead of through the gradient.
    maximize : bool, default=False
        Ascend the objective instead of descending it.
    foreach, capturable : optional
        PyTorch's kernel switches, accepted so that PyTorch code runs unchanged, and ignored.
    differentiable : bool, default=False
        Must be False: the update runs in place, outside autograd.

    Raises
    ------
    ValueError
        If lr, eps, weight_decay or momentum_decay is negative, or a beta lies outside [0, 1).

    Notes
    -----
    At step t (from 1), for each parameter w with gradient g (PyTorch's algorithm):

    1. g = -g if maximize; weight decay as in ``Adam`` (decoupled or through g).
    2. Momentum schedule: mu_t = beta1 * (1 - 0.5 * 0.96**(t * psi)), likewise mu_{t+1};
       the running product P_t = mu_1 * ... * mu_t.
    3. m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g**2.
    4. d = sqrt(v / (1 - beta2**t)) + eps.
    5. w = w - lr * (1 - mu_t) / (1 - P_t) * g / d
           - lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / d.

    State: ``step`` (t), ``mu_product`` (P_t, a float rounded as PyTorch keeps it: to
    float32 unless the default dtype is float64; to the parameter's dtype once loaded from
    PyTorch's state dict), ``exp_avg`` (m), ``exp_avg_sq`` (v).

    Reference: Dozat, "Incorporating Nesterov Momentum into Adam" (2016).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import NAdam
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = NAdam([w], lr=0.1)
    >>> (w ** 2).sum().backward()
    >>> opt.step()
    >>> [round(v, 3) for v in w.tolist()]
    [0.894, -1.894]
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
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
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: Mapping[str, Any]) -> None:
        check_nonnegative("NAdam", "lr", group["lr"])
        check_betas("NAdam", group["betas"])
        check_nonnegative("NAdam", "eps", group["eps"])
        check_nonnegative("NAdam", "weight_decay", group["weight_decay"])
        check_nonnegative("NAdam", "momentum_decay", group["momentum_decay"])

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
            weight_decay, momentum_decay = group["weight_decay"], group["momentum_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["mu_product"] = scalar_state(1.0)
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

                mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
                # In the precision PyTorch keeps it in (see scalar_state), with mu rounded
                # to it too, as PyTorch multiplies a float32 tensor by a Python float.
                previous = state["mu_product"]
                state["mu_product"] = scalar_state(
                    scalar_state(previous, previous) * scalar_state(mu, previous), previous
                )
                mu_product = float(state["mu_product"])

                m, v = state["exp_avg"], state["exp_avg_sq"]
                scratch = np.empty_like(m)
                lerp_(m, grad, 1 - beta1, scratch)
                v *= beta2
                np.multiply(grad, 1 - beta2, out=scratch)
                scratch *= grad
                v += scratch
                denom = np.divide(v, 1 - beta2**step, out=scratch)
                np.sqrt(denom, out=denom)
                denom += eps
                # w += c * g / d, then w += c_next * m / d, in PyTorch's rounding order.
                update = np.divide(grad, denom, out=np.empty_like(denom))  # 0-d too
                update *= -lr * (1.0 - mu) / (1.0 - mu_product)
                p.data += update
                np.divide(m, denom, out=update)
                update *= -lr * mu_next / (1.0 - mu_product * mu_next)
                p.data += update
        return loss
