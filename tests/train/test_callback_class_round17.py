"""A callback class passed where an instance belongs is refused with a message that says so."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import EarlyStopping, fit


@pytest.mark.parametrize("given", [EarlyStopping, [EarlyStopping], (EarlyStopping,)])
def test_a_callback_class_is_refused(given: object) -> None:
    model = nn.Linear(2, 1)
    x, y = np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32)
    with pytest.raises(
        TypeError,
        match=r"fit: expected a callback instance, got the class EarlyStopping; "
        r"write EarlyStopping\(\)",
    ):
        fit(model, "mse", cr.optim.SGD(model.parameters(), lr=0.1), x, y, epochs=1,
            callbacks=given, verbose=0)  # fmt: skip
