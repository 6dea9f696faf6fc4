"""Adadelta: steps scaled by the ratio of two running root mean squares, of updates and of
gradients, so that the learning rate needs little tuning."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainrule.backend import np
from chainrule.optim.optimizer import (
    Closure,
    Optimizer,
    ParamsT,
    check_backend_options,
    check_nonnegative,
    check_number,
    effective_grad,
)


class Adadelta(Optimizer):
    r"""Adadelta: each step is g * RMS(past updates) / RMS(past gradients), times lr.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters to optimize, or parameter groups (see ``Optimizer``).
    lr : float, default=1.0
        Factor applied to the computed update, >= 0.
    rho : float, default=0.9
        Decay rate of both running averages, in [0, 1].
    eps : float, default=1e-6
        Added inside both square roots for numerical stability, >= 0.
    weight_decay : float, default=0
        L2 penalty added to the gradient, >= 0.
    foreach, capturable : optional
        PyTorch's kernel switches, accepted so that PyTorch code runs unchanged, and ignored.
    maximize : bool, default=False
        Ascend the objective instead of descending it.
    differentiable : bool, default=False
        Must be False: the update runs in place, outside autograd.

    Raises
    ------
    ValueError
        If lr, eps or weight_decay is negative, or rho lies outside [0, 1].

    Notes
    -----
    For each parameter w with gradient g (PyTorch's algorithm):

    1. g = -g if maximize; g = g + weight_decay * w.
    2. v = rho * v + (1 - rho) * g**2.
    3. d = sqrt(u + eps) / sqrt(v + eps) * g.
    4. u = rho * u + (1 - rho) * d**2.
    5. w = w - lr * d.

    State: ``step``, ``square_avg`` (v), ``acc_delta`` (u).

    Reference: Zeiler, "ADADELTA: An Adaptive Learning Rate Method" (2012).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import Adadelta
    >>> w = cr.tensor([3.0], requires_grad=True, dtype="float64")
    >>> opt = Adadelta([w], lr=1.0, rho=0.0, eps=1e-2)
    >>> (w ** 2).sum().backward()     # g = 6, v = 36, d = sqrt(0.01) / sqrt(36.01) * 6
    >>> opt.step()
    >>> round(w.item(), 6)
    2.900014
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_backend_options(type(self).__name__, differentiable)
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: Mapping[str, Any]) -> None:
        check_nonnegative("Adadelta", "lr", group["lr"])
        check_number("Adadelta", "rho", group["rho"])
        if not 0 <= group["rho"] <= 1:
            raise ValueError(f"Adadelta: rho must be in [0, 1], got {group['rho']!r}")
        check_nonnegative("Adadelta", "eps", group["eps"])
        check_nonnegative("Adadelta", "weight_decay", group["weight_decay"])

    def step(self, closure: Closure | None = None) -> Any:
        """Take one step for every parameter that has a gradient.

        Parameters
        ----------
        closure : callable, optional
            Recomputes the loss (and gradients) and returns it; its result is returned.
        """
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, rho, eps = group["lr"], group["rho"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = np.zeros_like(p.data)
                    state["acc_delta"] = np.zeros_like(p.data)
                state["step"] += 1
                grad = effective_grad(p, group["weight_decay"], group["maximize"])
                v, u = state["square_avg"], state["acc_delta"]
                scratch = np.empty_like(v)
                # (1 - rho) * g * g, multiplied in PyTorch's order so float32 agrees.
                v *= rho
                np.multiply(grad, 1 - rho, out=scratch)
                scratch *= grad
                v += scratch
                delta = np.add(u, eps, out=np.empty_like(u))  # an array even for a 0-d u
                np.sqrt(delta, out=delta)
                np.add(v, eps, out=scratch)
                np.sqrt(scratch, out=scratch)
                delta /= scratch
                delta *= grad
                u *= rho
                np.multiply(delta, 1 - rho, out=scratch)
                scratch *= delta
                u += scratch
                delta *= -lr
                p.data += delta
        return loss
