"""detect_anomaly checks full reductions too: ``x.sum()``, ``x.mean()`` and mean losses
return NumPy scalars, which it let through, so a loss that overflowed in its last op went
unnamed, in fit's divergence warning as well."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.train import DivergenceWarning, fit

BIG = cr.tensor(np.array([3e38, 3e38], dtype=np.float32))

REDUCTIONS: dict[str, Callable[[], cr.Tensor]] = {
    "sum": lambda: BIG.sum(),
    "mean": lambda: BIG.mean(),
    "mse_loss": lambda: F.mse_loss(BIG, cr.zeros(2)),
}


@pytest.mark.parametrize("op", REDUCTIONS)
def test_a_full_reduction_that_overflows_is_named(op: str) -> None:
    with (
        cr.detect_anomaly(),
        pytest.raises(
            FloatingPointError,
            match=rf"op '{op}' produced an infinite value from "
            r"finite inputs \(output shape \(\)\)",
        ),
    ):
        REDUCTIONS[op]()


def test_a_finite_reduction_passes() -> None:
    with cr.detect_anomaly():
        assert cr.tensor([1.0, 2.0]).sum().item() == 3.0


def test_fit_names_the_loss_op_where_the_loss_overflowed() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = (x @ rng.normal(size=5) * 100).astype(np.float32)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1))
    with pytest.warns(
        DivergenceWarning,
        match=r"the loss became inf .*the first non-finite "
        r"value came from op 'mse_loss'",
    ):
        fit(model, "mse", cr.optim.SGD(model.parameters(), lr=1.0), x, y, epochs=50, verbose=0)
