"""Two ranks against one process where they parted (found by outside-in testing, round 13):
an optimizer over part of the model with gradient clipping, and a rank whose share of a
batch is padding only (``mpi_worker_round13.py``)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

WORKER = Path(__file__).with_name("mpi_worker_round13.py")
BIN = Path(sys.executable).parent
MPIEXEC = shutil.which("mpiexec", path=str(BIN)) or shutil.which("mpiexec")
pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="needs mpi4py"),
    pytest.mark.skipif(MPIEXEC is None, reason="needs an mpiexec"),
]


def _run(ranks: int, out: Path) -> None:
    command = [sys.executable, str(WORKER), str(out)]
    if ranks > 1:
        assert MPIEXEC is not None
        command = [MPIEXEC, "-n", str(ranks), *command]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", CHAINRULE_MPI_TIMEOUT="120")
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=240, env=env, cwd=out, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folders = {n: tmp_path_factory.mktemp(f"ranks{n}") for n in (1, 2)}
    for n, out in folders.items():
        _run(n, out)
    return folders


def _read(folder: Path, case: str, rank: int) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((folder / f"{case}-rank{rank}.json").read_text())
    return result


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["weights"].keys() == b["weights"].keys()
    for key in a["weights"]:
        np.testing.assert_allclose(a["weights"][key], b["weights"][key], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(a["losses"], b["losses"], rtol=1e-10)


def test_clipping_with_an_optimizer_over_the_head_keeps_the_ranks_as_one_process(
    runs: dict[int, Path],
) -> None:
    alone = _read(runs[1], "head", 0)
    _same(_read(runs[2], "head", 0), alone)
    _same(_read(runs[2], "head", 1), alone)


def test_a_rank_whose_labels_are_all_ignored_does_not_stop_training(
    runs: dict[int, Path],
) -> None:
    first, second = _read(runs[2], "ignored", 0), _read(runs[2], "ignored", 1)
    assert len(first["losses"]) == 2 and np.isfinite(first["losses"]).all()
    _same(first, second)  # the ranks hold one model
    _same(first, _read(runs[1], "ignored", 0))  # and the one process's, losses included


def test_ignored_and_class_weighted_labels_give_one_processs_training(
    runs: dict[int, Path],
) -> None:
    alone = _read(runs[1], "weighted", 0)
    _same(_read(runs[2], "weighted", 0), alone)
    _same(_read(runs[2], "weighted", 1), alone)


def test_ranks_given_different_seeds_are_all_refused_with_one_message(
    runs: dict[int, Path],
) -> None:
    alone = (runs[1] / "seeds-rank0.txt").read_text()
    assert alone == "trained"
    messages = [(runs[2] / f"seeds-rank{rank}.txt").read_text() for rank in (0, 1)]
    assert messages[0] == messages[1]
    assert messages[0].startswith("fit: expected the same seed on every rank, got [0, 1]")
