"""Centered RMSprop with a gradient whose square overflows float32: v - a**2 is inf - inf,
which PyTorch's fused addcmul gives as inf (the step is then 0), not NaN."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


@pytest.mark.filterwarnings("ignore:overflow encountered in multiply:RuntimeWarning")
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_centered_rmsprop_leaves_a_parameter_whose_gradient_overflows(momentum: float) -> None:
    grads = [np.array([1e22, 3.0, -2e21], np.float32), np.array([1.0, -1.0, 0.5], np.float32)]
    ours = cr.tensor(np.ones(3, np.float32), requires_grad=True)
    theirs = torch.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = cr.optim.RMSprop([ours], lr=0.1, centered=True, momentum=momentum)
    reference = torch.optim.RMSprop([theirs], lr=0.1, centered=True, momentum=momentum)
    for g in grads:
        ours.grad, theirs.grad = cr.tensor(g), torch.tensor(g)
        opt.step()
        reference.step()
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5)
    assert not np.isnan(ours.detach().numpy()).any()
