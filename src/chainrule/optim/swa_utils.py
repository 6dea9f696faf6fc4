"""Weight averaging, as in ``torch.optim.swa_utils``: stochastic weight averaging (SWA) and
exponential moving averages (EMA) of a model's weights, the ``SWALR`` schedule that goes
with SWA, and ``update_bn`` to recompute batch-norm statistics for the averaged weights.

A typical EMA recipe::

    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))
    for x, y in loader:
        ...; optimizer.step()
        ema.update_parameters(model)
    evaluate(ema)              # ema(x) runs the averaged copy
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import is_floating, np
from chainrule.nn.module import Module
from chainrule.nn.normalization import _BatchNorm
from chainrule.optim.lr_scheduler import LRScheduler, _check_optimizer, _per_group
from chainrule.optim.optimizer import Optimizer, check_number, lerp_
from chainrule.tensor import Tensor

__all__ = [
    "SWALR",
    "AveragedModel",
    "get_ema_avg_fn",
    "get_ema_multi_avg_fn",
    "get_swa_avg_fn",
    "get_swa_multi_avg_fn",
    "update_bn",
]

AvgFn = Callable[[Tensor, Tensor, Any], Tensor]
"""``avg_fn(averaged, current, n_averaged)``: the new average of one tensor."""

MultiAvgFn = Callable[[list[Tensor], list[Tensor], Any], None]
"""``multi_avg_fn(averaged, current, n_averaged)``: updates a list of averages in place."""


def _check_decay(where: str, decay: Any) -> None:
    check_number(where, "decay", decay)
    if not 0 <= decay <= 1:
        raise ValueError(f"{where}: decay must be in [0, 1], got {decay!r}")


def _blend_(averaged: Tensor, current: Tensor, weight: float) -> None:
    """``averaged += weight * (current - averaged)`` in place, rounded as PyTorch's lerp;
    integer tensors (a batch-norm counter) are blended in floating point and truncated."""
    target, source = averaged.data, current.data
    if is_floating(target.dtype):
        lerp_(target, source.astype(target.dtype, copy=False), weight)
    else:
        target[...] = (target * (1 - weight) + source * weight).astype(target.dtype)


def get_ema_multi_avg_fn(decay: float = 0.999) -> MultiAvgFn:
    """An exponential moving average, for ``AveragedModel(multi_avg_fn=...)``.

    The first update copies the model; each later one sets
    ``ema = decay * ema + (1 - decay) * w``.

    Parameters
    ----------
    decay : float, default=0.999
        Weight of the old average, in [0, 1].

    Raises
    ------
    ValueError
        If decay lies outside [0, 1].
    """
    _check_decay("get_ema_multi_avg_fn", decay)

    def ema_update(averaged: list[Tensor], current: list[Tensor], n_averaged: Any) -> None:
        for a, c in zip(averaged, current, strict=True):
            _blend_(a, c, 1 - decay)

    return ema_update


def get_swa_multi_avg_fn() -> MultiAvgFn:
    """The running mean of every model seen (SWA), for ``AveragedModel(multi_avg_fn=...)``:
    ``avg = avg + (w - avg) / (n_averaged + 1)``."""

    def swa_update(averaged: list[Tensor], current: list[Tensor], n_averaged: Any) -> None:
        weight = 1.0 / (int(_number(n_averaged)) + 1)
        for a, c in zip(averaged, current, strict=True):
            _blend_(a, c, weight)

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> AvgFn:
    """An exponential moving average of one tensor, for ``AveragedModel(avg_fn=...)``:
    returns ``decay * ema + (1 - decay) * w``.

    Raises
    ------
    ValueError
        If decay lies outside [0, 1].
    """
    _check_decay("get_ema_avg_fn", decay)

    def ema_update(averaged: Tensor, current: Tensor, n_averaged: Any) -> Tensor:
        return decay * averaged + (1 - decay) * current

    return ema_update


def get_swa_avg_fn() -> AvgFn:
    """The running mean of one tensor, for ``AveragedModel(avg_fn=...)``: returns
    ``avg + (w - avg) / (n_averaged + 1)``."""

    def swa_update(averaged: Tensor, current: Tensor, n_averaged: Any) -> Tensor:
        return averaged + (current - averaged) / (n_averaged + 1)

    return swa_update


def _number(value: Any) -> Any:
    return value.item() if isinstance(value, Tensor) else value


class AveragedModel(Module):
    """A copy of ``model`` whose weights are an average (SWA or EMA) of ``model``'s over
    training; calling it runs the copy.

    Parameters
    ----------
    model : Module
        The model to average; it is deep-copied into ``self.module``.
    device : optional
        Accepted for PyTorch compatibility; must be None or ``"cpu"``.
    avg_fn : callable, optional
        ``avg_fn(averaged, current, n_averaged)`` returning one tensor's new average.
    multi_avg_fn : callable, optional
        ``multi_avg_fn(averaged_list, current_list, n_averaged)`` updating the averages in
        place (e.g. ``get_ema_multi_avg_fn(0.999)``). With neither, the equal-weight mean of
        every model passed to ``update_parameters`` (SWA).
    use_buffers : bool, default=False
        Average the buffers (batch-norm statistics) too; otherwise copy them from the model.

    Attributes
    ----------
    module : Module
        The averaged copy.
    n_averaged : Tensor
        0-d int64 buffer, the number of ``update_parameters`` calls so far.

    Raises
    ------
    ValueError
        If both avg_fn and multi_avg_fn are given, or device names an accelerator.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> from chainrule.optim.swa_utils import AveragedModel
    >>> model = nn.Linear(1, 1, bias=False)
    >>> swa = AveragedModel(model)
    >>> for w in [1.0, 2.0, 6.0]:
    ...     model.weight.data[...] = w
    ...     swa.update_parameters(model)
    >>> swa.module.weight.item(), int(swa.n_averaged.item())
    (3.0, 3)
    """

    n_averaged: Tensor

    def __init__(
        self,
        model: Module,
        device: Any = None,
        avg_fn: AvgFn | None = None,
        multi_avg_fn: MultiAvgFn | None = None,
        use_buffers: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(model, Module):
            raise TypeError(
                f"AveragedModel: expected a chainrule.nn.Module, got {type(model).__name__}"
            )
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: pass avg_fn or multi_avg_fn, not both")
        if device is not None and str(device) != "cpu":
            raise ValueError(f"AveragedModel: chainrule runs on the CPU, got device={device!r}")
        self.module = copy.deepcopy(model)
        self.register_buffer("n_averaged", Tensor(np.array(0, dtype=np.int64)))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def _averaged(self, model: Module) -> list[Tensor]:
        if self.use_buffers:
            return [*model.parameters(), *(b for b in model.buffers() if b is not None)]
        return list(model.parameters())

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current weights into the average (the first call copies them).

        Parameters
        ----------
        model : Module
            The model being trained, of the same architecture as ``self.module``.

        Raises
        ------
        ValueError
            If ``model`` has a different number of tensors to average or different shapes.
        """
        averaged, current = self._averaged(self.module), self._averaged(model)
        if len(averaged) != len(current) or any(
            a.shape != c.shape for a, c in zip(averaged, current, strict=False)
        ):
            raise ValueError(
                f"AveragedModel.update_parameters: expected a model like the averaged one "
                f"({len(averaged)} tensors of shapes {[a.shape for a in averaged]}), got "
                f"{len(current)} tensors of shapes {[c.shape for c in current]}"
            )
        n_averaged = int(self.n_averaged.item())
        with no_grad():
            if n_averaged == 0:
                for a, c in zip(averaged, current, strict=True):
                    a.data[...] = c.data
            elif self.avg_fn is not None:
                for a, c in zip(averaged, current, strict=True):
                    value = self.avg_fn(a.detach(), c.detach(), self.n_averaged)
                    a.data[...] = value.data if isinstance(value, Tensor) else value
            else:
                multi_avg_fn = self.multi_avg_fn or get_swa_multi_avg_fn()
                # One call per dtype, as PyTorch groups the tensors it passes.
                groups: dict[np.dtype[Any], tuple[list[Tensor], list[Tensor]]] = {}
                for a, c in zip(averaged, current, strict=True):
                    pair = groups.setdefault(a.data.dtype, ([], []))
                    pair[0].append(a)
                    pair[1].append(c.detach())
                for group_averaged, group_current in groups.values():
                    multi_avg_fn(group_averaged, group_current, self.n_averaged)
            if not self.use_buffers:
                # Buffers are not averaged, so keep them in step with the model's.
                for mine, theirs in zip(self.module.buffers(), model.buffers(), strict=False):
                    if mine is not None and theirs is not None:
                        mine.data[...] = theirs.data
        self.n_averaged.data[...] = n_averaged + 1


def update_bn(loader: Iterable[Any], model: Module, device: Any = None) -> None:
    """Recompute the batch-norm running statistics of ``model`` from one pass over ``loader``.

    Averaged weights need statistics of their own: each batch-norm layer's running mean and
    variance are reset and replaced by the plain average over the batches (momentum None
    for the pass, restored afterwards). Does nothing for a model without batch norm.

    Parameters
    ----------
    loader : iterable
        Batches: an input, or a tuple or list whose first item is the input.
    model : Module
        The model (often ``AveragedModel``) to run in training mode on each input.
    device : optional
        Accepted for PyTorch compatibility and ignored.
    """
    momenta: dict[_BatchNorm, float | None] = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    try:
        with no_grad():
            for batch in loader:
                model(batch[0] if isinstance(batch, list | tuple) else batch)
    finally:
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's learning rate to ``swa_lr`` over ``anneal_epochs`` epochs, then
    hold it there: the schedule of the SWA phase of training.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose learning rates to set.
    swa_lr : float or list of float
        The final learning rate, for all groups or one per group (kept as
        ``group["swa_lr"]``).
    anneal_epochs : int, default=10
        Epochs of the annealing phase, >= 0.
    anneal_strategy : {"cos", "linear"}, default="cos"
        Shape of the annealing.
    last_epoch : int, default=-1
        Index of the last epoch done; -1 starts afresh.

    Raises
    ------
    ValueError
        If anneal_strategy or anneal_epochs is not valid, or a list of swa_lr has the
        wrong length.

    Notes
    -----
    PyTorch's recursive form: at step s (from 0), with t = min(1, s / anneal_epochs) and
    alpha = anneal(t) (``(1 - cos(pi t)) / 2`` or ``t``), the rate is
    ``swa_lr * alpha + lr0 * (1 - alpha)``, where lr0 is recovered from the current rate and
    the previous alpha; so a rate set by another schedule just before is annealed from.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.swa_utils import SWALR
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = SWALR(opt, swa_lr=0.1, anneal_epochs=2, anneal_strategy="linear")
    >>> lrs = []
    >>> for _ in range(3):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    >>> lrs
    [0.55, 0.1, 0.1]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        swa_lr: float | Sequence[float],
        anneal_epochs: int = 10,
        anneal_strategy: str = "cos",
        last_epoch: int = -1,
    ) -> None:
        where = "SWALR"
        _check_optimizer(where, optimizer)
        swa_lrs = _per_group(where, "swa_lr", optimizer, swa_lr)
        for value in swa_lrs:
            check_number(where, "swa_lr", value)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"{where}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        if isinstance(anneal_epochs, bool) or not (
            isinstance(anneal_epochs, int) and anneal_epochs >= 0
        ):
            raise ValueError(f"{where}: anneal_epochs must be an int >= 0, got {anneal_epochs!r}")
        for value, group in zip(swa_lrs, optimizer.param_groups, strict=True):
            group["swa_lr"] = value
        self._anneal_strategy = anneal_strategy
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def _anneal(self, t: float) -> float:
        if self._anneal_strategy == "cos":
            return (1 - math.cos(math.pi * t)) / 2
        return t

    def get_lr(self) -> list[float]:
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self._anneal(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev_lrs = [
            group["swa_lr"]
            if prev_alpha == 1
            else (group["lr"] - prev_alpha * group["swa_lr"]) / (1 - prev_alpha)
            for group in self.optimizer.param_groups
        ]
        alpha = self._anneal(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [
            group["swa_lr"] * alpha + lr * (1 - alpha)
            for group, lr in zip(self.optimizer.param_groups, prev_lrs, strict=True)
        ]
