"""fit's validation_split on classes too small to hold out a share of each: the message says
so (as the CLI's --val-split does), rather than that a part came out empty."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import fit


def test_too_few_samples_per_class_are_named() -> None:
    x = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    model = nn.Linear(3, 6)
    optimizer = cr.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(
        ValueError,
        match=r"fit: validation_split: expected classes with samples enough to hold out 0\.5 "
        r"of each, got 6 samples in 6 classes",
    ):
        fit(
            model,
            nn.CrossEntropyLoss(),
            optimizer,
            (x, np.arange(6)),
            epochs=1,
            validation_split=0.5,
            verbose=0,
        )
