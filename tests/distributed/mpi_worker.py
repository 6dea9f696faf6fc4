"""What each rank runs in the distributed tests: ``mpiexec -n 2 python mpi_worker.py TASK OUT``.

The tests run the same ``train`` in their own process, without MPI, and compare. Every rank
writes what it ended with under OUT, named by its rank; files that only rank 0 may write
are given paths with the rank in them, so that a file from rank 1 would show.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from chainrule import nn
from chainrule.distributed import launch_rank
from chainrule.optim import Adam
from chainrule.optim.lr_scheduler import StepLR
from chainrule.train import Callback, CSVLogger, History, ModelCheckpoint, fit

EPOCHS = 4
BATCH = 32


def problem(dtype: Any, rows: int) -> tuple[nn.Module, np.ndarray, np.ndarray]:
    """Three classes from seven features; the model's weights drawn from a fixed seed."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 7)).astype(dtype)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 0.8)
    model = nn.Sequential(nn.Linear(7, 32), nn.Tanh(), nn.Linear(32, 16), nn.ReLU())
    model.add_module("out", nn.Linear(16, 3))
    model.reset_parameters(1)
    return model.to(dtype), x, y


def train(
    dtype: Any,
    out: Path | None = None,
    resume_epoch: int | None = None,
    verbose: int = 0,
    epochs: int = EPOCHS,
) -> tuple[nn.Module, History]:
    """161 training rows in batches of 32: the last batch has one row, so with two ranks
    rank 1 has none of it. float32 with validation data, checkpoints and a CSV log; float64
    with a validation split and no files."""
    rank = launch_rank()
    if dtype == np.float32:
        model, x, y = problem(dtype, 161 + 40)
        data = {"train_data": (x[:161], y[:161]), "validation_data": (x[161:], y[161:])}
    else:
        model, x, y = problem(dtype, 203)
        data = {"train_data": (x, y), "validation_split": 0.2}
    optimizer = Adam(model.parameters(), lr=0.01)
    callbacks: list[Callback] = []
    resume_from = None
    if out is not None:
        callbacks = [
            ModelCheckpoint(out / f"checkpoint-rank{rank}-{{epoch}}.safetensors"),
            CSVLogger(out / f"log-rank{rank}.csv"),
        ]
        if resume_epoch is not None:
            # Only rank 0 reads the file: rank 1 is given a path that does not exist.
            resume_from = out / f"checkpoint-rank{rank}-{resume_epoch}.safetensors"
    history = fit(
        model,
        "cross_entropy",
        optimizer,
        **data,
        epochs=epochs,
        batch_size=BATCH,
        metrics=["accuracy", "log_loss"],
        callbacks=callbacks,
        scheduler=StepLR(optimizer, step_size=2, gamma=0.5),
        seed=7,
        verbose=verbose,
        resume_from=resume_from,
    )
    return model, history


def save(out: Path, name: str, model: nn.Module, history: History) -> None:
    rank = launch_rank()
    arrays = {k: v.data for k, v in model.state_dict().items()}
    np.savez(out / f"{name}-weights-rank{rank}.npz", **arrays)
    (out / f"{name}-history-rank{rank}.json").write_text(json.dumps(history.to_dict()))


class Fail(Callback):
    """Rank 1 dies, raises or hangs at step 3, or raises as training begins."""

    def __init__(self, how: str) -> None:
        self.how = how

    def on_train_begin(self, state: Any) -> None:
        if self.how == "raise-at-start" and launch_rank() == 1:
            raise RuntimeError("simulated failure on rank 1 as training begins")

    def on_batch_end(self, state: Any, logs: dict[str, float]) -> None:
        if state.step != 3 or launch_rank() != 1:
            return
        if self.how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif self.how == "raise":
            raise RuntimeError("simulated failure on rank 1")
        elif self.how == "hang":
            time.sleep(120)


def fail(how: str) -> None:
    model, x, y = problem(np.float32, 256)
    fit(model, "cross_entropy", "adam", (x, y), epochs=50, batch_size=8, seed=0, verbose=0,
        callbacks=[Fail(how)])  # fmt: skip
    print(f"rank {launch_rank()} finished training", flush=True)


def errors(out: Path) -> None:
    """Mistakes that every rank sees alike raise the same error on every rank, no abort."""
    rank = launch_rank()
    model, x, y = problem(np.float32, 64)
    found = []
    try:  # rank 1 holds one row fewer
        fit(model, "cross_entropy", "adam", (x[: 64 - rank], y[: 64 - rank]), verbose=0)
    except ValueError as error:
        found.append(f"ValueError: {error}")
    try:
        fit(model, "cross_entropy", "adam", (x, y), verbose=0, resume_from=out / "missing.st")
    except Exception as error:
        found.append(f"{type(error).__name__}: {error}")
    (out / f"errors-rank{rank}.json").write_text(json.dumps(found))


def batchnorm(out: Path) -> None:
    """Batches of 3 rows with BatchNorm1d: one process normalizes each over its 3 rows, so
    no rank may be left with a slice of one row (which BatchNorm1d refuses)."""
    model, x, y = batchnorm_problem()
    history = fit(model, "cross_entropy", "adam", (x, y), epochs=2, batch_size=3, seed=0,
                  verbose=0)  # fmt: skip
    save(out, "batchnorm", model, history)


def batchnorm_problem() -> tuple[nn.Module, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(29, 4))
    y = (x[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
    model.reset_parameters(1)
    return model.to(np.float64), x, y


def seed(out: Path) -> None:
    """The seed that every rank would take to resume, with seed=None, from a checkpoint that
    only rank 0 holds: the seed of the run that wrote it."""
    from chainrule.distributed import from_environment

    rank = launch_rank()
    model, x, y = problem(np.float32, 64)
    fit(model, "cross_entropy", "adam", (x, y), epochs=1, seed=1234, verbose=0,
        callbacks=[ModelCheckpoint(out / "checkpoint.safetensors")])  # fmt: skip
    context = from_environment()
    assert context is not None
    resume_from = out / ("checkpoint.safetensors" if rank == 0 else "missing.safetensors")
    found = context.common_seed(None, resume_from)
    (out / f"seed-rank{rank}.json").write_text(json.dumps(found))


if __name__ == "__main__":
    task = sys.argv[1]
    if task == "train":
        out = Path(sys.argv[2])
        save(out, "float32", *train(np.float32, out, verbose=1))
        save(out, "float64", *train(np.float64))
    elif task == "resume":
        out = Path(sys.argv[2])
        save(out, "resumed", *train(np.float32, out, resume_epoch=2))
    elif task == "batchnorm":
        batchnorm(Path(sys.argv[2]))
    elif task == "seed":
        seed(Path(sys.argv[2]))
    elif task == "errors":
        errors(Path(sys.argv[2]))
    else:
        fail(task)
