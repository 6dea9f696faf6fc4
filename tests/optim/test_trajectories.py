"""Every optimizer, every option: 60 steps on an MLP, losses and weights equal to PyTorch's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

torch = pytest.importorskip("torch")

CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01}),
    # Maximizing the loss drives the weights outwards; a small lr keeps the run tame.
    ("SGD", {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.05}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.9)}),  # 1 - beta1 > 0.5: the other lerp branch
    ("Adam", {"lr": 0.01, "weight_decay": 0.05, "decoupled_weight_decay": True}),
    ("Adam", {"lr": 0.002, "weight_decay": 0.05, "amsgrad": True, "maximize": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.002, "weight_decay": 0.1, "maximize": True}),
    ("Adamax", {"lr": 0.01}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05}),
    ("Adamax", {"lr": 0.002, "maximize": True}),
    ("NAdam", {"lr": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.05}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.05, "decoupled_weight_decay": True}),
    ("NAdam", {"lr": 0.01, "momentum_decay": 0.01, "betas": (0.8, 0.99)}),
    ("NAdam", {"lr": 0.002, "maximize": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.01}),
    ("RMSprop", {"lr": 0.002, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    (
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01, "initial_accumulator_value": 0.1},
    ),
    ("Adagrad", {"lr": 0.1, "eps": 1e-6}),
    ("Adagrad", {"lr": 0.02, "maximize": True}),
]


def _id(config: tuple[str, dict[str, Any]]) -> str:
    name, kwargs = config
    return name + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


def _assert_params_equal(ours: list[Any], theirs: list[Any], tol: dict[str, float]) -> None:
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.data, q.detach().numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("config", CONFIGS, ids=[_id(c) for c in CONFIGS])
def test_trajectory_matches_pytorch(config, dtype, mlp, tol):
    name, kwargs = config
    ours = mlp.chainrule_params(dtype)
    theirs = mlp.torch_params(dtype)
    our_losses = mlp.run_chainrule(ours, getattr(optim, name)(ours, **kwargs), dtype)
    their_losses = mlp.run_torch(theirs, getattr(torch.optim, name)(theirs, **kwargs), dtype)

    np.testing.assert_allclose(our_losses, their_losses, **tol(dtype))
    _assert_params_equal(ours, theirs, tol(dtype))
    assert len(our_losses) >= 50
    # The run must actually move the weights, or agreement would prove nothing.
    assert not np.allclose(ours[0].data, mlp.weights[0], atol=1e-3)


GROUP_CONFIGS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"lr": 0.02, "momentum": 0.5, "nesterov": True}),
    ("Adam", {"lr": 0.01}, {"lr": 0.003, "betas": (0.5, 0.9), "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01}, {"centered": True, "momentum": 0.3}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("config", GROUP_CONFIGS, ids=[c[0] for c in GROUP_CONFIGS])
def test_parameter_groups_match_pytorch(config, dtype, mlp, tol):
    """Weights and biases in two groups with their own settings, as PyTorch users do."""
    name, defaults, bias_options = config

    def groups(params):
        w1, b1, w2, b2 = params
        return [{"params": [w1, w2]}, {"params": [b1, b2], **bias_options}]

    ours, theirs = mlp.chainrule_params(dtype), mlp.torch_params(dtype)
    our_opt = getattr(optim, name)(groups(ours), **defaults)
    their_opt = getattr(torch.optim, name)(groups(theirs), **defaults)
    our_losses = mlp.run_chainrule(ours, our_opt, dtype)
    their_losses = mlp.run_torch(theirs, their_opt, dtype)
    np.testing.assert_allclose(our_losses, their_losses, **tol(dtype))
    _assert_params_equal(ours, theirs, tol(dtype))
    assert our_opt.param_groups[1]["lr"] == bias_options.get("lr", defaults["lr"])


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_parameters_without_grad_are_skipped_like_pytorch(name, mlp, tol):
    """A parameter the loss never touches keeps its value and, lazily, gets no state."""
    dtype = np.float64
    ours, theirs = mlp.chainrule_params(dtype), mlp.torch_params(dtype)
    our_unused = cr.tensor(np.ones(4), requires_grad=True)
    their_unused = torch.ones(4, dtype=torch.float64, requires_grad=True)
    kwargs = {"lr": 0.01, "momentum": 0.9} if name in ("SGD", "RMSprop") else {"lr": 0.01}
    our_opt = getattr(optim, name)([*ours, our_unused], **kwargs)
    their_opt = getattr(torch.optim, name)([*theirs, their_unused], **kwargs)
    mlp.run_chainrule(ours, our_opt, dtype, steps=range(10))
    mlp.run_torch(theirs, their_opt, dtype, steps=range(10))
    _assert_params_equal(ours, theirs, tol(dtype))
    np.testing.assert_array_equal(our_unused.data, np.ones(4))
    assert our_unused.grad is None
    assert (our_unused in our_opt.state and len(our_opt.state[our_unused]) > 0) == (
        len(their_opt.state[their_unused]) > 0
    )
