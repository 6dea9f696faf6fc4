"""Round 19: a training DataLoader whose collate_fn pads each batch to its longest sequence
trains two ranks to one process's weights: every rank collates the whole batch, as one
process does, and keeps its rows of it. A collate_fn whose batch cannot be cut by rows is
refused with a message naming what came."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

BIN = Path(sys.executable).parent
MPIEXEC = shutil.which("mpiexec", path=str(BIN)) or shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(
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

mode, name = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
sequences = [rng.normal(size=(int(rng.integers(1, 9)), 3)) for _ in range(30)]
targets = [float(s.sum()) for s in sequences]
samples = list(zip(sequences, targets))

def pad(batch):  # each batch padded to its longest sequence, as for an RNN
    steps = max(len(s) for s, _ in batch)
    x = np.zeros((len(batch), steps, 3))
    for row, (s, _) in enumerate(batch):
        x[row, :len(s)] = s
    y = cr.tensor(np.array([[t] for _, t in batch]))
    if mode == "time_major":
        return cr.tensor(x.transpose(1, 0, 2)), y
    if mode == "lengths_as_tuple":  # a list of one entry per sample is cut, a tuple is not
        return (cr.tensor(x), tuple(len(s) for s, _ in batch)), y
    return cr.tensor(x), y

class MeanOverTime(nn.Module):  # the padding's zeros count in the mean
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 1)
    def forward(self, x):
        if isinstance(x, tuple):
            x = x[0]
        return self.linear(x.mean(dim=1))

cr.manual_seed(0)
model = MeanOverTime().to(np.float64)
optimizer = cr.optim.SGD(model.parameters(), lr=0.05)
loader = DataLoader(samples, batch_size=8, shuffle=True, collate_fn=pad)
kwargs = {"distributed": None} if name == "one" else {}
history = cr.fit(model, "mse", optimizer, loader, epochs=3, seed=0, verbose=0, **kwargs)
result = {"loss": history["loss"], "weight": model.linear.weight.numpy().tolist(),
          "bias": model.linear.bias.numpy().tolist()}
with open(f"{name}_rank{launch_rank()}.json", "w") as f:
    json.dump(result, f)
"""


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", CHAINRULE_MPI_TIMEOUT="60")
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    # The chainrule under test, wherever the script runs.
    source = str(Path(cr.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return env


def _run(tmp_path: Path, ranks: int, mode: str, name: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pad.py").write_text(SCRIPT)
    command = [sys.executable, "pad.py", mode, name]
    if ranks > 1:
        assert MPIEXEC is not None
        command = [MPIEXEC, "-n", str(ranks), *command]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env=_environment(),
        cwd=tmp_path,
        check=False,
    )


def test_two_ranks_with_a_padding_collate_fn_train_as_one_process(tmp_path: Path) -> None:
    one = _run(tmp_path, 1, "pad", "one")
    assert one.returncode == 0, one.stderr
    two = _run(tmp_path, 2, "pad", "two")
    assert two.returncode == 0, two.stderr
    single = json.loads((tmp_path / "one_rank0.json").read_text())
    for rank in (0, 1):
        theirs = json.loads((tmp_path / f"two_rank{rank}.json").read_text())
        np.testing.assert_allclose(theirs["weight"], single["weight"], rtol=1e-10)
        np.testing.assert_allclose(theirs["bias"], single["bias"], rtol=1e-10)
        np.testing.assert_allclose(theirs["loss"], single["loss"], rtol=1e-10)


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        (
            "time_major",
            r"expected tensors or arrays whose first axis is the batch's 8 samples, got shape "
            r"\(\d, 8, 3\) at batch\[0\]",
        ),
        (
            "lengths_as_tuple",
            r"expected tensors or arrays \(in tuples, lists or dicts\) whose first axis is the "
            r"batch's 8 samples, or lists of one entry per sample, got a value of type int at "
            r"batch\[0\]\[1\]\[0\]",
        ),
    ],
)
def test_a_batch_that_cannot_be_cut_by_rows_is_refused(
    tmp_path: Path, mode: str, message: str
) -> None:
    done = _run(tmp_path, 2, mode, "two")
    assert done.returncode != 0
    assert re.search(message, done.stderr), done.stderr[-2000:]
    assert not list(tmp_path.glob("two_rank*.json"))
