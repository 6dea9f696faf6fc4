"""Round 16: Rprop and ASGD, and the random layers RReLU and AlphaDropout, inside ``fit``
and ``compile_step``: the same bits as a loop written by hand, runs that resume from a
checkpoint as if never stopped, and seeds that decide the random slopes and masks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.optim.lr_scheduler import StepLR
from chainrule.train import ModelCheckpoint, fit

X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
Y = (X @ np.array([1.0, -2.0, 0.5, 0.0], dtype=np.float32) > 0).astype(np.int64)
TARGETS = np.random.default_rng(1).normal(size=(64, 1)).astype(np.float32)

OPTIMIZERS = {
    "Rprop": lambda params: optim.Rprop(params, lr=0.01, etas=(0.4, 1.3)),
    "ASGD": lambda params: optim.ASGD(params, lr=0.05, t0=3, weight_decay=1e-3),
}


def _regressor() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    model.reset_parameters(generator=0)
    return model


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_fit_full_batch_equals_the_loop_written_by_hand(name: str) -> None:
    model = _regressor()
    fit(
        model,
        "mse",
        OPTIMIZERS[name](model.parameters()),
        (X, TARGETS),
        epochs=15,
        batch_size=len(X),
        shuffle=False,
        verbose=0,
    )
    by_hand = _regressor()
    opt = OPTIMIZERS[name](by_hand.parameters())
    for _ in range(15):
        opt.zero_grad()
        nn.functional.mse_loss(by_hand(cr.tensor(X)), cr.tensor(TARGETS)).backward()
        opt.step()
    for p, q in zip(model.parameters(), by_hand.parameters(), strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert not np.array_equal(model[0].weight.numpy(), _regressor()[0].weight.numpy())


def _resumable_run(epochs: int, path: Path, resume: bool, checkpoint: bool) -> dict[str, Any]:
    model = nn.Sequential(
        nn.Linear(4, 8), nn.RReLU(generator=11), nn.AlphaDropout(0.2, generator=12), nn.Linear(8, 2)
    )
    model.reset_parameters(3)
    opt = optim.ASGD(model.parameters(), lr=0.05, t0=5)
    fit(
        model,
        "cross_entropy",
        opt,
        (X, Y),
        epochs=epochs,
        batch_size=16,
        scheduler=StepLR(opt, step_size=2, gamma=0.5),
        callbacks=[ModelCheckpoint(path)] if checkpoint else [],
        seed=4,
        verbose=0,
        resume_from=path if resume else None,
    )
    ax = [opt.state[p]["ax"].copy() for p in model.parameters()]
    return {"weights": [p.numpy().copy() for p in model.parameters()], "ax": ax}


def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    """ASGD's average and step size, StepLR's schedule and the random layers' generators
    all come back from the checkpoint."""
    path = tmp_path / "run.ckpt"
    straight = _resumable_run(6, path, resume=False, checkpoint=False)
    _resumable_run(3, path, resume=False, checkpoint=True)
    resumed = _resumable_run(6, path, resume=True, checkpoint=False)
    for key in ("weights", "ax"):
        for a, b in zip(straight[key], resumed[key], strict=True):
            np.testing.assert_array_equal(a, b)


def _seeded_weights(seed: int) -> np.ndarray:
    model = nn.Sequential(
        nn.Linear(4, 16, generator=1),
        nn.RReLU(),
        nn.FeatureAlphaDropout(0.3),
        nn.Linear(16, 2, generator=2),
    )
    opt = optim.Rprop(model.parameters())
    fit(model, "cross_entropy", opt, (X, Y), epochs=2, batch_size=16, seed=seed, verbose=0)
    return model[0].weight.numpy().copy()


def test_the_seed_of_fit_decides_the_random_slopes_and_masks() -> None:
    np.testing.assert_array_equal(_seeded_weights(3), _seeded_weights(3))
    assert not np.array_equal(_seeded_weights(3), _seeded_weights(4))


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_compile_step_replays_to_the_eager_bits(name: str) -> None:
    eager, compiled = _regressor(), _regressor()
    eager_opt = OPTIMIZERS[name](eager.parameters())
    step = cr.compile_step(compiled, nn.MSELoss(), OPTIMIZERS[name](compiled.parameters()))
    for i in range(8):
        x, y = cr.tensor(X[8 * i : 8 * i + 8]), cr.tensor(TARGETS[8 * i : 8 * i + 8])
        eager_opt.zero_grad()
        loss = nn.functional.mse_loss(eager(x), y)
        loss.backward()
        eager_opt.step()
        assert step(x, y).item() == loss.item()
    assert step.eager_reason is None
    for p, q in zip(eager.parameters(), compiled.parameters(), strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_compile_step_runs_a_training_rrelu_eagerly_with_its_draws() -> None:
    def make() -> tuple[nn.Module, Any]:
        model = nn.Sequential(nn.Linear(4, 8), nn.RReLU(generator=5), nn.Linear(8, 1))
        model.reset_parameters(generator=0)
        return model, optim.ASGD(model.parameters(), lr=0.05)

    eager, eager_opt = make()
    compiled, compiled_opt = make()
    step = cr.compile_step(compiled, nn.MSELoss(), compiled_opt)
    for i in range(4):
        x, y = cr.tensor(X[16 * i : 16 * i + 16]), cr.tensor(TARGETS[16 * i : 16 * i + 16])
        eager_opt.zero_grad()
        loss = nn.functional.mse_loss(eager(x), y)
        loss.backward()
        eager_opt.step()
        assert step(x, y).item() == loss.item()
    assert step.eager_reason is not None and "random" in step.eager_reason
