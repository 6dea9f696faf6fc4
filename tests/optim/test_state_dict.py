"""Checkpoints: 10 steps, save, rebuild, load, 10 more steps == 20 steps straight (bit for bit)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from chainrule import optim
from chainrule.nn.parameter import Parameter
from chainrule.optim import lr_scheduler

DTYPE = np.float64

CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("Adamax", {"lr": 0.01}),
    ("NAdam", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
]


def _clone(params):
    return [Parameter(p.data.copy()) for p in params]


@pytest.mark.parametrize("config", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_resume_from_state_dict_equals_training_straight(config, mlp):
    name, kwargs = config
    straight = mlp.chainrule_params(DTYPE)
    opt = getattr(optim, name)(straight, **kwargs)
    straight_losses = mlp.run_chainrule(straight, opt, DTYPE, steps=range(20))

    first = mlp.chainrule_params(DTYPE)
    opt = getattr(optim, name)(first, **kwargs)
    losses = mlp.run_chainrule(first, opt, DTYPE, steps=range(10))
    saved = opt.state_dict()
    resumed = _clone(first)
    # Training the old optimizer further must not change what was saved.
    mlp.run_chainrule(first, opt, DTYPE, steps=range(10, 12))

    opt = getattr(optim, name)(resumed, **kwargs)
    opt.load_state_dict(saved)
    losses += mlp.run_chainrule(resumed, opt, DTYPE, steps=range(10, 20))

    assert losses == straight_losses
    for p, q in zip(resumed, straight, strict=True):
        np.testing.assert_array_equal(p.data, q.data)


def test_state_dict_has_pytorch_layout(mlp):
    params = mlp.chainrule_params(DTYPE)
    w1, b1, w2, b2 = params
    opt = optim.Adam([{"params": [w1, w2]}, {"params": [b1, b2], "lr": 0.5}], lr=0.01)
    mlp.run_chainrule(params, opt, DTYPE, steps=range(3))
    state = opt.state_dict()

    assert set(state) == {"state", "param_groups"}
    assert [g["params"] for g in state["param_groups"]] == [[0, 1], [2, 3]]
    assert state["param_groups"][1]["lr"] == 0.5
    assert state["param_groups"][0]["betas"] == (0.9, 0.999)
    assert sorted(state["state"]) == [0, 1, 2, 3]
    entry = state["state"][1]  # w2: the second parameter of the first group
    assert set(entry) == {"step", "exp_avg", "exp_avg_sq"}
    assert entry["step"] == 3
    assert isinstance(entry["exp_avg"], np.ndarray) and entry["exp_avg"].shape == w2.shape
    assert entry["exp_avg"] is not opt.state[w2]["exp_avg"]  # a copy, safe to keep


def test_state_dict_matches_pytorch_and_a_pytorch_state_dict_loads(mlp, tol):
    """After the same 10 steps the two state dicts agree, and PyTorch's (with its tensors)
    loads into chainrule and carries on exactly as PyTorch does."""
    torch = pytest.importorskip("torch")
    kwargs = {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}
    ours, theirs = mlp.chainrule_params(DTYPE), mlp.torch_params(DTYPE)
    our_opt, their_opt = optim.Adam(ours, **kwargs), torch.optim.Adam(theirs, **kwargs)
    mlp.run_chainrule(ours, our_opt, DTYPE, steps=range(10))
    mlp.run_torch(theirs, their_opt, DTYPE, steps=range(10))

    our_state, their_state = our_opt.state_dict(), their_opt.state_dict()
    assert our_state["state"].keys() == their_state["state"].keys()
    for index, entry in our_state["state"].items():
        assert entry.keys() == their_state["state"][index].keys()
        for key, value in entry.items():
            np.testing.assert_allclose(value, their_state["state"][index][key].numpy(), rtol=1e-9)
    for ours_group, their_group in zip(
        our_state["param_groups"], their_state["param_groups"], strict=True
    ):
        assert ours_group.items() <= their_group.items()

    loaded_params = [Parameter(p.detach().numpy().copy()) for p in theirs]
    loaded = optim.Adam(loaded_params, **kwargs)
    loaded.load_state_dict(their_opt.state_dict())
    assert loaded.state[loaded_params[0]]["step"] == 10
    assert loaded.state[loaded_params[0]]["exp_avg"].dtype == DTYPE
    our_losses = mlp.run_chainrule(loaded_params, loaded, DTYPE, steps=range(10, 20))
    their_losses = mlp.run_torch(theirs, their_opt, DTYPE, steps=range(10, 20))
    np.testing.assert_allclose(our_losses, their_losses, **tol(DTYPE))
    for p, q in zip(loaded_params, theirs, strict=True):
        np.testing.assert_allclose(p.data, q.detach().numpy(), **tol(DTYPE))


def test_load_state_dict_casts_state_to_the_parameter_dtype(mlp):
    params64 = mlp.chainrule_params(np.float64)
    opt = optim.RMSprop(params64, lr=0.01, momentum=0.9)
    mlp.run_chainrule(params64, opt, np.float64, steps=range(2))
    params32 = mlp.chainrule_params(np.float32)
    opt32 = optim.RMSprop(params32, lr=0.01, momentum=0.9)
    opt32.load_state_dict(opt.state_dict())
    for p in params32:
        assert opt32.state[p]["square_avg"].dtype == np.float32
        assert opt32.state[p]["momentum_buffer"].dtype == np.float32


SCALAR_CONFIGS = [*CONFIGS, ("Adam", {"lr": 0.01, "betas": (0.3, 0.9)})]  # lerp's other end


@pytest.mark.parametrize("config", SCALAR_CONFIGS, ids=repr)
def test_a_scalar_parameter_trains_and_resumes(config):
    """A 0-d parameter's state is 0-d arrays; loaded back they must stay arrays that the
    update writes into (they once came back as NumPy scalars and froze), and every
    optimizer must step it at all (Adagrad and NAdam once failed on 0-d arrays)."""
    name, kwargs = config
    grads = [np.float32(2.0 + k) for k in range(6)]

    def run(reload: bool) -> float:
        p = Parameter(np.array(1.5, dtype=np.float32))
        opt = getattr(optim, name)([p], **kwargs)
        for k, g in enumerate(grads):
            if k == 3 and reload:
                saved = opt.state_dict()
                opt = getattr(optim, name)([p], **kwargs)
                opt.load_state_dict(saved)
            p.grad = Parameter(np.array(g))
            opt.step()
        return float(p.data)

    straight = run(reload=False)
    assert straight != 1.5
    assert run(reload=True) == straight


def test_lbfgs_state_dict_round_trip(mlp):
    x, y = mlp.full_batch(DTYPE)

    def train(params, opt, n_steps):
        def closure():
            opt.zero_grad()
            loss = mlp.chainrule_loss(params, x, y)
            loss.backward()
            return loss

        return [opt.step(closure).item() for _ in range(n_steps)]

    kwargs = {"line_search_fn": "strong_wolfe", "history_size": 5, "max_iter": 5}
    straight = mlp.chainrule_params(DTYPE)
    straight_losses = train(straight, optim.LBFGS(straight, **kwargs), 4)

    first = mlp.chainrule_params(DTYPE)
    opt = optim.LBFGS(first, **kwargs)
    losses = train(first, opt, 2)
    saved = opt.state_dict()
    resumed = _clone(first)
    opt = optim.LBFGS(resumed, **kwargs)
    opt.load_state_dict(saved)
    losses += train(resumed, opt, 2)
    assert losses == straight_losses
    for p, q in zip(resumed, straight, strict=True):
        np.testing.assert_array_equal(p.data, q.data)


SCHEDULES = {
    "StepLR": lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    "CosineAnnealingLR": lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
    "OneCycleLR": lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=20),
    "LambdaLR": lambda o: lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e)),
    "SequentialLR": lambda o: lr_scheduler.SequentialLR(
        o,
        [
            lr_scheduler.LinearLR(o, start_factor=0.2, total_iters=4),
            lr_scheduler.MultiStepLR(o, milestones=[3, 5]),
        ],
        milestones=[6],
    ),
    "ReduceLROnPlateau": lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=0, factor=0.7),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_scheduler_state_dict_round_trip(name, mlp):
    """Optimizer and scheduler saved after 10 steps resume to the same 20-step run."""

    def train(params, opt, sched, steps):
        lrs = []

        def advance():
            if isinstance(sched, lr_scheduler.ReduceLROnPlateau):
                sched.step(1.0)  # never improves: the lr drops every epoch
            else:
                sched.step()
            lrs.append(opt.param_groups[0]["lr"])

        mlp.run_chainrule(params, opt, DTYPE, steps=steps, after_step=advance)
        return lrs

    straight = mlp.chainrule_params(DTYPE)
    opt = optim.SGD(straight, lr=0.1, momentum=0.9)
    straight_lrs = train(straight, opt, SCHEDULES[name](opt), range(19))

    first = mlp.chainrule_params(DTYPE)
    opt = optim.SGD(first, lr=0.1, momentum=0.9)
    sched = SCHEDULES[name](opt)
    lrs = train(first, opt, sched, range(10))
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()

    resumed = _clone(first)
    opt = optim.SGD(resumed, lr=0.1, momentum=0.9)
    sched = SCHEDULES[name](opt)  # build the schedule first: building it sets the lr
    opt.load_state_dict(saved_opt)
    sched.load_state_dict(saved_sched)
    lrs += train(resumed, opt, sched, range(10, 19))

    assert lrs == straight_lrs
    assert len(set(lrs)) > 2
    for p, q in zip(resumed, straight, strict=True):
        np.testing.assert_array_equal(p.data, q.data)
