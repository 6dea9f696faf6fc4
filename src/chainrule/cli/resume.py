"""Checkpoints of ``chainrule train`` that a resumed run continues bit for bit.

``fit(resume_from=...)`` restores the model, optimizer, random generators, history and
epoch from a checkpoint. A run with early stopping also needs the stopper's record (best
validation loss, its epoch, the epochs waited, the best weights). The command's stopper is
not ``chainrule.train.EarlyStopping`` (patience 0 never stops, and a resumed run may change
``--patience``), and its checkpoint carries the run's settings, checked before any training
so that a mismatch is one line: so this module's ``RunCheckpoint`` writes what
``FitState.save_checkpoint`` writes plus that record and the settings, and ``resumable``
checks a checkpoint against this run and restores the record (checkpoints written by
earlier versions keep resuming).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from chainrule.backend import Array, np
from chainrule.cli.errors import UsageError, reword
from chainrule.nn import Module
from chainrule.train import Callback, FitState

CHECKPOINT_NAME = "checkpoint.safetensors"


class ResumableEarlyStopping(Callback):
    """Stop after ``patience`` epochs without a lower validation loss and put back the best
    weights at the end (patience 0: never stop early, keep the last weights).

    Unlike ``chainrule.train.EarlyStopping`` its record goes into each checkpoint, so that a
    resumed run stops, and keeps the weights, where an uninterrupted one would.
    """

    def __init__(self, patience: int, unit: str = "") -> None:
        self.patience = patience
        self.unit = unit  # what the loss is of, where not the target itself
        self.best = math.inf
        self.best_epoch = 0
        self.wait = 0
        self.best_weights: dict[str, Array] | None = None

    @property
    def stopped(self) -> bool:
        return self.patience > 0 and self.wait >= self.patience

    def reason(self) -> str:
        return (
            f"early stopping: no lower validation loss for {self.wait} epochs; best "
            f"{self.best:.4g}{self.unit} at epoch {self.best_epoch}"
        )

    def on_train_begin(self, state: FitState) -> None:
        if self.stopped:  # resumed from the checkpoint of the epoch that stopped training
            state.stop_training, state.stop_reason = True, self.reason()

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        value = logs["val_loss"]
        if value < self.best:
            self.best, self.best_epoch, self.wait = value, state.epoch, 0
            self.best_weights = {k: t.data.copy() for k, t in state.model.state_dict().items()}
            return
        self.wait += 1
        if self.stopped:
            state.stop_training, state.stop_reason = True, self.reason()

    def on_train_end(self, state: FitState) -> None:
        if self.patience > 0 and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)

    def record(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "weights": self.best_weights,
        }

    def restore(self, record: Any) -> None:
        if not isinstance(record, dict):
            raise ValueError(f"expected an early-stopping record, got {record!r:.80}")
        self.best = float(record["best"])
        self.best_epoch, self.wait = int(record["best_epoch"]), int(record["wait"])
        weights = record["weights"]
        self.best_weights = (
            None if weights is None else {k: np.asarray(v) for k, v in weights.items()}
        )


class RunCheckpoint(Callback):
    """After every epoch, one checkpoint file holding what ``fit(resume_from=...)`` restores
    (as ``FitState.save_checkpoint`` writes it) plus the early-stopping record and the run's
    settings, written atomically."""

    def __init__(
        self, path: Path, stopper: ResumableEarlyStopping | None, run: dict[str, Any]
    ) -> None:
        self.path, self.stopper, self.run = path, stopper, run

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        from chainrule.io import save_checkpoint

        if not state.is_root:
            return  # under mpiexec the ranks hold the same state; one writes it
        extra: dict[str, Any] = {"step": state.step, "run": self.run}
        if self.stopper is not None:
            extra["early_stopping"] = self.stopper.record()
        save_checkpoint(
            self.path,
            model=state.model,
            optimizer=state.optimizer,
            scheduler=state.scheduler,
            epoch=state.epoch,
            generators=state.generators(),
            history=state.history.to_dict(),
            extra=extra,
        )


def resumable(
    path: Path,
    folder: str,
    run: dict[str, Any],
    stopper: ResumableEarlyStopping | None,
    scratch: Module,
    epochs: int | None = None,
) -> Path:
    """``path``, once checked to be a checkpoint of this run (same network as ``scratch``,
    same ``run`` settings, no more than ``epochs`` epochs done), with the early-stopping
    record restored into ``stopper``; ``fit(resume_from=path)`` restores the rest."""
    from chainrule.io import load_checkpoint, load_weights

    if not path.exists():
        raise UsageError(
            f"train: --resume: expected a checkpoint in {folder!r}, got none "
            f"(no {CHECKPOINT_NAME}); train without --resume to start"
        )
    try:
        saved_shapes = {
            k.removeprefix("model."): v.shape
            for k, v in load_weights(path).items()
            if k.startswith("model.")
        }
        if saved_shapes != {k: v.shape for k, v in scratch.state_dict().items()}:
            raise UsageError(
                f"train: --resume: expected a checkpoint of this run in {folder!r}, got one of "
                f"another network (other --hidden, --batch-norm, --dropout or columns); train "
                f"without --resume to start afresh"
            )
        checkpoint = load_checkpoint(path, model=scratch)
    except (ValueError, TypeError) as error:
        raise reword(error, "train: --resume") from None
    extra = checkpoint["extra"] or {}
    saved = extra.get("run")
    saved = saved if isinstance(saved, dict) else {}
    if saved != run:
        differing = sorted(k for k in run.keys() | saved.keys() if saved.get(k) != run.get(k))
        raise UsageError(
            f"train: --resume: expected a checkpoint of this run in {folder!r}, got one of a "
            f"run with other {', '.join(differing)}; train without --resume to start afresh"
        )
    if epochs is not None and checkpoint["epoch"] > epochs:
        # Its weights are past the end of the run asked for, which cannot be undone.
        raise UsageError(
            f"train: --epochs: expected at least the {checkpoint['epoch']} epochs the checkpoint "
            f"in {folder!r} has done, got {epochs}; pass --epochs {checkpoint['epoch']} or more "
            f"to continue it, or train without --resume to start afresh"
        )
    if stopper is not None:
        try:
            stopper.restore(extra.get("early_stopping"))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise UsageError(
                f"train: --resume: expected an early-stopping record in {str(path)!r}, got: {error}"
            ) from None
    return path
