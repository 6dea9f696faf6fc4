"""`cat data | mpiexec -n 2 chainrule train - ...`: mpiexec gives standard input to rank 0
alone, so the other rank waited for it for good; rank 0 now reads it and sends it on, and
the two ranks train the model one process trains on the file."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chainrule.data import load_dataset
from chainrule.io import load_weights

BIN = Path(sys.executable).parent
MPIEXEC = shutil.which("mpiexec", path=str(BIN)) or shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None or not hasattr(os, "killpg"),
    reason="needs mpi4py, an mpiexec and process groups",
)
SETTINGS = ["--target", "species", "--epochs", "3", "--patience", "0", "--quiet"]
SETTINGS += ["--no-batch-norm", "--dropout", "0"]
TIMEOUT = 120


def _train(folder: Path, data: str, out: str, ranks: int, text: bytes) -> None:
    command = [sys.executable, "-m", "chainrule", "train", data, *SETTINGS, "--out", out]
    if ranks > 1:
        command = [str(MPIEXEC), "-n", str(ranks), *command]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    with subprocess.Popen(
        command,
        cwd=folder,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a group to end whole, ranks and all, should one wait
    ) as process:
        try:
            _, stderr = process.communicate(text, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail(f"{' '.join(command[:4])}: still running after {TIMEOUT} s")
    assert process.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr


def test_two_ranks_train_from_standard_input(tmp_path: Path) -> None:
    iris = load_dataset("iris")
    frame = pd.DataFrame(iris.x, columns=list(iris.feature_names))
    frame["species"] = np.asarray(iris.target_names)[iris.y]
    text = frame.to_csv(index=False).encode()
    (tmp_path / "iris.csv").write_bytes(text)
    _train(tmp_path, "iris.csv", "file.safetensors", 1, b"")
    _train(tmp_path, "-", "piped.safetensors", 2, text)
    expected = load_weights(tmp_path / "file.safetensors")
    got = load_weights(tmp_path / "piped.safetensors")
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-4, atol=1e-5, err_msg=key)
