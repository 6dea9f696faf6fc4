"""Callbacks: code that ``fit`` calls at fixed points of training.

The protocol is seven methods, each given the ``FitState`` (model, optimizer, history, epoch,
step, ``stop_training``...) and, where there are any, the logs of that point:

- ``on_train_begin(state)`` / ``on_train_end(state)``
- ``on_epoch_begin(state)`` / ``on_epoch_end(state, logs)`` (logs: ``loss``, ``val_loss``,
  metrics, ``lr``, ``time`` of the epoch)
- ``on_batch_begin(state)`` / ``on_batch_end(state, logs)`` (logs: ``loss`` of the step)
- ``on_exception(state, error)``: ``fit`` stops on an exception (from the model, the loss, a
  callback...); called instead of ``on_train_end``, before the exception goes on, so that a
  callback can release what ``on_train_begin`` took (hooks on the model, files), as PyTorch
  Lightning's ``on_exception``. Keras has no such hook and calls nothing then.

A callback stops training by setting ``state.stop_training = True`` (and, for the record,
``state.stop_reason``), or as in Keras with ``self.model.stop_training = True``: when training
begins, ``fit`` sets each callback's ``model`` and ``params`` (``epochs``, ``steps``,
``verbose``), as Keras does.

A callback written for Keras works as it is: a hook whose first parameter is named as in
Keras's documentation (``on_epoch_end(self, epoch, logs=None)``, ``on_train_begin(self,
logs=None)``, ``on_batch_end(self, batch, logs=None)``) is called with Keras's arguments,
epochs and batches counted from 0; ``on_train_batch_begin(self, batch, logs)`` and
``on_train_batch_end(self, batch, logs)`` are called before and after each step.

A callback with ``state_dict()`` and ``load_state_dict(state)`` (``EarlyStopping``,
``ModelCheckpoint``, ``ReduceLROnPlateau``, or one of the user's) has its state kept in the
checkpoints that ``ModelCheckpoint`` writes, under its class name and its position among the
run's callbacks of that class; ``fit(resume_from=)`` puts it back after ``on_train_begin``, so
that a resumed run counts, stops and keeps the best epoch as an uninterrupted one would.

In a distributed run (``chainrule.distributed``) every rank runs the callbacks with the same
logs, so that all decide alike; the ones that print or write files do so only where
``state.is_root`` (rank 0).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import inspect
import math
import numbers
import pickle
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainrule.backend import np

if TYPE_CHECKING:
    from chainrule.nn.module import Module
    from chainrule.train.loop import FitState


def _say(message: str) -> None:
    """A callback's ``verbose`` message, on stderr with fit's progress lines."""
    print(message, file=sys.stderr, flush=True)


class Callback:
    """Base class: every hook does nothing.

    Attributes
    ----------
    model : Module or None
        The model being trained, set by ``fit`` when training begins.
    params : dict or None
        ``{'verbose', 'epochs', 'steps'}`` of the run, set by ``fit`` likewise
        (``epochs`` None for the calls of an estimator's ``partial_fit``, of no known
        number).
    """

    model: Any = None
    params: dict[str, Any] | None = None

    def on_train_begin(self, state: FitState) -> None:
        pass

    def on_train_end(self, state: FitState) -> None:
        pass

    def on_epoch_begin(self, state: FitState) -> None:
        pass

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        pass

    def on_batch_begin(self, state: FitState) -> None:
        pass

    def on_batch_end(self, state: FitState, logs: dict[str, float]) -> None:
        pass

    def on_exception(self, state: FitState, error: BaseException) -> None:
        """``fit`` stops on ``error`` (``on_train_end`` is not called); it is raised again
        after every callback's ``on_exception``."""


@contextlib.contextmanager
def calling_on_exception(callbacks: Sequence[Callback], state: FitState) -> Iterator[None]:
    """Run the block; if it raises, call each callback's ``on_exception`` and raise again."""
    try:
        yield
    except BaseException as error:
        for callback in callbacks:
            callback.on_exception(state, error)
        raise


_FALLING = ("loss", "mse", "mae", "mape", "msle", "error", "crossentropy", "hinge", "divergence")
"""Words in a quantity's name that say lower is better."""

_RISING = (
    "acc",
    "auc",
    "precision",
    "recall",
    "f1",
    "r2",
    "iou",
    "dice",
    "similarity",
    "score",  # scikit-learn's *_score functions (fbeta_score, cohen_kappa_score...)
    "corrcoef",  # matthews_corrcoef
    "kappa",
)
"""Words in a quantity's name that say higher is better (when no falling word is there)."""


def _better(mode: str, monitor: str, state: FitState | None = None) -> str:
    """'min' or 'max': ``mode`` itself, or for 'auto' the direction of the metric ``fit``
    logs under ``monitor`` (its ``greater_is_better``); where that is unknown (a plain
    function's, or a quantity fit has no metric for), the direction read from the name, as
    Keras reads it: losses and errors fall; accuracies, AUC, precision, recall, F1, R²,
    IoU, Dice, kappa, correlation coefficients and scikit-learn's ``*_score`` functions
    rise (a name ending in ``_score`` rises whatever else it holds, as
    ``d2_absolute_error_score``; ``brier_score_loss``, a loss, falls); anything else is
    taken to fall."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"callbacks: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    for metric in state.metrics if state is not None else ():
        if metric.name == name and metric.greater_is_better is not None:
            return "max" if metric.greater_is_better else "min"
    lowered = monitor.lower()
    if lowered.endswith("_score"):
        # scikit-learn names every score it maximizes *_score, some after the error or loss
        # they are computed from (d2_absolute_error_score, d2_log_loss_score).
        return "max"
    if any(word in lowered for word in _FALLING):
        return "min"
    return "max" if any(word in lowered for word in _RISING) else "min"


def _count(value: Any, where: str, name: str) -> int:
    """``value`` as an int, refused unless an integer >= 0 (NumPy's included, bool not)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{where}: {name} must be an integer >= 0, got {value!r}")
    return int(value)


def _restored(where: str, state: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """``state`` once checked to be a dict holding ``keys`` (what ``state_dict`` gave)."""
    if not isinstance(state, dict) or any(key not in state for key in keys):
        got = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(
            f"{where}.load_state_dict: expected a dict with keys {list(keys)}, got {got}"
        )
    return state


def _monitored(monitor: str, logs: dict[str, float], where: str, state: FitState) -> float | None:
    """The monitored value; None on an epoch that ``fit(validation_freq=)`` did not
    validate, which the callbacks skip, as Keras's do."""
    if monitor.startswith("val_") and state.validation_skipped:
        return None
    if monitor not in logs:
        raise ValueError(
            f"{where}: monitor {monitor!r} is not logged; available: {sorted(logs)}. "
            f"Validation quantities need validation_data or validation_split"
        )
    return float(logs[monitor])


def _weights_of(model: Module) -> dict[str, Any]:
    """A copy of ``model``'s state (parameters and buffers), as arrays."""
    return {k: v.data.copy() for k, v in model.state_dict().items()}


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs in a
    row (with 0 or 1, at the first such epoch), as Keras's ``EarlyStopping`` does.

    Parameters
    ----------
    monitor : str, default='val_loss'
    patience : int, default=0
    min_delta : float, default=0
        Smallest change that counts as an improvement.
    mode : {'auto', 'min', 'max'}, default='auto'
        'auto' follows the monitored metric's ``greater_is_better``; for a plain function
        metric (whose direction is unknown) and other quantities it reads the name, as
        Keras does: accuracies, AUC, precision, recall, F1, R², IoU, Dice, kappa,
        correlation coefficients (``matthews_corrcoef``) and scikit-learn's ``*_score``
        functions (a name ending in ``_score``, even ``d2_absolute_error_score``) are
        maximized; losses, errors and anything else minimized.
    restore_best_weights : bool, default=False
        At the end, put back the weights of the best epoch; as in Keras 3, those of the
        first epoch counted where none improves on it (a monitor NaN from the start).
    baseline : float, optional
        As in Keras: until ``monitor`` improves on this value, the epochs count as without
        improvement, so that training stops after ``patience`` epochs if none beats it
        (never at the first epoch of training: with ``patience`` 0 or 1 and no warm-up,
        after the second).
    start_from_epoch : int, default=0
        As in Keras: the first ``start_from_epoch`` epochs are a warm-up, neither counted
        nor recorded as the best. As in Keras, training never stops at the first epoch
        of training; it may stop at the first epoch counted after the warm-up.
    verbose : int, default=0
        1: say on stderr, at the end, the epoch training stopped at and whether the best
        weights were restored, as Keras does.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        baseline: float | None = None,
        start_from_epoch: int = 0,
        verbose: int = 0,
    ) -> None:
        patience = _count(patience, "EarlyStopping", "patience")
        start_from_epoch = _count(start_from_epoch, "EarlyStopping", "start_from_epoch")
        self.baseline, self.start_from_epoch = baseline, start_from_epoch
        self.monitor, self.patience, self.min_delta = monitor, patience, abs(min_delta)
        self._mode, self.mode = mode, _better(mode, monitor)
        self.restore_best_weights, self.verbose = restore_best_weights, verbose
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = self.stopped_epoch = 0
        self.wait = 0
        self._best_weights: dict[str, Any] | None = None

    def on_train_begin(self, state: FitState) -> None:
        self.mode = _better(self._mode, self.monitor, state)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch, self.wait, self._best_weights = 0, 0, None
        self.stopped_epoch = 0

    def _improved(self, value: float) -> bool:
        return self._improved_on(value, self.best)

    def _improved_on(self, value: float, reference: float) -> bool:
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        value = _monitored(self.monitor, logs, "EarlyStopping", state)
        if value is None or state.epoch <= self.start_from_epoch:
            return
        improved = self._improved(value)
        if self.restore_best_weights and self._best_weights is None and not improved:
            # As Keras 3: the first epoch counted is the best until one improves on it, so
            # that a monitor that never improves (NaN from the start) still restores it.
            self._best_weights, self.best_epoch = _weights_of(state.model), state.epoch
        self.wait += 1
        if improved:
            self.best, self.best_epoch = value, state.epoch
            if self.restore_best_weights:
                self._best_weights = _weights_of(state.model)
            # As Keras documents: an improvement that does not beat the baseline still
            # counts as waiting, so that a baseline never reached stops after `patience`.
            # (Keras 3's code returns here instead, and trains on while the value improves
            # however far from the baseline; its documentation, and Keras 2, stop.)
            if self.baseline is None or self._improved_on(value, self.baseline):
                self.wait = 0
                return
        # As Keras ("only check after the first epoch"): the first epoch of training never
        # ends it, however a baseline is set (with a warm-up, Keras's check is passed).
        if self.wait >= self.patience and state.epoch > 1:
            state.stop_training, self.stopped_epoch = True, state.epoch
            state.stop_reason = (
                f"early stopping: {self.monitor} did not improve for {self.wait} epochs "
                f"(best {self.best:.6g} at epoch {self.best_epoch})"
            )

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to count on: the best value and its epoch, the epochs
        waited, the epoch that stopped training (0: none) and, with
        ``restore_best_weights``, the best weights."""
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": self._best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Go on from ``state``, as ``state_dict`` gave it."""
        keys = ("best", "best_epoch", "wait", "stopped_epoch", "best_weights")
        state = _restored("EarlyStopping", state, keys)
        self.best = float(state["best"])
        self.best_epoch, self.wait = int(state["best_epoch"]), int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        weights = state["best_weights"]
        self._best_weights = (
            None if weights is None else {k: np.array(v) for k, v in weights.items()}
        )

    def on_train_end(self, state: FitState) -> None:
        talk = self.verbose and state.is_root
        if talk and self.stopped_epoch:
            _say(f"Epoch {self.stopped_epoch}: early stopping")
        if self.restore_best_weights and self._best_weights is not None:
            if talk:
                _say(f"Restoring model weights from the end of the best epoch: {self.best_epoch}.")
            state.model.load_state_dict(self._best_weights)


class ModelCheckpoint(Callback):
    """Write a training checkpoint (model, optimizer, scheduler, epoch, random states,
    history, and the states of the run's callbacks that have ``state_dict()``) that
    ``fit(..., resume_from=path)`` continues from as if never interrupted.

    Parameters
    ----------
    path : str or Path
        File to write, in a folder made if missing. Fields as in Keras are filled in:
        ``{epoch}`` (from 1) and any logged value, such as ``{val_loss:.3f}``. Keras's
        name ``filepath=`` is taken too.
    every_n_epochs : int, default=1
    save_best_only : bool, default=False
        Write only when ``monitor`` improves.
    monitor : str, default='val_loss'
    mode : {'auto', 'min', 'max'}, default='auto'
        As ``EarlyStopping``'s.
    save_weights_only : bool, default=False
        As in Keras: write the model alone (``chainrule.io.save``: weights, and the
        architecture where it can be described), without the optimizer and the rest of the
        run, so the file cannot resume training. Read it back with ``chainrule.io.load`` or
        ``chainrule.io.load_state_dict_file``, as any checkpoint's weights.
    verbose : int, default=0
        1: a line on stderr for each file written, as Keras prints one.
    filepath : str or Path, optional
        Keras's name for ``path``; give one of the two.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        every_n_epochs: int = 1,
        save_best_only: bool = False,
        monitor: str = "val_loss",
        mode: str = "auto",
        *,
        save_weights_only: bool = False,
        verbose: int = 0,
        filepath: str | Path | None = None,
    ) -> None:
        if (path is None) == (filepath is None):
            raise TypeError(
                "ModelCheckpoint: expected the file to write as path or filepath (Keras's "
                f"name), exactly one of them; got path={path!r}, filepath={filepath!r}"
            )
        if (
            isinstance(every_n_epochs, bool)
            or not isinstance(every_n_epochs, int)
            or every_n_epochs < 1
        ):
            raise ValueError(
                f"ModelCheckpoint: every_n_epochs must be a positive integer, got "
                f"{every_n_epochs!r} (Keras's second argument, monitor, is a keyword here)"
            )
        chosen = path if path is not None else filepath
        assert chosen is not None  # one of the two, checked above
        self.path = str(chosen)
        self.every_n_epochs, self.save_best_only = every_n_epochs, save_best_only
        self.monitor, self._mode, self.mode = monitor, mode, _better(mode, monitor)
        self.save_weights_only, self.verbose = save_weights_only, verbose
        self.best = math.inf if self.mode == "min" else -math.inf
        self.last_path: Path | None = None

    def on_train_begin(self, state: FitState) -> None:
        mode = _better(self._mode, self.monitor, state)
        if mode != self.mode and self.last_path is None:  # nothing saved under the guess
            self.mode, self.best = mode, math.inf if mode == "min" else -math.inf

    def state_dict(self) -> dict[str, Any]:
        """The best monitored value so far and the last file written, for a resumed run."""
        return {
            "best": self.best,
            "last_path": None if self.last_path is None else str(self.last_path),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Go on from ``state``, as ``state_dict`` gave it."""
        state = _restored("ModelCheckpoint", state, ("best", "last_path"))
        self.best = float(state["best"])
        self.last_path = None if state["last_path"] is None else Path(state["last_path"])

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if state.epoch % self.every_n_epochs:
            return
        if state.validation_skipped and "{val_" in str(self.path):
            return  # its name needs this epoch's validation, which validation_freq skipped
        previous = self.best
        if self.save_best_only:
            value = _monitored(self.monitor, logs, "ModelCheckpoint", state)
            if value is None:
                return
            improved = value < self.best if self.mode == "min" else value > self.best
            if not improved:
                return
            self.best = value
        try:
            self.last_path = Path(self.path.format(**{**logs, "epoch": state.epoch}))
        except KeyError as error:
            raise ValueError(
                f"ModelCheckpoint: path {self.path!r} names {error.args[0]!r}, which is not "
                f"logged; available: {sorted(['epoch', *logs])}"
            ) from None
        except (IndexError, ValueError) as error:  # "{}", "{0}", "{epoch:d" and the like
            raise ValueError(
                f"ModelCheckpoint: expected a path whose fields name logged values, as in "
                f"'ckpt/{{epoch:02d}}-{{val_loss:.3f}}.safetensors', got {self.path!r} ({error})"
            ) from None
        if state.is_root:
            self.last_path.parent.mkdir(parents=True, exist_ok=True)
            if self.save_weights_only:
                from chainrule.io import save

                save(state.model, self.last_path)
            else:
                state.save_checkpoint(self.last_path)
            if self.verbose:
                improvement = (
                    f"{self.monitor} improved from {previous:.5f} to {self.best:.5f}, "
                    if self.save_best_only
                    else ""
                )
                _say(f"Epoch {state.epoch}: {improvement}saving model to {self.last_path}")


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, lr)``, or to
    ``schedule(epoch)`` for a function of the epoch alone (epochs counted from 0, as in
    Keras). ``verbose=1`` says each rate set, on stderr.

    Raises
    ------
    ValueError
        When training, for a schedule that returns anything but a finite real number >= 0
        (None, a negative or NaN rate, an array of several values), naming what it returned
        and for which epoch."""

    def __init__(self, schedule: Any, verbose: int = 0) -> None:
        if not callable(schedule):
            raise TypeError(
                f"LearningRateScheduler: expected a function, got {type(schedule).__name__}"
            )
        self.schedule, self.verbose = schedule, verbose
        self._takes_lr = _takes_two_arguments(schedule)

    def on_epoch_begin(self, state: FitState) -> None:
        epoch = state.epoch - 1
        groups = state.optimizer.param_groups
        rates = []
        for group in groups:
            called = (
                f"schedule({epoch}, {group['lr']!r})" if self._takes_lr else f"schedule({epoch})"
            )
            lr = self.schedule(epoch, group["lr"]) if self._takes_lr else self.schedule(epoch)
            rates.append(_learning_rate(lr, called, state.epoch))
        for group, lr in zip(groups, rates, strict=True):  # none set unless all are rates
            group["lr"] = lr
        if self.verbose and state.is_root:
            lr = state.optimizer.param_groups[0]["lr"]
            _say(f"Epoch {state.epoch}: LearningRateScheduler setting learning rate to {lr}.")


def _learning_rate(value: Any, called: str, epoch: int) -> float:
    """``value`` as a learning rate, refused unless a finite real number >= 0 (a NumPy
    scalar or 0-d array included; bool not), as Keras refuses a schedule's non-float."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    real = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    if not real or not math.isfinite(float(value)) or float(value) < 0:
        raise ValueError(
            f"LearningRateScheduler: expected the schedule to return a finite learning rate "
            f">= 0, got {value!r} from {called}, as epoch {epoch} began (epochs counted from 1; "
            f"the schedule's from 0)"
        )
    return float(value)


def _takes_two_arguments(function: Any) -> bool:
    """Whether ``function`` can be called with two positional arguments (True when its
    signature cannot be read)."""
    try:
        inspect.signature(function).bind(0, 0.0)
    except TypeError:
        return False
    except ValueError:
        return True
    return True


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for
    ``patience`` epochs in a row (after ``cooldown`` epochs, never below ``min_lr``), as
    Keras's ``ReduceLROnPlateau`` does; ``verbose=1`` says each reduction, on stderr."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        verbose: int = 0,
    ) -> None:
        if not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor!r}")
        patience = _count(patience, "ReduceLROnPlateau", "patience")
        cooldown = _count(cooldown, "ReduceLROnPlateau", "cooldown")
        if not min_lr >= 0:
            raise ValueError(f"ReduceLROnPlateau: min_lr must be >= 0, got {min_lr!r}")
        self.monitor, self.factor, self.patience = monitor, factor, patience
        self._mode, self.mode, self.min_delta = mode, _better(mode, monitor), min_delta
        self.cooldown, self.min_lr, self.verbose = cooldown, min_lr, verbose
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = self.cooldown_left = 0

    def on_train_begin(self, state: FitState) -> None:
        # A fresh count for each run, as Keras resets it: the best value of an earlier fit
        # (of another model, or another learning rate) says nothing about this one.
        self.mode = _better(self._mode, self.monitor, state)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = self.cooldown_left = 0

    def state_dict(self) -> dict[str, Any]:
        """The best value, the epochs waited and the cooldown left, for a resumed run (the
        rates themselves are in the optimizer's state)."""
        return {"best": self.best, "wait": self.wait, "cooldown_left": self.cooldown_left}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Go on from ``state``, as ``state_dict`` gave it."""
        state = _restored("ReduceLROnPlateau", state, ("best", "wait", "cooldown_left"))
        self.best = float(state["best"])
        self.wait, self.cooldown_left = int(state["wait"]), int(state["cooldown_left"])

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        value = _monitored(self.monitor, logs, "ReduceLROnPlateau", state)
        if value is None:
            return
        better = (
            value < self.best - self.min_delta
            if self.mode == "min"
            else value > self.best + self.min_delta
        )
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if better:
            self.best, self.wait = value, 0
            return
        if self.cooldown_left > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            reducible = [g for g in state.optimizer.param_groups if g["lr"] > self.min_lr]
            if not reducible:
                return  # every rate at min_lr already: nothing to do, as in Keras
            for group in reducible:
                group["lr"] = max(group["lr"] * self.factor, self.min_lr)
            self.cooldown_left, self.wait = self.cooldown, 0
            if self.verbose and state.is_root:
                lr = state.optimizer.param_groups[0]["lr"]
                _say(f"Epoch {state.epoch}: ReduceLROnPlateau reducing learning rate to {lr}.")


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file (a header first), its fields split by
    ``separator`` (Keras's argument); with ``append``, add to an existing file."""

    def __init__(self, path: str | Path, append: bool = False, *, separator: str = ",") -> None:
        self.path, self.separator, self.append = Path(path), separator, append
        self._keys: list[str] | None = None

    def on_train_begin(self, state: FitState) -> None:
        self._keys = None
        if state.is_root and not self.append and self.path.exists():
            self.path.unlink()

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if not state.is_root:
            return
        new_file = not self.path.exists() or self.path.stat().st_size == 0
        if self._keys is None:
            self._keys = ["epoch", *logs]
        with self.path.open("a", newline="") as handle:
            writer = csv.writer(handle, delimiter=self.separator)
            if new_file:
                writer.writerow(self._keys)
            row = {"epoch": state.epoch, **logs}
            writer.writerow([row.get(k, "") for k in self._keys])


class TerminateOnNaN(Callback):
    """Stop as soon as a step's loss is NaN or infinite.

    ``fit`` already stops on a non-finite loss with a diagnosis; this callback makes the
    same stop explicit for loops that report losses through the callbacks only.
    """

    def on_batch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if not np.isfinite(logs.get("loss", 0.0)):
            state.stop_training = True
            state.stop_reason = f"non-finite loss at epoch {state.epoch}, step {state.step}"


class LambdaCallback(Callback):
    """A callback made of functions, as Keras's ``LambdaCallback``: each function given is
    called at its point of training with Keras's arguments, epochs and batches counted
    from 0.

    Parameters
    ----------
    on_epoch_begin, on_epoch_end : function ``(epoch, logs)``, optional
        Before and after each epoch; ``logs`` is ``{}`` before, the epoch's logs (``loss``,
        ``val_loss``, metrics, ``lr``, ``time``) after.
    on_batch_begin, on_batch_end : function ``(batch, logs)``, optional
        Before and after each training step, ``batch`` counted within the epoch; ``logs``
        is ``{}`` before, ``{'loss': ...}`` of the step after.
    on_train_batch_begin, on_train_batch_end : function ``(batch, logs)``, optional
        Keras 3's names of ``on_batch_begin`` and ``on_batch_end`` (give one name of each).
    on_train_begin, on_train_end : function ``(logs)``, optional
        When training begins (``logs`` ``{}``) and when it ends (the last epoch's logs).

    Raises
    ------
    TypeError
        For a hook that is neither a function nor None, or given by both of its names.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> epochs = []
    >>> note = LambdaCallback(on_epoch_end=lambda epoch, logs: epochs.append(epoch))
    >>> x, y = np.zeros((8, 2), np.float32), np.zeros(8, np.float32)
    >>> history = cr.fit(cr.nn.Linear(2, 1), "mse", "sgd", x, y, epochs=3, callbacks=note,
    ...                  verbose=0)
    >>> epochs
    [0, 1, 2]
    """

    def __init__(
        self,
        on_epoch_begin: Any = None,
        on_epoch_end: Any = None,
        on_batch_begin: Any = None,
        on_batch_end: Any = None,
        on_train_begin: Any = None,
        on_train_end: Any = None,
        on_train_batch_begin: Any = None,
        on_train_batch_end: Any = None,
    ) -> None:
        if on_train_batch_begin is not None:
            if on_batch_begin is not None:
                raise TypeError(
                    "LambdaCallback: expected on_batch_begin or on_train_batch_begin, got both"
                )
            on_batch_begin = on_train_batch_begin
        if on_train_batch_end is not None:
            if on_batch_end is not None:
                raise TypeError(
                    "LambdaCallback: expected on_batch_end or on_train_batch_end, got both"
                )
            on_batch_end = on_train_batch_end
        given = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_batch_begin": on_batch_begin,
            "on_batch_end": on_batch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
        }
        for name, hook in given.items():
            if hook is not None and not callable(hook):
                raise TypeError(
                    f"LambdaCallback: expected {name} as a function or None, got "
                    f"{type(hook).__name__}"
                )
        # Kept apart from the methods, which fit calls with its state.
        self.hooks = {name: hook for name, hook in given.items() if hook is not None}
        self._batch = 0
        self._last_logs: dict[str, float] = {}

    def on_train_begin(self, state: FitState) -> None:
        self._last_logs = {}
        if "on_train_begin" in self.hooks:
            self.hooks["on_train_begin"]({})

    def on_train_end(self, state: FitState) -> None:
        if "on_train_end" in self.hooks:
            self.hooks["on_train_end"](dict(self._last_logs))

    def on_epoch_begin(self, state: FitState) -> None:
        self._batch = 0
        if "on_epoch_begin" in self.hooks:
            self.hooks["on_epoch_begin"](state.epoch - 1, {})

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        self._last_logs = logs
        if "on_epoch_end" in self.hooks:
            self.hooks["on_epoch_end"](state.epoch - 1, logs)

    def on_batch_begin(self, state: FitState) -> None:
        if "on_batch_begin" in self.hooks:
            self.hooks["on_batch_begin"](self._batch, {})

    def on_batch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if "on_batch_end" in self.hooks:
            self.hooks["on_batch_end"](self._batch, logs)
        self._batch += 1


_STANDARD_STREAMS = ("stdout", "stderr")
"""The streams that a pickled ``ProgressBar`` names instead of holding."""


def _epoch_of(state: FitState) -> str:
    """'epoch 3/10', or 'epoch 3' where the run's length is unknown (partial_fit's)."""
    return f"epoch {state.epoch}" + ("" if state.epochs is None else f"/{state.epochs}")


class ProgressBar(Callback):
    """A tqdm bar per epoch on stderr showing the steps and the running loss, followed at
    the epoch's end by one summary line with every logged value (loss, metrics, ``val_``
    entries, ``lr``), whatever the terminal's width; where stderr is not a terminal (or
    ``tqdm`` is disabled), the summary lines alone. An epoch that ``fit(validation_freq=)``
    did not validate shows no ``val_`` entries.

    A copy (``copy.deepcopy``, and so ``sklearn.base.clone`` of an estimator given the bar in
    its ``callbacks``) writes to the same stream as the original. A pickle keeps
    ``sys.stdout`` and ``sys.stderr`` by name, and unpickles to the process's own; any other
    stream must pickle itself (an open file does not: pickling refuses it, saying so).
    """

    def __init__(self, stream: Any = None, force_bar: bool | None = None) -> None:
        self.stream = stream
        self.force_bar = force_bar
        self._bar: Any = None

    def __copy__(self) -> ProgressBar:
        copied = type(self).__new__(type(self))
        copied.__dict__.update(self.__dict__, _bar=None)
        return copied

    def __deepcopy__(self, memo: dict[int, Any]) -> ProgressBar:
        # The stream is where the user wants the lines: a copy writes there too, and an open
        # file or terminal cannot be deep-copied anyway. A live tqdm bar is not copied.
        copied = type(self).__new__(type(self))
        memo[id(self)] = copied
        for name, value in self.__dict__.items():
            shared = name == "stream" or name == "_bar"
            copied.__dict__[name] = value if shared else copy.deepcopy(value, memo)
        copied._bar = None
        return copied

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__, _bar=None)
        stream = state["stream"]
        for name in _STANDARD_STREAMS:
            if stream is not None and stream in (getattr(sys, name), getattr(sys, f"__{name}__")):
                state["stream"], state["_stream_name"] = None, name
                return state
        if stream is not None:
            try:
                pickle.dumps(stream)
            except Exception as error:
                raise TypeError(
                    f"ProgressBar: cannot pickle its stream {stream!r} ({error}); pass "
                    f"stream=sys.stdout or stream=sys.stderr (pickled by name), or None for "
                    f"sys.stderr, to a bar that must be pickled"
                ) from None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        name = state.pop("_stream_name", None)
        if name is not None:
            state["stream"] = getattr(sys, name)
        self.__dict__.update(state)

    def _use_bar(self) -> bool:
        if self.force_bar is not None:
            return self.force_bar
        stream = self.stream or sys.stderr
        return bool(getattr(stream, "isatty", lambda: False)())

    def on_epoch_begin(self, state: FitState) -> None:
        if state.is_root and self._use_bar():
            from tqdm import tqdm

            self._bar = tqdm(
                total=state.steps_per_epoch,
                desc=_epoch_of(state),
                file=self.stream or sys.stderr,
                leave=True,
                dynamic_ncols=True,
                unit="step",
            )

    def on_batch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(loss=f"{logs['loss']:.4g}", refresh=False)

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        # An epoch that validation_freq did not validate logs NaN for the val_ entries, to
        # keep the columns of loggers; a progress line shows only what was measured.
        skipped = state.validation_skipped
        summary = "  ".join(
            f"{k} {v:.4g}"
            for k, v in logs.items()
            if k != "time" and not (skipped and k.startswith("val_"))
        )
        if self._bar is not None:
            # tqdm cuts its line to the terminal's width, so the summary is not the bar's
            # postfix (at 80 columns val_loss and lr would never show) but a line of its own.
            self._bar.close()
            self._bar = None
        if state.is_root:
            stream = self.stream or sys.stderr
            print(
                f"{_epoch_of(state)}  {summary}  ({logs.get('time', 0):.2f}s)",
                file=stream,
                flush=True,
            )

    def on_train_end(self, state: FitState) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


# A hook written for Keras names its first parameter as Keras's documentation does; chainrule's
# hooks take the FitState first. The name is what tells the two apart.
_KERAS_FIRST_PARAMETER = {
    "on_train_begin": "logs",
    "on_train_end": "logs",
    "on_epoch_begin": "epoch",
    "on_epoch_end": "epoch",
    "on_batch_begin": "batch",
    "on_batch_end": "batch",
}

_KERAS_ONLY = ("on_train_batch_begin", "on_train_batch_end")
"""Keras's names for the batch hooks, which chainrule's own callbacks do not have."""

_CALLBACK_HOOKS = (*_KERAS_FIRST_PARAMETER, *_KERAS_ONLY)
"""The hooks ``fit`` calls, chainrule's or Keras's: an object with one of them is a
callback, as ``fit`` (and the scikit-learn estimators) take it."""


def _first_parameter(hook: Any) -> str | None:
    try:
        parameters = list(inspect.signature(hook).parameters.values())
    except (TypeError, ValueError):
        return None
    return parameters[0].name if parameters else None


class _KerasHooks(Callback):
    """Calls a callback written for Keras the way Keras does.

    Hooks whose first parameter is named as in Keras (``on_epoch_end(self, epoch, logs)``,
    ``on_train_begin(self, logs)``, ``on_batch_end(self, batch, logs)``) get Keras's
    arguments: the epoch counted from 0, the batch counted from 0 within the epoch, and the
    logs (``{}`` when training begins, the last epoch's when it ends). Keras's
    ``on_train_batch_begin(batch, logs)`` and ``on_train_batch_end(batch, logs)`` are called
    before and after each step too, and an object that lacks a hook is taken to do nothing
    there. Other hooks are called as chainrule's.
    """

    def __init__(self, callback: Any, keras_style: set[str]) -> None:
        self.callback = callback
        self.keras_style = keras_style
        self._batch = 0
        self._last_logs: dict[str, float] = {}
        # Per step: the callback's own on_batch_end, chainrule's way or Keras's, and Keras's
        # on_train_batch_end; looked up once here, not at every step.
        on_batch_end = getattr(callback, "on_batch_end", None)
        keras_batch_hooks = [getattr(callback, "on_train_batch_end", None)]
        if "on_batch_end" in keras_style:
            keras_batch_hooks.insert(0, on_batch_end)
            on_batch_end = None
        self._batch_hook = on_batch_end if callable(on_batch_end) else None
        self._keras_batch_hooks = [hook for hook in keras_batch_hooks if callable(hook)]
        on_batch_begin = getattr(callback, "on_batch_begin", None)
        keras_begin_hooks = [getattr(callback, "on_train_batch_begin", None)]
        if "on_batch_begin" in keras_style:
            keras_begin_hooks.insert(0, on_batch_begin)
            on_batch_begin = None
        self._begin_hook = on_batch_begin if callable(on_batch_begin) else None
        self._keras_begin_hooks = [hook for hook in keras_begin_hooks if callable(hook)]

    def _call(self, name: str, state: FitState, keras_args: tuple[Any, ...], *rest: Any) -> None:
        hook = getattr(self.callback, name, None)
        if not callable(hook):
            return
        if name in self.keras_style:
            hook(*keras_args)
        else:
            hook(state, *rest)

    def on_train_begin(self, state: FitState) -> None:
        self._call("on_train_begin", state, ({},))

    def on_train_end(self, state: FitState) -> None:
        self._call("on_train_end", state, (dict(self._last_logs),))

    def on_exception(self, state: FitState, error: BaseException) -> None:
        hook = getattr(self.callback, "on_exception", None)  # Keras has none
        if callable(hook):
            hook(state, error)

    def on_epoch_begin(self, state: FitState) -> None:
        self._batch = 0
        self._call("on_epoch_begin", state, (state.epoch - 1, {}))

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        self._last_logs = logs
        self._call("on_epoch_end", state, (state.epoch - 1, logs), logs)

    def on_batch_begin(self, state: FitState) -> None:
        if self._begin_hook is not None:
            self._begin_hook(state)
        for hook in self._keras_begin_hooks:
            hook(self._batch, {})

    def on_batch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if self._batch_hook is not None:
            self._batch_hook(state, logs)
        for hook in self._keras_batch_hooks:
            hook(self._batch, logs)
        self._batch += 1


def with_keras_hooks(callback: Any) -> Any:
    """``callback`` itself, or a ``_KerasHooks`` around it where any hook is written for
    Keras (or missing, on an object that is not a ``Callback``)."""
    keras_style = {
        name
        for name, first in _KERAS_FIRST_PARAMETER.items()
        if _first_parameter(getattr(callback, name, None)) == first
    }
    complete = isinstance(callback, Callback)
    if complete and not keras_style and not any(hasattr(callback, n) for n in _KERAS_ONLY):
        return callback
    return _KerasHooks(callback, keras_style)
