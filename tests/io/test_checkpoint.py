"""Checkpoints: a run resumed from one repeats the uninterrupted run bit for bit."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.io import load_checkpoint, load_weights, save, save_checkpoint

optim = pytest.importorskip("chainrule.optim")

X = np.random.default_rng(1).normal(size=(64, 4)).astype(np.float32)
Y = np.random.default_rng(2).integers(0, 3, size=64)


def assert_identical(a: Any, b: Any, where: str = "") -> None:
    """Equal values of the same types, arrays of the same dtype: what resuming needs."""
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=True), where
    elif isinstance(a, dict):  # key order is not kept: the JSON is written with sorted keys
        assert sorted(a, key=repr) == sorted(b, key=repr), (where, list(a), list(b))
        for key in a:
            assert_identical(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}.{i}")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, (where, a, b)


class Run:
    """A small training run: model with BatchNorm and Dropout, Adam, a schedule, shuffling."""

    def __init__(self, seed: int) -> None:
        gen = np.random.default_rng(seed)
        self.model = nn.Sequential(
            nn.Linear(4, 16, generator=gen),
            nn.BatchNorm1d(16),
            nn.ReLU(),
            nn.Dropout(0.2, generator=np.random.default_rng(seed + 100)),
            nn.Linear(16, 3, generator=gen),
        )
        self.optimizer = optim.Adam(self.model.parameters(), lr=0.01)
        self.scheduler = optim.lr_scheduler.StepLR(self.optimizer, step_size=2, gamma=0.5)
        self.shuffle = np.random.default_rng(seed + 200)
        self.loss = nn.CrossEntropyLoss()

    def steps(self, n: int) -> None:
        self.model.train()
        for _ in range(n):
            batch = self.shuffle.permutation(len(X))[:16]
            self.optimizer.zero_grad()
            self.loss(self.model(X[batch]), Y[batch]).backward()
            self.optimizer.step()
            self.scheduler.step()

    def save(self, path: Path, **kwargs: Any) -> None:
        save_checkpoint(
            path,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            generators={"shuffle": self.shuffle},
            **kwargs,
        )

    def load(self, path: Path) -> Any:
        return load_checkpoint(
            path,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            generators={"shuffle": self.shuffle},
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            "model": {k: t.data.copy() for k, t in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "shuffle": self.shuffle.bit_generator.state,
            "dropout": self.model[3].generator.bit_generator.state,  # type: ignore[attr-defined]
        }


def test_resume_is_bit_for_bit(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.safetensors"
    uninterrupted = Run(seed=0)
    uninterrupted.steps(5)
    history = {"loss": [1.2, 1.1, math.nan], "lr": [0.01, 0.005]}
    uninterrupted.save(path, epoch=5, history=history, extra={"step": 5})
    uninterrupted.steps(5)

    resumed = Run(seed=1)  # other weights, other generators: all must come from the file
    assert not np.array_equal(resumed.model[0].weight.data, uninterrupted.model[0].weight.data)  # type: ignore[attr-defined]
    restored = resumed.load(path)
    assert restored["epoch"] == 5 and restored["extra"] == {"step": 5}
    assert_identical(restored["history"], history)
    resumed.steps(5)
    assert_identical(resumed.snapshot(), uninterrupted.snapshot())


def test_checkpoint_layout(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.safetensors"
    run = Run(seed=0)
    run.steps(2)
    run.save(path)
    names = set(load_weights(path))
    assert {"model.0.weight", "model.1.running_mean", "model.1.num_batches_tracked"} <= names
    assert {"optimizer.state.0.exp_avg", "optimizer.state.5.exp_avg_sq"} <= names
    assert not any(name.endswith(".step") for name in names)  # ints live in the JSON


def test_same_state_same_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        run = Run(seed=0)
        run.steps(3)
        run.save(tmp_path / f"{name}.safetensors", epoch=3, history={"loss": [0.5]})
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()


def quadratic_steps(optimizer: Any, params: list[Any], n: int) -> None:
    for _ in range(n):

        def closure() -> Any:
            optimizer.zero_grad()
            loss = sum(((p - 1.5) ** 4).sum() for p in params)
            loss.backward()
            return loss

        optimizer.step(closure)


OPTIMIZERS = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9, nesterov=True),
    "Adam": lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    "AdamW": lambda ps: optim.AdamW(ps, lr=0.01),
    "Adamax": lambda ps: optim.Adamax(ps, lr=0.01),
    "NAdam": lambda ps: optim.NAdam(ps, lr=0.01),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    "Adagrad": lambda ps: optim.Adagrad(ps, lr=0.1),
    "LBFGS": lambda ps: optim.LBFGS(ps, lr=0.5, max_iter=3, history_size=4),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_optimizer_state_round_trips(tmp_path: Path, name: str, dtype: Any) -> None:
    def build() -> tuple[nn.Module, Any]:
        model = nn.Sequential(nn.Linear(3, 2, dtype=dtype, generator=0))
        groups = [
            {"params": [model[0].weight]},  # type: ignore[attr-defined]
            {"params": [model[0].bias], "lr": 0.002},  # type: ignore[attr-defined]
        ]
        if name == "LBFGS":  # LBFGS takes one group
            groups = [{"params": list(model.parameters())}]
        return model, OPTIMIZERS[name](groups)

    model, optimizer = build()
    quadratic_steps(optimizer, list(model.parameters()), 3)
    save_checkpoint(tmp_path / "c.safetensors", model=model, optimizer=optimizer)
    fresh_model, fresh_optimizer = build()
    load_checkpoint(tmp_path / "c.safetensors", model=fresh_model, optimizer=fresh_optimizer)
    assert_identical(fresh_optimizer.state_dict(), optimizer.state_dict())
    quadratic_steps(optimizer, list(model.parameters()), 3)
    quadratic_steps(fresh_optimizer, list(fresh_model.parameters()), 3)
    for p, q in zip(model.parameters(), fresh_model.parameters(), strict=True):
        assert p.dtype == q.dtype and np.array_equal(p.data, q.data)


SCHEDULERS = {
    "MultiStepLR": lambda o: optim.lr_scheduler.MultiStepLR(o, milestones=[2, 4], gamma=0.5),
    "ReduceLROnPlateau": lambda o: optim.lr_scheduler.ReduceLROnPlateau(o, patience=1),
    "CosineAnnealingLR": lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=5),
    "OneCycleLR": lambda o: optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=20),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_state_round_trips(tmp_path: Path, name: str) -> None:
    def build() -> tuple[nn.Module, Any, Any]:
        model = nn.Linear(2, 1, generator=0)
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return model, optimizer, SCHEDULERS[name](optimizer)

    def advance(scheduler: Any, n: int) -> None:
        for _ in range(n):
            if name == "ReduceLROnPlateau":
                scheduler.step(np.float32(1.0))  # a plateau; the metric is a NumPy scalar
            else:
                scheduler.step()

    model, optimizer, scheduler = build()
    advance(scheduler, 3)
    save_checkpoint(
        tmp_path / "c.safetensors", model=model, optimizer=optimizer, scheduler=scheduler
    )
    _, fresh_optimizer, fresh_scheduler = build()
    load_checkpoint(
        tmp_path / "c.safetensors",
        model=model,
        optimizer=fresh_optimizer,
        scheduler=fresh_scheduler,
    )
    assert_identical(fresh_scheduler.state_dict(), scheduler.state_dict())
    advance(scheduler, 3)
    advance(fresh_scheduler, 3)
    assert fresh_scheduler.get_last_lr() == scheduler.get_last_lr()
    if name == "MultiStepLR":
        assert isinstance(fresh_scheduler.milestones, Counter)


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937, np.random.Philox])
def test_generator_states_round_trip(tmp_path: Path, bit_generator: Any) -> None:
    gen = np.random.Generator(bit_generator(3))
    gen.random(5)
    model = nn.Linear(2, 1, generator=0)
    save_checkpoint(tmp_path / "c.safetensors", model=model, generators={"data": gen})
    fresh = np.random.Generator(bit_generator(99))
    load_checkpoint(tmp_path / "c.safetensors", model=model, generators={"data": fresh})
    assert np.array_equal(fresh.random(10), gen.random(10))


def test_extra_and_history_values(tmp_path: Path) -> None:
    model = nn.Linear(2, 1, generator=0)
    extra = {
        "best_weights": {"weight": np.arange(4.0).reshape(2, 2)},
        "best_score": np.float32(0.25),
        "classes": ("a", "b"),
        "counts": {0: 3, 1: 4},
    }
    history = {"loss": [math.inf, -math.inf, np.float32(0.5)], "time": None}
    save_checkpoint(tmp_path / "c.safetensors", model=model, extra=extra, history=history)
    restored = load_checkpoint(tmp_path / "c.safetensors", model=model)
    history["loss"][2] = 0.5  # a NumPy scalar in a history comes back as a Python number
    assert_identical(restored, {"epoch": 0, "history": history, "extra": extra})
    assert set(load_weights(tmp_path / "c.safetensors")) == {
        "model.weight",
        "model.bias",
        "extra.best_weights.weight",
        "extra.best_score",
    }


def test_mismatches_are_reported_and_change_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.safetensors"
    run = Run(seed=0)
    run.steps(2)
    run.save(path)

    other = Run(seed=1)
    before = other.snapshot()
    with pytest.raises(ValueError, match=r"optimizer state for a SGD .* got the state of a Adam"):
        load_checkpoint(path, model=other.model, optimizer=optim.SGD(other.model.parameters()))
    wrong_model = nn.Sequential(nn.Linear(4, 8))
    with pytest.raises(
        ValueError,
        match=r"keys and shapes of the Sequential .*'0.bias': \(16,\) in the file, \(8,\) in the",
    ):
        load_checkpoint(path, model=wrong_model)
    with pytest.raises(
        ValueError, match=r"generator 'augment' \(generators\) in .*, got states for \['shuffle'\]"
    ):
        load_checkpoint(path, model=other.model, generators={"augment": np.random.default_rng(0)})
    with pytest.raises(
        ValueError, match=r"a MT19937 state for the generator 'shuffle' in .*, got 'PCG64'"
    ):
        load_checkpoint(
            path,
            model=other.model,
            generators={"shuffle": np.random.Generator(np.random.MT19937())},
        )
    split = optim.Adam(
        [
            {"params": list(other.model.parameters())[:2]},
            {"params": list(other.model.parameters())[2:]},
        ]
    )
    with pytest.raises(
        ValueError,
        match=r"fits the objects given in .*, got ValueError: .*expected 2 parameter groups, got 1",
    ):
        load_checkpoint(path, model=other.model, optimizer=split)  # fails after the model loaded
    assert_identical(other.snapshot(), before)  # the model was put back

    bare = tmp_path / "bare.safetensors"
    save_checkpoint(bare, model=run.model)
    with pytest.raises(ValueError, match=r"optimizer state to restore the Adam given .* got none"):
        load_checkpoint(bare, model=other.model, optimizer=other.optimizer)
    no_dropout = tmp_path / "no_dropout.safetensors"
    save_checkpoint(no_dropout, model=nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(
        ValueError, match=r"generator '1' \(layer_generators\) in .*, got states for \[\]"
    ):
        load_checkpoint(no_dropout, model=nn.Sequential(nn.Linear(2, 2), nn.Dropout(generator=0)))


def test_bad_arguments(tmp_path: Path) -> None:
    path = tmp_path / "c.safetensors"
    model = nn.Linear(2, 1)
    with pytest.raises(TypeError, match="save_checkpoint: expected model to be a chainrule Module"):
        save_checkpoint(path, model="model")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected an optimizer with state_dict"):
        save_checkpoint(path, model=model, optimizer=object())
    with pytest.raises(TypeError, match="save_checkpoint: epoch must be an int, got float"):
        save_checkpoint(path, model=model, epoch=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="save_checkpoint: epoch must be >= 0, got -1"):
        save_checkpoint(path, model=model, epoch=-1)
    with pytest.raises(TypeError, match=r"to numpy.random.Generator, got int for 'data'"):
        save_checkpoint(path, model=model, generators={"data": 0})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match=r"generators must be a dict .* got list"):
        save_checkpoint(path, model=model, generators=[])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="history must be a dict or None, got list"):
        save_checkpoint(path, model=model, history=[1.0])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"expected JSON values .* got function at extra\.f"):
        save_checkpoint(path, model=model, extra={"f": lambda: 0})
    with pytest.raises(TypeError, match=r"arrays of numbers or booleans, got dtype <U1 at extra.s"):
        save_checkpoint(path, model=model, extra={"s": np.array(["a"])})
    with pytest.raises(TypeError, match="load_checkpoint: expected model to be a chainrule Module"):
        load_checkpoint(path, model=None)  # type: ignore[arg-type]
    assert not path.exists()


def test_model_file_is_not_a_checkpoint_and_weights_agree(tmp_path: Path) -> None:
    run = Run(seed=0)
    run.steps(1)
    run.save(tmp_path / "c.safetensors")
    save(run.model, tmp_path / "m.safetensors")
    in_checkpoint = load_weights(tmp_path / "c.safetensors")
    for key, array in load_weights(tmp_path / "m.safetensors").items():
        assert np.array_equal(in_checkpoint[f"model.{key}"], array)
    x = cr.tensor(X[:4])
    run.model.eval()
    assert run.model(x).shape == (4, 3)
