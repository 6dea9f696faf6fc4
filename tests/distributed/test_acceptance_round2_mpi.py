"""Second acceptance pass on MPI training, as a user runs it: ``mpiexec -n 2 python script.py``.

Two ranks on a bundled dataset against one process, and ranks whose ``fit`` calls disagree
or that fail before ``fit``: the job must end at once with a message that says why, rather
than wait for the watchdog or train on silently.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

BESIDE = Path(sys.executable).with_name("mpiexec")
MPIEXEC = str(BESIDE) if BESIDE.exists() else shutil.which("mpiexec")
pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="needs mpi4py"),
    pytest.mark.skipif(MPIEXEC is None, reason="needs an mpiexec"),
]

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from sklearn.datasets import load_digits
    from chainrule import nn
    from chainrule.distributed import launch_rank
    from chainrule.optim import SGD, Adam
    from chainrule.train import EarlyStopping, ReduceLROnPlateau, fit

    how, out = sys.argv[1], sys.argv[2]
    rank = launch_rank()
    if how == "fail-before-fit" and rank == 1:
        raise RuntimeError("rank 1 could not read its data")
    x, y = load_digits(return_X_y=True)
    x, y = (x[:301] / 16).astype(np.float32), y[:301]
    model = nn.Sequential(nn.Linear(64, 24), nn.Tanh(), nn.Linear(24, 10))
    model.reset_parameters(1)
    optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
    settings = dict(epochs=4, batch_size=37, seed=3, verbose=0, metrics=["accuracy"])
    if how == "digits":
        settings.update(validation_split=0.2, callbacks=[
            EarlyStopping(patience=1, restore_best_weights=True),
            ReduceLROnPlateau(patience=0, factor=0.5)])
    elif how == "other-optimizer" and rank == 1:
        optimizer = Adam(model.parameters(), lr=0.05)
    elif how == "other-epochs" and rank == 1:
        settings["epochs"] = 3
    elif how == "validation-on-rank-0" and rank == 0:
        settings["validation_data"] = (x[:50], y[:50])
    elif how == "other-shuffle" and rank == 1:
        settings["shuffle"] = False
    history = fit(model, "cross_entropy", optimizer, (x, y), **settings)
    weights = {k: v.data.tolist() for k, v in model.state_dict().items()}
    logs = {k: v for k, v in history.history.items() if k != "time"}
    with open(f"{out}/{how}-rank{rank}.json", "w") as handle:
        json.dump({"weights": weights, "logs": logs}, handle)
    """
)


def _run(
    tmp_path: Path, how: str, ranks: int = 2
) -> tuple[subprocess.CompletedProcess[str], float]:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    command = [sys.executable, str(script), how, str(tmp_path)]
    if ranks > 1:
        assert MPIEXEC is not None
        command = [MPIEXEC, "-n", str(ranks), *command]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    # A short watchdog: the code before these fixes waited this long, then aborted.
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", CHAINRULE_MPI_TIMEOUT="20")
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, env=env)
    return done, time.monotonic() - started


def test_digits_on_two_ranks_end_with_the_weights_and_logs_of_one_process(tmp_path: Path) -> None:
    # 241 training rows in batches of 37 (an odd last batch of 19), SGD with momentum,
    # a validation split, a metric, early stopping and ReduceLROnPlateau.
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    alone, _ = _run(tmp_path / "one", "digits", ranks=1)
    assert alone.returncode == 0, alone.stderr
    pair, _ = _run(tmp_path / "two", "digits")
    assert pair.returncode == 0, pair.stderr
    one = json.loads((tmp_path / "one" / "digits-rank0.json").read_text())
    ranks = [json.loads((tmp_path / "two" / f"digits-rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]  # every rank took the same steps and logged the same
    assert ranks[0]["logs"].keys() == one["logs"].keys()
    for key, value in one["weights"].items():
        np.testing.assert_allclose(ranks[0]["weights"][key], value, rtol=1e-4, atol=1e-6)
    for key, value in one["logs"].items():
        np.testing.assert_allclose(ranks[0]["logs"][key], value, rtol=1e-4, err_msg=key)


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("other-optimizer", "have optimizer ['SGD', 'Adam']"),
        ("other-epochs", "have epochs [4, 3]"),
        ("other-shuffle", "have shuffle from 0 to 1"),
        ("validation-on-rank-0", "the ranks are out of step"),
    ],
)
def test_ranks_that_call_fit_differently_are_told_so_at_once(
    tmp_path: Path, how: str, message: str
) -> None:
    # Before: another optimizer trained on silently (different weights on each rank); the
    # others waited in a collective call until the watchdog's limit.
    done, seconds = _run(tmp_path, how)
    assert done.returncode != 0
    assert "every rank must call fit with the same arguments" in done.stderr
    assert message in done.stderr
    assert seconds < 15
    assert not list(tmp_path.glob("*.json"))


def test_a_rank_that_fails_before_fit_ends_the_job(tmp_path: Path) -> None:
    # Before: rank 0 waited in MPI's start (which holds the GIL, so the watchdog thread
    # never ran) until the launcher was killed.
    env_timeout = 3
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    assert MPIEXEC is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    env.update(OPENBLAS_NUM_THREADS="1", CHAINRULE_MPI_TIMEOUT=str(env_timeout))
    command = [MPIEXEC, "-n", "2", sys.executable, str(script), "fail-before-fit", str(tmp_path)]
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=40, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("rank 0 waited for good for the rank that failed before fit")
    assert time.monotonic() - started < 30
    assert done.returncode != 0
    assert "rank 1 could not read its data" in done.stderr
    assert "rank 0 of 2: waited more than 3 s for the other ranks in the start of MPI" in (
        done.stderr
    )
