"""Third acceptance pass on MPI training: today's additions in a user's script, run alone
and with ``mpiexec -n 2`` (the script is ``mpi_worker_today.py``).

``chainrule.manual_seed`` without ``fit(seed=)``, a custom autograd ``Function``,
``ParameterList``, a full backward hook, Keras-style callbacks, ``ModelCheckpoint(filepath=,
save_best_only=, save_weights_only=)``, ``EarlyStopping(restore_best_weights=)``,
``ChainedScheduler``/``PolynomialLR`` and ``chainrule.save``: two ranks must end with one
process's weights and logs, print and write once, and a failure on one rank must end the job
at once with its message.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

WORKER = Path(__file__).with_name("mpi_worker_today.py")
BESIDE = Path(sys.executable).with_name("mpiexec")
MPIEXEC = str(BESIDE) if BESIDE.exists() else shutil.which("mpiexec")
pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="needs mpi4py"),
    pytest.mark.skipif(MPIEXEC is None, reason="needs an mpiexec"),
]


def _run(out: Path, task: str, ranks: int) -> tuple[subprocess.CompletedProcess[str], float]:
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(WORKER), task, str(out)]
    if ranks > 1:
        assert MPIEXEC is not None
        command = [MPIEXEC, "-n", str(ranks), *command]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    # A short watchdog, so that a hang shows as a failure rather than a stuck test.
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", CHAINRULE_MPI_TIMEOUT="20")
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, env=env)
    return done, time.monotonic() - started


def _result(out: Path, rank: int) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((out / f"today-rank{rank}.json").read_text())
    return loaded


def test_manual_seed_without_a_fit_seed_trains_two_ranks_as_one_process(tmp_path: Path) -> None:
    # Before: with seed=None, rank 0 drew the run's seed from fresh entropy, so a script that
    # called chainrule.manual_seed(0) neither repeated under MPI nor matched one process (the
    # data order differed); one process draws it from the default generator.
    alone, _ = _run(tmp_path / "one", "today", ranks=1)
    assert alone.returncode == 0, alone.stderr
    pair, _ = _run(tmp_path / "two", "today", ranks=2)
    assert pair.returncode == 0, pair.stderr
    one = _result(tmp_path / "one", 0)
    ranks = [_result(tmp_path / "two", rank) for rank in (0, 1)]
    assert ranks[0] == ranks[1]  # the same steps, logs, hooks and stop on every rank
    assert ranks[0]["hooked"] == one["hooked"] > 0
    assert ranks[0]["stop_reason"] == one["stop_reason"]
    assert ranks[0]["logs"].keys() == one["logs"].keys()
    for key, value in one["weights"].items():
        np.testing.assert_allclose(ranks[0]["weights"][key], value, rtol=1e-4, atol=1e-6)
    for key, value in one["logs"].items():
        np.testing.assert_allclose(ranks[0]["logs"][key], value, rtol=1e-4, err_msg=key)
    np.testing.assert_allclose(ranks[0]["keras"], one["keras"], rtol=1e-4)

    # Rank 0 alone printed and wrote: the best checkpoints of one process, the general
    # checkpoint written under is_root(), and nothing from rank 1.
    written = sorted(p.name for p in (tmp_path / "two").iterdir() if not p.name.startswith("today"))
    assert written == sorted(p.name for p in (tmp_path / "one").iterdir() if "today" not in p.name)
    assert "general.pt" in written
    assert any(name.startswith("best-rank0-") for name in written)
    assert pair.stderr.count("epoch 1/5") == 1


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("fail-in-function", "ValueError: MyReLU.backward: simulated failure"),
        ("fail-in-keras-callback", "KeyError: 'KerasLogger: simulated failure'"),
    ],
)
def test_a_failure_on_one_rank_in_user_code_ends_the_job_at_once(
    tmp_path: Path, task: str, message: str
) -> None:
    done, seconds = _run(tmp_path, task, ranks=2)
    assert done.returncode != 0
    assert f"rank 1 of 2: training failed with {message}" in done.stderr
    assert seconds < 15  # not the watchdog's 20 s
    assert not list(tmp_path.glob("today-rank*.json"))


def test_each_rank_makes_its_batches_with_the_loaders_collate_fn(tmp_path: Path) -> None:
    # Before: MPIContext.shard collated with default_collate whatever the loader's
    # collate_fn, so its batches were not those the loader gives.
    done, _ = _run(tmp_path, "shard-collate", ranks=2)
    assert done.returncode == 0, done.stderr
    shards = [json.loads((tmp_path / f"shard-rank{r}.json").read_text()) for r in (0, 1)]
    x = -np.arange(20.0).reshape(10, 2)  # the collate_fn negates the inputs
    # Batches of 4 rows cut in two slices of 2; the last batch of 2 rows goes to rank 0.
    assert shards[0] == [
        [x[0:2].tolist(), [0, 1]],
        [x[4:6].tolist(), [4, 5]],
        [x[8:10].tolist(), [8, 9]],
    ]
    assert shards[1] == [[x[2:4].tolist(), [2, 3]], [x[6:8].tolist(), [6, 7]], [[], []]]
