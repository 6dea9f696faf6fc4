"""Two ranks on this machine (``mpiexec -n 2``) against one process, and ranks that fail.

Needs mpi4py and an ``mpiexec`` (``pip install 'chainrule[mpi]'`` brings both, with MPICH);
skipped, saying so, when either is missing.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import mpi_worker
import numpy as np
import pytest

from chainrule.train import fit

WORKER = Path(__file__).with_name("mpi_worker.py")


def _mpiexec() -> str | None:
    # The one installed beside this Python (the pip package "mpich") first: it matches the
    # MPI that mpi4py loads, where a system one may not.
    beside = Path(sys.executable).with_name("mpiexec")
    return str(beside) if beside.exists() else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("mpi4py") is None,
        reason="mpi4py is not installed (pip install 'chainrule[mpi]')",
    ),
    pytest.mark.skipif(
        MPIEXEC is None, reason="no mpiexec found (pip install 'chainrule[mpi]' brings MPICH's)"
    ),
]


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", **extra)
    # Open MPI's mpiexec refuses to run as root (as CI does) without these; MPICH's ignores them.
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return env


def mpirun(
    *args: str, timeout: float = 60, **env: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """``mpiexec -n 2 python mpi_worker.py ARGS``: the finished process and its seconds."""
    assert MPIEXEC is not None
    command = [MPIEXEC, "-n", "2", sys.executable, str(WORKER), *args]
    started = time.monotonic()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=_environment(**env)
    )
    return done, time.monotonic() - started


def _weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as saved:
        return {k: saved[k] for k in saved.files}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The float32 and float64 runs on two ranks, with their files."""
    out = tmp_path_factory.mktemp("two_ranks")
    done, _ = mpirun("train", str(out))
    assert done.returncode == 0, done.stderr
    (out / "stderr.txt").write_text(done.stderr)
    return out


@pytest.mark.parametrize(
    ("dtype", "rtol", "atol"), [(np.float32, 1e-4, 1e-6), (np.float64, 1e-10, 1e-13)]
)
def test_two_ranks_reach_the_weights_of_one_process(
    trained: Path, dtype: type, rtol: float, atol: float
) -> None:
    name = np.dtype(dtype).name
    model, history = mpi_worker.train(dtype)
    one = {k: v.data for k, v in model.state_dict().items()}
    rank0 = _weights(trained / f"{name}-weights-rank0.npz")
    rank1 = _weights(trained / f"{name}-weights-rank1.npz")
    assert rank0.keys() == one.keys()
    for key in one:
        assert rank0[key].dtype == dtype
        np.testing.assert_array_equal(rank0[key], rank1[key])  # every rank took the same steps
        np.testing.assert_allclose(rank0[key], one[key], rtol=rtol, atol=atol, err_msg=key)

    logged = [json.loads((trained / f"{name}-history-rank{r}.json").read_text()) for r in (0, 1)]
    assert _without_time(logged[0]) == _without_time(logged[1])  # the same logs everywhere
    assert len(logged[0]["step_loss"]) == len(history.step_loss) == 6 * mpi_worker.EPOCHS
    np.testing.assert_allclose(logged[0]["step_loss"], history.step_loss, rtol=rtol * 10)
    for key in ("loss", "accuracy", "log_loss", "val_loss", "val_accuracy", "val_log_loss", "lr"):
        np.testing.assert_allclose(logged[0]["history"][key], history[key], rtol=rtol * 10)


def _without_time(history: dict[str, Any]) -> dict[str, Any]:
    """A history's record without the epoch times, which each rank measures itself."""
    return {**history, "history": {k: v for k, v in history["history"].items() if k != "time"}}


def test_only_rank_0_prints_and_writes_files(trained: Path) -> None:
    checkpoints = sorted(p.name for p in trained.glob("checkpoint-*"))
    epochs = range(1, mpi_worker.EPOCHS + 1)
    assert checkpoints == [f"checkpoint-rank0-{e}.safetensors" for e in epochs]
    assert not (trained / "log-rank1.csv").exists()
    with (trained / "log-rank0.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["epoch"]) for row in rows] == list(epochs)
    # verbose=1: one progress line per epoch, from rank 0 alone
    progress = [
        line for line in (trained / "stderr.txt").read_text().splitlines() if "epoch " in line
    ]
    assert [line.split()[1] for line in progress] == [f"{e}/{mpi_worker.EPOCHS}" for e in epochs]


def test_resume_on_two_ranks_repeats_the_uninterrupted_run(trained: Path, tmp_path: Path) -> None:
    shutil.copy(trained / "checkpoint-rank0-2.safetensors", tmp_path)
    done, _ = mpirun("resume", str(tmp_path))
    assert done.returncode == 0, done.stderr
    resumed = _weights(tmp_path / "resumed-weights-rank0.npz")
    uninterrupted = _weights(trained / "float32-weights-rank0.npz")
    for key, value in uninterrupted.items():
        np.testing.assert_array_equal(resumed[key], value, err_msg=key)
    history = json.loads((tmp_path / "resumed-history-rank1.json").read_text())
    assert history["epoch"] == list(range(1, mpi_worker.EPOCHS + 1))  # rank 1 got rank 0's


def test_batch_norm_trains_when_a_batch_has_fewer_rows_than_two_per_rank(tmp_path: Path) -> None:
    # Batches of 3 rows on 2 ranks: an even cut would leave rank 1 a slice of one row, which
    # BatchNorm1d refuses; rank 0 computes on the whole batch instead, as one process does.
    done, _ = mpirun("batchnorm", str(tmp_path))
    assert done.returncode == 0, done.stderr
    model, x, y = mpi_worker.batchnorm_problem()
    fit(model, "cross_entropy", "adam", (x, y), epochs=2, batch_size=3, seed=0, verbose=0)
    rank0 = _weights(tmp_path / "batchnorm-weights-rank0.npz")
    rank1 = _weights(tmp_path / "batchnorm-weights-rank1.npz")
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=key)
        np.testing.assert_allclose(rank0[key], value.data, rtol=1e-10, atol=1e-13, err_msg=key)


def test_a_resumed_run_without_a_seed_takes_the_seed_of_the_checkpoint(tmp_path: Path) -> None:
    # Else the validation split of a resumed run with seed=None would differ from the split
    # of the run it continues.
    done, _ = mpirun("seed", str(tmp_path))
    assert done.returncode == 0, done.stderr
    for rank in (0, 1):
        assert json.loads((tmp_path / f"seed-rank{rank}.json").read_text()) == 1234


def test_errors_every_rank_sees_are_raised_on_every_rank(tmp_path: Path) -> None:
    done, _ = mpirun("errors", str(tmp_path))
    assert done.returncode == 0, done.stderr
    rank0, rank1 = (json.loads((tmp_path / f"errors-rank{r}.json").read_text()) for r in (0, 1))
    for found in (rank0, rank1):
        assert len(found) == 2
        assert "every rank must hold the same training data" in found[0]
        assert "[64, 63] rows" in found[0]
    assert rank0[1].startswith("FileNotFoundError") or "No such file" in rank0[1]
    assert rank1[1].startswith("RuntimeError: fit: rank 0 could not start (resume_from=")


def test_a_rank_killed_ends_the_job_at_once() -> None:
    done, seconds = mpirun("kill")
    assert done.returncode != 0
    assert "finished training" not in done.stdout
    assert seconds < 30
    # MPICH's launcher names the dead process and ends the others.
    assert "BAD TERMINATION" in done.stdout + done.stderr or "killed" in done.stderr.lower()


def test_a_rank_that_raises_aborts_the_job_with_its_error() -> None:
    done, seconds = mpirun("raise")
    assert done.returncode != 0
    assert "finished training" not in done.stdout
    assert "chainrule.distributed: rank 1 of 2: training failed with RuntimeError: " in done.stderr
    assert "simulated failure on rank 1" in done.stderr
    assert seconds < 30


def test_a_callback_that_raises_as_training_begins_aborts_the_job() -> None:
    # Before any step: the other rank would otherwise wait in its first gradient sum.
    done, seconds = mpirun("raise-at-start")
    assert done.returncode != 0
    assert "training failed with RuntimeError: " in done.stderr
    assert "simulated failure on rank 1 as training begins" in done.stderr
    assert seconds < 30


def test_a_rank_that_hangs_makes_the_others_abort_after_the_timeout() -> None:
    done, seconds = mpirun("hang", CHAINRULE_MPI_TIMEOUT="2")
    assert done.returncode != 0
    assert "finished training" not in done.stdout
    assert "rank 0 of 2: waited more than 2 s for the other ranks" in done.stderr
    assert "one of them has probably died or hung" in done.stderr
    assert seconds < 30


def test_launcher_and_mpi_that_disagree_are_reported(tmp_path: Path) -> None:
    # Open MPI's variable, read by chainrule, ignored by MPICH: MPI sees one process.
    script = (
        "import numpy as np\n"
        "from chainrule import nn\n"
        "from chainrule.train import fit\n"
        "x = np.zeros((4, 2), np.float32); y = np.zeros(4, np.int64)\n"
        "fit(nn.Linear(2, 2), 'cross_entropy', 'sgd', (x, y), verbose=0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=_environment(OMPI_COMM_WORLD_SIZE="2"),
        cwd=tmp_path,
    )
    if (
        "MPICH"
        not in subprocess.run(
            [sys.executable, "-c", "import mpi4py.MPI as M; print(M.Get_library_version())"],
            capture_output=True,
            text=True,
            env=_environment(),
        ).stdout
    ):
        pytest.skip("needs an MPI other than Open MPI under mpi4py")
    assert done.returncode != 0
    assert "the launcher started 2 processes (OMPI_COMM_WORLD_SIZE=2), but MPI sees 1" in (
        done.stderr
    )
