"""fit's progress bar on an 80-column terminal: every logged value stays visible."""

from __future__ import annotations

import io
import os
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import ProgressBar


class Terminal(io.StringIO):
    """A stream that says it is a terminal; tqdm asks os.get_terminal_size(fileno()) for
    its width, which the test fixes at 80 columns."""

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return 2


def screen(text: str) -> list[str]:
    """What a terminal shows: each carriage return starts its line over."""
    lines = []
    for line in text.split("\n"):
        shown = line.split("\r")[-1].strip()
        if shown:
            lines.append(shown)
    return lines


@pytest.mark.parametrize("force_bar", [True, None])
def test_val_loss_and_lr_show_on_an_80_column_terminal(
    monkeypatch: pytest.MonkeyPatch, force_bar: bool | None
) -> None:
    monkeypatch.setattr(os, "get_terminal_size", lambda *_: os.terminal_size((80, 24)))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    model = nn.Sequential(nn.Linear(4, 2))
    terminal = Terminal()
    history = cr.fit(
        model,
        "cross_entropy",
        "adam",
        (x, y),
        epochs=2,
        batch_size=32,
        validation_split=0.2,
        metrics=["accuracy"],
        callbacks=[ProgressBar(stream=terminal, force_bar=force_bar)],
        verbose=0,
        seed=0,
    )
    text = terminal.getvalue()
    assert "step" in text  # a bar was drawn while the epoch ran
    shown = screen(text)
    for epoch in (1, 2):
        line = [s for s in shown if s.startswith(f"epoch {epoch}/2")][-1]
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
            value = history[key][epoch - 1]
            assert re.search(rf"(^|\s){key} {value:.4g}(\s|$)", line), (key, line)
    # Each epoch's finished bar stays on screen, its summary line below it.
    assert [s.split("|")[0].split("  ")[0] for s in shown] == [
        "epoch 1/2: 100%",
        "epoch 1/2",
        "epoch 2/2: 100%",
        "epoch 2/2",
    ]
    assert all(len(s) <= 80 for s in shown[::2])  # the bars, cut to the terminal's width
