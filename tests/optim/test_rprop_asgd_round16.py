"""Round 16: Rprop and ASGD, which PyTorch users reach for, against PyTorch 2.13.

Every option, 60 steps of an MLP in float64 (to 1e-10) and float32, the optimizers' state
(ASGD's average ``ax``, ``eta``, ``mu``; Rprop's step sizes) step by step, parameter groups,
checkpoints in both directions mid-training, schedulers, and bad settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.io import load_checkpoint, save_checkpoint
from chainrule.nn.parameter import Parameter

torch = pytest.importorskip("torch")

CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("Rprop", {}),
    ("Rprop", {"lr": 0.001, "etas": (0.3, 1.5), "step_sizes": (1e-4, 0.02)}),
    # Bounds that bind: every step size hits the floor or the ceiling within a few steps.
    ("Rprop", {"lr": 0.05, "etas": (0.1, 3.0), "step_sizes": (0.01, 0.06)}),
    ("Rprop", {"lr": 0.001, "maximize": True}),
    ("ASGD", {}),
    # t0 = 5: the average starts at step 6, so ax differs from the weights from step 7 on.
    ("ASGD", {"lr": 0.05, "lambd": 1e-2, "alpha": 0.5, "t0": 5}),
    ("ASGD", {"lr": 0.05, "t0": 3, "weight_decay": 0.05}),
    ("ASGD", {"lr": 0.1, "lambd": 0.0, "t0": 0}),
    ("ASGD", {"lr": 0.005, "t0": 3, "weight_decay": 0.05, "maximize": True}),
]

STATE_KEYS = {"Rprop": {"step", "prev", "step_size"}, "ASGD": {"step", "eta", "mu", "ax"}}


def _id(config: tuple[str, dict[str, Any]]) -> str:
    name, kwargs = config
    return name + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


def _assert_state_matches(ours: Any, theirs: Any, our_params: Any, their_params: Any, tol: Any):
    for p, q in zip(our_params, their_params, strict=True):
        mine, expected = ours.state[p], theirs.state[q]
        assert set(mine) == set(expected) == STATE_KEYS[type(ours).__name__]
        for key, value in expected.items():
            got = mine[key]
            if key == "step":
                assert got == int(value.item())
            elif value.ndim == 0 and key != "step_size":  # ASGD's eta and mu: Python floats
                assert isinstance(got, float)
                assert got == pytest.approx(value.item(), rel=tol["rtol"])
            else:
                assert got.dtype == p.dtype and got.shape == p.shape
                np.testing.assert_allclose(got, value.numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("config", CONFIGS, ids=[_id(c) for c in CONFIGS])
def test_trajectory_and_state_match_pytorch(config, dtype, mlp, tol):
    name, kwargs = config
    ours, theirs = mlp.chainrule_params(dtype), mlp.torch_params(dtype)
    our_opt = getattr(optim, name)(ours, **kwargs)
    their_opt = getattr(torch.optim, name)(theirs, **kwargs)

    def check_state() -> None:
        _assert_state_matches(our_opt, their_opt, ours, theirs, tol(dtype))

    for steps in (range(0, 7), range(7, 20), range(20, len(mlp.batches))):
        our_losses = mlp.run_chainrule(ours, our_opt, dtype, steps=steps)
        their_losses = mlp.run_torch(theirs, their_opt, dtype, steps=steps)
        np.testing.assert_allclose(our_losses, their_losses, **tol(dtype))
        for p, q in zip(ours, theirs, strict=True):
            assert p.dtype == dtype
            np.testing.assert_allclose(p.data, q.detach().numpy(), **tol(dtype))
        check_state()
    assert our_opt.state[ours[0]]["step"] == len(mlp.batches)
    # The run must move the weights, or agreement would prove nothing.
    assert not np.allclose(ours[0].data, mlp.weights[0], atol=1e-3)


def test_asgd_average_is_the_mean_of_the_weights_since_t0(mlp):
    """ax is the Polyak average: from step t0 + 2 on, the mean of the weights after steps
    t0 + 2, ..., t (and until then, the weights themselves), to float32's rounding of the
    weights 1/k, in which PyTorch keeps mu."""
    dtype, t0 = np.float64, 4
    params = mlp.chainrule_params(dtype)
    opt = optim.ASGD(params, lr=0.05, t0=t0)
    visited = []
    mlp.run_chainrule(
        params,
        opt,
        dtype,
        steps=range(20),
        after_step=lambda: visited.append(params[0].data.copy()),
    )
    ax = opt.state[params[0]]["ax"]
    np.testing.assert_allclose(ax, np.mean(visited[t0 + 1 :], axis=0), rtol=1e-6, atol=1e-9)
    assert opt.state[params[0]]["mu"] == 1 / (20 - t0)
    assert not np.allclose(ax, params[0].data)


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
def test_parameter_groups_with_their_own_settings_match_pytorch(name, mlp, tol):
    if name == "Rprop":
        first = {"lr": 0.002, "etas": (0.4, 1.3)}
        second = {"lr": 0.02, "step_sizes": (1e-3, 0.05), "maximize": False}
    else:
        first = {"lr": 0.05, "t0": 2, "weight_decay": 0.05}
        second = {"lr": 0.02, "lambd": 1e-3, "alpha": 0.6, "t0": 10}

    def groups(params: list[Any]) -> list[dict[str, Any]]:
        return [
            {"params": [params[0], params[2]], **first},
            {"params": [params[1], params[3]], **second},
        ]

    ours, theirs = mlp.chainrule_params(np.float64), mlp.torch_params(np.float64)
    our_opt = getattr(optim, name)(groups(ours))
    their_opt = getattr(torch.optim, name)(groups(theirs))
    our_losses = mlp.run_chainrule(ours, our_opt, np.float64, steps=range(30))
    their_losses = mlp.run_torch(theirs, their_opt, np.float64, steps=range(30))
    np.testing.assert_allclose(our_losses, their_losses, **tol(np.float64))
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.data, q.detach().numpy(), **tol(np.float64))
    _assert_state_matches(our_opt, their_opt, ours, theirs, tol(np.float64))
    for our_group, their_group in zip(our_opt.param_groups, their_opt.param_groups, strict=True):
        for key, value in our_group.items():
            if key != "params":
                assert their_group[key] == value, key


RESUME_KWARGS = {
    "Rprop": {"lr": 0.005, "etas": (0.4, 1.3)},
    "ASGD": {"lr": 0.05, "t0": 5, "weight_decay": 0.01},
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
def test_resume_from_state_dict_equals_training_straight(name, dtype, mlp):
    kwargs = RESUME_KWARGS[name]
    straight = mlp.chainrule_params(dtype)
    opt = getattr(optim, name)(straight, **kwargs)
    straight_losses = mlp.run_chainrule(straight, opt, dtype, steps=range(30))

    first = mlp.chainrule_params(dtype)
    opt = getattr(optim, name)(first, **kwargs)
    losses = mlp.run_chainrule(first, opt, dtype, steps=range(12))
    saved = opt.state_dict()
    resumed = [Parameter(p.data.copy()) for p in first]
    # Training the old optimizer further must not change what was saved.
    mlp.run_chainrule(first, opt, dtype, steps=range(12, 15))

    opt = getattr(optim, name)(resumed, **kwargs)
    opt.load_state_dict(saved)
    losses += mlp.run_chainrule(resumed, opt, dtype, steps=range(12, 30))
    assert losses == straight_losses
    for p, q in zip(resumed, straight, strict=True):
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
def test_a_pytorch_state_dict_resumes_here_and_ours_resumes_in_pytorch(name, mlp, tol):
    kwargs = RESUME_KWARGS[name]
    dtype = np.float64
    theirs = mlp.torch_params(dtype)
    their_losses = mlp.run_torch(theirs, getattr(torch.optim, name)(theirs, **kwargs), dtype)

    # PyTorch's optimizer stopped at step 25, its state dict (tensors) loaded here.
    halfway = mlp.torch_params(dtype)
    their_half = getattr(torch.optim, name)(halfway, **kwargs)
    mlp.run_torch(halfway, their_half, dtype, steps=range(25))
    ours = [Parameter(q.detach().numpy().copy()) for q in halfway]
    opt = getattr(optim, name)(ours, **kwargs)
    opt.load_state_dict(their_half.state_dict())
    our_tail = mlp.run_chainrule(ours, opt, dtype, steps=range(25, len(mlp.batches)))
    np.testing.assert_allclose(our_tail, their_losses[25:], **tol(dtype))
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.data, q.detach().numpy(), **tol(dtype))

    # And back: chainrule's state dict at step 25, its arrays as tensors, resumes in PyTorch.
    ours = mlp.chainrule_params(dtype)
    opt = getattr(optim, name)(ours, **kwargs)
    mlp.run_chainrule(ours, opt, dtype, steps=range(25))
    saved = opt.state_dict()
    saved["state"] = {
        index: {
            k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in state.items()
        }
        for index, state in saved["state"].items()
    }
    handed = [torch.tensor(p.data.copy(), requires_grad=True) for p in ours]
    their_opt = getattr(torch.optim, name)(handed, **kwargs)
    their_opt.load_state_dict(saved)
    tail = mlp.run_torch(handed, their_opt, dtype, steps=range(25, len(mlp.batches)))
    np.testing.assert_allclose(tail, their_losses[25:], **tol(dtype))


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_checkpoint_files_round_trip(tmp_path: Path, name: str, dtype: Any) -> None:
    def build() -> tuple[nn.Module, Any]:
        model = nn.Sequential(nn.Linear(3, 2, dtype=dtype, generator=0))
        groups = [
            {"params": [model[0].weight]},  # type: ignore[attr-defined]
            {"params": [model[0].bias], "lr": 0.002},  # type: ignore[attr-defined]
        ]
        extra = {"t0": 1} if name == "ASGD" else {}
        return model, getattr(optim, name)(groups, lr=0.01, **extra)

    def steps(model: nn.Module, optimizer: Any, n: int) -> None:
        weight, bias = model.parameters()
        for _ in range(n):
            optimizer.zero_grad()
            (((weight - 1.5) ** 4).sum() + (bias**2).sum()).backward()
            optimizer.step()

    model, optimizer = build()
    steps(model, optimizer, 4)
    save_checkpoint(tmp_path / "c.safetensors", model=model, optimizer=optimizer)
    fresh_model, fresh_optimizer = build()
    load_checkpoint(tmp_path / "c.safetensors", model=fresh_model, optimizer=fresh_optimizer)
    for p in fresh_model.parameters():
        state = fresh_optimizer.state[p]
        assert isinstance(state["step"], int)
        if name == "ASGD":
            assert isinstance(state["eta"], float) and isinstance(state["mu"], float)
    steps(model, optimizer, 4)
    steps(fresh_model, fresh_optimizer, 4)
    for p, q in zip(model.parameters(), fresh_model.parameters(), strict=True):
        assert p.dtype == q.dtype and np.array_equal(p.data, q.data)


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
def test_schedulers_drive_them_as_in_pytorch(name, mlp, tol):
    """StepLR changes ASGD's lr, from which eta is recomputed each step; Rprop reads lr only
    for its initial step sizes, so a schedule after the first step changes nothing."""
    kwargs = RESUME_KWARGS[name]
    ours, theirs = mlp.chainrule_params(np.float64), mlp.torch_params(np.float64)
    our_opt = getattr(optim, name)(ours, **kwargs)
    their_opt = getattr(torch.optim, name)(theirs, **kwargs)
    our_sched = optim.lr_scheduler.StepLR(our_opt, step_size=2, gamma=0.5)
    their_sched = torch.optim.lr_scheduler.StepLR(their_opt, step_size=2, gamma=0.5)
    for epoch in range(6):
        steps = range(10 * epoch, 10 * (epoch + 1))
        our_losses = mlp.run_chainrule(ours, our_opt, np.float64, steps=steps)
        their_losses = mlp.run_torch(theirs, their_opt, np.float64, steps=steps)
        np.testing.assert_allclose(our_losses, their_losses, **tol(np.float64))
        our_sched.step()
        their_sched.step()
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.data, q.detach().numpy(), **tol(np.float64))


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
def test_a_scalar_parameter_and_a_tensor_lr_step_as_in_pytorch(name, mlp):
    ours = cr.tensor(2.0, dtype="float64", requires_grad=True)
    theirs = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    our_opt = getattr(optim, name)([ours], lr=cr.tensor(0.1, dtype="float64"))
    their_opt = getattr(torch.optim, name)([theirs], lr=torch.tensor(0.1, dtype=torch.float64))
    assert our_opt.param_groups[0]["lr"] == 0.1
    for _ in range(8):
        for opt, w in ((our_opt, ours), (their_opt, theirs)):
            opt.zero_grad()
            ((w - 0.5) ** 2).backward()
            opt.step()
        assert ours.item() == pytest.approx(theirs.item(), rel=1e-12)
    assert ours.item() != 2.0


def test_rprop_state_and_steps_by_hand():
    """Sign held: the step grows by etaplus; sign flipped: it shrinks by etaminus, the
    weight stays, and the next step is taken as after a zero gradient."""
    w = cr.tensor([1.0, 1.0, 0.0], dtype="float64", requires_grad=True)
    opt = optim.Rprop([w], lr=0.1, etas=(0.5, 2.0), step_sizes=(0.0, 0.3))
    gradients = [[1.0, 1.0, 0.0], [1.0, -1.0, 3.0], [1.0, 1.0, 3.0], [1.0, 1.0, 3.0]]
    expected_w = [[0.9, 0.9, 0.0], [0.7, 0.9, -0.1], [0.4, 0.85, -0.3], [0.1, 0.75, -0.6]]
    expected_sizes = [[0.1, 0.1, 0.1], [0.2, 0.05, 0.1], [0.3, 0.05, 0.2], [0.3, 0.1, 0.3]]
    for g, after, sizes in zip(gradients, expected_w, expected_sizes, strict=True):
        w.grad = cr.tensor(g, dtype="float64")
        opt.step()
        np.testing.assert_allclose(w.numpy(), after, rtol=1e-12)
        np.testing.assert_allclose(opt.state[w]["step_size"], sizes, rtol=1e-12)
    np.testing.assert_array_equal(opt.state[w]["prev"], [1.0, 1.0, 3.0])


def test_nan_gradients_give_nan_step_sizes_as_in_pytorch():
    values = [[1.0, -1.0, 2.0], [np.nan, 1.0, 0.0], [1.0, 1.0, 1.0]]
    ours = cr.tensor([0.5, 0.5, 0.5], dtype="float64", requires_grad=True)
    theirs = torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64, requires_grad=True)
    our_opt, their_opt = optim.Rprop([ours]), torch.optim.Rprop([theirs])
    for g in values:
        ours.grad = cr.tensor(g, dtype="float64")
        theirs.grad = torch.tensor(g, dtype=torch.float64)
        our_opt.step()
        their_opt.step()
        np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())
        np.testing.assert_array_equal(
            our_opt.state[ours]["step_size"], their_opt.state[theirs]["step_size"].numpy()
        )


def test_pytorch_switches_are_accepted_and_differentiable_refused():
    w = cr.zeros(2, requires_grad=True)
    optim.Rprop([w], 0.01, (0.5, 1.2), (1e-6, 50), capturable=False, foreach=True)
    optim.Rprop([w], maximize=True, differentiable=False, foreach=None)
    optim.ASGD([w], 0.01, 1e-4, 0.75, 1e6, 0.0, True, False, False, False)
    optim.ASGD([w], foreach=None, capturable=True)
    for name in ("Rprop", "ASGD"):
        with pytest.raises(ValueError, match=rf"{name}: differentiable=True is not supported"):
            getattr(optim, name)([w], differentiable=True)


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda p: optim.Rprop(p, lr=-0.1), ValueError, r"Rprop: lr must be >= 0, got -0.1"),
        (
            lambda p: optim.Rprop(p, etas=(1.5, 1.2)),
            ValueError,
            r"Rprop: expected etas \(etaminus, etaplus\) with 0 < etaminus < 1 < etaplus, "
            r"got \(1.5, 1.2\)",
        ),
        (
            lambda p: optim.Rprop(p, etas=(0.0, 1.2)),
            ValueError,
            r"with 0 < etaminus < 1 < etaplus, got \(0.0, 1.2\)",
        ),
        (
            lambda p: optim.Rprop(p, etas=(0.5, 1.0)),
            ValueError,
            r"with 0 < etaminus < 1 < etaplus, got \(0.5, 1.0\)",
        ),
        (
            lambda p: optim.Rprop(p, etas=0.5),
            ValueError,
            r"Rprop: expected etas as a pair \(etaminus, etaplus\), got 0.5",
        ),
        (lambda p: optim.Rprop(p, etas=(0.5, "1.2")), TypeError, "etas\\[1\\] must be a number"),
        (
            lambda p: optim.Rprop(p, step_sizes=(1.0, 0.1)),
            ValueError,
            r"Rprop: expected step_sizes \(min, max\) with 0 <= min <= max, got \(1.0, 0.1\)",
        ),
        (
            lambda p: optim.Rprop(p, step_sizes=(-1.0, 0.1)),
            ValueError,
            r"0 <= min <= max, got \(-1.0, 0.1\)",
        ),
        (
            lambda p: optim.Rprop(p, step_sizes=[1e-6]),
            ValueError,
            r"Rprop: expected step_sizes as a pair \(min, max\), got \[1e-06\]",
        ),
        (lambda p: optim.ASGD(p, lr=-1.0), ValueError, r"ASGD: lr must be >= 0, got -1.0"),
        (lambda p: optim.ASGD(p, lambd=-1e-4), ValueError, r"ASGD: lambd must be >= 0"),
        (
            lambda p: optim.ASGD(p, weight_decay=-0.1),
            ValueError,
            r"ASGD: weight_decay must be >= 0, got -0.1",
        ),
        (lambda p: optim.ASGD(p, alpha="0.75"), TypeError, "ASGD: alpha must be a number, got str"),
        (lambda p: optim.ASGD(p, t0=None), TypeError, "ASGD: t0 must be a number, got NoneType"),
        (
            lambda p: optim.ASGD([{"params": p, "lr": float("nan")}]),
            ValueError,
            "ASGD: lr must be >= 0, got nan",
        ),
    ],
)
def test_bad_settings_are_refused_with_what_was_expected(build, error, message):
    with pytest.raises(error, match=message):
        build([cr.zeros(2, requires_grad=True)])


def test_a_bad_group_added_later_is_refused():
    opt = optim.Rprop([cr.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match=r"got \(0.5, 0.9\)"):
        opt.add_param_group({"params": [cr.zeros(3, requires_grad=True)], "etas": (0.5, 0.9)})
    assert len(opt.param_groups) == 1
