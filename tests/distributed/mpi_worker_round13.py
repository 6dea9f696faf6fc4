"""What each rank runs in ``test_mpi_round13.py``: ``python mpi_worker_round13.py OUT``, alone
or under ``mpiexec -n 2``. Writes ``CASE-rankR.json`` (weights and losses) per case:

- ``head``: an optimizer over the head alone, the body still requiring grad, and
  ``clip_grad_norm``, whose norm reads every parameter's gradient;
- ``ignored``: cross-entropy with ``ignore_index`` where one rank's share of each batch is
  padding only;
- ``seeds``: each rank passes its own seed (its rank), which every rank must refuse.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.distributed import launch_rank
from chainrule.train import DivergenceWarning, fit


def _write(out: Path, case: str, model: nn.Module, losses: list[float]) -> None:
    record = {
        "weights": {k: v.data.tolist() for k, v in model.state_dict().items()},
        "losses": losses,
    }
    (out / f"{case}-rank{launch_rank()}.json").write_text(json.dumps(record))


def head(out: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 4))
    y = (x[:, 0] > 0).astype(np.int64)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    opt = optim.SGD(model[2].parameters(), lr=0.5)
    history = fit(
        model, "cross_entropy", opt, (x, y), epochs=3, batch_size=8, seed=0, verbose=0,
        clip_grad_norm=0.05,
    )  # fmt: skip
    _write(out, "head", model, history.history["loss"])


def ignored(out: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 3))
    y = rng.integers(0, 3, size=16)
    y[2::4] = y[3::4] = -100  # rows 2-3 of every batch of 4: the second rank's share
    cr.manual_seed(1)
    model = nn.Linear(3, 3).double()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        history = fit(
            model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (x, y),
            epochs=2, batch_size=4, shuffle=False, seed=0, verbose=0,
        )  # fmt: skip
    _write(out, "ignored", model, history.history["loss"])
    # Every third label ignored and classes weighted: ranks count different label weights.
    y = rng.integers(0, 3, size=16)
    y[::3] = -100
    cr.manual_seed(2)
    model = nn.Linear(3, 3).double()
    loss = nn.CrossEntropyLoss(weight=np.array([1.0, 2.0, 0.5]))
    history = fit(
        model, loss, optim.SGD(model.parameters(), lr=0.1), (x, y),
        epochs=2, batch_size=4, shuffle=False, seed=0, verbose=0, validation_data=(x, y),
    )  # fmt: skip
    _write(out, "weighted", model, history.history["loss"] + history.history["val_loss"])


def seeds(out: Path) -> None:
    """A different seed on each rank: refused on every rank, none left waiting."""
    x, y = np.zeros((8, 2)), np.zeros((8, 1))
    model = nn.Linear(2, 1).double()
    try:
        fit(model, "mse", "sgd", (x, y), epochs=1, seed=launch_rank(), verbose=0)
        message = "trained"
    except ValueError as error:
        message = str(error)
    (out / f"seeds-rank{launch_rank()}.txt").write_text(message)


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    head(folder)
    ignored(folder)
    seeds(folder)
