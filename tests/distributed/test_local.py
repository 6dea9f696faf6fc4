"""Without an MPI launcher: ``fit`` is unchanged and imports nothing of MPI; the launch
detection and the split of a batch over ranks, which need no MPI either."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule.train.loop as loop
from chainrule import nn
from chainrule.distributed import (
    SIZE_VARIABLES,
    MPIContext,
    from_environment,
    launch_rank,
    launch_size,
    share,
)
from chainrule.distributed.context import training_share
from chainrule.train import fit


def _clean_environment() -> dict[str, str]:
    names = (*SIZE_VARIABLES, "PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID")
    return {k: v for k, v in os.environ.items() if k not in names}


def _problem() -> tuple[nn.Module, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 4)).astype(np.float32)
    y = (x[:, 0] > x[:, 1]).astype(np.int64)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    model.reset_parameters(0)
    return model, x, y


def test_fit_without_a_launcher_imports_nothing_of_mpi() -> None:
    script = (
        "import sys, numpy as np\n"
        "from chainrule import nn\n"
        "from chainrule.train import fit\n"
        "x = np.zeros((8, 2), np.float32); y = np.zeros(8, np.int64)\n"
        "fit(nn.Linear(2, 2), 'cross_entropy', 'sgd', (x, y), epochs=2, verbose=0)\n"
        "names = ('mpi4py', 'chainrule.distributed')\n"
        "print(sorted(m for m in sys.modules if m.startswith(names)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_environment(),
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_fit_gives_the_same_result_with_distribution_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SIZE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    results = []
    for distributed in ("auto", None):
        model, x, y = _problem()
        history = fit(
            model, "cross_entropy", "adam", (x, y), epochs=3, batch_size=16, seed=1,
            metrics=["accuracy"], validation_split=0.2, verbose=0, distributed=distributed,
        )  # fmt: skip
        del history.history["time"]
        results.append((model.state_dict(), history.to_dict()))
    (weights_auto, history_auto), (weights_off, history_off) = results
    assert history_auto == history_off
    for key, value in weights_auto.items():
        np.testing.assert_array_equal(value.data, weights_off[key].data)


def test_fit_rejects_an_unknown_distributed_value() -> None:
    model, x, y = _problem()
    with pytest.raises(TypeError, match="fit: distributed must be 'auto', None or a chainrule"):
        fit(model, "mse", "sgd", (x, y), distributed="mpi")


def test_a_launch_without_mpi4py_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    match = r"as 2 processes \(PMI_SIZE=2\), but mpi4py is not installed.*chainrule\[mpi\]"
    with pytest.raises(RuntimeError, match=match):
        from_environment()
    model, x, y = _problem()
    with pytest.raises(RuntimeError, match=match):
        fit(model, "cross_entropy", "sgd", (x, y), verbose=0)


def test_a_launch_of_one_process_is_no_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "1")
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    assert from_environment() is None


def test_fit_reads_the_launcher_variables_that_chainrule_distributed_knows() -> None:
    assert loop._MPI_SIZE_VARIABLES == SIZE_VARIABLES


@pytest.mark.parametrize(
    ("environ", "size", "rank"),
    [
        ({}, 1, 0),
        ({"PMI_SIZE": "4", "PMI_RANK": "2"}, 4, 2),
        ({"OMPI_COMM_WORLD_SIZE": "3", "OMPI_COMM_WORLD_RANK": "1"}, 3, 1),
        ({"SLURM_STEP_NUM_TASKS": "8", "SLURM_PROCID": "7"}, 8, 7),
        ({"SLURM_NTASKS": "8", "SLURM_PROCID": "0"}, 1, 0),  # a batch script, not a step
    ],
)
def test_launch_size_and_rank_come_from_the_launcher(
    environ: dict[str, str], size: int, rank: int
) -> None:
    assert (launch_size(environ), launch_rank(environ)) == (size, rank)


def test_a_garbled_launcher_variable_is_named() -> None:
    with pytest.raises(ValueError, match=r"expected an integer in \$PMI_SIZE, got 'two'"):
        launch_size({"PMI_SIZE": "two"})


@pytest.mark.parametrize("size", [1, 2, 3, 7])
@pytest.mark.parametrize("rows", [0, 1, 2, 5, 32, 33, 512])
def test_share_splits_a_batch_into_contiguous_near_equal_slices(rows: int, size: int) -> None:
    slices = [share(rows, rank, size) for rank in range(size)]
    assert slices[0][0] == 0 and slices[-1][1] == rows
    assert all(a[1] == b[0] for a, b in itertools.pairwise(slices))
    lengths = [stop - start for start, stop in slices]
    assert max(lengths) - min(lengths) <= 1
    assert lengths == sorted(lengths, reverse=True)


@pytest.mark.parametrize("size", [1, 2, 3, 7])
@pytest.mark.parametrize("rows", [1, 2, 3, 5, 13, 14, 32, 33])
def test_training_share_gives_no_rank_a_single_row_of_a_larger_batch(rows: int, size: int) -> None:
    # A slice of one row would make BatchNorm1d fail on that rank, where one process
    # computes the whole batch's statistics.
    slices = [training_share(rows, rank, size) for rank in range(size)]
    assert slices[0][0] == 0 and slices[-1][1] == rows
    assert all(a[1] == b[0] for a, b in itertools.pairwise(slices))
    lengths = [stop - start for start, stop in slices]
    assert lengths == sorted(lengths, reverse=True)
    assert rows == 1 or 1 not in lengths
    if rows >= 2 * size:
        assert slices == [share(rows, rank, size) for rank in range(size)]


def test_context_arguments_are_checked_before_mpi_is_touched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ValueError, match="timeout must be a finite number of seconds > 0, got 0"):
        MPIContext(timeout=0)
    with pytest.raises(ValueError, match="MPIContext: bucket_bytes must be a positive integer"):
        MPIContext(bucket_bytes=0)
    monkeypatch.setenv("CHAINRULE_MPI_TIMEOUT", "soon")
    with pytest.raises(
        ValueError, match=r"expected seconds in \$CHAINRULE_MPI_TIMEOUT, got 'soon'"
    ):
        MPIContext()


def test_gradients_are_packed_in_a_few_contiguous_buckets_of_one_dtype() -> None:
    from chainrule.distributed._buckets import make_buckets

    model = nn.Sequential(nn.Linear(100, 100), nn.Linear(100, 10))
    model.add_module("head", nn.Linear(10, 2).double())
    params = list(model.parameters())
    buckets = make_buckets(params, bucket_bytes=41_000)  # one 100x100 float32 weight is 40 kB
    assert [[tuple(p.shape) for p in b.params] for b in buckets] == [
        [(100, 100), (100,)],
        [(10, 100), (10,)],
        [(2, 10), (2,)],
    ]
    assert [b.buffer.dtype for b in buckets] == [np.float32, np.float32, np.float64]
    for p in params:
        p.grad = nn.Parameter(np.ones(p.shape, p.dtype))
    params[1].grad = None
    assert buckets[0].pack(0.5) == [True, False]
    assert (buckets[0].buffer[:10_000] == 0.5).all() and (buckets[0].buffer[10_000:] == 0).all()
    buckets[0].unpack(np.array([2.0, 0.0]))
    assert np.shares_memory(params[0].grad.data, buckets[0].buffer)
    assert params[1].grad is None
