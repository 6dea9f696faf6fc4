"""Every schedule: the learning rates over 30 steps equal PyTorch's, group by group."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler

torch = pytest.importorskip("torch")

N_STEPS = 30


def _optimizers(name: str = "SGD", **kwargs: Any) -> tuple[Any, Any]:
    """A chainrule and a PyTorch optimizer over two groups (lr 0.1 and 0.01)."""
    defaults = {"SGD": {"momentum": 0.9}, "Adam": {}}[name]
    defaults.update(kwargs)
    ours = getattr(optim, name)(
        [
            {"params": [cr.zeros(2, requires_grad=True)]},
            {"params": [cr.zeros(3, requires_grad=True)], "lr": 0.01},
        ],
        lr=0.1,
        **defaults,
    )
    theirs = getattr(torch.optim, name)(
        [
            {"params": [torch.zeros(2, requires_grad=True)]},
            {"params": [torch.zeros(3, requires_grad=True)], "lr": 0.01},
        ],
        lr=0.1,
        **defaults,
    )
    return ours, theirs


def _trace(opt: Any, sched: Any, n_steps: int = N_STEPS, metrics: list[float] | None = None):
    """Learning rates (and momenta) of every group, after construction and after each step."""

    def snapshot():
        rows = []
        for group in opt.param_groups:
            momentum = group["betas"][0] if "betas" in group else group.get("momentum")
            rows.append((float(group["lr"]), None if momentum is None else float(momentum)))
        return rows, [float(lr) for lr in sched.get_last_lr()]

    trace = [snapshot()]
    for i in range(n_steps):
        opt.step()  # no gradients: a no-op, called first as PyTorch expects
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        trace.append(snapshot())
    return trace


def _assert_same_trace(ours, theirs):
    assert len(ours) == len(theirs)
    for step, ((our_groups, our_last), (their_groups, their_last)) in enumerate(
        zip(ours, theirs, strict=True)
    ):
        for (our_lr, our_m), (their_lr, their_m) in zip(our_groups, their_groups, strict=True):
            assert our_lr == pytest.approx(their_lr, rel=1e-13, abs=1e-16), f"step {step}"
            if their_m is not None:
                assert our_m == pytest.approx(their_m, rel=1e-13), f"momentum at step {step}"
        np.testing.assert_allclose(our_last, their_last, rtol=1e-13, atol=1e-16)


Factory = Callable[[Any, Any], Any]

SCHEDULES: dict[str, tuple[str, Factory]] = {
    "StepLR": ("SGD", lambda m, o: m.StepLR(o, step_size=7, gamma=0.5)),
    "MultiStepLR": ("SGD", lambda m, o: m.MultiStepLR(o, milestones=[3, 8, 8, 20], gamma=0.3)),
    "ConstantLR": ("SGD", lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=6)),
    "ExponentialLR": ("SGD", lambda m, o: m.ExponentialLR(o, gamma=0.9)),
    "CosineAnnealingLR": ("SGD", lambda m, o: m.CosineAnnealingLR(o, T_max=30)),
    # T_max below the run length: the cosine reaches eta_min and climbs back, twice.
    "CosineAnnealingLR-restart": (
        "SGD",
        lambda m, o: m.CosineAnnealingLR(o, T_max=8, eta_min=0.001),
    ),
    "LinearLR": ("SGD", lambda m, o: m.LinearLR(o)),
    "LinearLR-options": (
        "SGD",
        lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.6, total_iters=12),
    ),
    "LambdaLR": ("SGD", lambda m, o: m.LambdaLR(o, lambda epoch: 0.95**epoch)),
    "LambdaLR-per-group": (
        "SGD",
        lambda m, o: m.LambdaLR(o, [lambda e: 1 / (1 + e), lambda e: 1.0 + (e % 4)]),
    ),
    "SequentialLR": (
        "SGD",
        lambda m, o: m.SequentialLR(
            o,
            [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=20)],
            milestones=[5],
        ),
    ),
    "SequentialLR-three": (
        "SGD",
        lambda m, o: m.SequentialLR(
            o,
            [
                m.ConstantLR(o, factor=0.5, total_iters=3),
                m.ExponentialLR(o, gamma=0.8),
                m.StepLR(o, step_size=4, gamma=0.5),
            ],
            milestones=[4, 12],
        ),
    ),
    "OneCycleLR-cos": ("SGD", lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=N_STEPS)),
    "OneCycleLR-linear-three-phase": (
        "SGD",
        lambda m, o: m.OneCycleLR(
            o,
            max_lr=[1.0, 0.2],
            total_steps=N_STEPS,
            anneal_strategy="linear",
            three_phase=True,
            pct_start=0.4,
        ),
    ),
    "OneCycleLR-epochs-adam-betas": (
        "Adam",
        lambda m, o: m.OneCycleLR(
            o,
            max_lr=0.01,
            epochs=5,
            steps_per_epoch=6,
            base_momentum=[0.8, 0.7],
            max_momentum=0.9,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
    ),
    "OneCycleLR-no-momentum": (
        "SGD",
        lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=N_STEPS, cycle_momentum=False),
    ),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_matches_pytorch(name):
    optimizer_name, factory = SCHEDULES[name]
    our_opt, their_opt = _optimizers(optimizer_name)
    our_sched = factory(lr_scheduler, our_opt)
    their_sched = factory(torch.optim.lr_scheduler, their_opt)
    # OneCycleLR allows total_steps - 1 further steps after the one taken at construction.
    n_steps = N_STEPS - 1 if name.startswith("OneCycleLR") else N_STEPS
    ours = _trace(our_opt, our_sched, n_steps)
    theirs = _trace(their_opt, their_sched, n_steps)
    _assert_same_trace(ours, theirs)
    assert len({lr for (groups, _) in ours for lr, _ in groups}) > 2  # the lr does change


def test_one_cycle_refuses_to_step_past_total_steps():
    opt, _ = _optimizers()
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="OneCycleLR: stepped 4 times, but total_steps is 3"):
        sched.step()


PLATEAU_METRICS = [1.0, 0.9, 0.9, 0.95, 0.91, 0.89, 0.9, 0.9, 0.9, 0.9] * 3
PLATEAU_CONFIGS: list[dict[str, Any]] = [
    {"patience": 2},
    {"patience": 1, "factor": 0.5, "cooldown": 2},
    {"patience": 0, "factor": 0.5, "min_lr": [0.02, 0.001]},
    {"patience": 1, "threshold": 0.05, "threshold_mode": "abs"},
    {"mode": "max", "patience": 1, "factor": 0.7},
    {"mode": "max", "patience": 2, "threshold": 0.01, "threshold_mode": "abs", "min_lr": 0.05},
    {"patience": 0, "factor": 0.9, "eps": 0.005},  # reductions below eps are skipped
]


@pytest.mark.parametrize("kwargs", PLATEAU_CONFIGS, ids=[str(c) for c in PLATEAU_CONFIGS])
def test_reduce_lr_on_plateau_matches_pytorch(kwargs):
    our_opt, their_opt = _optimizers()
    our_sched = lr_scheduler.ReduceLROnPlateau(our_opt, **kwargs)
    their_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(their_opt, **kwargs)
    ours = _trace(our_opt, our_sched, len(PLATEAU_METRICS), PLATEAU_METRICS)
    theirs = _trace(their_opt, their_sched, len(PLATEAU_METRICS), PLATEAU_METRICS)
    _assert_same_trace(ours, theirs)
    assert our_sched.best == their_sched.best
    assert our_sched.num_bad_epochs == their_sched.num_bad_epochs
    assert our_sched.last_epoch == their_sched.last_epoch


def test_reduce_lr_on_plateau_accepts_a_tensor_metric():
    opt, _ = _optimizers()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    sched.step(cr.tensor(1.0))
    sched.step(cr.tensor(2.0))
    assert sched.get_last_lr() == pytest.approx([0.01, 0.001])
