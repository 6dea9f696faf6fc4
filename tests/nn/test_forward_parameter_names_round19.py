"""Every layer and loss that chainrule.nn shares with torch.nn names its forward's
arguments as PyTorch does, so that keyword calls (``loss_fn(log_input=x, target=y)``)
port unchanged."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")


def _shared_modules() -> list[str]:
    names = []
    for name in sorted(dir(torch.nn)):
        theirs = getattr(torch.nn, name)
        if not (isinstance(theirs, type) and issubclass(theirs, torch.nn.Module)):
            continue
        # Module and the containers have no forward of their own in PyTorch.
        if theirs.forward is torch.nn.Module.forward or not hasattr(nn, name):
            continue
        names.append(name)
    return names


SHARED = _shared_modules()


def test_many_modules_are_compared() -> None:
    assert len(SHARED) > 100 and {"LPPool1d", "LPPool2d", "PoissonNLLLoss"} <= set(SHARED)


@pytest.mark.parametrize("name", SHARED)
def test_forward_parameter_names_match_pytorch(name: str) -> None:
    expected = list(inspect.signature(getattr(torch.nn, name).forward).parameters)
    got = list(inspect.signature(getattr(nn, name).forward).parameters)
    assert got == expected


def test_lp_pool_and_poisson_loss_take_pytorch_keywords() -> None:
    x = np.random.default_rng(0).uniform(0.5, 2.0, (2, 3, 8))
    target = np.random.default_rng(1).poisson(1.0, (2, 3, 8)).astype(np.float64)
    got = nn.LPPool1d(2, 2)(input=cr.tensor(x)).numpy()
    expected = torch.nn.LPPool1d(2, 2)(input=torch.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    got = nn.LPPool2d(2, 2)(input=cr.tensor(x[None])).numpy()
    expected = torch.nn.LPPool2d(2, 2)(input=torch.tensor(x[None])).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    got = nn.PoissonNLLLoss()(log_input=cr.tensor(x), target=cr.tensor(target)).item()
    expected = torch.nn.PoissonNLLLoss()(log_input=torch.tensor(x), target=torch.tensor(target))
    assert got == pytest.approx(expected.item(), rel=1e-12)
