"""A validation DataLoader under MPI: the ranks share out its batches, each made whole as
one process makes it (its collate_fn, its drop_last), so val_loss and val_ metrics are one
process's; a loader that gives each rank other batches, or whose batches cannot be listed
before it runs (a stream), is refused by name."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.data import DataLoader, IterableDataset

BIN = Path(sys.executable).parent
MPIEXEC = shutil.which("mpiexec", path=str(BIN)) or shutil.which("mpiexec")
needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
    reason="needs mpi4py and an mpiexec",
)

SCRIPT = """
import json, sys
import numpy as np
import chainrule as cr
from chainrule import nn
from chainrule.data import DataLoader
from chainrule.distributed import launch_rank

rng = np.random.default_rng(0)
sequences = [rng.normal(size=(int(rng.integers(1, 9)), 2)).astype(np.float32) for _ in range(42)]
labels = np.array([s.sum() > 0 for s in sequences], dtype=np.int64)

class Sequences:
    def __len__(self): return len(sequences)
    def __getitem__(self, i): return sequences[i], labels[i]

def pad(samples):  # each batch padded to its longest sequence
    steps = max(len(s) for s, _ in samples)
    x = np.zeros((len(samples), steps, 2), np.float32)
    for row, (s, _) in enumerate(samples): x[row, :len(s)] = s
    return cr.tensor(x), cr.tensor(np.array([y for _, y in samples]))

class MeanOverTime(nn.Module):
    def __init__(self):
        super().__init__(); self.linear = nn.Linear(2, 2)
    def forward(self, x): return self.linear(x).mean(1)

cr.manual_seed(0)
model = MeanOverTime()
x = rng.normal(size=(40, 4, 2)).astype(np.float32); y = (x.sum((1, 2)) > 0).astype(np.int64)
own_order = sys.argv[1] == "own_order"
val = DataLoader(Sequences(), batch_size=4, collate_fn=pad, drop_last=True,
                 shuffle=own_order, generator=launch_rank() if own_order else None)
history = cr.fit(model, "cross_entropy", "sgd", (x, y), epochs=2, batch_size=8, seed=0,
                 verbose=0, validation_data=val, metrics=["accuracy"])
loss_fn = nn.CrossEntropyLoss(reduction="sum")
total, right, rows = 0.0, 0, 0
with cr.no_grad():
    for xb, yb in val:  # the loop a PyTorch user would write
        output = model(xb)
        total += float(loss_fn(output, yb).item())
        right += int((output.numpy().argmax(1) == yb.numpy()).sum()); rows += len(yb)
result = {"val_loss": history["val_loss"], "val_accuracy": history["val_accuracy"],
          "hand": [total / rows, right / rows], "rows": rows}
with open(f"{sys.argv[2]}_rank{launch_rank()}.json", "w") as f:
    json.dump(result, f)
"""


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", CHAINRULE_MPI_TIMEOUT="120")
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    # The chainrule under test, wherever the script runs.
    source = str(Path(cr.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return env


def _run(tmp_path: Path, ranks: int, mode: str, name: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "validate.py").write_text(SCRIPT)
    command = [sys.executable, "validate.py", mode, name]
    if ranks > 1:
        assert MPIEXEC is not None
        command = [MPIEXEC, "-n", str(ranks), *command]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=240,
        env=_environment(),
        cwd=tmp_path,
        check=False,
    )


@needs_mpi
def test_two_ranks_validate_on_the_loaders_own_batches_as_one_process(tmp_path: Path) -> None:
    one = _run(tmp_path, 1, "same", "one")
    assert one.returncode == 0, one.stderr
    two = _run(tmp_path, 2, "same", "two")
    assert two.returncode == 0, two.stderr
    single = json.loads((tmp_path / "one_rank0.json").read_text())
    assert single["rows"] == 40  # 42 sequences in batches of 4, the last 2 dropped
    assert single["val_loss"][-1] == pytest.approx(single["hand"][0], rel=1e-6)
    assert single["val_accuracy"][-1] == pytest.approx(single["hand"][1])
    for rank in (0, 1):
        theirs = json.loads((tmp_path / f"two_rank{rank}.json").read_text())
        np.testing.assert_allclose(theirs["val_loss"], single["val_loss"], rtol=1e-6)
        assert theirs["val_accuracy"] == single["val_accuracy"]


@needs_mpi
def test_a_validation_loader_that_orders_each_rank_its_own_way_is_refused(tmp_path: Path) -> None:
    done = _run(tmp_path, 2, "own_order", "two")
    assert done.returncode != 0
    assert "a validation DataLoader must give the same batches on every rank" in done.stderr


class FakeMPI:
    """Enough of an MPIContext for fit to reach its checks of the data."""

    def forward_backward(self, *args: Any) -> None:  # pragma: no cover - never reached
        raise AssertionError

    def common_seed(self, seed: int | None, resume_from: Any = None) -> int:
        return 0


def test_a_validation_stream_is_refused_under_mpi_by_name() -> None:
    x = np.zeros((8, 3), np.float32)
    y = np.zeros(8, np.int64)

    class Rows(IterableDataset):
        def __iter__(self) -> Iterator[tuple[np.ndarray, np.int64]]:
            return zip(x, y, strict=True)

    class OwnIteration(DataLoader):
        def __iter__(self) -> Iterator[Any]:
            yield cr.tensor(x), cr.tensor(y)

    for validation in (DataLoader(Rows(), batch_size=4), OwnIteration(Rows(), batch_size=4)):
        with pytest.raises(
            ValueError,
            match=r"fit: validation_data: an IterableDataset \(or a DataLoader over one, or one "
            r"with an __iter__ of its own\) is not supported with MPI",
        ):
            cr.fit(
                nn.Linear(3, 2), "cross_entropy", "sgd", x, y, validation_data=validation,
                distributed=FakeMPI(), verbose=0,
            )  # fmt: skip
