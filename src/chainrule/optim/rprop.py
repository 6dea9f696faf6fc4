"""Rprop: resilient backpropagation, steps of a size of their own per weight that follow only
the sign of the gradient."""

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
)


def _pair(value: Any) -> bool:
    return isinstance(value, tuple | list) and len(value) == 2


class Rprop(Optimizer):
    r"""Rprop: each weight moves by a step size of its own against the sign of its gradient;
    the step grows while the sign holds and shrinks when it flips.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters to optimize, or parameter groups (see ``Optimizer``).
    lr : float, default=1e-2
        The initial step size of every weight, >= 0.
    etas : tuple of float, default=(0.5, 1.2)
        ``(etaminus, etaplus)``, the factors that shrink and grow a step size, with
        0 < etaminus < 1 < etaplus.
    step_sizes : tuple of float, default=(1e-6, 50)
        ``(min, max)``, the bounds of a step size, with 0 <= min <= max.
    capturable, foreach : optional
        PyTorch's kernel switches, accepted so that PyTorch code runs unchanged, and ignored.
    maximize : bool, default=False
        Ascend the objective instead of descending it.
    differentiable : bool, default=False
        Must be False: the update runs in place, outside autograd.

    Raises
    ------
    ValueError
        If lr is negative, the etas are not 0 < etaminus < 1 < etaplus, or the step sizes
        not 0 <= min <= max.

    Notes
    -----
    For each parameter w with gradient g, previous (kept) gradient g_prev and step sizes s
    (PyTorch's algorithm, elementwise):

    1. g = -g if maximize.
    2. If g * g_prev > 0: s = min(s * etaplus, max).
       If g * g_prev < 0: s = max(s * etaminus, min) and g = 0 (no move, and the next step
       is taken as after a zero gradient).
       Else (a zero product): s is kept.
    3. w = w - sign(g) * s.
    4. g_prev = g.

    The update ignores the gradient's size: Rprop suits full-batch training, where the
    sign of the gradient is reliable. As in PyTorch, whose sign of NaN is 0, a NaN
    gradient moves nothing and changes no step size (now or at the next step).

    State: ``step``, ``prev`` (g_prev), ``step_size`` (s, starting at lr).

    Reference: Riedmiller and Braun, "A Direct Adaptive Method for Faster Backpropagation
    Learning: The RPROP Algorithm" (1993).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import Rprop
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Rprop([w], lr=0.1)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w ** 2).sum().backward()
    ...     opt.step()                # steps of 0.1, then 0.1 * 1.2: the sign held
    >>> [round(v, 6) for v in w.tolist()]
    [0.78, -1.78]
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_backend_options(type(self).__name__, differentiable)
        defaults = {
            "lr": lr,
            "etas": etas,
            "step_sizes": step_sizes,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: Mapping[str, Any]) -> None:
        check_nonnegative("Rprop", "lr", group["lr"])
        etas = group["etas"]
        if not _pair(etas):
            raise ValueError(f"Rprop: expected etas as a pair (etaminus, etaplus), got {etas!r}")
        check_number("Rprop", "etas[0]", etas[0])
        check_number("Rprop", "etas[1]", etas[1])
        if not 0 < etas[0] < 1 < etas[1]:
            raise ValueError(
                f"Rprop: expected etas (etaminus, etaplus) with 0 < etaminus < 1 < etaplus, "
                f"got {tuple(etas)!r}"
            )
        sizes = group["step_sizes"]
        if not _pair(sizes):
            raise ValueError(f"Rprop: expected step_sizes as a pair (min, max), got {sizes!r}")
        check_number("Rprop", "step_sizes[0]", sizes[0])
        check_number("Rprop", "step_sizes[1]", sizes[1])
        if not 0 <= sizes[0] <= sizes[1]:
            raise ValueError(
                f"Rprop: expected step_sizes (min, max) with 0 <= min <= max, got {tuple(sizes)!r}"
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
            etaminus, etaplus = group["etas"]
            smallest, largest = group["step_sizes"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["prev"] = np.zeros_like(p.data)
                    state["step_size"] = np.full_like(p.data, group["lr"])
                state["step"] += 1
                # A fresh array (0-d too), which the zeroing below writes into.
                grad = np.empty_like(p.data)
                if group["maximize"]:
                    np.negative(p._grad.data, out=grad)
                else:
                    grad[...] = p._grad.data
                prev, step_size = state["prev"], state["step_size"]
                product = np.multiply(grad, prev, out=np.empty_like(prev))
                flipped = product < 0
                # The factor of each step size: etaplus, etaminus, or 1 for a zero product
                # (and for a NaN, whose sign PyTorch takes as 0).
                factor = np.greater(product, 0, out=np.empty(prev.shape, dtype=bool))
                product[...] = 1
                product[factor] = etaplus
                product[flipped] = etaminus
                step_size *= product
                np.clip(step_size, smallest, largest, out=step_size)
                grad[flipped] = 0
                direction = np.sign(grad, out=product)
                direction[np.isnan(direction)] = 0  # no move for a NaN gradient, as in PyTorch
                direction *= step_size
                p.data -= direction
                prev[...] = grad
        return loss
