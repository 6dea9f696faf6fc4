"""Eighth acceptance pass on MPI training: a user's single-process scripts moved, unchanged,
to ``mpiexec -n 2`` and ``-n 3`` (the scripts are ``mpi_worker_round8.py``), and
``chainrule train`` under ``mpiexec``.

What docs/distributed.md promises them: one process's result up to summation order (float64:
1e-10) on any number of ranks, with a dataset that neither the ranks nor the batch divide;
the same logs on every rank, so that EarlyStopping(restore_best_weights=True) and
ReduceLROnPlateau decide alike; files written once, by rank 0, and resumable on any number
of ranks or in one process; batch-norm statistics from rank 0's slice; sample_weight and
class_weight refused; a model built from another seed on each rank replaced by rank 0's.
"""

from __future__ import annotations

import csv
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

from chainrule.distributed import share
from chainrule.io import load_weights

HERE = Path(__file__).parent
WORKER = HERE / "mpi_worker_round8.py"
BIN = Path(sys.executable).parent
# The mpiexec beside this Python first (the pip package "mpich"): it matches mpi4py's MPI.
MPIEXEC = shutil.which("mpiexec", path=str(BIN)) or shutil.which("mpiexec")
CHAINRULE = shutil.which("chainrule", path=str(BIN))
pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="needs mpi4py"),
    pytest.mark.skipif(MPIEXEC is None, reason="needs an mpiexec"),
]
TIMEOUT = 240  # generous: a loaded machine of two cores
RTOL, ATOL = 1e-10, 1e-13  # float64, as the docs state


def _run(command: list[str], ranks: int, cwd: Path) -> subprocess.CompletedProcess[str]:
    if ranks > 1:
        assert MPIEXEC is not None
        command = [MPIEXEC, "-n", str(ranks), *command]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    # A watchdog shorter than the timeout, so that a hang shows as the job's own failure.
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", CHAINRULE_MPI_TIMEOUT="120")
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=cwd, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """The worker on 2 ranks, then on 3 ranks and alone, these two also resuming from the
    checkpoint of epoch 2 that the 2-rank run wrote."""
    folders = {n: tmp_path_factory.mktemp(f"ranks{n}") for n in (2, 3, 1)}
    for n, out in folders.items():
        command = [sys.executable, str(WORKER), str(out)]
        if n != 2:
            command.append(str(folders[2] / "resumable-rank0-2.safetensors"))
        done = _run(command, n, out)
        (out / "stderr.txt").write_text(done.stderr)
    return folders


def _results(out: Path, ranks: int) -> list[dict[str, Any]]:
    return [json.loads((out / f"result-rank{r}.json").read_text()) for r in range(ranks)]


def _assert_close(got: dict[str, Any], expected: dict[str, Any], rtol: float = RTOL) -> None:
    assert got["epochs"] == expected["epochs"]
    assert got["stop_reason"] == expected["stop_reason"]
    assert got["weights"].keys() == expected["weights"].keys()
    for key, value in expected["weights"].items():
        np.testing.assert_allclose(got["weights"][key], value, rtol=rtol, atol=ATOL, err_msg=key)
    assert got["logs"].keys() == expected["logs"].keys()
    for key, value in expected["logs"].items():
        np.testing.assert_allclose(got["logs"][key], value, rtol=rtol, err_msg=key)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("ranks", [2, 3])
def test_scripts_give_one_processs_result_on_any_number_of_ranks(
    runs: dict[int, Path], ranks: int
) -> None:
    one = _results(runs[1], 1)[0]
    everyone = _results(runs[ranks], ranks)
    for name in ("regression", "resumable", "seeded_by_rank", "cnn"):
        for theirs in everyone[1:]:
            assert theirs[name] == everyone[0][name], name  # the same steps and logs everywhere
    for name in ("regression", "resumable", "seeded_by_rank"):
        _assert_close(everyone[0][name], one[name])

    # The regression's callbacks had something to decide: ReduceLROnPlateau halved the rate,
    # and EarlyStopping stopped and put back the weights of the best epoch.
    regression = everyone[0]["regression"]
    assert regression["logs"]["lr"][-1] < regression["logs"]["lr"][0]
    assert regression["stop_reason"].startswith("early stopping")
    best = 1 + int(np.argmin(regression["logs"]["val_loss"]))
    assert best < regression["epochs"][-1]
    saved = load_weights(runs[ranks] / f"regression-rank0-{best}.safetensors")
    for key, value in regression["weights"].items():
        np.testing.assert_array_equal(saved[f"model.{key}"], value, err_msg=key)


@pytest.mark.parametrize("ranks", [2, 3])
def test_only_rank_0_writes_checkpoints_and_logs(runs: dict[int, Path], ranks: int) -> None:
    out = runs[ranks]

    def files(folder: Path) -> list[str]:
        return sorted(
            p.name for p in folder.iterdir() if not p.name.startswith(("result-", "resumed-"))
        )

    assert files(out) == files(runs[1])  # one process's files: rank 0's, none of another rank
    regression = _results(out, 1)[0]["regression"]
    rows = _rows(out / "regression-rank0.csv")
    assert [int(row["epoch"]) for row in rows] == regression["epochs"]
    np.testing.assert_allclose(
        [float(row["val_r2"]) for row in rows], regression["logs"]["val_r2"], rtol=1e-12
    )
    cnn = _results(out, 1)[0]["cnn"]
    assert [int(row["epoch"]) for row in _rows(out / "cnn-rank0.csv")] == cnn["epochs"]
    progress = [line for line in (out / "stderr.txt").read_text().splitlines() if "epoch " in line]
    assert [line.split()[1] for line in progress] == [f"{e}/6" for e in cnn["epochs"]]


@pytest.mark.parametrize("ranks", [3, 1])
def test_a_checkpoint_written_on_two_ranks_resumes_on_three_ranks_and_alone(
    runs: dict[int, Path], ranks: int
) -> None:
    uninterrupted = _results(runs[2], 1)[0]["resumable"]
    everyone = _results(runs[ranks], ranks)
    for theirs in everyone:
        _assert_close(theirs["resumed"], uninterrupted)
    # The resumed run logged epochs 3 and 4 alone, as the uninterrupted run did.
    resumed_rows = _rows(runs[ranks] / "resumed-rank0.csv")
    uninterrupted_rows = _rows(runs[2] / "resumable-rank0.csv")[2:]
    assert [row["epoch"] for row in resumed_rows] == ["3", "4"]
    for got, expected in zip(resumed_rows, uninterrupted_rows, strict=True):
        assert got.keys() == expected.keys()
        for key in got.keys() - {"time"}:  # each run measures its own time
            np.testing.assert_allclose(float(got[key]), float(expected[key]), rtol=RTOL)


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_batch_norm_keeps_the_running_statistics_of_rank_0s_slice(
    runs: dict[int, Path], ranks: int
) -> None:
    # One step on one batch of 8 rows: momentum 0.1 from zero, toward rank 0's rows' mean.
    x = np.arange(16.0).reshape(8, 2) ** 2
    low, high = share(8, 0, ranks)
    expected = 0.1 * x[low:high].mean(axis=0)
    for theirs in _results(runs[ranks], ranks):
        np.testing.assert_allclose(theirs["batchnorm"], expected, rtol=1e-12)


@pytest.mark.parametrize("ranks", [2, 3])
@pytest.mark.parametrize("dropout", ["layer", "functional"])
def test_each_rank_draws_its_own_dropout_masks(
    runs: dict[int, Path], ranks: int, dropout: str
) -> None:
    # Before: F.dropout in a forward drew from the default generator, which
    # chainrule.manual_seed(0) had put in the same state on every rank, so every rank's
    # slice got rank 0's masks (nn.Dropout's were independent, as the docs say).
    found = [theirs["dropout"][dropout] for theirs in _results(runs[ranks], ranks)]
    for theirs in found[1:]:
        assert theirs["weights"] == found[0]["weights"]  # and yet the same steps everywhere
    masks = [np.array(theirs["masks"]) for theirs in found]
    assert masks[0].shape == (2, 12 // ranks, 32)  # two steps, a slice of the batch each
    assert 0.3 < masks[0].mean() < 0.7
    for rank in range(1, ranks):
        assert (masks[rank] != masks[0]).mean() > 0.3, rank
    # Rank 0 draws as one process does: its first step's masks are those of its rows.
    one = np.array(_results(runs[1], 1)[0]["dropout"][dropout]["masks"])
    np.testing.assert_array_equal(masks[0][0], one[0, : 12 // ranks])


def test_sample_and_class_weights_are_refused_on_every_rank(runs: dict[int, Path]) -> None:
    assert _results(runs[1], 1)[0]["weighted"] == ["trained", "trained"]
    message = "fit: sample_weight and class_weight are not supported with MPI"
    for ranks in (2, 3):
        for theirs in _results(runs[ranks], ranks):
            assert theirs["weighted"] == [message, message]


@pytest.mark.skipif(CHAINRULE is None, reason="the chainrule script is missing")
def test_the_command_line_resumes_on_other_numbers_of_ranks(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(101, 4))
    y = 2 * x[:, 0] + np.sin(x[:, 1]) + 0.1 * rng.normal(size=101)
    rows = np.column_stack([x, y])
    lines = ["a,b,c,d,y", *(",".join(f"{v:.6f}" for v in row) for row in rows)]
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    assert CHAINRULE is not None
    settings = ["train", "data.csv", "--target", "y", "--batch-size", "16", "--patience", "2"]
    settings += ["--no-batch-norm", "--dropout", "0", "--checkpoint-dir", "checkpoints"]
    started = _run([CHAINRULE, *settings, "--epochs", "3", "-o", "three.safetensors"], 3, tmp_path)
    assert started.stdout.count("model written to three.safetensors") == 1
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "checkpoint.safetensors"
    ]
    shutil.copytree(tmp_path / "checkpoints", tmp_path / "copy")
    resumed = settings + ["--resume", "--epochs", "5"]
    pair = _run([CHAINRULE, *resumed, "-o", "two.safetensors"], 2, tmp_path)
    assert pair.stdout.count("model written to two.safetensors") == 1
    assert "epoch 4/5" in pair.stderr and "epoch 1/5" not in pair.stderr
    resumed[resumed.index("checkpoints")] = "copy"
    _run([CHAINRULE, *resumed, "-o", "one.safetensors"], 1, tmp_path)
    one, two = (load_weights(tmp_path / f"{n}.safetensors") for n in ("one", "two"))
    assert one.keys() == two.keys()
    for key, value in one.items():
        np.testing.assert_allclose(two[key], value, rtol=1e-4, atol=1e-6, err_msg=key)


def test_the_command_lines_checkpoint_is_written_by_rank_0_alone(tmp_path: Path) -> None:
    # Under mpiexec every rank runs the CLI's callbacks: a rank other than 0 must not write
    # (on machines sharing a file system it would delete rank 0's temporary file).
    from types import SimpleNamespace

    from chainrule.cli.resume import RunCheckpoint

    path = tmp_path / "checkpoint.safetensors"
    RunCheckpoint(path, None, {}).on_epoch_end(SimpleNamespace(is_root=False), {})  # type: ignore[arg-type]
    assert not path.exists()
