"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainrule.backend import np
from chainrule.optim import _fused
from chainrule.optim.optimizer import (
    Closure,
    Optimizer,
    ParamsT,
    blocks,
    check_backend_options,
    check_betas,
    check_nonnegative,
    effective_grad,
    lerp_,
)


class Adam(Optimizer):
    r"""Adam: steps scaled per coordinate by running estimates of the gradient's moments.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters to optimize, or parameter groups (see ``Optimizer``).
    lr : float, default=1e-3
        Learning rate, >= 0.
    betas : tuple of float, default=(0.9, 0.999)
        Decay rates (beta1, beta2) of the first and second moment averages, each in [0, 1).
    eps : float, default=1e-8
        Added to the denominator for numerical stability, >= 0.
    weight_decay : float, default=0
        L2 penalty added to the gradient (or, with ``decoupled_weight_decay``, the rate at
        which weights shrink directly), >= 0.
    amsgrad : bool, default=False
        Normalise by the largest second-moment estimate seen so far (AMSGrad).
    maximize : bool, default=False
        Ascend the objective instead of descending it.
    decoupled_weight_decay : bool, default=False
        Shrink the weights directly instead of through the gradient (this is AdamW).
    foreach, capturable, fused : optional
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

    1. g = -g if maximize.
    2. Weight decay: w = w * (1 - lr * weight_decay) when decoupled, else
       g = g + weight_decay * w.
    3. m = beta1 * m + (1 - beta1) * g  (first moment, mean of g).
    4. v = beta2 * v + (1 - beta2) * g**2  (second moment, mean of g squared).
    5. With amsgrad, v_max = max(v_max, v) and v_max stands in for v below.
    6. Bias corrections, since m and v start at 0: c1 = 1 - beta1**t, c2 = 1 - beta2**t.
    7. w = w - (lr / c1) * m / (sqrt(v) / sqrt(c2) + eps).

    The state of each parameter holds ``step`` (t), ``exp_avg`` (m), ``exp_avg_sq`` (v) and,
    with amsgrad, ``max_exp_avg_sq``.

    References: Kingma and Ba, "Adam: A Method for Stochastic Optimization" (2015); Reddi et
    al., "On the Convergence of Adam and Beyond" (2018).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import Adam
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w ** 2).sum().backward()
    >>> opt.step()                    # the first step moves each coordinate by about lr
    >>> [round(v, 6) for v in w.tolist()]
    [0.9, -1.9]
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_backend_options(type(self).__name__, differentiable, foreach, fused)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: Mapping[str, Any]) -> None:
        where = type(self).__name__
        check_nonnegative(where, "lr", group["lr"])
        check_betas(where, group["betas"])
        check_nonnegative(where, "eps", group["eps"])
        check_nonnegative(where, "weight_decay", group["weight_decay"])

    def step(self, closure: Closure | None = None) -> Any:
        """Take one step for every parameter that has a gradient.

        Parameters
        ----------
        closure : callable, optional
            Recomputes the loss (and gradients) and returns it; its result is returned.
        """
        loss = self._evaluate(closure)
        for group in self.param_groups:
            # Python floats: a NumPy float64 lr (from a schedule, say) would otherwise round
            # the float32 update in float64, unlike PyTorch and unlike the compiled loop.
            lr, eps, amsgrad = float(group["lr"]), float(group["eps"]), group["amsgrad"]
            beta1, beta2 = (float(b) for b in group["betas"])
            weight_decay = float(group["weight_decay"])
            decoupled = group["decoupled_weight_decay"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.data)
                    state["exp_avg_sq"] = np.zeros_like(p.data)
                if amsgrad and "max_exp_avg_sq" not in state:  # also when turned on midway
                    state["max_exp_avg_sq"] = np.zeros_like(p.data)
                state["step"] += 1
                step = state["step"]
                grad = effective_grad(p, 0 if decoupled else weight_decay, group["maximize"])
                shrink = 1 - lr * weight_decay if decoupled and weight_decay != 0 else None
                step_size = lr / (1 - beta1**step)
                bias_correction2_sqrt = (1 - beta2**step) ** 0.5
                if _fused.adam_(
                    p.data,
                    grad,
                    state["exp_avg"],
                    state["exp_avg_sq"],
                    state["max_exp_avg_sq"] if amsgrad else None,
                    shrink=shrink,
                    beta1=beta1,
                    beta2=beta2,
                    bias_correction2_sqrt=bias_correction2_sqrt,
                    eps=eps,
                    step_size=step_size,
                ):
                    continue  # the same operations in one compiled pass (numba installed)
                arrays = [p.data, grad, state["exp_avg"], state["exp_avg_sq"]]
                if amsgrad:
                    arrays.append(state["max_exp_avg_sq"])
                scratch = self._scratch(state["exp_avg"].dtype)
                for w, g, m, v, *rest in blocks(scratch, *arrays):
                    tmp = rest[-1]  # the one temporary of this update, reused block by block
                    if shrink is not None:
                        w *= shrink
                    lerp_(m, g, 1 - beta1, tmp)
                    v *= beta2
                    np.multiply(g, 1 - beta2, out=tmp)
                    tmp *= g
                    v += tmp
                    if amsgrad:
                        np.maximum(rest[0], v, out=rest[0])
                        v = rest[0]
                    denom = np.sqrt(v, out=tmp)
                    denom /= bias_correction2_sqrt
                    denom += eps
                    np.divide(m, denom, out=denom)
                    denom *= -step_size
                    w += denom
        return loss


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (weights shrink directly, not via the gradient).

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters to optimize, or parameter groups (see ``Optimizer``).
    lr : float, default=1e-3
        Learning rate, >= 0.
    betas : tuple of float, default=(0.9, 0.999)
        Decay rates of the first and second moment averages, each in [0, 1).
    eps : float, default=1e-8
        Added to the denominator for numerical stability, >= 0.
    weight_decay : float, default=1e-2
        Decoupled weight decay rate, >= 0.
    amsgrad : bool, default=False
        Normalise by the largest second-moment estimate seen so far.
    maximize : bool, default=False
        Ascend the objective instead of descending it.
    foreach, capturable, fused : optional
        PyTorch's kernel switches, accepted so that PyTorch code runs unchanged, and ignored.
    differentiable : bool, default=False
        Must be False: the update runs in place, outside autograd.

    Raises
    ------
    ValueError
        If lr, eps or weight_decay is negative, or a beta lies outside [0, 1).

    Notes
    -----
    The update of ``Adam`` (see there) with step 2 replaced by
    w = w * (1 - lr * weight_decay), applied before the moments are updated, so that the
    decay never passes through m and v and is not rescaled by 1 / sqrt(v).

    Reference: Loshchilov and Hutter, "Decoupled Weight Decay Regularization" (2019).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import AdamW
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w ** 2).sum().backward()
    >>> opt.step()                    # w * (1 - 0.05), then about lr against the gradient
    >>> [round(v, 6) for v in w.tolist()]
    [0.85, -1.8]
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
            differentiable=differentiable,
        )

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        super().load_state_dict(state_dict)
        # A saved group (from Adam, or an older PyTorch) may lack the flag; AdamW always decouples.
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
