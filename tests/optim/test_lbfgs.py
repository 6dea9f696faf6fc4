"""LBFGS with a closure, with and without the strong-Wolfe line search, against PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from chainrule import optim

torch = pytest.importorskip("torch")

CONFIGS: list[dict[str, Any]] = [
    {"lr": 0.5},
    {"lr": 0.5, "history_size": 3},  # the history fills up and shifts
    {"line_search_fn": "strong_wolfe"},
    {"line_search_fn": "strong_wolfe", "history_size": 4, "max_iter": 15, "max_eval": 18},
    {"lr": 0.8, "line_search_fn": "strong_wolfe", "tolerance_change": 1e-4},
    {"line_search_fn": "strong_wolfe", "tolerance_grad": 1e-3},  # stops on a small gradient
]


# An L2 penalty, as scikit-learn's MLP adds (alpha), keeps the optimum finite: without it the
# weights grow without bound as the loss creeps to zero, and the run turns ill-conditioned.
ALPHA = 1e-2


def _closure(mlp, params, opt, dtype):
    x, y = mlp.full_batch(dtype)

    def closure():
        opt.zero_grad()
        loss = mlp.chainrule_loss(params, x, y)
        loss = loss + 0.5 * ALPHA * sum((p**2).sum() for p in params)
        loss.backward()
        return loss

    return closure


def _torch_closure(mlp, params, opt, dtype):
    x, y = mlp.full_batch(dtype)

    def closure():
        opt.zero_grad()
        loss = mlp.torch_loss(params, x, y)
        loss = loss + 0.5 * ALPHA * sum((p**2).sum() for p in params)
        loss.backward()
        return loss

    return closure


def _run_chainrule(mlp, kwargs, dtype, n_steps):
    params = mlp.chainrule_params(dtype)
    opt = optim.LBFGS(params, **kwargs)
    closure = _closure(mlp, params, opt, dtype)
    return params, opt, [opt.step(closure).item() for _ in range(n_steps)]


def _run_torch(mlp, kwargs, dtype, n_steps):
    params = mlp.torch_params(dtype)
    opt = torch.optim.LBFGS(params, **kwargs)
    closure = _torch_closure(mlp, params, opt, dtype)
    with mlp.torch_default_dtype(dtype):
        losses = [opt.step(closure).item() for _ in range(n_steps)]
    return params, opt, losses


@pytest.mark.parametrize("kwargs", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_lbfgs_float64_matches_pytorch(kwargs, mlp):
    dtype = np.float64
    ours, our_opt, our_losses = _run_chainrule(mlp, kwargs, dtype, n_steps=1)
    theirs, their_opt, their_losses = _run_torch(mlp, kwargs, dtype, n_steps=1)
    tight = {"rtol": 1e-9, "atol": 1e-11}
    _assert_same_run(ours, our_opt, theirs, their_opt, tight)

    # A second step starts from the stored history. Rounding differences of 1e-16 in the
    # two libraries' sums are amplified by the cubic interpolations of the line search, so
    # the weights now agree to about 1e-8 (the losses still to 1e-9).
    our_losses.append(our_opt.step(_closure(mlp, ours, our_opt, dtype)).item())
    with mlp.torch_default_dtype(dtype):
        their_losses.append(their_opt.step(_torch_closure(mlp, theirs, their_opt, dtype)).item())
    np.testing.assert_allclose(our_losses, their_losses, **tight)
    _assert_same_run(ours, our_opt, theirs, their_opt, {"rtol": 1e-6, "atol": 1e-8})
    assert our_losses[-1] < our_losses[0]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_lbfgs_float32_matches_pytorch(kwargs, mlp):
    """float32 stays float32, and the losses agree to about 1e-4 over three steps.

    The weights are not compared: PyTorch's float32 sums and dot products round differently
    from NumPy's (in the last bit), and the strong-Wolfe line search's cubic interpolation
    amplifies a one-ulp difference in the first step length about a hundredfold per search.
    The float64 test above proves the algorithm is the same.
    """
    dtype = np.float32
    ours, our_opt, our_losses = _run_chainrule(mlp, kwargs, dtype, n_steps=3)
    _, _, their_losses = _run_torch(mlp, kwargs, dtype, n_steps=3)
    np.testing.assert_allclose(our_losses, their_losses, rtol=3e-4)
    state = our_opt.state[ours[0]]
    assert all(p.dtype == np.float32 for p in ours)
    assert state["d"].dtype == state["prev_flat_grad"].dtype == np.float32
    assert all(v.dtype == np.float32 for v in state["old_dirs"] + state["old_stps"])
    assert our_losses[-1] < our_losses[0]


def _assert_same_run(ours, our_opt, theirs, their_opt, tol):
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.data, q.detach().numpy(), **tol)
    our_state = our_opt.state[ours[0]]
    their_state = their_opt.state[theirs[0]]
    assert our_state["func_evals"] == their_state["func_evals"]
    assert our_state["n_iter"] == their_state["n_iter"]
    assert len(our_state["old_dirs"]) == len(their_state["old_dirs"])
    np.testing.assert_allclose(our_state["d"], their_state["d"].numpy(), **tol)


def test_lbfgs_reaches_the_minimum_of_a_quadratic():
    """On a convex quadratic, L-BFGS with line search finds the minimiser.

    To about 1e-9: closer, the loss no longer changes in float64, and the line search stalls.
    """
    import chainrule as cr

    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6))
    hessian = a @ a.T + 6 * np.eye(6)
    b = rng.normal(size=6)
    w = cr.zeros(6, dtype=np.float64, requires_grad=True)
    opt = optim.LBFGS(
        [w], line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-20
    )

    def closure():
        opt.zero_grad()
        loss = 0.5 * (w @ cr.tensor(hessian) @ w) - (cr.tensor(b) * w).sum()
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(w.data, np.linalg.solve(hessian, b), rtol=1e-7)


def test_lbfgs_returns_the_loss_before_the_step_and_stops_at_an_optimum(mlp):
    import chainrule as cr

    w = cr.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    opt = optim.LBFGS([w])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (w * 0).sum()  # gradient exactly zero: already optimal
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert isinstance(loss, cr.Tensor) and loss.item() == 0
    assert len(calls) == 1  # one evaluation, then the optimality test stops it
    np.testing.assert_array_equal(w.data, [1.0, 2.0])
