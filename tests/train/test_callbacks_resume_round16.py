"""Resuming with fit(resume_from=) gives what an uninterrupted run gives, callbacks included:
EarlyStopping stops at the same epoch and keeps the same best weights, ReduceLROnPlateau
lowers the rate at the same epochs, and a save_best_only checkpoint is not overwritten by a
worse epoch, whatever the order of the callbacks. Checkpoints written before callbacks' states
were kept still resume."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy
from safetensors import safe_open

import chainrule as cr
from chainrule import nn
from chainrule.io import load_checkpoint
from chainrule.train import (
    Callback,
    EarlyStopping,
    History,
    ModelCheckpoint,
    ReduceLROnPlateau,
    fit,
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 5)).astype(np.float32)
Y = RNG.normal(size=60).astype(np.float32)  # noise: the validation loss soon stops improving


def _net() -> nn.Module:
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 1))


def _run(
    epochs: int, callbacks: list[Any], resume_from: Path | None = None
) -> tuple[nn.Module, History]:
    model = _net()
    history = fit(
        model,
        "mse",
        cr.optim.Adam(model.parameters(), lr=0.05),
        X,
        Y,
        epochs=epochs,
        batch_size=8,
        seed=1,
        verbose=0,
        validation_split=0.3,
        callbacks=callbacks,
        resume_from=resume_from,
    )
    return model, history


def _weights(model: nn.Module) -> list[np.ndarray]:
    return [p.data.copy() for p in model.parameters()]


def _same(a: nn.Module, b: nn.Module) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(_weights(a), _weights(b), strict=True))


Make = Callable[[Path], list[Any]]


def _stopper() -> EarlyStopping:
    return EarlyStopping(patience=3, restore_best_weights=True)


ORDERS: dict[str, Make] = {
    "stopper first": lambda path: [_stopper(), ModelCheckpoint(path)],
    "checkpoint first": lambda path: [ModelCheckpoint(path), _stopper()],
}


@pytest.mark.parametrize("order", ORDERS)
def test_early_stopping_resumed_stops_where_an_uninterrupted_run_stops(
    order: str, tmp_path: Path
) -> None:
    make = ORDERS[order]
    straight, history = _run(30, make(tmp_path / "unused.st"))
    stopped_after = len(history.epoch)
    assert stopped_after < 30 and history.stop_reason.startswith("early stopping")
    best = int(np.argmin(history["val_loss"])) + 1
    for interrupted_after in (best, best + 1, stopped_after):
        path = tmp_path / f"after{interrupted_after}.st"
        _run(interrupted_after, make(path))
        resumed, resumed_history = _run(30, make(path), resume_from=path)
        assert resumed_history.epoch == history.epoch, interrupted_after
        assert resumed_history.stop_reason == history.stop_reason
        assert _same(resumed, straight)  # the best epoch's weights, restored at the end


@pytest.mark.parametrize("first", [True, False])
def test_reduce_lr_on_plateau_resumed_lowers_the_rate_at_the_same_epochs(
    first: bool, tmp_path: Path
) -> None:
    def make(path: Path) -> list[Any]:
        plateau = ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5, min_delta=1e9)
        checkpoint = ModelCheckpoint(path)
        return [plateau, checkpoint] if first else [checkpoint, plateau]

    straight, history = _run(6, make(tmp_path / "unused.st"))
    _run(3, make(tmp_path / "ck.st"))
    resumed, resumed_history = _run(6, make(tmp_path / "ck.st"), resume_from=tmp_path / "ck.st")
    assert resumed_history["lr"] == history["lr"]
    assert history["lr"][-1] < history["lr"][2]  # the rate did come down after the resume
    assert _same(resumed, straight)


def test_best_checkpoint_is_not_overwritten_by_a_worse_epoch_after_resuming(
    tmp_path: Path,
) -> None:
    def make(path: Path) -> list[Any]:
        # The checkpoint resumed from is written before the best-only one has seen the epoch.
        return [ModelCheckpoint(path), ModelCheckpoint(tmp_path / "best.st", save_best_only=True)]

    _, history = _run(8, make(tmp_path / "unused.st"))
    val = history["val_loss"]
    best = int(np.argmin(val)) + 1
    assert best < 8
    (tmp_path / "best.st").unlink()
    _run(best, make(tmp_path / "last.st"))  # interrupted right after the best epoch
    _, resumed = _run(8, make(tmp_path / "last.st"), resume_from=tmp_path / "last.st")
    assert resumed["val_loss"] == val
    saved = load_checkpoint(tmp_path / "best.st", model=_net())
    assert saved["epoch"] == best


class CountingCallback(Callback):
    """A user's callback whose count a resumed run must go on from."""

    def __init__(self) -> None:
        self.epochs_seen = 0

    def on_epoch_end(self, state: Any, logs: dict[str, float]) -> None:
        self.epochs_seen += 1

    def state_dict(self) -> dict[str, Any]:
        return {"epochs_seen": self.epochs_seen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epochs_seen = int(state["epochs_seen"])


def test_a_users_callback_with_state_dict_gets_its_state_back(tmp_path: Path) -> None:
    _run(3, [CountingCallback(), ModelCheckpoint(tmp_path / "ck.st")])
    counter = CountingCallback()
    _run(5, [ModelCheckpoint(tmp_path / "ck.st"), counter], resume_from=tmp_path / "ck.st")
    assert counter.epochs_seen == 5


def _edit_extra(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    with safe_open(str(path), "np") as file:
        document = json.loads(file.metadata()["chainrule"])
    tensors = safetensors.numpy.load_file(str(path))
    edit(document["extra"])
    metadata = {"chainrule": json.dumps(document)}
    safetensors.numpy.save_file(tensors, str(path), metadata=metadata)


def test_a_checkpoint_without_callback_states_still_resumes(tmp_path: Path) -> None:
    path = tmp_path / "ck.st"
    _run(2, [EarlyStopping(patience=50), ModelCheckpoint(path)])

    def as_written_before(extra: dict[str, Any]) -> None:
        for key in ("callbacks", "epoch_logs", "validation_skipped", "stop_reason"):
            extra.pop(key, None)
        assert set(extra) == {"step", "seed"}

    _edit_extra(path, as_written_before)
    stopper = EarlyStopping(patience=50)
    _, history = _run(4, [stopper, ModelCheckpoint(path)], resume_from=path)
    assert history.epoch == [1, 2, 3, 4]
    assert stopper.best_epoch in (3, 4)  # it started afresh at the resume, as it used to


def test_a_callback_state_it_cannot_load_is_named(tmp_path: Path) -> None:
    path = tmp_path / "ck.st"
    _run(2, [EarlyStopping(patience=5), ModelCheckpoint(path)])

    def forge(extra: dict[str, Any]) -> None:
        extra["callbacks"]["EarlyStopping.0"]["state"] = {"best": 1.0}

    _edit_extra(path, forge)
    with pytest.raises(
        ValueError,
        match=r"fit: resume_from: expected a state that "
        r"EarlyStopping\.0 can load.*expected a dict with keys",
    ):
        _run(4, [EarlyStopping(patience=5), ModelCheckpoint(path)], resume_from=path)


def test_load_state_dict_names_the_keys_it_expects() -> None:
    with pytest.raises(
        ValueError,
        match=r"ReduceLROnPlateau\.load_state_dict: expected a dict "
        r"with keys \['best', 'wait', 'cooldown_left'\], got \['best'\]",
    ):
        ReduceLROnPlateau().load_state_dict({"best": 1.0})
    stopper = EarlyStopping()
    stopper.wait, stopper.best = 2, 0.5
    fresh = EarlyStopping()
    fresh.load_state_dict(stopper.state_dict())
    assert (fresh.wait, fresh.best) == (2, 0.5)
