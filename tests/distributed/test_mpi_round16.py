"""MPI found wanting by outside-in testing (round 16): a callback that stopped training on
one rank without a reason crashed every rank (StopIteration), and a timeout of inf or of a
string failed with a traceback instead of an error that says what was expected."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chainrule.distributed._watchdog import TIMEOUT_VARIABLE, resolve_timeout

BIN = Path(sys.executable).parent
MPIEXEC = shutil.which("mpiexec", path=str(BIN)) or shutil.which("mpiexec")

SCRIPT = """
import json, sys
import numpy as np
import chainrule as cr
from chainrule import nn
from chainrule.distributed import launch_rank

x = np.random.default_rng(0).normal(size=(100, 6)); y = (x[:, 0] > 0).astype(np.int64)
cr.manual_seed(0)
model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))

class StopOnRankOne(cr.train.Callback):
    def on_batch_end(self, state, logs=None):
        if launch_rank() == 1 and state.step == 3:
            state.stop_training = True  # and no stop_reason

history = cr.fit(model, "cross_entropy", "adam", (x, y), epochs=3, batch_size=16, seed=0,
                 verbose=0, callbacks=[StopOnRankOne()])
with open(f"rank{launch_rank()}.json", "w") as f:
    json.dump({"epochs": len(history.epoch), "reason": history.stop_reason}, f)
"""


@pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="needs mpi4py")
@pytest.mark.skipif(MPIEXEC is None, reason="needs an mpiexec")
def test_a_callback_that_stops_one_rank_without_a_reason_stops_them_all(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", CHAINRULE_MPI_TIMEOUT="120")
    assert MPIEXEC is not None
    done = subprocess.run(
        [MPIEXEC, "-n", "2", sys.executable, "train.py"],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]
    assert ranks[0]["epochs"] == 1  # stopped in the first epoch, after step 3
    assert ranks[0]["reason"] == "a callback stopped training (on rank 1)"


@pytest.mark.parametrize("text", ["inf", "nan", "-inf"])
def test_a_timeout_that_is_not_a_finite_number_of_seconds_is_refused(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv(TIMEOUT_VARIABLE, text)
    with pytest.raises(ValueError, match="timeout must be a finite number of seconds > 0"):
        resolve_timeout(None)
    with pytest.raises(ValueError, match="timeout must be a finite number of seconds > 0"):
        resolve_timeout(float(text))


def test_a_timeout_of_another_type_is_refused() -> None:
    with pytest.raises(TypeError, match="expected timeout as a number of seconds, got str"):
        resolve_timeout("x")  # type: ignore[arg-type]
    assert resolve_timeout(30) == 30.0
