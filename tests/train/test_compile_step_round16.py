"""compile_step found wanting by outside-in testing (round 16): a model with batch
normalization in evaluation mode (fine-tuning with frozen statistics) ran eagerly, the
running statistics being read as arrays no recorded op made; now they are read afresh at
every replayed step, as the speed guide says of buffers."""

from __future__ import annotations

import copy

import numpy as np

import chainrule as cr
from chainrule import nn, optim


def test_batch_norm_in_evaluation_mode_is_replayed_and_follows_its_buffers() -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))
    model(cr.randn(8, 5))  # statistics of one batch in training mode
    model.eval()
    twin = copy.deepcopy(model)
    step = cr.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05))
    twin_opt = optim.SGD(twin.parameters(), lr=0.05)
    rng = np.random.default_rng(16)
    for k in range(6):
        x = cr.tensor(rng.standard_normal((8, 5)).astype(np.float32))
        y = cr.tensor(rng.standard_normal((8, 1)).astype(np.float32))
        loss = step(x, y)
        assert step.eager_reason is None, step.eager_reason
        twin_opt.zero_grad()
        expected = nn.MSELoss()(twin(x), y)
        expected.backward()
        twin_opt.step()
        assert float(loss.item()) == float(expected.item())
        if k == 2:  # new statistics, set by hand: the replay must read them
            with cr.no_grad():
                model[1].running_mean.fill_(0.25)
                twin[1].running_mean.fill_(0.25)
                model[1].running_var.mul_(2.0)
                twin[1].running_var.mul_(2.0)
    for ours, theirs in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
