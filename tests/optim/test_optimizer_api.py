"""The Optimizer API a user touches: errors, groups, zero_grad, closures, dtypes."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.optim import lr_scheduler


def _param(*shape, dtype=np.float32):
    return cr.zeros(*shape, dtype=dtype, requires_grad=True)


# ---------------------------------------------------------------------- construction errors
BAD_HYPERPARAMETERS = [
    (lambda p: optim.SGD(p, lr=-1), ValueError, "SGD: lr must be >= 0, got -1"),
    (lambda p: optim.SGD(p, lr=float("nan")), ValueError, "SGD: lr must be >= 0, got nan"),
    (lambda p: optim.SGD(p, lr="0.1"), TypeError, "SGD: lr must be a number, got str"),
    (lambda p: optim.SGD(p, momentum=-0.5), ValueError, "SGD: momentum must be >= 0, got -0.5"),
    (
        lambda p: optim.SGD(p, weight_decay=-1e-4),
        ValueError,
        "SGD: weight_decay must be >= 0, got -0.0001",
    ),
    (
        lambda p: optim.SGD(p, nesterov=True),
        ValueError,
        "SGD: nesterov needs momentum > 0 and dampening = 0, got momentum=0.0, dampening=0.0",
    ),
    (
        lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True),
        ValueError,
        "SGD: nesterov needs momentum > 0 and dampening = 0",
    ),
    (lambda p: optim.Adam(p, lr=-0.1), ValueError, "Adam: lr must be >= 0, got -0.1"),
    (
        lambda p: optim.Adam(p, betas=(0.9, 1.0)),
        ValueError,
        "Adam: betas must be a pair of numbers in [0, 1), got (0.9, 1.0)",
    ),
    (
        lambda p: optim.Adam(p, betas=(-0.1, 0.999)),
        ValueError,
        "Adam: betas must be a pair of numbers in [0, 1), got (-0.1, 0.999)",
    ),
    (
        lambda p: optim.Adam(p, betas=(0.9,)),
        ValueError,
        "Adam: betas must be a pair (beta1, beta2), got (0.9,)",
    ),
    (lambda p: optim.Adam(p, eps=-1e-8), ValueError, "Adam: eps must be >= 0, got -1e-08"),
    (
        lambda p: optim.Adam(p, weight_decay=-1),
        ValueError,
        "Adam: weight_decay must be >= 0, got -1",
    ),
    (
        lambda p: optim.AdamW(p, betas=(0.9, 1.5)),
        ValueError,
        "AdamW: betas must be a pair of numbers in [0, 1), got (0.9, 1.5)",
    ),
    (lambda p: optim.AdamW(p, lr=-1), ValueError, "AdamW: lr must be >= 0, got -1"),
    (
        lambda p: optim.Adamax(p, betas=(1.0, 0.9)),
        ValueError,
        "Adamax: betas must be a pair of numbers in [0, 1), got (1.0, 0.9)",
    ),
    (lambda p: optim.Adamax(p, eps=-1), ValueError, "Adamax: eps must be >= 0, got -1"),
    (
        lambda p: optim.NAdam(p, momentum_decay=-1),
        ValueError,
        "NAdam: momentum_decay must be >= 0, got -1",
    ),
    (
        lambda p: optim.NAdam(p, weight_decay=-1),
        ValueError,
        "NAdam: weight_decay must be >= 0, got -1",
    ),
    (lambda p: optim.RMSprop(p, alpha=-0.9), ValueError, "RMSprop: alpha must be >= 0, got -0.9"),
    (
        lambda p: optim.RMSprop(p, momentum=-1),
        ValueError,
        "RMSprop: momentum must be >= 0, got -1",
    ),
    (lambda p: optim.RMSprop(p, eps=-1), ValueError, "RMSprop: eps must be >= 0, got -1"),
    (
        lambda p: optim.Adagrad(p, lr_decay=-1),
        ValueError,
        "Adagrad: lr_decay must be >= 0, got -1",
    ),
    (
        lambda p: optim.Adagrad(p, initial_accumulator_value=-1),
        ValueError,
        "Adagrad: initial_accumulator_value must be >= 0, got -1",
    ),
    (lambda p: optim.LBFGS(p, lr=-1), ValueError, "LBFGS: lr must be >= 0, got -1"),
    (
        lambda p: optim.LBFGS(p, max_iter=0),
        ValueError,
        "LBFGS: max_iter must be an integer >= 1, got 0",
    ),
    (
        lambda p: optim.LBFGS(p, history_size=2.5),
        ValueError,
        "LBFGS: history_size must be an integer >= 1, got 2.5",
    ),
    (
        lambda p: optim.LBFGS(p, line_search_fn="wolfe"),
        ValueError,
        "LBFGS: line_search_fn must be None or 'strong_wolfe', got 'wolfe'",
    ),
]


@pytest.mark.parametrize(
    "build, error, message", BAD_HYPERPARAMETERS, ids=[m for _, _, m in BAD_HYPERPARAMETERS]
)
def test_bad_hyperparameters_are_rejected(build, error, message):
    with pytest.raises(error, match=re.escape(message)):
        build([_param(2)])


def test_a_group_with_a_bad_setting_is_rejected():
    with pytest.raises(ValueError, match=re.escape("SGD: lr must be >= 0, got -0.5")):
        optim.SGD([{"params": [_param(2)]}, {"params": [_param(2)], "lr": -0.5}], lr=0.1)


BAD_PARAMS = [
    ([], ValueError, "SGD: expected at least one parameter, got an empty list"),
    (iter([]), ValueError, "SGD: expected at least one parameter, got an empty list"),
    (
        _param(2),
        TypeError,
        "SGD: params must be an iterable of Tensors or of dicts, got a Tensor; "
        "pass [tensor] or model.parameters()",
    ),
    (
        {"params": [_param(2)]},
        TypeError,
        "SGD: params must be an iterable of Tensors or of dicts, got one dict",
    ),
    (
        [_param(2), np.zeros(2)],
        TypeError,
        "SGD: parameters must be Tensors, got ndarray at position 1",
    ),
    ([_param(2), 3.0], TypeError, "SGD: parameters must be Tensors, got float at position 1"),
    (
        [_param(2) * 2],
        ValueError,
        "SGD: can only optimize leaf tensors, got a non-leaf at position 0",
    ),
    (
        [cr.zeros(2, dtype=np.int64)],
        TypeError,
        "SGD: parameters must have a floating-point dtype, got int64 at position 0",
    ),
    (
        [{"params": {_param(2)}}],
        TypeError,
        "SGD: parameters must be in an ordered collection (a list), got a set",
    ),
    ([{"lr": 0.1}], ValueError, "SGD: a parameter group needs a 'params' entry, got keys ['lr']"),
    (
        nn.Linear(2, 2),
        TypeError,
        "SGD: params must be an iterable of Tensors or of dicts, got a Linear module; "
        "pass model.parameters()",
    ),
    (
        nn.Sequential(nn.Linear(2, 2)),
        TypeError,
        "SGD: params must be an iterable of Tensors or of dicts, got a Sequential module; "
        "pass model.parameters()",
    ),
    (0.1, TypeError, "SGD: params must be an iterable of Tensors or of dicts, got float"),
    (
        [{"params": [_param(2)]}, [_param(2)]],
        TypeError,
        "SGD: a parameter group must be a dict, got list",
    ),
]


@pytest.mark.parametrize("params, error, message", BAD_PARAMS, ids=[m for _, _, m in BAD_PARAMS])
def test_bad_parameter_lists_are_rejected(params, error, message):
    with pytest.raises(error, match=re.escape(message)):
        optim.SGD(params, lr=0.1)


def test_a_parameter_in_two_groups_is_rejected():
    w, b = _param(2), _param(2)
    with pytest.raises(ValueError, match="SGD: some parameters appear in more than one group"):
        optim.SGD([{"params": [w, b]}, {"params": [b]}], lr=0.1)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="SGD: some parameters appear in more than one group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(ValueError, match="SGD: a parameter group holds the same parameter twice"):
        optim.SGD([b, b], lr=0.1)


def test_lbfgs_takes_one_group_and_needs_a_closure():
    w, b = _param(2), _param(2)
    message = re.escape(
        "LBFGS: expected one parameter group (LBFGS has no per-parameter options), got a second"
    )
    with pytest.raises(ValueError, match=message):
        optim.LBFGS([{"params": [w]}, {"params": [b]}])
    opt = optim.LBFGS([w])
    with pytest.raises(ValueError, match=message):
        opt.add_param_group({"params": [b]})
    with pytest.raises(TypeError, match=re.escape("LBFGS.step: expected a closure")):
        opt.step()


# ---------------------------------------------------------------------- load_state_dict errors
def test_load_state_dict_errors():
    w1, w2, b = _param(3, 2), _param(3), _param(2)
    opt = optim.Adam([{"params": [w1, w2]}, {"params": [b]}], lr=0.1)
    good = opt.state_dict()

    with pytest.raises(
        ValueError, match=re.escape("Adam.load_state_dict: expected 2 parameter groups, got 1")
    ):
        opt.load_state_dict({"state": {}, "param_groups": good["param_groups"][:1]})

    groups = [dict(good["param_groups"][0], params=[0]), good["param_groups"][1]]
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Adam.load_state_dict: expected parameter group 0 to hold 2 parameters, got 1"
        ),
    ):
        opt.load_state_dict({"state": {}, "param_groups": groups})

    with pytest.raises(
        ValueError,
        match=re.escape(
            "Adam.load_state_dict: expected a dict with keys 'param_groups' and 'state', "
            "got ['state']"
        ),
    ):
        opt.load_state_dict({"state": {}})

    state = {7: {"step": 1, "exp_avg": np.zeros(2), "exp_avg_sq": np.zeros(2)}}
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Adam.load_state_dict: state refers to parameter 7, but the groups number "
            "parameters 0 to 2"
        ),
    ):
        opt.load_state_dict({"state": state, "param_groups": good["param_groups"]})

    state = {1: {"step": 1, "exp_avg": np.zeros(4), "exp_avg_sq": np.zeros(3)}}
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Adam.load_state_dict: expected state 'exp_avg' of parameter 1 to have shape (3,), "
            "got (4,)"
        ),
    ):
        opt.load_state_dict({"state": state, "param_groups": good["param_groups"]})

    bad_groups = [dict(good["param_groups"][0], lr=-1.0), good["param_groups"][1]]
    with pytest.raises(ValueError, match=re.escape("Adam: lr must be >= 0, got -1.0")):
        opt.load_state_dict({"state": {}, "param_groups": bad_groups})
    # A failed load leaves the optimizer as it was.
    assert opt.state_dict()["param_groups"] == good["param_groups"]


# ---------------------------------------------------------------------- scheduler errors
SCHEDULER_ERRORS = [
    (lambda o: lr_scheduler.StepLR("sgd", 3), TypeError, "StepLR: expected an Optimizer, got str"),
    (
        lambda o: lr_scheduler.StepLR(o, 0),
        ValueError,
        "StepLR: step_size must be an integer >= 1, got 0",
    ),
    (
        lambda o: lr_scheduler.MultiStepLR(o, [2, 4.5]),
        TypeError,
        "MultiStepLR: milestones must be integers, got [2, 4.5]",
    ),
    (
        lambda o: lr_scheduler.ConstantLR(o, factor=1.5),
        ValueError,
        "ConstantLR: factor must be in [0, 1], got 1.5",
    ),
    (
        lambda o: lr_scheduler.LinearLR(o, start_factor=0),
        ValueError,
        "LinearLR: start_factor must be in (0, 1], got 0",
    ),
    (
        lambda o: lr_scheduler.LinearLR(o, end_factor=2),
        ValueError,
        "LinearLR: end_factor must be in [0, 1], got 2",
    ),
    (
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0),
        ValueError,
        "CosineAnnealingLR: T_max must be an integer >= 1, got 0",
    ),
    (
        lambda o: lr_scheduler.ExponentialLR(o, gamma="0.9"),
        TypeError,
        "ExponentialLR: gamma must be a number, got str",
    ),
    (
        lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1.0] * 3),
        ValueError,
        "LambdaLR: expected one lr_lambda per parameter group (2), got 3",
    ),
    (
        lambda o: lr_scheduler.LambdaLR(o, 0.5),
        TypeError,
        "LambdaLR: lr_lambda must be callable, got float",
    ),
    (
        lambda o: lr_scheduler.StepLR(o, 3, last_epoch=4),
        ValueError,
        "StepLR: resuming at last_epoch=4 needs 'initial_lr' in every parameter group, "
        "missing in group 0",
    ),
    (
        lambda o: lr_scheduler.SequentialLR(o, [], milestones=[]),
        ValueError,
        "SequentialLR: expected at least one scheduler, got none",
    ),
    (
        lambda o: lr_scheduler.SequentialLR(
            o, [lr_scheduler.StepLR(o, 2), lr_scheduler.StepLR(o, 3)], milestones=[]
        ),
        ValueError,
        "SequentialLR: expected 1 milestones (one fewer than schedulers), got 0",
    ),
    (
        lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ReduceLROnPlateau(o)], []),
        ValueError,
        "SequentialLR: ReduceLROnPlateau cannot be sequenced",
    ),
    (
        lambda o: lr_scheduler.SequentialLR(
            o, [lr_scheduler.StepLR(optim.SGD([_param(1)]), 2)], milestones=[]
        ),
        ValueError,
        "SequentialLR: expected every scheduler to drive the given optimizer, "
        "got StepLR at index 0 driving another",
    ),
    (
        lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0),
        ValueError,
        "ReduceLROnPlateau: factor must be in [0, 1), got 1.0",
    ),
    (
        lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="avg"),
        ValueError,
        "ReduceLROnPlateau: mode must be 'min' or 'max', got 'avg'",
    ),
    (
        lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"),
        ValueError,
        "ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got 'pct'",
    ),
    (
        lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]),
        ValueError,
        "ReduceLROnPlateau: expected one min_lr per parameter group (2), got 1",
    ),
    (
        lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1),
        ValueError,
        "ReduceLROnPlateau: patience must be >= 0, got -1",
    ),
    (
        lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0),
        ValueError,
        "OneCycleLR: expected total_steps, or both epochs and steps_per_epoch, got "
        "total_steps=None, epochs=None, steps_per_epoch=None",
    ),
    (
        lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=0),
        ValueError,
        "OneCycleLR: total_steps must be an integer >= 1, got 0",
    ),
    (
        lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, epochs=2, steps_per_epoch=-1),
        ValueError,
        "OneCycleLR: steps_per_epoch must be an integer >= 1, got -1",
    ),
    (
        lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.2),
        ValueError,
        "OneCycleLR: pct_start must be in [0, 1], got 1.2",
    ),
    (
        lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"),
        ValueError,
        "OneCycleLR: anneal_strategy must be 'cos' or 'linear', got 'exp'",
    ),
    (
        lambda o: lr_scheduler.OneCycleLR(o, max_lr=[1.0, 2.0, 3.0], total_steps=10),
        ValueError,
        "OneCycleLR: expected one max_lr per parameter group (2), got 3",
    ),
    (
        lambda o: lr_scheduler.OneCycleLR(optim.Adagrad([_param(1)]), max_lr=1.0, total_steps=10),
        ValueError,
        "OneCycleLR: cycle_momentum needs an optimizer with momentum or betas, got Adagrad; "
        "pass cycle_momentum=False",
    ),
]


@pytest.mark.parametrize(
    "build, error, message", SCHEDULER_ERRORS, ids=[m for _, _, m in SCHEDULER_ERRORS]
)
def test_bad_scheduler_arguments_are_rejected(build, error, message):
    opt = optim.SGD([{"params": [_param(2)]}, {"params": [_param(2)]}], lr=0.1)
    with pytest.raises(error, match=re.escape(message)):
        build(opt)


def test_reduce_lr_on_plateau_after_a_group_was_added():
    w, b = _param(2), _param(2)
    opt = optim.SGD([w], lr=1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=[0.1])
    opt.add_param_group({"params": [b]})
    sched.step(1.0)
    with pytest.raises(
        RuntimeError,
        match=re.escape("ReduceLROnPlateau: expected 1 parameter groups (one per min_lr), got 2"),
    ):
        sched.step(2.0)


# ---------------------------------------------------------------------- behaviour
def test_zero_grad_sets_to_none_or_zeroes_in_place():
    w = _param(3)
    opt = optim.SGD([w], lr=0.1)
    (w * 2).sum().backward()
    grad_array = w.grad.data
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and w.grad.data is grad_array
    np.testing.assert_array_equal(grad_array, 0)
    opt.zero_grad()
    assert w.grad is None
    opt.zero_grad()  # no gradient at all: nothing to do


def test_step_returns_the_closure_loss_and_runs_it_with_grad_enabled():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    seen = []

    def closure():
        seen.append(cr.is_grad_enabled())
        opt.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    with cr.no_grad():
        loss = opt.step(closure)
    assert seen == [True]
    assert loss.item() == 5.0
    assert opt.step() is None


def test_add_param_group_takes_the_defaults_and_its_own_settings():
    w, b = _param(2), _param(3)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert len(opt.param_groups) == 2
    assert len(opt.param_groups[1]["params"]) == 1 and opt.param_groups[1]["params"][0] is b
    assert opt.param_groups[1]["lr"] == 0.01
    assert opt.param_groups[1]["momentum"] == 0.9
    b.grad = cr.ones(3)
    opt.step()
    np.testing.assert_allclose(b.data, -0.01)


@pytest.mark.parametrize(
    "build",
    [
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
        lambda p: optim.Adam(p, amsgrad=True, weight_decay=0.1),
        lambda p: optim.AdamW(p, amsgrad=True),
        lambda p: optim.Adamax(p, weight_decay=0.1),
        lambda p: optim.NAdam(p, weight_decay=0.1),
        lambda p: optim.RMSprop(p, centered=True, momentum=0.5, weight_decay=0.1),
        lambda p: optim.Adagrad(p, weight_decay=0.1, maximize=True),
    ],
    ids=["SGD", "Adam", "AdamW", "Adamax", "NAdam", "RMSprop", "Adagrad"],
)
def test_float32_stays_float32_and_updates_run_in_place(build):
    w = cr.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    data = w.data
    opt = build([w])
    for _ in range(3):
        opt.zero_grad()
        (w**2).sum().backward()
        opt.step()
    assert w.data is data  # updated in place, never replaced
    assert w.dtype == np.float32
    for value in opt.state[w].values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32
    assert not np.array_equal(w.data, np.linspace(-1, 1, 6).reshape(2, 3))


def test_optimizer_does_not_write_into_the_gradient():
    w = cr.tensor([1.0, -1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.5, maximize=True)
    w.grad = cr.tensor([0.25, 0.5])
    opt.step()
    opt.step()
    np.testing.assert_array_equal(w.grad.data, [0.25, 0.5])


def test_repr_lists_each_group():
    opt = optim.SGD([_param(2)], lr=0.1)
    text = repr(opt)
    assert text.startswith("SGD (\nParameter Group 0\n")
    assert "    lr: 0.1\n" in text and "params" not in text


def test_settings_switched_on_midway_create_their_state():
    """A group setting changed during training (by hand or by a schedule) just takes effect."""
    w, v = cr.tensor([1.0, -1.0], requires_grad=True), cr.tensor([2.0], requires_grad=True)
    adam, rmsprop = optim.Adam([w], lr=0.1), optim.RMSprop([v], lr=0.1)
    for opt, p in ((adam, w), (rmsprop, v)):
        p.grad = cr.ones_like(p)
        opt.step()
    adam.param_groups[0]["amsgrad"] = True
    rmsprop.param_groups[0].update(momentum=0.9, centered=True)
    adam.step()
    rmsprop.step()
    assert set(adam.state[w]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert set(rmsprop.state[v]) == {"step", "square_avg", "momentum_buffer", "grad_avg"}


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("SGD", {"momentum": 0.9, "weight_decay": 0.01}), ("Adam", {"betas": (0.8, 0.99)})],
)
def test_numpy_float_hyperparameters_round_as_python_floats(name, kwargs):
    """A schedule or a config file may hand over NumPy floats; float32 weights must still
    be updated in float32 arithmetic, as with Python floats (and as PyTorch does)."""

    def run(lr: Any, cast: Any) -> np.ndarray:
        rng = np.random.default_rng(0)
        w = cr.tensor(rng.standard_normal(1000).astype(np.float32), requires_grad=True)
        settings = {
            k: (tuple(cast(b) for b in v) if isinstance(v, tuple) else cast(v))
            for k, v in kwargs.items()
        }
        opt = getattr(optim, name)([w], lr=cast(lr), **settings)
        for _ in range(3):
            w.grad = cr.tensor(rng.standard_normal(1000).astype(np.float32))
            opt.step()
        return w.data

    np.testing.assert_array_equal(run(0.0123456789, np.float64), run(0.0123456789, float))
