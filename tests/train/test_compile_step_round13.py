"""compile_step replays a float32 model trained on float64 targets (NumPy's default), to the
bits of the eager step; the targets' conversion was made outside the ops and refused."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim


@pytest.mark.parametrize("loss", [nn.MSELoss, nn.L1Loss])
def test_float64_targets_beside_a_float32_model_are_replayed_to_the_eager_bits(
    loss: type[nn.Module],
) -> None:
    rng = np.random.default_rng(0)
    batches = [
        (rng.normal(size=(16, 6)).astype(np.float32), rng.normal(size=(16, 3))) for _ in range(4)
    ]
    cr.manual_seed(0)
    eager = nn.Linear(6, 3)
    compiled = nn.Linear(6, 3)
    compiled.load_state_dict(eager.state_dict())
    eager_opt = optim.SGD(eager.parameters(), lr=0.1, momentum=0.9)
    opt = optim.SGD(compiled.parameters(), lr=0.1, momentum=0.9)
    step = cr.compile_step(compiled, loss(), opt)
    for x, y in batches:
        eager_opt.zero_grad()
        eager_loss = loss()(eager(cr.tensor(x)), cr.tensor(y))
        eager_loss.backward()
        eager_opt.step()
        replayed = step(x, y)
        assert replayed.item() == eager_loss.item()
    assert step.eager_reason is None
    for a, b in zip(eager.parameters(), compiled.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
