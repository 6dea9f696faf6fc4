"""`mpirun -np 2 chainrule train ...` trains one model on two processes; rank 0 reports it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule.io import load_weights

BIN = Path(sys.executable).parent
MPIEXEC = shutil.which("mpiexec", path=str(BIN)) or shutil.which("mpiexec")
CHAINRULE = shutil.which("chainrule", path=str(BIN))
pytestmark = pytest.mark.skipif(
    MPIEXEC is None or CHAINRULE is None,
    reason="mpiexec or the chainrule script is missing: pip install 'chainrule[mpi]'",
)
# No batch norm and no dropout: then 2 ranks must equal 1 process up to summation order.
SETTINGS = [
    "--dataset",
    "iris",
    "--epochs",
    "8",
    "--patience",
    "0",
    "--no-batch-norm",
    "--dropout",
    "0",
]


def _train(tmp_path: Path, name: str, ranks: int) -> subprocess.CompletedProcess[str]:
    command = [str(CHAINRULE), "train", *SETTINGS, "--out", f"{name}.safetensors"]
    if ranks > 1:
        command = [str(MPIEXEC), "-n", str(ranks), *command]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=180, env=env, check=False
    )


def test_two_ranks_write_once_and_match_one_process(tmp_path: Path) -> None:
    alone = _train(tmp_path, "one", 1)
    assert alone.returncode == 0, alone.stderr
    pair = _train(tmp_path, "two", 2)
    assert pair.returncode == 0, pair.stderr
    assert pair.stdout.count("model written to two.safetensors") == 1  # rank 0 only
    notes = [[line for line in run.stderr.splitlines() if line.startswith("train: ")]
             for run in (alone, pair)]  # fmt: skip
    assert len(notes[1]) == len(notes[0]) > 0  # the notes on stderr too
    expected, got = (
        load_weights(tmp_path / "one.safetensors"),
        load_weights(tmp_path / "two.safetensors"),
    )
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-4, atol=1e-5, err_msg=key)
