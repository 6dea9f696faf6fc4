"""GradientHealth found wanting by outside-in testing (round 17): a callback reused after a fit
that failed mid-epoch carried that run's gradients into the next run's first epoch, and the
dead-ReLU share of samples given one at a time (``DataLoader(batch_size=None)``) counted
each unit of a sample as a sample of its own."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.explain import GradientHealth
from chainrule.train.callbacks import Callback


class _FailAtStep3(Callback):
    def on_batch_end(self, state: cr.train.FitState, logs: dict[str, float]) -> None:
        if state.step == 3:
            raise RuntimeError("boom")


def _net() -> nn.Module:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)).to(np.float64)
    model.reset_parameters(generator=0)
    return model


def test_a_health_callback_reused_after_a_failed_fit_reports_only_the_new_run() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)), rng.normal(size=(64, 1))
    health = GradientHealth()
    failing = _net()
    failing[0].weight.data *= 1000  # huge gradients in the run that fails
    with pytest.raises(RuntimeError, match="boom"):
        cr.fit(
            failing,
            "mse",
            optim.SGD(failing.parameters(), lr=1e-9),
            (x, y),
            epochs=1,
            batch_size=8,
            verbose=0,
            callbacks=[health, _FailAtStep3()],
            seed=0,
        )
    fresh = GradientHealth()
    for callback in (health, fresh):
        model = _net()
        cr.fit(
            model,
            "mse",
            optim.SGD(model.parameters(), lr=0.01),
            (x, y),
            epochs=1,
            batch_size=8,
            verbose=0,
            callbacks=[callback],
            seed=0,
        )
    for label, layer in fresh.report.layers.items():
        reused = health.report.layers[label]
        assert reused.grad_norm == layer.grad_norm
        assert reused.update_ratio == layer.update_ratio
        assert reused.dead_share == layer.dead_share
    assert health.report.flags == fresh.report.flags == []


@pytest.mark.parametrize("batch_size", [None, 8])
def test_dead_relu_units_are_counted_alike_for_samples_given_one_at_a_time(
    batch_size: int | None,
) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = rng.normal(size=(40, 1)).astype(np.float32)
    model = nn.Sequential(nn.Linear(4, 10), nn.ReLU(), nn.Linear(10, 1))
    model.reset_parameters(generator=0)
    model[0].bias.data[:7] = -100.0  # 7 of the 10 units never active
    health = GradientHealth()
    data = DataLoader(TensorDataset(cr.tensor(x), cr.tensor(y)), batch_size=batch_size)
    cr.fit(
        model,
        "mse",
        optim.SGD(model.parameters(), lr=0.01),
        data,
        epochs=1,
        verbose=0,
        callbacks=[health],
        seed=0,
    )
    assert health.report.layers["1 (ReLU)"].dead_share == [pytest.approx(0.7)]
    assert "dead relu" in health.report.problems()
