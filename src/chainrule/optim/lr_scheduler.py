"""Learning-rate schedules: each sets ``group["lr"]`` of an optimizer's groups once per ``step()``.

One file, like PyTorch's, because the schedules are small variations on one base class
(``LRScheduler``) and several of them compose (``SequentialLR`` drives the others). Each
follows PyTorch's update formula, recursive where PyTorch's is, so that the learning rates
agree with PyTorch's step by step, also when something else changes ``group["lr"]`` too.

Call ``scheduler.step()`` after ``optimizer.step()``, once per epoch (or per batch for
``OneCycleLR`` and ``CyclicLR``); ``ReduceLROnPlateau.step(metric)`` takes the monitored value.
"""

from __future__ import annotations

import copy
import math
import types
import warnings
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from chainrule.optim.optimizer import Optimizer, check_nonnegative, check_number


def _check_optimizer(where: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{where}: expected an Optimizer, got {type(optimizer).__name__}")


def _check_positive_int(where: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: {name} must be an integer >= 1, got {value!r}")


def _per_group(where: str, name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    """``value`` repeated for each group, or checked to hold one entry per group."""
    n_groups = len(optimizer.param_groups)
    if isinstance(value, list | tuple):
        if len(value) != n_groups:
            raise ValueError(
                f"{where}: expected one {name} per parameter group ({n_groups}), got {len(value)}"
            )
        return list(value)
    return [value] * n_groups


class LRScheduler:
    """Base class of the schedules: sets each group's ``lr`` from ``get_lr()`` on ``step()``.

    Building a scheduler performs its first step (epoch 0), which sets the starting learning
    rate of every group; each group's original lr is kept as ``group["initial_lr"]``.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose learning rates to set.
    last_epoch : int, default=-1
        Index of the last epoch done; -1 starts afresh. To resume, prefer ``load_state_dict``.

    Attributes
    ----------
    base_lrs : list of float
        Each group's ``initial_lr``.
    last_epoch : int
        Number of ``step()`` calls since construction (0 right after it).

    Examples
    --------
    A subclass supplies ``get_lr``; this one halves the rate every epoch:

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import LRScheduler
    >>> class Halving(LRScheduler):
    ...     def get_lr(self):
    ...         return [base * 0.5**self.last_epoch for base in self.base_lrs]
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = Halving(opt)
    >>> opt.step()
    >>> sched.step()
    >>> sched.get_last_lr(), sched.last_epoch
    ([0.5], 1)
    """

    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        where = type(self).__name__
        _check_optimizer(where, optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(
                        f"{where}: resuming at last_epoch={last_epoch} needs 'initial_lr' in "
                        f"every parameter group, missing in group {i}; load the optimizer's "
                        f"state dict first, or start with last_epoch=-1"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rates for the epoch ``last_epoch`` (called by ``step``)."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rate of each group as last set by this scheduler."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and set each group's learning rate.

        Parameters
        ----------
        epoch : int, optional
            Deprecated, as in PyTorch: jump to this epoch instead of advancing by one (the
            schedule's closed form gives the rate there, where it has one). Warns; call
            ``step()`` without it.
        """
        self._step_count += 1
        if epoch is not None:
            _warn_epoch_argument(type(self).__name__)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            # SequentialLR restarts a schedule at a milestone through its closed form.
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr: list[float] = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's attributes (all but the optimizer), copied."""
        return self._attributes()

    def _attributes(self, *skip: str) -> dict[str, Any]:
        """Copies of the attributes but the optimizer and ``skip``."""
        return {
            k: copy.deepcopy(v)
            for k, v in self.__dict__.items()
            if k != "optimizer" and k not in skip
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore attributes saved by ``state_dict``."""
        self.__dict__.update(copy.deepcopy(state_dict))

    def _group_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


_LRScheduler = LRScheduler
"""PyTorch's older name of the base class, which schedulers written for PyTorch 1.x subclass."""


def _warn_epoch_argument(where: str) -> None:
    warnings.warn(
        f"{where}.step: the epoch argument is deprecated (as in PyTorch); it sets last_epoch "
        f"and uses the schedule's closed form where there is one. Call step() without it",
        UserWarning,
        stacklevel=3,
    )


def _callable_state(fn: Any) -> Any:
    """What a state dict keeps of a user's function, as PyTorch does: a callable object's
    attributes (copied), nothing of a plain function or lambda."""
    if fn is None or isinstance(fn, types.FunctionType):
        return None
    return copy.deepcopy(fn.__dict__)


def _restore_callable(fn: Any, saved: Any) -> None:
    """Give ``fn`` back the attributes ``_callable_state`` kept."""
    if saved is not None and fn is not None:
        fn.__dict__.update(copy.deepcopy(saved))


class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch).

    Parameters
    ----------
    optimizer : Optimizer
    lr_lambda : callable or list of callable
        Maps the epoch (an int) to a multiplicative factor; one function per group, or one
        for all.
    last_epoch : int, default=-1

    Notes
    -----
    ``state_dict`` saves the functions' ``__dict__`` when they are callable objects, and
    nothing for plain functions and lambdas (those cannot be saved), as PyTorch does.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import LambdaLR
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = LambdaLR(opt, lambda epoch: 1 / (epoch + 1))
    >>> lrs = []
    >>> for _ in range(3):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [0.5, 0.3333333333333333, 0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        where = type(self).__name__  # also MultiplicativeLR's
        _check_optimizer(where, optimizer)
        self.optimizer = optimizer
        self.lr_lambdas = _per_group(where, "lr_lambda", optimizer, lr_lambda)
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"{where}: lr_lambda must be callable, got {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict[str, Any]:
        state = self._attributes("lr_lambdas")
        state["lr_lambdas"] = [_callable_state(fn) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        lr_lambdas = state.pop("lr_lambdas")
        super().load_state_dict(state)
        for fn, saved in zip(self.lr_lambdas, lr_lambdas, strict=True):
            _restore_callable(fn, saved)

    def get_lr(self) -> list[float]:
        return [
            base_lr * fn(self.last_epoch)
            for fn, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)
        ]


class MultiplicativeLR(LambdaLR):
    """Multiply the learning rate by ``lr_lambda(epoch)`` every epoch after the first:
    lr_epoch = lr_(epoch-1) * lr_lambda(epoch).

    Parameters
    ----------
    optimizer : Optimizer
    lr_lambda : callable or list of callable
        Maps the epoch (an int) to this epoch's factor; one function per group, or one for all.
    last_epoch : int, default=-1

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import MultiplicativeLR
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = MultiplicativeLR(opt, lambda epoch: 0.5)
    >>> for _ in range(2):
    ...     opt.step()
    ...     sched.step()
    >>> sched.get_last_lr()
    [0.25]
    """

    def get_lr(self) -> list[float]:
        # Not on the construction step (PyTorch's rule), whatever last_epoch it resumes at;
        # a SequentialLR milestone (epoch 0) does multiply by lr_lambda(0).
        if not self._is_initial:
            return [
                lr * fn(self.last_epoch)
                for fn, lr in zip(self.lr_lambdas, self._group_lrs(), strict=True)
            ]
        return self._group_lrs()


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    lr = initial_lr * gamma ** (epoch // step_size).

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Period of the decay, in epochs (>= 1).
    gamma : float, default=0.1
        Multiplicative factor.
    last_epoch : int, default=-1

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import StepLR
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for _ in range(5):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        _check_positive_int("StepLR", "step_size", step_size)
        check_number("StepLR", "gamma", gamma)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each milestone epoch.

    lr = initial_lr * gamma ** (number of milestones <= epoch).

    Parameters
    ----------
    optimizer : Optimizer
    milestones : iterable of int
        Epochs at which to decay (a milestone listed twice decays twice).
    gamma : float, default=0.1
    last_epoch : int, default=-1

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import MultiStepLR
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = MultiStepLR(opt, milestones=[1, 3], gamma=0.5)
    >>> lrs = []
    >>> for _ in range(4):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [0.5, 0.5, 0.25, 0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        milestones = list(milestones)
        for m in milestones:
            if isinstance(m, bool) or not isinstance(m, int):
                raise TypeError(f"MultiStepLR: milestones must be integers, got {milestones!r}")
        check_number("MultiStepLR", "gamma", gamma)
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._group_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        milestones = sorted(self.milestones.elements())
        exponent = bisect_right(milestones, self.last_epoch)
        return [base * self.gamma**exponent for base in self.base_lrs]


class ConstantLR(LRScheduler):
    """Multiply the learning rate by ``factor`` for the first ``total_iters`` epochs.

    Parameters
    ----------
    optimizer : Optimizer
    factor : float, default=1/3
        In [0, 1].
    total_iters : int, default=5
    last_epoch : int, default=-1

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import ConstantLR
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = ConstantLR(opt, factor=0.5, total_iters=2)
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for _ in range(3):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [0.5, 0.5, 1.0, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        factor: float = 1.0 / 3,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        check_number("ConstantLR", "factor", factor)
        if not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor!r}")
        check_nonnegative("ConstantLR", "total_iters", total_iters)
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._group_lrs()]
        if self.last_epoch != self.total_iters:
            return self._group_lrs()
        return [lr * (1.0 / self.factor) for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        done = self.last_epoch >= self.total_iters
        return [base * (self.factor + done * (1 - self.factor)) for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the learning rate by a factor moving linearly from start to end over total_iters.

    lr = initial_lr * (start_factor + (end_factor - start_factor) * min(epoch, total_iters)
    / total_iters), computed recursively as PyTorch does.

    Parameters
    ----------
    optimizer : Optimizer
    start_factor : float, default=1/3
        In (0, 1].
    end_factor : float, default=1.0
        In [0, 1].
    total_iters : int, default=5
        Epochs over which the factor moves (>= 1).
    last_epoch : int, default=-1

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import LinearLR
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = LinearLR(opt, start_factor=0.25, total_iters=3)
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for _ in range(4):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    >>> lrs
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        check_number("LinearLR", "start_factor", start_factor)
        check_number("LinearLR", "end_factor", end_factor)
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        _check_positive_int("LinearLR", "total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._group_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._group_lrs()
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_epoch - 1) * delta)
        return [lr * ratio for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        progress = min(self.total_iters, self.last_epoch) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base * factor for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch: lr = initial_lr * gamma ** epoch.

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float
        Multiplicative factor per epoch.
    last_epoch : int, default=-1

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import ExponentialLR
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = ExponentialLR(opt, gamma=0.5)
    >>> for _ in range(3):
    ...     opt.step()
    ...     sched.step()
    >>> sched.get_last_lr()
    [0.125]
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        check_number("ExponentialLR", "gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the learning rate from its initial value to ``eta_min`` along half a cosine.

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Epochs from the initial value to ``eta_min`` (>= 1); beyond, the cosine climbs again.
    eta_min : float, default=0.0
        Lowest learning rate.
    last_epoch : int, default=-1

    Notes
    -----
    The closed form is lr_t = eta_min + (initial_lr - eta_min) * (1 + cos(pi t / T_max)) / 2.
    Like PyTorch, each step applies it recursively to the current lr,
    lr_t = eta_min + (lr_{t-1} - eta_min) * (1 + cos(pi t / T_max)) / (1 + cos(pi (t-1) / T_max)),
    which equals the closed form unless something else changes the lr in between.

    Reference: Loshchilov and Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts"
    (2017), without the restarts.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import CosineAnnealingLR
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = CosineAnnealingLR(opt, T_max=4)
    >>> lrs = []
    >>> for _ in range(4):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    >>> lrs
    [0.8536, 0.5, 0.1464, 0.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_max: int,  # noqa: N803 - PyTorch's name
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        _check_positive_int("CosineAnnealingLR", "T_max", T_max)
        check_number("CosineAnnealingLR", "eta_min", eta_min)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._group_lrs()
        if self._step_count == 1 and t > 0:
            return [
                eta_min + (base - eta_min) * (1 + math.cos(t * math.pi / t_max)) / 2
                for base in self.base_lrs
            ]
        if (t - 1 - t_max) % (2 * t_max) == 0:
            # At the bottom of the cosine the recursion would divide by zero; step up instead.
            return [
                lr + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                for lr, base in zip(self._group_lrs(), self.base_lrs, strict=True)
            ]
        ratio = (1 + math.cos(math.pi * t / t_max)) / (1 + math.cos(math.pi * (t - 1) / t_max))
        return [ratio * (lr - eta_min) + eta_min for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        cosine = 1 + math.cos(math.pi * self.last_epoch / self.T_max)
        return [self.eta_min + (base - self.eta_min) * cosine / 2 for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing from the initial learning rate to ``eta_min``, restarting every
    ``T_i`` epochs, with ``T_0`` the first period and each next one ``T_mult`` times longer.

    Parameters
    ----------
    optimizer : Optimizer
    T_0 : int
        Epochs before the first restart (>= 1).
    T_mult : int, default=1
        Factor by which each period is longer than the one before (>= 1).
    eta_min : float, default=0.0
        Lowest learning rate.
    last_epoch : int, default=-1

    Notes
    -----
    lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi T_cur / T_i)) / 2, with T_cur the
    epochs since the last restart. ``step(epoch)`` takes a fractional epoch too (PyTorch's
    ``scheduler.step(epoch + i / iters)`` within an epoch), and sets T_cur and T_i from it.

    Reference: Loshchilov and Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts"
    (2017).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import CosineAnnealingWarmRestarts
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    >>> lrs = []
    >>> for _ in range(6):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    >>> lrs
    [0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,  # noqa: N803 - PyTorch's name
        T_mult: int = 1,  # noqa: N803
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        where = "CosineAnnealingWarmRestarts"
        _check_positive_int(where, "T_0", T_0)
        _check_positive_int(where, "T_mult", T_mult)
        check_number(where, "eta_min", eta_min)
        self.T_0, self.T_i, self.T_mult = T_0, T_0, T_mult
        self.eta_min = eta_min
        self.T_cur: float = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        cosine = 1 + math.cos(math.pi * self.T_cur / self.T_i)
        return [self.eta_min + (base - self.eta_min) * cosine / 2 for base in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or go to ``epoch`` (a float within an epoch is fine)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur %= self.T_i
                self.T_i *= self.T_mult
        elif epoch < 0:
            raise ValueError(f"CosineAnnealingWarmRestarts: epoch must be >= 0, got {epoch!r}")
        elif epoch >= self.T_0:
            if self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            else:
                # The restart before epoch: n periods of T_0 * T_mult**k, k < n, lie behind it.
                n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult**n
        else:
            self.T_i, self.T_cur = self.T_0, epoch
        self._step_count += 1
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = self._group_lrs()


class CyclicLR(LRScheduler):
    r"""Cycle the learning rate between ``base_lr`` and ``max_lr`` (cyclical learning rates),
    stepped once per batch (as ``fit(scheduler=)`` steps it); the momentum cycles the
    opposite way.

    Parameters
    ----------
    optimizer : Optimizer
    base_lr : float or list of float
        Lower end of the cycle, per group or for all; it becomes each group's lr.
    max_lr : float or list of float
        Upper end of the cycle (reached exactly only by the "triangular" mode).
    step_size_up : int, default=2000
        Steps from base_lr up to max_lr.
    step_size_down : int, optional
        Steps back down; defaults to ``step_size_up``.
    mode : {"triangular", "triangular2", "exp_range"}, default="triangular"
        Amplitude per cycle: constant, halved each cycle, or times ``gamma**step``. Ignored
        when ``scale_fn`` is given.
    gamma : float, default=1.0
        Factor of the "exp_range" mode.
    scale_fn : callable, optional
        Amplitude as a function of the cycle number (from 1) or of the step, by ``scale_mode``.
    scale_mode : {"cycle", "iterations"}, default="cycle"
        What ``scale_fn`` takes.
    cycle_momentum : bool, default=True
        Cycle the momentum (or Adam's beta1) between ``max_momentum`` and ``base_momentum``.
    base_momentum, max_momentum : float or list of float, default=0.8, 0.9
    last_epoch : int, default=-1

    Notes
    -----
    With cycle = floor(1 + t / (up + down)) and x = 1 + t / (up + down) - cycle, the position
    within the cycle rises as x / r up to r = up / (up + down), then falls as (x - 1) / (r - 1);
    lr = base_lr + (max_lr - base_lr) * position * scale, and
    momentum = max_momentum - (max_momentum - base_momentum) * position * scale.

    Reference: Smith, "Cyclical Learning Rates for Training Neural Networks" (2017).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import CyclicLR
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0, momentum=0.9)
    >>> sched = CyclicLR(opt, base_lr=0.1, max_lr=0.5, step_size_up=2)
    >>> lrs = []
    >>> for _ in range(5):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    >>> lrs
    [0.3, 0.5, 0.3, 0.1, 0.3]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | Sequence[float],
        max_lr: float | Sequence[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.8,
        max_momentum: float | Sequence[float] = 0.9,
        last_epoch: int = -1,
    ) -> None:
        where = "CyclicLR"
        _check_optimizer(where, optimizer)
        self.optimizer = optimizer
        base_lrs = _per_group(where, "base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups, strict=True):
                group["lr"] = lr
        self.max_lrs = _per_group(where, "max_lr", optimizer, max_lr)
        _check_positive_int(where, "step_size_up", step_size_up)
        if step_size_down is not None:
            _check_positive_int(where, "step_size_down", step_size_down)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if scale_fn is None and mode not in ("triangular", "triangular2", "exp_range"):
            raise ValueError(
                f"CyclicLR: mode must be 'triangular', 'triangular2' or 'exp_range' (or pass "
                f"scale_fn), got {mode!r}"
            )
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(
                f"CyclicLR: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}"
            )
        check_number(where, "gamma", gamma)
        self.mode, self.gamma = mode, gamma
        self._scale_fn_custom = scale_fn
        # The built-in modes fix what their amplitude is a function of, as in PyTorch.
        if scale_fn is None:
            scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self.scale_mode = scale_mode
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"{where}: cycle_momentum needs an optimizer with momentum or betas, "
                    f"got {type(optimizer).__name__}; pass cycle_momentum=False"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _per_group(where, "base_momentum", optimizer, base_momentum)
            self.max_momentums = _per_group(where, "max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                for m_max, m_base, group in zip(
                    self.max_momentums, self.base_momentums, optimizer.param_groups, strict=True
                ):
                    if self.use_beta1:
                        group["betas"] = (m_max, *group["betas"][1:])
                    else:
                        group["momentum"] = m_max
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x: float) -> float:
        """The amplitude factor at cycle (or step) ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        if self.mode == "exp_range":
            return float(self.gamma**x)
        return 1.0

    def get_lr(self) -> list[float]:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        ratio = self.step_ratio
        position = x / ratio if x <= ratio else (x - 1) / (ratio - 1)  # rising, then falling
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [
            base + (top - base) * position * scale
            for base, top in zip(self.base_lrs, self.max_lrs, strict=True)
        ]
        if self.cycle_momentum:
            for group, m_base, m_max in zip(
                self.optimizer.param_groups, self.base_momentums, self.max_momentums, strict=True
            ):
                momentum = m_max - (m_max - m_base) * position * scale
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs

    def state_dict(self) -> dict[str, Any]:
        """As ``LRScheduler.state_dict``; a custom ``scale_fn`` is saved as its ``__dict__``
        when it is a callable object, and not at all when it is a function."""
        state = self._attributes("_scale_fn_custom")
        state["_scale_fn_custom"] = _callable_state(self._scale_fn_custom)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("_scale_fn_custom", None)
        super().load_state_dict(state)
        _restore_callable(self._scale_fn_custom, saved)


class PolynomialLR(LRScheduler):
    """Decay the learning rate polynomially to 0 over ``total_iters`` epochs:
    lr = initial_lr * (1 - min(epoch, total_iters) / total_iters) ** power.

    Parameters
    ----------
    optimizer : Optimizer
    total_iters : int, default=5
        Epochs over which to decay; the rate stays 0 afterwards.
    power : float, default=1.0
        1 decays linearly.
    last_epoch : int, default=-1

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import PolynomialLR
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = PolynomialLR(opt, total_iters=4, power=2.0)
    >>> lrs = []
    >>> for _ in range(4):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    >>> lrs
    [0.5625, 0.25, 0.0625, 0.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        total_iters: int = 5,
        power: float = 1.0,
        last_epoch: int = -1,
    ) -> None:
        _check_positive_int("PolynomialLR", "total_iters", total_iters)
        check_number("PolynomialLR", "power", power)
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # Recursive, as PyTorch's: each epoch scales the current lr by the ratio of this
        # epoch's decay to the last one's.
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._group_lrs()
        decay = (
            (1.0 - self.last_epoch / self.total_iters)
            / (1.0 - (self.last_epoch - 1) / self.total_iters)
        ) ** self.power
        return [lr * decay for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        decay = (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
        return [base * decay for base in self.base_lrs]


def _composite_state(owner: Any) -> dict[str, Any]:
    """The state of a scheduler made of others (``SequentialLR``, ``ChainedScheduler``): its
    own attributes, and each inner scheduler's state under ``_schedulers``."""
    state = {
        k: copy.deepcopy(v)
        for k, v in owner.__dict__.items()
        if k not in ("optimizer", "_schedulers")
    }
    state["_schedulers"] = [s.state_dict() for s in owner._schedulers]
    return state


def _load_inner(schedulers: list[Any], states: list[dict[str, Any]]) -> None:
    for scheduler, saved in zip(schedulers, states, strict=True):
        scheduler.load_state_dict(saved)


class SequentialLR(LRScheduler):
    """Run schedules one after another, switching at the milestone epochs.

    Parameters
    ----------
    optimizer : Optimizer
    schedulers : list of LRScheduler
        Built on ``optimizer``; schedule i runs from milestone i - 1 (or 0) to milestone i,
        restarting from its own epoch 0.
    milestones : list of int
        One fewer than the schedulers, increasing.
    last_epoch : int, default=-1

    Examples
    --------
    A linear warm-up over 2 epochs, then exponential decay:

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import ExponentialLR, LinearLR, SequentialLR
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> warmup = LinearLR(opt, start_factor=0.5, total_iters=2)
    >>> decay = ExponentialLR(opt, gamma=0.5)
    >>> sched = SequentialLR(opt, [warmup, decay], milestones=[2])
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for _ in range(4):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer("SequentialLR", optimizer)
        if len(schedulers) < 1:
            raise ValueError("SequentialLR: expected at least one scheduler, got none")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"SequentialLR: ReduceLROnPlateau cannot be sequenced (its step needs a "
                    f"metric), got one at index {i}"
                )
            if not isinstance(scheduler, LRScheduler):
                raise TypeError(
                    f"SequentialLR: expected LRSchedulers, got {type(scheduler).__name__} "
                    f"at index {i}"
                )
            if scheduler.optimizer is not optimizer:
                raise ValueError(
                    f"SequentialLR: expected every scheduler to drive the given optimizer, "
                    f"got {type(scheduler).__name__} at index {i} driving another"
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: expected {len(schedulers) - 1} milestones (one fewer than "
                f"schedulers), got {len(milestones)}"
            )
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # Undo the first step each scheduler took when it was built, then start the first.
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._recursive_undo(self)
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def _recursive_undo(self, scheduler: Any) -> None:
        if isinstance(scheduler, SequentialLR) and hasattr(scheduler, "_schedulers"):
            for inner in scheduler._schedulers:
                self._recursive_undo(inner)
        elif hasattr(scheduler, "last_epoch"):
            scheduler.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]  # no epoch form, as in PyTorch
        """Advance one epoch: step the schedule in force, or start the next one from its
        epoch 0 at a milestone, and take its learning rates. Unlike the single schedules,
        no ``epoch`` argument, as in PyTorch."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        return _composite_state(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        inner = state.pop("_schedulers")
        super().load_state_dict(state)
        _load_inner(self._schedulers, inner)


class ChainedScheduler(LRScheduler):
    """Step several schedules together every epoch, so that their factors multiply.

    Parameters
    ----------
    schedulers : sequence of LRScheduler
        Built on the same optimizer; stepped in this order.
    optimizer : Optimizer, optional
        That optimizer (by default the first scheduler's).

    Examples
    --------
    A constant warm-up factor for 2 epochs on top of exponential decay:

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import ChainedScheduler, ConstantLR, ExponentialLR
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = ChainedScheduler(
    ...     [ConstantLR(opt, factor=0.1, total_iters=2), ExponentialLR(opt, gamma=0.5)]
    ... )
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for _ in range(3):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    >>> lrs
    [0.1, 0.05, 0.25, 0.125]
    """

    def __init__(
        self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None
    ) -> None:
        if len(schedulers) < 1:
            raise ValueError("ChainedScheduler: expected at least one scheduler, got none")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"ChainedScheduler: ReduceLROnPlateau cannot be chained (its step needs a "
                    f"metric), got one at index {i}"
                )
            if not isinstance(scheduler, LRScheduler):
                raise TypeError(
                    f"ChainedScheduler: expected LRSchedulers, got {type(scheduler).__name__} "
                    f"at index {i}"
                )
        optimizer = schedulers[0].optimizer if optimizer is None else optimizer
        _check_optimizer("ChainedScheduler", optimizer)
        for i, scheduler in enumerate(schedulers):
            if scheduler.optimizer is not optimizer:
                raise ValueError(
                    f"ChainedScheduler: expected every scheduler to drive the same optimizer, "
                    f"got {type(scheduler).__name__} at index {i} driving another"
                )
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._last_lr = self._group_lrs()

    def step(self) -> None:  # type: ignore[override]  # no epoch form, as in PyTorch
        """Advance one epoch: step every schedule in turn, so that their factors multiply.
        Unlike the single schedules, no ``epoch`` argument, as in PyTorch."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._group_lrs()

    def state_dict(self) -> dict[str, Any]:
        return _composite_state(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        inner = state.pop("_schedulers")
        self.__dict__.update(copy.deepcopy(state))
        _load_inner(self._schedulers, inner)


class ReduceLROnPlateau(LRScheduler):
    """Cut the learning rate by ``factor`` once a metric has stopped improving.

    Parameters
    ----------
    optimizer : Optimizer
    mode : {"min", "max"}, default="min"
        Whether the metric should fall (a loss) or rise (an accuracy).
    factor : float, default=0.1
        new_lr = lr * factor, in [0, 1).
    patience : int, default=10
        Epochs without improvement tolerated; the lr drops on the next one.
    threshold : float, default=1e-4
        Smallest change that counts as an improvement.
    threshold_mode : {"rel", "abs"}, default="rel"
        "rel": improving means beating best * (1 - threshold) in min mode (best * (1 +
        threshold) in max mode); "abs": beating best -/+ threshold.
    cooldown : int, default=0
        Epochs after a reduction during which bad epochs are not counted.
    min_lr : float or list of float, default=0
        Lower bound on each group's lr.
    eps : float, default=1e-8
        A reduction smaller than this is skipped.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import ReduceLROnPlateau
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = ReduceLROnPlateau(opt, patience=1, factor=0.5)
    >>> for val_loss in [1.0, 0.9, 0.9, 0.9]:   # two epochs without improvement
    ...     sched.step(val_loss)
    >>> sched.get_last_lr()
    [0.5]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        where = "ReduceLROnPlateau"
        _check_optimizer(where, optimizer)
        check_number(where, "factor", factor)
        if not 0 <= factor < 1:
            raise ValueError(f"{where}: factor must be in [0, 1), got {factor!r}")
        check_nonnegative(where, "patience", patience)
        check_nonnegative(where, "cooldown", cooldown)
        check_nonnegative(where, "threshold", threshold)
        check_nonnegative(where, "eps", eps)
        self.optimizer = optimizer
        self.factor = factor
        self.default_min_lr: float | None
        self.min_lrs: list[float]
        if isinstance(min_lr, Sequence):
            self.default_min_lr = None
            self.min_lrs = _per_group(where, "min_lr", optimizer, min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._group_lrs()
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}"
            )
        self.mode = mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        """Whether bad epochs are currently being ignored after a reduction."""
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record this epoch's metric and reduce the learning rates if it has plateaued.

        Parameters
        ----------
        metrics : float
            The monitored value (a number, a 0-d array or a one-element tensor).
        epoch : int, optional
            Deprecated, as in PyTorch: the epoch to record as ``last_epoch`` instead of the
            next one. Warns; call ``step(metrics)`` without it.
        """
        current = float(metrics)
        if epoch is None:
            self.last_epoch += 1
        else:
            _warn_epoch_argument("ReduceLROnPlateau")
            self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._group_lrs()

    def _reduce_lr(self) -> None:
        n_groups = len(self.optimizer.param_groups)
        if len(self.min_lrs) != n_groups:
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: expected {len(self.min_lrs)} parameter groups (one "
                    f"per min_lr), got {n_groups}; a group was added, so set min_lrs to match"
                )
            self.min_lrs = [self.default_min_lr] * n_groups
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)


class OneCycleLR(LRScheduler):
    """The 1cycle policy: warm the lr up to ``max_lr``, then anneal it far below the start.

    Steps once per batch (``fit(scheduler=)`` steps it after each optimizer step). Momentum
    (or Adam's beta1) moves the opposite way when ``cycle_momentum`` is on.

    Parameters
    ----------
    optimizer : Optimizer
    max_lr : float or list of float
        Peak learning rate of each group.
    total_steps : int, optional
        Steps in the cycle; else ``epochs * steps_per_epoch``.
    epochs, steps_per_epoch : int, optional
    pct_start : float, default=0.3
        Share of the cycle spent warming up, in [0, 1].
    anneal_strategy : {"cos", "linear"}, default="cos"
    cycle_momentum : bool, default=True
        Cycle ``momentum`` (SGD, RMSprop) or ``betas[0]`` (Adam and kin) between
        ``max_momentum`` and ``base_momentum``, inversely to the lr.
    base_momentum, max_momentum : float or list of float, default=0.85, 0.95
    div_factor : float, default=25
        Initial lr = max_lr / div_factor.
    final_div_factor : float, default=1e4
        Final lr = initial lr / final_div_factor.
    three_phase : bool, default=False
        Up, back down to the initial lr symmetrically, then down to the final lr (the
        original paper's schedule); otherwise up, then down to the final lr (fastai's).
    last_epoch : int, default=-1

    Notes
    -----
    Within a phase from step a to step b, with p = (step - a) / (b - a), the lr moves from
    start to end as end + (start - end) * (1 + cos(pi p)) / 2 ("cos") or
    start + (end - start) * p ("linear"). The phases end at steps pct_start * total_steps - 1
    (and 2 * pct_start * total_steps - 2 with three_phase) and total_steps - 1.

    Reference: Smith and Topin, "Super-Convergence: Very Fast Training of Neural Networks
    Using Large Learning Rates" (2018).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import OneCycleLR
    >>> opt = SGD([cr.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    >>> sched = OneCycleLR(opt, max_lr=1.0, total_steps=4, pct_start=0.5, anneal_strategy="linear")
    >>> lrs, momenta = [sched.get_last_lr()[0]], [opt.param_groups[0]["momentum"]]
    >>> for _ in range(3):
    ...     opt.step()
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    ...     momenta.append(round(opt.param_groups[0]["momentum"], 4))
    >>> lrs
    [0.04, 1.0, 0.5, 0.0]
    >>> momenta
    [0.95, 0.85, 0.9, 0.95]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        where = "OneCycleLR"
        _check_optimizer(where, optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            _check_positive_int(where, "total_steps", total_steps)
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            _check_positive_int(where, "epochs", epochs)
            _check_positive_int(where, "steps_per_epoch", steps_per_epoch)
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(
                f"{where}: expected total_steps, or both epochs and steps_per_epoch, "
                f"got total_steps={total_steps}, epochs={epochs}, "
                f"steps_per_epoch={steps_per_epoch}"
            )
        check_number(where, "pct_start", pct_start)
        if not 0 <= pct_start <= 1:
            raise ValueError(f"{where}: pct_start must be in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"{where}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        # Under PyTorch's attribute name, so that state dicts carry it either way.
        self._anneal_func_type = anneal_strategy
        n = self.total_steps
        self._schedule_phases: list[dict[str, Any]]
        if three_phase:
            self._schedule_phases = [
                {
                    "end_step": float(pct_start * n) - 1,
                    "start_lr": "initial_lr",
                    "end_lr": "max_lr",
                    "start_momentum": "max_momentum",
                    "end_momentum": "base_momentum",
                },
                {
                    "end_step": float(2 * pct_start * n) - 2,
                    "start_lr": "max_lr",
                    "end_lr": "initial_lr",
                    "start_momentum": "base_momentum",
                    "end_momentum": "max_momentum",
                },
                {
                    "end_step": n - 1,
                    "start_lr": "initial_lr",
                    "end_lr": "min_lr",
                    "start_momentum": "max_momentum",
                    "end_momentum": "max_momentum",
                },
            ]
        else:
            self._schedule_phases = [
                {
                    "end_step": float(pct_start * n) - 1,
                    "start_lr": "initial_lr",
                    "end_lr": "max_lr",
                    "start_momentum": "max_momentum",
                    "end_momentum": "base_momentum",
                },
                {
                    "end_step": n - 1,
                    "start_lr": "max_lr",
                    "end_lr": "min_lr",
                    "start_momentum": "base_momentum",
                    "end_momentum": "max_momentum",
                },
            ]

        max_lrs = _per_group(where, "max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for lr, group in zip(max_lrs, optimizer.param_groups, strict=True):
                group["initial_lr"] = lr / div_factor
                group["max_lr"] = lr
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"{where}: cycle_momentum needs an optimizer with momentum or betas, "
                    f"got {type(optimizer).__name__}; pass cycle_momentum=False"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group(where, "max_momentum", optimizer, max_momentum)
            base_momentums = _per_group(where, "base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for m_max, m_base, group in zip(
                    max_momentums, base_momentums, optimizer.param_groups, strict=True
                ):
                    if self.use_beta1:
                        group["betas"] = (m_max, *group["betas"][1:])
                    else:
                        group["momentum"] = m_max
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)

    @property
    def anneal_strategy(self) -> str:
        """``"cos"`` or ``"linear"``."""
        return str(self._anneal_func_type)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        if "anneal_strategy" in state:  # the key of chainrule's files before 2026-11-28
            state["_anneal_func_type"] = state.pop("anneal_strategy")
        super().load_state_dict(state)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"OneCycleLR: stepped {step_num} times, but total_steps is {self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = float(phase["end_step"])
                if step_num <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                        )
                    break
                start_step = end_step
            lrs.append(lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs
