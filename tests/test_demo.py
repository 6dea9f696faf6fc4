"""The README's main job: `chainrule demo` trains and the loss falls."""

from __future__ import annotations

import pytest

from chainrule.cli import main


def test_demo_loss_falls(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--epochs", "100"]) == 0
    lines = capsys.readouterr().out.splitlines()
    losses = [float(line.split()[-1]) for line in lines if line.startswith("epoch")]
    assert len(losses) >= 5
    assert losses[-1] < losses[0] / 5


def test_demo_rejects_bad_epochs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--epochs", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule: error: demo: --epochs must be >= 1, got 0")
    assert "Traceback" not in err
