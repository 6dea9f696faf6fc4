"""Acceptance round 7: seeded random hyperparameters, against PyTorch step by step.

Each optimizer trains the same small Linear/Tanh stack as PyTorch, from the same weights and
batches, with random valid settings in several parameter groups; a group is added midway, a
checkpoint is saved and loaded into a fresh optimizer, some steps clear gradients to zeros
and some leave a parameter without a gradient. The parameters must agree after every step.
The learning-rate schedules are swept the same way, comparing ``get_last_lr()`` every epoch
and across a ``state_dict`` round trip.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.nn.parameter import Parameter
from chainrule.optim import lr_scheduler

torch = pytest.importorskip("torch")

N_STEPS = 24
ADD_GROUP_AT, RELOAD_AT = 8, 14
BATCH = 6


# ------------------------------------------------------------------ the problem
def _problem() -> tuple[list[np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(7)
    weights = [
        rng.uniform(-0.5, 0.5, (6, 4)),
        rng.uniform(-0.5, 0.5, 6),
        rng.uniform(-0.5, 0.5, (3, 6)),
        rng.uniform(-0.5, 0.5, 3),
        rng.uniform(-0.5, 0.5, (3, 3)),  # the head added as a new group midway
    ]
    batches = [(rng.normal(size=(BATCH, 4)), rng.integers(0, 3, BATCH)) for _ in range(N_STEPS)]
    return weights, batches


WEIGHTS, BATCHES = _problem()


def _head_used(step: int) -> bool:
    """Whether the last layer takes part: not before it joins, and not on every fourth step
    after, so that its gradient is None there (or zeros, after zero_grad(set_to_none=False))."""
    return step >= ADD_GROUP_AT and step % 4 != 1


def _loss(lib: Any, params: list[Any], step: int) -> Any:
    w1, b1, w2, b2, w3 = params
    x, y = BATCHES[step]
    if lib is cr:
        h = cr.tanh(cr.linear(cr.tensor(x), w1, b1))
        out = cr.linear(h, w2, b2)
        if _head_used(step):
            out = cr.linear(cr.tanh(out), w3)
        return -cr.log_softmax(out, axis=1)[np.arange(BATCH), y].mean()
    functional = torch.nn.functional
    h = torch.tanh(functional.linear(torch.from_numpy(x), w1, b1))
    out = functional.linear(h, w2, b2)
    if _head_used(step):
        out = functional.linear(torch.tanh(out), w3)
    return -functional.log_softmax(out, 1)[torch.arange(BATCH), torch.from_numpy(y)].mean()


# ------------------------------------------------------------------ random settings
def _settings(name: str, rng: np.random.Generator) -> dict[str, Any]:
    def pick(*options: Any) -> Any:
        return options[rng.integers(len(options))]

    def uniform(low: float, high: float) -> float:
        return float(rng.uniform(low, high))

    maximize = bool(rng.random() < 0.2)
    betas = (uniform(0.0, 0.99), uniform(0.5, 0.9999))
    eps = pick(1e-8, uniform(1e-6, 1e-2))
    decay = pick(0.0, uniform(0.0, 0.2))
    if name == "SGD":
        momentum = pick(0.0, uniform(0.1, 0.95))
        nesterov = bool(momentum > 0 and rng.random() < 0.5)
        return {
            "lr": uniform(1e-3, 0.2),
            "momentum": momentum,
            "dampening": 0.0 if nesterov else pick(0.0, uniform(0.0, 0.9)),
            "weight_decay": decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
    if name in ("Adam", "AdamW"):
        settings = {
            "lr": uniform(1e-3, 0.05),
            "betas": betas,
            "eps": eps,
            "weight_decay": decay,
            "amsgrad": pick(False, True),
            "maximize": maximize,
        }
        if name == "Adam":
            settings["decoupled_weight_decay"] = pick(False, True)
        return settings
    if name == "RMSprop":
        return {
            "lr": uniform(1e-3, 0.02),
            "alpha": uniform(0.5, 0.999),
            "eps": eps,
            "weight_decay": decay,
            "momentum": pick(0.0, uniform(0.0, 0.95)),
            "centered": pick(False, True),
            "maximize": maximize,
        }
    if name == "Adagrad":
        return {
            "lr": uniform(1e-3, 0.2),
            "lr_decay": pick(0.0, uniform(0.0, 0.1)),
            "weight_decay": decay,
            "initial_accumulator_value": pick(0.0, uniform(0.0, 1.0)),
            "eps": pick(1e-10, uniform(1e-6, 1e-2)),
            "maximize": maximize,
        }
    if name == "Adamax":
        return {
            "lr": uniform(1e-3, 0.05),
            "betas": betas,
            "eps": eps,
            "weight_decay": decay,
            "maximize": maximize,
        }
    assert name == "NAdam"
    return {
        "lr": uniform(1e-3, 0.05),
        "betas": betas,
        "eps": eps,
        "weight_decay": decay,
        "momentum_decay": pick(4e-3, uniform(0.0, 0.05)),
        "decoupled_weight_decay": pick(False, True),
        "maximize": maximize,
    }


def _group_settings(name: str, rng: np.random.Generator, defaults: dict[str, Any]) -> dict:
    """Random settings for one group, some keys left out so that the defaults fill them."""
    settings = {k: v for k, v in _settings(name, rng).items() if rng.random() < 0.7}
    if name == "SGD":  # nesterov needs momentum > 0 and no dampening, whichever sets them
        settings["nesterov"] = settings.get("nesterov", False) and "momentum" in settings
        if settings["nesterov"] or defaults["nesterov"]:
            settings["dampening"] = 0.0
        momentum = settings.get("momentum", defaults["momentum"])
        if settings.get("nesterov", defaults["nesterov"]) and momentum == 0:
            settings["nesterov"] = False
    return settings


OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam"]
SEEDS = [0, 1, 2]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_random_settings_match_pytorch_every_step(name, seed):
    rng = np.random.default_rng(1000 * OPTIMIZERS.index(name) + seed)
    defaults = _settings(name, rng)
    groups = [_group_settings(name, rng, defaults) for _ in range(4)]
    ours = [Parameter(w.copy()) for w in WEIGHTS]
    theirs = [torch.tensor(w.copy(), requires_grad=True) for w in WEIGHTS]

    def build(lib_optim: Any, params: list[Any], group_settings: list[dict]) -> Any:
        split = [[0, 1], [2], [3]]
        return getattr(lib_optim, name)(
            [
                {"params": [params[i] for i in indices], **settings}
                for indices, settings in zip(split, group_settings, strict=False)
            ],
            **defaults,
        )

    our_opt, their_opt = build(optim, ours, groups), build(torch.optim, theirs, groups)
    saw_zero_grad_step = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's notes on float64 defaults and the like
        for step in range(N_STEPS):
            if step == ADD_GROUP_AT:
                our_opt.add_param_group({"params": [ours[4]], **groups[3]})
                their_opt.add_param_group({"params": [theirs[4]], **groups[3]})
            if step == RELOAD_AT:
                # Our checkpoint into a fresh optimizer on even seeds, PyTorch's on odd ones.
                saved = our_opt.state_dict() if seed % 2 == 0 else their_opt.state_dict()
                their_saved = their_opt.state_dict()
                our_opt = build(optim, ours, [{}] * 3)
                our_opt.add_param_group({"params": [ours[4]]})
                our_opt.load_state_dict(saved)
                their_opt = build(torch.optim, theirs, [{}] * 3)
                their_opt.add_param_group({"params": [theirs[4]]})
                their_opt.load_state_dict(their_saved)
                if seed % 2 == 0:
                    # PyTorch's load_state_dict casts NAdam's float32 mu_product to the
                    # parameters' float64; chainrule keeps its own state dict's as saved,
                    # so that a resumed run repeats an uninterrupted one. Back to float32,
                    # to compare the rest.
                    for state in their_opt.state.values():
                        if "mu_product" in state:
                            state["mu_product"] = state["mu_product"].to(torch.float32)
            set_to_none = step % 3 != 0
            our_opt.zero_grad(set_to_none=set_to_none)
            their_opt.zero_grad(set_to_none=set_to_none)
            _loss(cr, ours, step).backward()
            _loss(torch, theirs, step).backward()
            if step >= ADD_GROUP_AT and not _head_used(step):
                assert (ours[4].grad is None) == set_to_none
                saw_zero_grad_step |= not set_to_none
            our_opt.step()
            their_opt.step()
            for i, (p, q) in enumerate(zip(ours, theirs, strict=True)):
                np.testing.assert_allclose(
                    p.data,
                    q.detach().numpy(),
                    rtol=1e-10,
                    atol=1e-12,
                    err_msg=f"{name} parameter {i} after step {step}",
                )
    assert saw_zero_grad_step  # steps 9 and 21: the head has zeros, not None, as its grad
    assert not np.allclose(ours[0].data, WEIGHTS[0], atol=1e-4)


# ------------------------------------------------------------------ schedules
def _two_groups(lib: Any, lrs: list[float]) -> Any:
    if lib is cr:
        params = [cr.zeros(2, requires_grad=True) for _ in lrs]
        return optim.SGD(
            [{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)], momentum=0.9
        )
    params = [torch.zeros(2, requires_grad=True) for _ in lrs]
    return torch.optim.SGD(
        [{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)], lr=0.1, momentum=0.9
    )


def _schedule_settings(name: str, rng: np.random.Generator, n_groups: int) -> dict[str, Any]:
    def uniform(low: float, high: float) -> float:
        return float(rng.uniform(low, high))

    def integer(low: int, high: int) -> int:
        return int(rng.integers(low, high))

    if name == "StepLR":
        return {"step_size": integer(1, 7), "gamma": uniform(0.1, 0.99)}
    if name == "MultiStepLR":
        milestones = sorted(rng.integers(1, 30, size=integer(1, 5)).tolist())
        return {"milestones": milestones, "gamma": uniform(0.1, 0.99)}
    if name == "ExponentialLR":
        return {"gamma": uniform(0.8, 0.999)}
    if name == "CosineAnnealingLR":
        return {"T_max": integer(1, 15), "eta_min": float(rng.choice([0.0, uniform(0, 0.01)]))}
    if name == "LinearLR":
        return {
            "start_factor": uniform(0.01, 1),
            "end_factor": uniform(0.01, 1),
            "total_iters": integer(1, 15),
        }
    if name == "ConstantLR":
        return {"factor": uniform(0.01, 1), "total_iters": integer(1, 15)}
    if name == "PolynomialLR":
        return {"total_iters": integer(1, 20), "power": uniform(0.2, 3)}
    if name == "LambdaLR":
        rates = [uniform(0.5, 0.99) for _ in range(n_groups)]
        return {"lr_lambda": [lambda epoch, rate=rate: rate**epoch for rate in rates]}
    if name == "MultiplicativeLR":
        rate = uniform(0.5, 0.99)
        return {"lr_lambda": lambda epoch: rate}
    if name == "CosineAnnealingWarmRestarts":
        return {
            "T_0": integer(1, 8),
            "T_mult": integer(1, 4),
            "eta_min": float(rng.choice([0.0, uniform(0, 0.01)])),
        }
    if name == "CyclicLR":
        return {
            "base_lr": [uniform(0.001, 0.05) for _ in range(n_groups)],
            "max_lr": uniform(0.1, 1),
            "step_size_up": integer(1, 8),
            "step_size_down": None if rng.random() < 0.5 else integer(1, 8),
            "mode": str(rng.choice(["triangular", "triangular2", "exp_range"])),
            "gamma": uniform(0.8, 1),
            "cycle_momentum": bool(rng.random() < 0.7),
            "base_momentum": uniform(0.5, 0.8),
            "max_momentum": uniform(0.8, 0.99),
        }
    if name == "OneCycleLR":
        return {
            "max_lr": [uniform(0.05, 1) for _ in range(n_groups)],
            "total_steps": integer(30, 60),
            "pct_start": uniform(0.05, 0.6),
            "anneal_strategy": str(rng.choice(["cos", "linear"])),
            "cycle_momentum": bool(rng.random() < 0.7),
            "base_momentum": uniform(0.5, 0.85),
            "max_momentum": uniform(0.85, 0.99),
            "div_factor": uniform(2, 30),
            "final_div_factor": uniform(10, 1e4),
            "three_phase": bool(rng.random() < 0.5),
        }
    assert name == "ReduceLROnPlateau"
    return {
        "mode": str(rng.choice(["min", "max"])),
        "factor": uniform(0.1, 0.9),
        "patience": integer(0, 4),
        "threshold": float(rng.choice([1e-4, uniform(0, 0.2)])),
        "threshold_mode": str(rng.choice(["rel", "abs"])),
        "cooldown": integer(0, 4),
        "min_lr": [uniform(0, 0.01) for _ in range(n_groups)],
        "eps": float(rng.choice([1e-8, uniform(0, 1e-3)])),
    }


SCHEDULES = [
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "ConstantLR",
    "PolynomialLR",
    "LambdaLR",
    "MultiplicativeLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
]


def _assert_same_rates(ours: Any, theirs: Any, our_opt: Any, their_opt: Any, where: str) -> None:
    np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, err_msg=where)
    for key in ("lr", "momentum"):
        np.testing.assert_allclose(
            [g[key] for g in our_opt.param_groups],
            [g[key] for g in their_opt.param_groups],
            rtol=1e-12,
            err_msg=f"{where}: {key}",
        )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", SCHEDULES)
def test_random_schedule_matches_pytorch_every_epoch(name, seed):
    rng = np.random.default_rng(100 * SCHEDULES.index(name) + seed)
    lrs = [float(rng.uniform(0.01, 0.5)) for _ in range(int(rng.integers(1, 4)))]
    settings = _schedule_settings(name, rng, len(lrs))
    metrics = rng.normal(size=40).cumsum() * 0.1 + np.sin(np.arange(40))
    n_epochs = min(40, settings.get("total_steps", 40) - 1)

    def build(schedules: Any, opt: Any) -> Any:
        return getattr(schedules, name)(opt, **settings)

    our_opt, their_opt = _two_groups(cr, lrs), _two_groups(torch, lrs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = build(lr_scheduler, our_opt)
        theirs = build(torch.optim.lr_scheduler, their_opt)
        _assert_same_rates(ours, theirs, our_opt, their_opt, f"{name} at construction")
        for epoch in range(n_epochs):
            our_opt.step()
            their_opt.step()
            if name == "ReduceLROnPlateau":
                ours.step(float(metrics[epoch]))
                theirs.step(float(metrics[epoch]))
            else:
                ours.step()
                theirs.step()
            _assert_same_rates(ours, theirs, our_opt, their_opt, f"{name} epoch {epoch}")
            if epoch == 12:
                saved, their_saved = ours.state_dict(), theirs.state_dict()
                saved_opt, their_saved_opt = our_opt.state_dict(), their_opt.state_dict()
                our_opt = _two_groups(cr, [0.3] * len(lrs))
                their_opt = _two_groups(torch, [0.3] * len(lrs))
                our_opt.load_state_dict(saved_opt)
                their_opt.load_state_dict(their_saved_opt)
                ours = build(lr_scheduler, our_opt)
                theirs = build(torch.optim.lr_scheduler, their_opt)
                ours.load_state_dict(saved)
                theirs.load_state_dict(their_saved)
                _assert_same_rates(ours, theirs, our_opt, their_opt, f"{name} reloaded")


SUBSCHEDULES = SCHEDULES[:10]  # those SequentialLR and ChainedScheduler compose


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["SequentialLR", "ChainedScheduler"])
def test_random_composite_schedule_matches_pytorch(kind, seed):
    rng = np.random.default_rng(seed)
    lrs = [float(rng.uniform(0.01, 0.5)) for _ in range(int(rng.integers(1, 4)))]
    # Seeds 0-2 put MultiplicativeLR after a milestone, where it restarts at epoch 0.
    names = [str(rng.choice(SUBSCHEDULES)) for _ in range(int(rng.integers(2, 4)))]
    if seed < 3:
        names[-1] = "MultiplicativeLR"
    inner = [(n, _schedule_settings(n, rng, len(lrs))) for n in names]
    milestones = sorted(int(m) for m in rng.choice(np.arange(1, 25), len(names) - 1, False))

    def build(schedules: Any, opt: Any) -> Any:
        parts = [getattr(schedules, n)(opt, **settings) for n, settings in inner]
        if kind == "SequentialLR":
            return schedules.SequentialLR(opt, parts, milestones=milestones)
        return schedules.ChainedScheduler(parts, optimizer=opt)

    our_opt, their_opt = _two_groups(cr, lrs), _two_groups(torch, lrs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = build(lr_scheduler, our_opt), build(torch.optim.lr_scheduler, their_opt)
        for epoch in range(30):
            where = f"{kind} of {names} at {milestones}, epoch {epoch}"
            np.testing.assert_allclose(
                ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, err_msg=where
            )
            our_opt.step()
            their_opt.step()
            ours.step()
            theirs.step()
            if epoch == 10:
                saved = ours.state_dict()
                ours = build(lr_scheduler, our_opt)
                ours.load_state_dict(saved)
                theirs_saved = theirs.state_dict()
                theirs = build(torch.optim.lr_scheduler, their_opt)
                theirs.load_state_dict(theirs_saved)


def test_multiplicative_lr_multiplies_at_a_sequential_milestone():
    # PyTorch restarts the next schedule at epoch 0 through get_lr(), and MultiplicativeLR
    # multiplies there by lr_lambda(0): only its construction step leaves the rate alone.
    def run(schedules: Any, opt: Any) -> list[float]:
        first = schedules.ConstantLR(opt, factor=0.5, total_iters=2)
        second = schedules.MultiplicativeLR(opt, lambda epoch: 0.9)
        sequence = schedules.SequentialLR(opt, [first, second], milestones=[3])
        rates = []
        for _ in range(6):
            opt.step()
            sequence.step()
            rates.append(sequence.get_last_lr()[0])
        return rates

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = run(lr_scheduler, _two_groups(cr, [1.0]))
        theirs = run(torch.optim.lr_scheduler, _two_groups(torch, [1.0]))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert ours[2] == pytest.approx(0.9)  # epoch 3: 1.0 * lr_lambda(0)


@pytest.mark.parametrize(
    "make",
    [
        lambda schedules, opt, last: schedules.MultiplicativeLR(opt, lambda e: 0.9, last),
        lambda schedules, opt, last: schedules.PolynomialLR(opt, 10, 0.7, last),
    ],
    ids=["MultiplicativeLR", "PolynomialLR"],
)
def test_resuming_at_last_epoch_keeps_the_groups_rate_on_construction(make):
    # Built with last_epoch=k > -1, a recursive schedule's first step leaves each group's lr
    # as it is, as PyTorch's does, and continues from there.
    def run(lib: Any, schedules: Any) -> list[list[float]]:
        opt = _two_groups(lib, [0.2, 0.05])
        for group in opt.param_groups:
            group["initial_lr"] = 2 * group["lr"]
        scheduler = make(schedules, opt, 4)
        rates = [scheduler.get_last_lr()]
        for _ in range(4):
            opt.step()
            scheduler.step()
            rates.append(scheduler.get_last_lr())
        return rates

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = run(cr, lr_scheduler)
        theirs = run(torch, torch.optim.lr_scheduler)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert ours[0] == pytest.approx([0.2, 0.05])


@pytest.mark.parametrize("seed", range(4))
def test_warm_restarts_at_fractional_epochs_match_pytorch(seed):
    # scheduler.step(epoch + i / iters) inside an epoch, as PyTorch documents, mixed with plain
    # steps and with a jump back before T_0.
    rng = np.random.default_rng(seed)
    settings = _schedule_settings("CosineAnnealingWarmRestarts", rng, 2)
    our_opt, their_opt = _two_groups(cr, [0.3, 0.05]), _two_groups(torch, [0.3, 0.05])
    ours = lr_scheduler.CosineAnnealingWarmRestarts(our_opt, **settings)
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(their_opt, **settings)
    epochs = [*rng.uniform(0, 60, size=12), None, None, 0.5, None]
    for epoch in epochs:
        ours.step(epoch)
        theirs.step(epoch)
        np.testing.assert_allclose(
            ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, err_msg=f"{settings} {epoch}"
        )
        assert ours.last_epoch == theirs.last_epoch


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"T_0": 0}, "T_0 must be an integer >= 1, got 0"),
        ({"T_0": 2.5}, "T_0 must be an integer >= 1, got 2.5"),
        ({"T_0": 3, "T_mult": 0}, "T_mult must be an integer >= 1, got 0"),
    ],
)
def test_warm_restarts_refuses_bad_periods(settings, message):
    opt = _two_groups(cr, [0.1])
    with pytest.raises(ValueError, match=f"CosineAnnealingWarmRestarts: {message}"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, **settings)
    scheduler = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3)
    with pytest.raises(ValueError, match="CosineAnnealingWarmRestarts: epoch must be >= 0, got -1"):
        scheduler.step(-1)


class _Decay:
    """A callable object as scale_fn, whose attributes a state dict keeps."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def __call__(self, x: float) -> float:
        return float(self.rate**x)


@pytest.mark.parametrize("scale_mode", ["cycle", "iterations"])
def test_cyclic_lr_with_adam_and_a_custom_scale_matches_pytorch(scale_mode):
    # Adam's beta1 cycles instead of a momentum; the scale_fn's state survives a reload.
    def run(lib_optim: Any, schedules: Any, param: Any) -> list[tuple[float, float]]:
        opt = lib_optim.Adam([{"params": [param], "lr": 0.3}])
        options = {"step_size_up": 3, "step_size_down": 2, "scale_mode": scale_mode}
        scheduler = schedules.CyclicLR(opt, 0.01, 0.4, scale_fn=_Decay(0.8), **options)
        seen = []
        for step in range(14):
            opt.step()
            scheduler.step()
            seen.append((opt.param_groups[0]["lr"], opt.param_groups[0]["betas"][0]))
            if step == 6:
                saved = scheduler.state_dict()
                scheduler = schedules.CyclicLR(opt, 0.01, 0.4, scale_fn=_Decay(0.1), **options)
                scheduler.load_state_dict(saved)
        return seen

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = run(optim, lr_scheduler, cr.zeros(1, requires_grad=True))
        theirs = run(torch.optim, torch.optim.lr_scheduler, torch.zeros(1, requires_grad=True))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_cyclic_lr_refuses_bad_settings():
    opt = _two_groups(cr, [0.1])
    with pytest.raises(ValueError, match="CyclicLR: mode must be 'triangular', 'triangular2'"):
        lr_scheduler.CyclicLR(opt, 0.01, 0.1, mode="sawtooth")
    with pytest.raises(ValueError, match="CyclicLR: step_size_up must be an integer >= 1, got 0"):
        lr_scheduler.CyclicLR(opt, 0.01, 0.1, step_size_up=0)
    with pytest.raises(ValueError, match="CyclicLR: expected one max_lr per parameter group"):
        lr_scheduler.CyclicLR(opt, 0.01, [0.1, 0.2])
    adagrad = optim.Adagrad([cr.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="CyclicLR: cycle_momentum needs an optimizer with"):
        lr_scheduler.CyclicLR(adagrad, 0.01, 0.1)
