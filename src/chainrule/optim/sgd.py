"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainrule.backend import Array, np
from chainrule.optim import _fused
from chainrule.optim.optimizer import (
    WHOLE,
    Closure,
    Optimizer,
    ParamsT,
    blocks,
    check_backend_options,
    check_nonnegative,
    check_number,
    effective_grad,
)


class SGD(Optimizer):
    r"""Stochastic gradient descent: ``w = w - lr * dL/dw``, optionally with momentum.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters to optimize, or parameter groups (see ``Optimizer``).
    lr : float, default=1e-3
        Learning rate (step size), >= 0.
    momentum : float, default=0
        Momentum factor, >= 0.
    dampening : float, default=0
        Share of the new gradient held back from the momentum buffer (0 keeps all of it).
    weight_decay : float, default=0
        L2 penalty, >= 0: ``weight_decay * w`` is added to the gradient.
    nesterov : bool, default=False
        Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    maximize : bool, default=False
        Ascend the objective instead of descending it.
    foreach, fused : optional
        PyTorch's kernel switches, accepted so that PyTorch code runs unchanged, and ignored.
    differentiable : bool, default=False
        Must be False: the update runs in place, outside autograd.

    Raises
    ------
    ValueError
        If lr, momentum or weight_decay is negative, or nesterov is asked for without momentum
        or with dampening.

    Notes
    -----
    At step t, for each parameter w with gradient g (the algorithm of PyTorch's SGD):

    1. g = -g if maximize.
    2. g = g + weight_decay * w (L2 regularisation through the gradient).
    3. With momentum mu > 0, the buffer b is g itself on the first step, and afterwards
       b = mu * b + (1 - dampening) * g. The direction is then g + mu * b with Nesterov
       momentum, else b.
    4. w = w - lr * direction.

    Momentum here is PyTorch's form (the learning rate multiplies the buffer), not the
    ``v = mu * v - lr * g`` form of some textbooks; both agree while lr stays constant.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w ** 2).sum().backward()       # dL/dw = 2w
    ...     opt.step()
    >>> w                                   # 0.8 * w, then 0.8 * w - 0.1 * 0.9 * 2 * w0
    tensor([ 0.4600, -0.9200], requires_grad=True)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_backend_options(type(self).__name__, differentiable, foreach, fused)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: Mapping[str, Any]) -> None:
        check_nonnegative("SGD", "lr", group["lr"])
        check_nonnegative("SGD", "momentum", group["momentum"])
        check_number("SGD", "dampening", group["dampening"])
        check_nonnegative("SGD", "weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov needs momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def step(self, closure: Closure | None = None) -> Any:
        """Take one step for every parameter that has a gradient.

        Parameters
        ----------
        closure : callable, optional
            Recomputes the loss (and gradients) and returns it; its result is returned.
        """
        loss = self._evaluate(closure)
        for group in self.param_groups:
            # Python floats, as in Adam.step: a NumPy float64 lr would round float32 updates
            # in float64, unlike PyTorch.
            lr, momentum = float(group["lr"]), float(group["momentum"])
            dampening, nesterov = float(group["dampening"]), group["nesterov"]
            weight_decay, maximize = float(group["weight_decay"]), group["maximize"]
            plain = weight_decay == 0 and not maximize
            fused = {"lr": lr, "momentum": momentum, "dampening": dampening, "nesterov": nesterov}
            for p in group["params"]:
                if p._grad is None:
                    continue
                grad = p._grad.data if plain else effective_grad(p, weight_decay, maximize)
                if momentum == 0:
                    # The compiled loop takes only large parameters: for the others, not
                    # even the call is worth it (0.5 us, where updating one of tiny's
                    # parameters takes about 1.2 us).
                    large = grad.size > _fused.NUMPY_UP_TO
                    if large and _fused.sgd_(p.data, grad, None, first=False, **fused):
                        continue  # the same operations in one compiled pass (numba installed)
                    if grad.size <= WHOLE:
                        # a temporary this small costs less than a scratch; np.subtract with
                        # out=, as -= would be, without rebinding p.data (Tensor.__setattr__)
                        np.subtract(p.data, lr * grad, out=p.data)
                        continue
                # lr * grad rounds in the wider of the two dtypes, as p -= lr * grad would.
                dtype = grad.dtype
                if dtype != p.data.dtype:
                    dtype = np.result_type(p.data, grad)
                scratch = self._scratch(dtype)
                if momentum == 0:
                    for w, g, tmp in blocks(scratch, p.data, grad):
                        np.multiply(g, lr, out=tmp)
                        w -= tmp
                    continue
                state = self.state[p]
                first = state.get("momentum_buffer") is None
                if first:
                    state["momentum_buffer"] = np.array(grad, dtype=p.dtype)
                buf: Array = state["momentum_buffer"]
                if _fused.sgd_(p.data, grad, buf, first=first, **fused):
                    continue
                for w, g, b, tmp in blocks(scratch, p.data, grad, buf):
                    if not first:
                        b *= momentum
                        if dampening == 0:
                            b += g
                        else:
                            np.multiply(g, 1 - dampening, out=tmp)
                            b += tmp
                    if nesterov:  # w -= lr * (g + momentum * b)
                        np.multiply(b, momentum, out=tmp)
                        tmp += g
                        tmp *= lr
                    else:
                        np.multiply(b, lr, out=tmp)
                    w -= tmp
        return loss
