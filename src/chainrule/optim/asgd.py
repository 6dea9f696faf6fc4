"""ASGD: stochastic gradient descent with a decaying step, keeping a running average of the
weights it visits (Polyak-Ruppert averaging)."""

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
    scalar_state,
)


class ASGD(Optimizer):
    r"""ASGD: averaged SGD, plain SGD steps of a slowly decaying size, plus the average of the
    weights visited after step ``t0`` (kept in ``state[p]["ax"]``).

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters to optimize, or parameter groups (see ``Optimizer``).
    lr : float, default=1e-2
        Learning rate, >= 0: the first step's size.
    lambd : float, default=1e-4
        Decay term, >= 0: of the step size, and of the weights at each step.
    alpha : float, default=0.75
        Power of the step size's decay.
    t0 : float, default=1e6
        The step after which the averaging starts (until then, the average is the weights).
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
        If lr, lambd or weight_decay is negative.
    TypeError
        If alpha or t0 is not a number.

    Notes
    -----
    At step t (from 1), for each parameter w with gradient g, step size eta (lr at first)
    and averaging weight mu (1 at first) (PyTorch's algorithm):

    1. g = -g if maximize; g = g + weight_decay * w.
    2. w = w * (1 - lambd * eta) - eta * g.
    3. ax = w if mu == 1, else ax = ax + mu * (w - ax).
    4. eta = lr / (1 + lambd * lr * t)**alpha;  mu = 1 / max(1, t - t0).

    Up to step t0 + 2, ax is the weights; from there on (for an integer t0), the mean of
    the weights after steps t0 + 2, ..., t. Evaluate with the average by copying ``ax``
    into the weights (``p.data[...] = opt.state[p]["ax"]``).

    State: ``step`` (t), ``eta`` and ``mu`` (floats rounded as PyTorch keeps them: to
    float32 unless the default dtype is float64; to the parameter's dtype once loaded from
    PyTorch's state dict), ``ax`` (the average).

    Reference: Polyak and Juditsky, "Acceleration of Stochastic Approximation by Averaging"
    (1992).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import ASGD
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True, dtype="float64")
    >>> opt = ASGD([w], lr=0.1, lambd=0.0)
    >>> (w ** 2).sum().backward()
    >>> opt.step()                    # w = w - eta * 2w, eta = 0.1 as a float32 (PyTorch's)
    >>> w.tolist(), opt.state[w]["ax"].tolist()
    ([0.7999999970197678, -1.5999999940395355], [0.7999999970197678, -1.5999999940395355])
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        check_backend_options(type(self).__name__, differentiable)
        defaults = {
            "lr": lr,
            "lambd": lambd,
            "alpha": alpha,
            "t0": t0,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: Mapping[str, Any]) -> None:
        check_nonnegative("ASGD", "lr", group["lr"])
        check_nonnegative("ASGD", "lambd", group["lambd"])
        check_number("ASGD", "alpha", group["alpha"])
        check_number("ASGD", "t0", group["t0"])
        check_nonnegative("ASGD", "weight_decay", group["weight_decay"])

    def step(self, closure: Closure | None = None) -> Any:
        """Take one step for every parameter that has a gradient.

        Parameters
        ----------
        closure : callable, optional
            Recomputes the loss (and gradients) and returns it; its result is returned.
        """
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["eta"] = scalar_state(lr)
                    state["mu"] = 1.0
                    state["ax"] = np.zeros_like(p.data)
                state["step"] += 1
                step = state["step"]
                eta, mu = float(state["eta"]), float(state["mu"])
                grad = effective_grad(p, group["weight_decay"], group["maximize"])
                p.data *= 1 - lambd * eta
                update = np.multiply(grad, eta, out=np.empty_like(p.data))  # 0-d too
                p.data -= update
                ax = state["ax"]
                if mu != 1:
                    np.subtract(p.data, ax, out=update)
                    update *= mu
                    ax += update
                else:
                    ax[...] = p.data
                # As PyTorch: a tensor of the default dtype, copied into the state's (see
                # scalar_state).
                eta = scalar_state(lr / (1 + lambd * lr * step) ** alpha)
                state["eta"] = scalar_state(eta, state["eta"])
                mu = scalar_state(1 / max(1, step - t0))
                state["mu"] = scalar_state(mu, state["mu"])
        return loss
