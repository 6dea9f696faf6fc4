"""Round 16: ``fit(scheduler_interval=)`` steps a scheduler after each optimizer step, as a
PyTorch loop steps OneCycleLR, CyclicLR or a warm-up over batches: the same weights and
rates as that loop written by hand in PyTorch, the same run when resumed from a checkpoint,
per-epoch stepping unchanged for the other schedulers, and clear refusals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.optim.lr_scheduler import (
    CyclicLR,
    LambdaLR,
    OneCycleLR,
    ReduceLROnPlateau,
    StepLR,
)
from chainrule.train import DivergenceWarning, ModelCheckpoint, fit

X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
TARGETS = np.random.default_rng(1).normal(size=(50, 1)).astype(np.float32)
BATCH = 16  # 50 rows: batches of 16, 16, 16 and 2
STEPS = 4


def _model() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    model.reset_parameters(generator=0)
    return model


def _fit(
    make_scheduler: Callable[[Any], Any], epochs: int = 3, **kwargs: Any
) -> tuple[nn.Sequential, Any, Any]:
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = make_scheduler(opt)
    history = fit(
        model,
        "mse",
        opt,
        (X, TARGETS),
        epochs=epochs,
        batch_size=BATCH,
        shuffle=False,
        scheduler=scheduler,
        verbose=0,
        **kwargs,
    )
    return model, scheduler, history


def _torch_loop(
    make_scheduler: Callable[[Any, Any], Any], epochs: int, per_step: bool
) -> tuple[Any, list[float]]:
    """The loop a PyTorch user writes: the same weights, batches in order, the scheduler
    stepped after each ``optimizer.step()`` (or after each epoch); the rate of each epoch's
    last step."""
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    with torch.no_grad():
        for theirs, ours in zip(model.parameters(), _model().parameters(), strict=True):
            theirs.copy_(torch.from_numpy(ours.numpy()))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = make_scheduler(torch.optim.lr_scheduler, opt)
    rates = []
    for _ in range(epochs):
        for start in range(0, len(X), BATCH):
            x = torch.from_numpy(X[start : start + BATCH])
            y = torch.from_numpy(TARGETS[start : start + BATCH])
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            opt.step()
            rate = opt.param_groups[0]["lr"]
            if per_step:
                scheduler.step()
        rates.append(rate)
        if not per_step:
            scheduler.step()
    return model, rates


def _assert_same_weights(model: nn.Module, theirs: Any) -> None:
    for p, q in zip(model.parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)


def _warmup(step: int) -> float:
    return min(1.0, (step + 1) / 6)


SCHEDULERS: dict[str, tuple[Callable[[Any, Any], Any], str]] = {
    "OneCycleLR": (
        lambda lib, opt: lib.OneCycleLR(opt, max_lr=0.2, epochs=3, steps_per_epoch=STEPS),
        "auto",
    ),
    "CyclicLR": (
        lambda lib, opt: lib.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3),
        "auto",
    ),
    "LambdaLR warm-up over steps": (lambda lib, opt: lib.LambdaLR(opt, _warmup), "step"),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_per_step_scheduling_gives_the_weights_and_rates_of_a_pytorch_loop(name: str) -> None:
    make, interval = SCHEDULERS[name]
    model, scheduler, history = _fit(
        lambda opt: make(optim.lr_scheduler, opt), scheduler_interval=interval
    )
    theirs, rates = _torch_loop(make, epochs=3, per_step=True)
    _assert_same_weights(model, theirs)
    assert scheduler.last_epoch == 3 * STEPS
    np.testing.assert_allclose(history.history["lr"], rates, rtol=1e-12)
    assert len(history.history["lr"]) == 3  # one entry an epoch: its last step's rate


def test_an_explicit_interval_wins_over_auto_for_one_cycle() -> None:
    def make(lib: Any, opt: Any) -> Any:
        return lib.OneCycleLR(opt, max_lr=0.2, total_steps=3)

    model, scheduler, history = _fit(
        lambda opt: make(optim.lr_scheduler, opt), scheduler_interval="epoch"
    )
    theirs, rates = _torch_loop(make, epochs=3, per_step=False)
    _assert_same_weights(model, theirs)
    assert scheduler.last_epoch == 3
    np.testing.assert_allclose(history.history["lr"], rates, rtol=1e-12)


@pytest.mark.parametrize("interval", ["auto", "epoch"])
def test_other_schedulers_still_step_once_an_epoch(interval: str) -> None:
    def make(lib: Any, opt: Any) -> Any:
        return lib.StepLR(opt, step_size=1, gamma=0.5)

    model, scheduler, history = _fit(
        lambda opt: make(optim.lr_scheduler, opt), scheduler_interval=interval
    )
    theirs, rates = _torch_loop(make, epochs=3, per_step=False)
    _assert_same_weights(model, theirs)
    assert scheduler.last_epoch == 3
    assert history.history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    assert history.history["lr"] == pytest.approx(rates)


def test_per_step_scheduling_is_what_a_callback_stepping_after_each_batch_gives() -> None:
    """What a chainrule user wrote before: shuffled batches, Adam, a warm-up over steps."""

    class StepAfterEachBatch(cr.train.Callback):
        def __init__(self, scheduler: Any) -> None:
            self.scheduler = scheduler

        def on_batch_end(self, state: Any, logs: Any) -> None:
            self.scheduler.step()

    runs = []
    for by_hand in (True, False):
        model = _model()
        opt = optim.Adam(model.parameters(), lr=0.01)
        scheduler = LambdaLR(opt, _warmup)
        fit(
            model,
            "mse",
            opt,
            (X, TARGETS),
            epochs=2,
            batch_size=BATCH,
            seed=3,
            verbose=0,
            callbacks=[StepAfterEachBatch(scheduler)] if by_hand else [],
            scheduler=None if by_hand else scheduler,
            scheduler_interval="step",
        )
        assert scheduler.last_epoch == 2 * STEPS
        runs.append(model)
    for p, q in zip(runs[0].parameters(), runs[1].parameters(), strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def _resumable(epochs: int, path: Path, resume: bool) -> tuple[list[np.ndarray], Any, Any]:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 1))
    model.reset_parameters(generator=5)
    opt = optim.Adam(model.parameters(), lr=0.01)
    scheduler = OneCycleLR(opt, max_lr=0.05, epochs=4, steps_per_epoch=STEPS)
    history = fit(
        model,
        "mse",
        opt,
        (X, TARGETS),
        epochs=epochs,
        batch_size=BATCH,
        scheduler=scheduler,
        callbacks=[ModelCheckpoint(path)],
        seed=7,
        verbose=0,
        resume_from=path if resume else None,
    )
    return [p.numpy().copy() for p in model.parameters()], scheduler, history


def test_a_run_resumed_mid_cycle_follows_the_uninterrupted_cycle(tmp_path: Path) -> None:
    whole, whole_scheduler, whole_history = _resumable(4, tmp_path / "whole.st", resume=False)
    _resumable(2, tmp_path / "parts.st", resume=False)  # stops halfway through the cycle
    resumed, scheduler, history = _resumable(4, tmp_path / "parts.st", resume=True)
    for ours, theirs in zip(resumed, whole, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert scheduler.last_epoch == whole_scheduler.last_epoch == 4 * STEPS
    assert history.history["lr"] == whole_history.history["lr"]
    assert history.step_loss == whole_history.step_loss


def test_a_non_finite_loss_takes_no_scheduler_step() -> None:
    x = X.copy()
    x[20] = np.nan  # the second batch
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    scheduler = LambdaLR(opt, _warmup)
    with pytest.warns(DivergenceWarning, match="epoch 1, step 2"):
        fit(
            model,
            "mse",
            opt,
            (x, TARGETS),
            epochs=3,
            batch_size=BATCH,
            shuffle=False,
            scheduler=scheduler,
            scheduler_interval="step",
            verbose=0,
        )
    assert scheduler.last_epoch == 1  # after the one optimizer step that was taken
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * _warmup(1))


def test_a_one_cycle_too_short_for_the_run_is_refused_before_training() -> None:
    model = _model()
    before = [p.numpy().copy() for p in model.parameters()]
    opt = optim.SGD(model.parameters(), lr=0.1)
    # Built for one step an epoch, as a per-epoch loop would; fit steps it per batch.
    scheduler = OneCycleLR(opt, max_lr=0.2, total_steps=3)
    with pytest.raises(
        ValueError,
        match=r"fit: expected a OneCycleLR with 12 steps left \(3 epochs of 4 batches, "
        r"scheduler_interval='step'\), got one with 3 \(total_steps=3, 0 taken\); build it "
        r"with total_steps=12, or pass scheduler_interval='epoch'",
    ):
        fit(
            model,
            "mse",
            opt,
            (X, TARGETS),
            epochs=3,
            batch_size=BATCH,
            scheduler=scheduler,
            verbose=0,
        )
    for p, q in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.numpy(), q)
    with pytest.raises(ValueError, match=r"with 5 steps left \(5 epochs, scheduler_interval="):
        fit(
            model,
            "mse",
            opt,
            (X, TARGETS),
            epochs=5,
            batch_size=BATCH,
            scheduler=scheduler,
            scheduler_interval="epoch",
            verbose=0,
        )


def test_reduce_lr_on_plateau_refuses_per_step_scheduling() -> None:
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(
        ValueError,
        match=r"fit: expected scheduler_interval='epoch' \(or 'auto'\) for ReduceLROnPlateau, "
        r"which steps on an epoch's loss \(val_loss, else loss\), got 'step'",
    ):
        fit(
            model,
            "mse",
            opt,
            (X, TARGETS),
            epochs=1,
            scheduler=ReduceLROnPlateau(opt),
            scheduler_interval="step",
            verbose=0,
        )


@pytest.mark.parametrize("value", ["batch", "Step", None, 1])
def test_an_unknown_interval_is_named(value: Any) -> None:
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(
        ValueError,
        match=rf"fit: scheduler_interval must be 'auto', 'epoch' or 'step', got {value!r}",
    ):
        fit(
            model,
            "mse",
            opt,
            (X, TARGETS),
            epochs=1,
            scheduler=StepLR(opt, 1),
            scheduler_interval=value,
            verbose=0,
        )


def test_cyclic_lr_cycles_within_each_epoch() -> None:
    """What a user plotting the rates sees: per batch, not frozen for the epoch."""
    seen: list[float] = []

    class Rates(cr.train.Callback):
        def on_batch_begin(self, state: Any) -> None:
            seen.append(state.optimizer.param_groups[0]["lr"])

    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    fit(
        model,
        "mse",
        opt,
        (X, TARGETS),
        epochs=2,
        batch_size=BATCH,
        shuffle=False,
        scheduler=CyclicLR(opt, base_lr=0.01, max_lr=0.04, step_size_up=2),
        callbacks=[Rates()],
        verbose=0,
    )
    assert seen == pytest.approx([0.01, 0.025, 0.04, 0.025] * 2)
