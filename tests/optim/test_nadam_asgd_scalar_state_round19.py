"""NAdam's mu_product and ASGD's eta and mu in the precision PyTorch keeps them (0-d tensors
of its default dtype, float32), so that float64 runs agree with PyTorch's to rounding, and
resume from state dicts: chainrule's own (repeating the uninterrupted run) and PyTorch's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

torch = pytest.importorskip("torch")

SETTINGS = {"NAdam": {"lr": 0.01}, "ASGD": {"lr": 0.01, "lambd": 1e-3, "t0": 10}}
STEPS = 60


def _pair(name: str) -> tuple[Any, Any, Any, Any]:
    start = np.linspace(-1, 1, 6)
    ours = cr.tensor(start.copy(), requires_grad=True)
    theirs = torch.tensor(start, requires_grad=True)
    return (
        ours,
        getattr(optim, name)([ours], **SETTINGS[name]),
        theirs,
        getattr(torch.optim, name)([theirs], **SETTINGS[name]),
    )


def _steps(w: Any, opt: Any, n: int) -> None:
    for _ in range(n):
        opt.zero_grad()
        (w**4).sum().backward()
        opt.step()


@pytest.mark.parametrize("name", list(SETTINGS))
def test_a_float64_trajectory_matches_pytorch_to_rounding(name: str) -> None:
    ours, our_opt, theirs, their_opt = _pair(name)
    _steps(ours, our_opt, STEPS)
    _steps(theirs, their_opt, STEPS)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-14, atol=0)
    for key, value in their_opt.state[theirs].items():
        if value.ndim == 0 and key != "step":  # the scalars: float32 in PyTorch
            assert value.dtype == torch.float32
            assert our_opt.state[ours][key] == value.item()


@pytest.fixture
def float64_default() -> Iterator[None]:
    previous, their_previous = cr.get_default_dtype(), torch.get_default_dtype()
    cr.set_default_dtype(cr.float64)
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        cr.set_default_dtype(previous)
        torch.set_default_dtype(their_previous)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_under_a_float64_default_they_are_float64_as_in_pytorch(
    name: str, float64_default: None
) -> None:
    ours, our_opt, theirs, their_opt = _pair(name)
    _steps(ours, our_opt, STEPS)
    _steps(theirs, their_opt, STEPS)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_a_resumed_run_repeats_the_uninterrupted_one(name: str) -> None:
    straight, straight_opt, _, _ = _pair(name)
    _steps(straight, straight_opt, STEPS)
    first, first_opt, _, _ = _pair(name)
    _steps(first, first_opt, STEPS // 2)
    resumed = cr.tensor(first.numpy().copy(), requires_grad=True)
    resumed_opt = getattr(optim, name)([resumed], **SETTINGS[name])
    resumed_opt.load_state_dict(first_opt.state_dict())
    _steps(resumed, resumed_opt, STEPS - STEPS // 2)
    np.testing.assert_array_equal(resumed.numpy(), straight.numpy())


@pytest.mark.parametrize("name", list(SETTINGS))
def test_pytorchs_state_dict_resumes_here_as_in_pytorch(name: str) -> None:
    """PyTorch's load_state_dict casts the scalars to the parameter's float64; so does
    chainrule's, for PyTorch's tensors, and both runs go on alike."""
    _, _, theirs, their_opt = _pair(name)
    _steps(theirs, their_opt, STEPS // 2)
    saved = their_opt.state_dict()
    ours = cr.tensor(theirs.detach().numpy().copy(), requires_grad=True)
    our_opt = getattr(optim, name)([ours], **SETTINGS[name])
    our_opt.load_state_dict(saved)
    again = torch.tensor(theirs.detach().numpy().copy(), requires_grad=True)
    again_opt = getattr(torch.optim, name)([again], **SETTINGS[name])
    again_opt.load_state_dict(saved)
    _steps(ours, our_opt, STEPS - STEPS // 2)
    _steps(again, again_opt, STEPS - STEPS // 2)
    np.testing.assert_allclose(ours.numpy(), again.detach().numpy(), rtol=1e-14, atol=0)
