"""Adagrad: steps divided by the root of the sum of all past squared gradients."""

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
    effective_grad,
)


class Adagrad(Optimizer):
    r"""Adagrad: per-coordinate steps that shrink as squared gradients accumulate.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters to optimize, or parameter groups (see ``Optimizer``).
    lr : float, default=1e-2
        Learning rate, >= 0.
    lr_decay : float, default=0
        The learning rate at step t is lr / (1 + (t - 1) * lr_decay); >= 0.
    weight_decay : float, default=0
        L2 penalty added to the gradient, >= 0.
    initial_accumulator_value : float, default=0
        Starting value of the sum of squared gradients, >= 0.
    eps : float, default=1e-10
        Added to the denominator for numerical stability, >= 0.
    maximize : bool, default=False
        Ascend the objective instead of descending it.
    foreach, fused : optional
        PyTorch's kernel switches, accepted so that PyTorch code runs unchanged, and ignored.
    differentiable : bool, default=False
        Must be False: the update runs in place, outside autograd.

    Raises
    ------
    ValueError
        If any of lr, lr_decay, weight_decay, initial_accumulator_value or eps is negative.

    Notes
    -----
    At step t (from 1), for each parameter w with gradient g (PyTorch's algorithm):

    1. g = -g if maximize; g = g + weight_decay * w.
    2. lr_t = lr / (1 + (t - 1) * lr_decay).
    3. s = s + g**2  (s starts at initial_accumulator_value).
    4. w = w - lr_t * g / (sqrt(s) + eps).

    State: ``step`` (t) and ``sum`` (s). Unlike the other optimizers, the state of every
    parameter is created at construction, as PyTorch does.

    Reference: Duchi, Hazan and Singer, "Adaptive Subgradient Methods for Online Learning and
    Stochastic Optimization" (2011).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import Adagrad
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adagrad([w], lr=0.1)
    >>> (w ** 2).sum().backward()
    >>> opt.step()                    # g / sqrt(g**2) = sign(g)
    >>> w
    tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_backend_options(type(self).__name__, differentiable, foreach, fused)
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "maximize": maximize,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p: Any, group: Mapping[str, Any]) -> None:
        state = self.state[p]
        state["step"] = 0
        # PyTorch starts every sum from the defaults' value, whatever the group says.
        state["sum"] = np.full_like(p.data, self.defaults["initial_accumulator_value"])

    def _check_group(self, group: Mapping[str, Any]) -> None:
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_nonnegative("Adagrad", name, group[name])

    def step(self, closure: Closure | None = None) -> Any:
        """Take one step for every parameter that has a gradient.

        Parameters
        ----------
        closure : callable, optional
            Recomputes the loss (and gradients) and returns it; its result is returned.
        """
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:  # a group added after construction
                    self._init_state(p, group)
                state["step"] += 1
                grad = effective_grad(p, group["weight_decay"], group["maximize"])
                clr = lr / (1 + (state["step"] - 1) * lr_decay)
                state_sum = state["sum"]
                scratch = np.multiply(grad, grad, out=np.empty_like(state_sum))  # 0-d too
                state_sum += scratch
                std = np.sqrt(state_sum, out=scratch)
                std += eps
                np.divide(grad, std, out=std)
                std *= -clr
                p.data += std
        return loss
