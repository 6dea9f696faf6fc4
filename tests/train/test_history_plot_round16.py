"""History.plot(keys='loss') draws the loss curve: one name given as a string, not a list
of its letters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import fit

pytest.importorskip("matplotlib")


def test_plot_takes_one_key_as_a_string(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2)).astype(np.float32)
    cr.manual_seed(0)
    history = fit(
        nn.Linear(2, 1),
        "mse",
        "sgd",
        x,
        x[:, 0],
        epochs=2,
        verbose=0,
        validation_split=0.25,
        seed=0,
    )
    path = history.plot(tmp_path / "loss.png", keys="loss")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match=r"History.plot: keys \['accuracy'\] are not recorded"):
        history.plot(tmp_path / "x.png", keys="accuracy")
