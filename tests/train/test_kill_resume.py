"""A training process killed at a random moment resumes to the same weights, bit for bit."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SCRIPT = """
import sys, time
import numpy as np
from chainrule import nn
from chainrule.optim import Adam
from chainrule.train import Callback, ModelCheckpoint, fit
from chainrule.io import save

checkpoint, out, resume, slow = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4] == "1"
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 6)).astype(np.float32)
y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Dropout(0.2, generator=1), nn.Linear(16, 2))
model.reset_parameters(2)

class Slow(Callback):
    def on_batch_end(self, state, logs):
        if slow:
            time.sleep(0.03)

fit(model, "cross_entropy", Adam(model.parameters(), lr=0.01), (x, y), epochs=12, batch_size=16,
    callbacks=[Slow(), ModelCheckpoint(checkpoint)], seed=3, verbose=0,
    resume_from=checkpoint if resume else None)
save(model, out)
"""


def _run(tmp: Path, name: str, resume: bool, slow: bool) -> subprocess.Popen[bytes]:
    # stderr goes to a log beside the files (read on failure); the child keeps its own handle.
    with (tmp / f"{name}.log").open("ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                SCRIPT,
                str(tmp / f"{name}.ckpt"),
                str(tmp / f"{name}.safetensors"),
                "1" if resume else "0",
                "1" if slow else "0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(tmp_path: Path) -> None:
    from chainrule.io import load_weights

    reference = _run(tmp_path, "straight", resume=False, slow=False)
    assert reference.wait(timeout=120) == 0, (tmp_path / "straight.log").read_text()
    expected = load_weights(tmp_path / "straight.safetensors")

    rng = np.random.default_rng(7)
    process = _run(tmp_path, "killed", resume=False, slow=True)
    kills = 0
    for _ in range(3):
        time.sleep(float(rng.uniform(1.5, 3.0)))
        if process.poll() is not None:
            break
        process.kill()  # SIGKILL: no cleanup, no flush, mid-step or mid-write
        process.wait()
        kills += 1
        process = _run(tmp_path, "killed", resume=(tmp_path / "killed.ckpt").exists(), slow=True)
    assert process.wait(timeout=180) == 0, (tmp_path / "killed.log").read_text()
    assert kills >= 1
    resumed = load_weights(tmp_path / "killed.safetensors")
    for key, value in expected.items():
        assert np.array_equal(value, resumed[key]), key
    leftovers = [
        p.name for p in tmp_path.iterdir() if p.suffix not in (".ckpt", ".safetensors", ".log")
    ]
    assert leftovers == []
