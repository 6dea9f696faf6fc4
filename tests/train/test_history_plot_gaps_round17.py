"""``History.plot`` of a run validated every other epoch: each curve joins the epochs it
was measured at, on an axis of whole epochs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

pytest.importorskip("matplotlib")


def test_validation_curves_join_the_validated_epochs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    drawn: list[Any] = []
    savefig = Figure.savefig

    def keep(self: Any, *args: Any, **kwargs: Any) -> Any:
        drawn.append(self)
        return savefig(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(90, 4)).astype(np.float32), rng.integers(0, 3, 90)
    history = cr.fit(
        nn.Linear(4, 3), "cross_entropy", "adam", x, y, epochs=5, validation_split=0.2,
        validation_freq=2, metrics=["accuracy"], verbose=0,
    )  # fmt: skip
    assert np.isnan(history["val_loss"][0])
    history.plot(tmp_path / "curves.png")
    (figure,) = drawn
    for ax, name in zip(figure.axes, ["loss", "accuracy"], strict=True):
        training, validation = ax.lines
        assert list(training.get_xdata()) == [1, 2, 3, 4, 5]
        assert list(validation.get_xdata()) == [2, 4]  # one line through both, not two dots
        assert list(validation.get_ydata()) == [history[f"val_{name}"][i] for i in (1, 3)]
        figure.canvas.draw()
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 5]
        assert ticks and all(float(t).is_integer() for t in ticks)
