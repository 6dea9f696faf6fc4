"""What each rank runs in ``test_acceptance_round8_scripts.py``: ``python mpi_worker_round8.py
OUT [RESUME_FROM]``, alone or under ``mpiexec -n K``.

A user's single-process training scripts, unchanged, run under a launcher: a regression
model (MSE, sample-weighted validation data, metrics, EarlyStopping with
restore_best_weights, ReduceLROnPlateau, ModelCheckpoint, CSVLogger), a run resumed from a
checkpoint, a CNN with BatchNorm2d and Dropout, the batch-norm statistics of one step, fit's
sample_weight and class_weight, and a model built from a different seed on each rank. Every
rank writes what it ended with under OUT, named by its rank; files that only rank 0 may write
carry the rank in their names, so that a file from another rank would show.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.distributed import launch_rank, launch_size
from chainrule.nn import functional as F
from chainrule.optim import Adam
from chainrule.optim.lr_scheduler import ReduceLROnPlateau as PlateauScheduler
from chainrule.train import (
    CSVLogger,
    EarlyStopping,
    History,
    ModelCheckpoint,
    ReduceLROnPlateau,
    fit,
)

RESUME_EPOCHS = 4


def regression_data() -> tuple[np.ndarray, ...]:
    """103 training rows (batches of 10: the last has 3) and 17 sample-weighted validation
    rows, in float64, where the documented tolerance is 1e-10."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(120, 5))
    y = np.tanh(x @ rng.normal(size=(5, 1))) + 0.3 * rng.normal(size=(120, 1))
    weight = rng.uniform(0.5, 2.0, size=17)
    return x[:103], y[:103], x[103:], y[103:], weight


def regression_model() -> nn.Module:
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 1))
    model.reset_parameters(2)
    return model.to(np.float64)


def _record(model: nn.Module, history: History) -> dict[str, Any]:
    return {
        "weights": {k: v.data.tolist() for k, v in model.state_dict().items()},
        "logs": {k: v for k, v in history.history.items() if k != "time"},
        "epochs": history.epoch,
        "stop_reason": history.stop_reason,
    }


def regression(out: Path, rank: int) -> dict[str, Any]:
    x, y, x_val, y_val, weight = regression_data()
    model = regression_model()
    history = fit(
        model,
        "mse",
        Adam(model.parameters(), lr=0.05),
        (x, y),
        epochs=12,
        batch_size=10,
        validation_data=(x_val, y_val, weight),
        metrics=["mae", "r2"],
        seed=3,
        verbose=0,
        callbacks=[
            ReduceLROnPlateau(patience=1, factor=0.5, min_delta=0.0),
            EarlyStopping(patience=3, restore_best_weights=True),
            ModelCheckpoint(out / f"regression-rank{rank}-{{epoch}}.safetensors"),
            CSVLogger(out / f"regression-rank{rank}.csv"),
        ],
    )
    return _record(model, history)


def resumable(out: Path, rank: int, resume_from: str | None) -> dict[str, Any]:
    """Four epochs with a ReduceLROnPlateau scheduler and a validation split, checkpointed
    every epoch; or the same run resumed from ``resume_from``. No fit seed: the script seeds
    the default generator, from which fit draws one, as one process does."""
    cr.manual_seed(7)
    x, y, _, _, _ = regression_data()
    model = regression_model()
    optimizer = Adam(model.parameters(), lr=0.05)
    name = "resumed" if resume_from else "resumable"
    history = fit(
        model,
        "mse",
        optimizer,
        (x, y),
        epochs=RESUME_EPOCHS,
        batch_size=16,
        validation_split=0.25,
        scheduler=PlateauScheduler(optimizer, patience=0, factor=0.5),
        metrics=["mae"],
        verbose=0,
        resume_from=resume_from,
        callbacks=[
            ModelCheckpoint(out / f"{name}-rank{rank}-{{epoch}}.safetensors"),
            CSVLogger(out / f"{name}-rank{rank}.csv"),
        ],
    )
    return _record(model, history)


def cnn(out: Path, rank: int) -> dict[str, Any]:
    """Images of 8 x 8 pixels, 61 rows of which 20% are held out: 49 training rows in
    batches of 8, the last of one row."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(61, 1, 8, 8)).astype(np.float32)
    y = (x[:, 0, :4].mean(axis=(1, 2)) > 0).astype(np.int64) + (x[:, 0, 4:, :4].mean() > 0.3)
    cr.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 3),
    )
    history = fit(
        model,
        "cross_entropy",
        "adam",
        (x, y),
        epochs=6,
        batch_size=8,
        validation_split=0.2,
        metrics=["accuracy"],
        seed=0,
        verbose=2,
        callbacks=[
            EarlyStopping(monitor="val_accuracy", patience=1, restore_best_weights=True),
            ReduceLROnPlateau(patience=1, factor=0.5),
            ModelCheckpoint(out / f"cnn-rank{rank}-{{epoch}}.safetensors", save_best_only=True),
            CSVLogger(out / f"cnn-rank{rank}.csv"),
        ],
    )
    return _record(model, history)


def batchnorm_statistics() -> list[float]:
    """A batch norm's running mean after one step on one batch of 8 rows, in order."""
    x = np.arange(16.0).reshape(8, 2) ** 2
    model = nn.BatchNorm1d(2).to(np.float64)
    fit(model, "mse", "sgd", (x, x), epochs=1, batch_size=8, shuffle=False, seed=0, verbose=0)
    assert model.running_mean is not None
    return [float(v) for v in model.running_mean.data]


def weighted(rank: int) -> list[str]:
    """fit's sample_weight and class_weight: trained alone, refused under a launcher."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    found = []
    for given in ({"sample_weight": np.ones(30)}, {"class_weight": {0: 1.0, 1: 3.0}}):
        try:
            fit(nn.Linear(3, 2), "cross_entropy", "sgd", (x, y), epochs=1, verbose=0, **given)
            found.append("trained")
        except ValueError as error:
            found.append(str(error))
    return found


def seeded_by_rank(rank: int) -> dict[str, Any]:
    """The mistake of a script that seeds each rank differently and gives fit no seed: the
    docs say rank 0's model and random states are given to every rank."""
    cr.manual_seed(100 + rank)
    rng = np.random.default_rng(1)  # the data, alike on every rank
    x = rng.normal(size=(40, 4))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).to(np.float64)
    history = fit(model, "cross_entropy", "adam", (x, y), epochs=3, batch_size=8, verbose=0)
    return _record(model, history)


class DropoutNet(nn.Module):
    """Dropout as a layer (``functional=False``) or as PyTorch scripts often write it,
    ``F.dropout`` in ``forward``, which draws from the default generator. Keeps the masks
    drawn in training."""

    def __init__(self, functional: bool) -> None:
        super().__init__()
        self.hidden, self.out = nn.Linear(4, 32), nn.Linear(32, 2)
        self.dropout = None if functional else nn.Dropout(0.5)
        self.masks: list[list[list[bool]]] = []

    def forward(self, x: Any) -> Any:
        h = self.hidden(x).relu() + 1.0  # no zeros but those of the dropout
        h = F.dropout(h, 0.5, self.training) if self.dropout is None else self.dropout(h)
        if self.training:
            self.masks.append((h.data == 0).tolist())
        return self.out(h)


def dropout_masks() -> dict[str, Any]:
    """The masks each rank drew after ``chainrule.manual_seed(0)`` on every rank: one batch
    of 12 rows, which 2 and 3 ranks cut into equal slices."""
    found = {}
    for functional in (False, True):
        cr.manual_seed(0)
        x = np.random.default_rng(0).normal(size=(12, 4)).astype(np.float32)
        model = DropoutNet(functional)
        y = (x[:, 0] > 0).astype(np.int64)
        fit(model, "cross_entropy", "sgd", (x, y), epochs=2, batch_size=12, verbose=0)
        weights = {k: v.data.tolist() for k, v in model.state_dict().items()}
        found["functional" if functional else "layer"] = {"masks": model.masks, "weights": weights}
    return found


if __name__ == "__main__":
    out = Path(sys.argv[1])
    resume_from = sys.argv[2] if len(sys.argv) > 2 else None
    rank = launch_rank()
    result: dict[str, Any] = {"size": launch_size()}
    result["regression"] = regression(out, rank)
    result["resumable"] = resumable(out, rank, None)
    if resume_from is not None:
        result["resumed"] = resumable(out, rank, resume_from)
    result["cnn"] = cnn(out, rank)
    result["batchnorm"] = batchnorm_statistics()
    result["weighted"] = weighted(rank)
    result["seeded_by_rank"] = seeded_by_rank(rank)
    result["dropout"] = dropout_masks()
    (out / f"result-rank{rank}.json").write_text(json.dumps(result))
