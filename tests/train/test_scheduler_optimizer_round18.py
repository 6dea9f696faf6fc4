"""A scheduler passed to fit must be built on the optimizer fit steps: one of another
optimizer (or of any, when fit is given an optimizer by name, which it builds afresh)
would change rates that nothing trains with, so fit refuses it before training."""

from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.optim import lr_scheduler


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(20, 3)).astype(np.float32), rng.normal(size=20).astype(np.float32)


def test_a_scheduler_of_another_optimizer_is_refused_before_training() -> None:
    x, y = _data()
    model = nn.Linear(3, 1)
    before = model.weight.data.copy()
    sgd = optim.SGD(model.parameters(), lr=0.1)
    earlier = optim.SGD(model.parameters(), lr=0.1)  # built in an earlier notebook cell, say
    message = (
        "fit: the scheduler (StepLR) was built on another SGD than the optimizer passed to "
        "fit, whose rates it would never change; a scheduler needs the optimizer object it "
        "was built on"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        cr.fit(model, "mse", sgd, x, y, epochs=3, scheduler=lr_scheduler.StepLR(earlier, 1, 0.1))
    np.testing.assert_array_equal(model.weight.data, before)
    assert earlier.param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize("named", ["sgd", optim.SGD])
def test_a_scheduler_with_an_optimizer_fit_builds_is_refused(named: object) -> None:
    x, y = _data()
    model = nn.Linear(3, 1)
    scheduler = lr_scheduler.StepLR(optim.SGD(model.parameters(), lr=0.1), 1, 0.1)
    with pytest.raises(
        ValueError, match=r"fit: a scheduler needs the optimizer object it was built on, got "
    ):
        cr.fit(model, "mse", named, x, y, epochs=2, scheduler=scheduler, verbose=0)


def test_a_scheduler_of_the_optimizer_passed_sets_the_rates_of_training() -> None:
    x, y = _data()
    model = nn.Linear(3, 1)
    sgd = optim.SGD(model.parameters(), lr=1.0)
    history = cr.fit(
        model,
        "mse",
        sgd,
        x,
        y,
        epochs=3,
        scheduler=lr_scheduler.StepLR(sgd, 1, 0.5),
        verbose=0,
    )
    assert history["lr"] == [1.0, 0.5, 0.25]


def test_a_plateau_scheduler_of_another_optimizer_is_refused() -> None:
    x, y = _data()
    model = nn.Linear(3, 1)
    other = optim.Adam(model.parameters())
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau\) was built on another Adam"):
        cr.fit(
            model,
            "mse",
            optim.Adam(model.parameters()),
            x,
            y,
            scheduler=lr_scheduler.ReduceLROnPlateau(other),
            verbose=0,
        )
