"""Round 19: a training DataLoader whose collate_fn returns per-sample Python lists beside
its tensors (the sequence lengths that ``pack_padded_sequence`` takes, string ids) trains
two ranks to one process's weights: each rank keeps its entries of every list of one entry
per sample, as it keeps its rows of the tensors. Such a batch used to be refused."""

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
from chainrule.nn.utils.rnn import pack_padded_sequence

mode, name = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
sequences = [rng.normal(size=(int(rng.integers(1, 9)), 3)) for _ in range(30)]
targets = [float(s.sum()) for s in sequences]
samples = [(s, t, f"id{i}") for i, (s, t) in enumerate(zip(sequences, targets))]

def pad(batch):  # padded to the longest, with the lengths and ids as Python lists
    steps = max(len(s) for s, _, _ in batch)
    x = np.zeros((len(batch), steps, 3))
    for row, (s, _, _) in enumerate(batch):
        x[row, :len(s)] = s
    lengths = [len(s) for s, _, _ in batch]
    ids = [i for _, _, i in batch]
    if mode == "short_list":
        lengths = lengths[:-1]
    y = cr.tensor(np.array([[t] for _, t, _ in batch]))
    return (cr.tensor(x), lengths, ids), y

class Packed(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 4, batch_first=True, dtype=np.float64, generator=0)
        self.linear = nn.Linear(4, 1, dtype=np.float64, generator=1)
    def forward(self, batch):
        x, lengths, ids = batch
        assert len(lengths) == len(ids) == x.shape[0], (len(lengths), len(ids), x.shape)
        assert all(isinstance(i, str) for i in ids)
        _, hidden = self.rnn(pack_padded_sequence(x, lengths, True, enforce_sorted=False))
        return self.linear(hidden[0])

model = Packed()
optimizer = cr.optim.SGD(model.parameters(), lr=0.05)
loader = DataLoader(samples, batch_size=8, shuffle=True, collate_fn=pad)
kwargs = {"distributed": None} if name == "one" else {}
history = cr.fit(model, "mse", optimizer, loader, epochs=3, seed=0, verbose=0, **kwargs)
result = {"loss": history["loss"], "weight": model.linear.weight.numpy().tolist(),
          "rnn": model.rnn.weight_hh_l0.numpy().tolist()}
with open(f"{name}_rank{launch_rank()}.json", "w") as f:
    json.dump(result, f)
"""


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", CHAINRULE_MPI_TIMEOUT="60")
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    source = str(Path(cr.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return env


def _run(tmp_path: Path, ranks: int, mode: str, name: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "packed.py").write_text(SCRIPT)
    command = [sys.executable, "packed.py", mode, name]
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


def test_two_ranks_with_lengths_and_ids_as_lists_train_as_one_process(tmp_path: Path) -> None:
    one = _run(tmp_path, 1, "lists", "one")
    assert one.returncode == 0, one.stderr
    two = _run(tmp_path, 2, "lists", "two")
    assert two.returncode == 0, two.stderr
    single = json.loads((tmp_path / "one_rank0.json").read_text())
    for rank in (0, 1):
        theirs = json.loads((tmp_path / f"two_rank{rank}.json").read_text())
        for key in ("weight", "rnn", "loss"):
            np.testing.assert_allclose(theirs[key], single[key], rtol=1e-10, err_msg=key)


def test_a_list_that_is_not_one_entry_per_sample_is_refused(tmp_path: Path) -> None:
    done = _run(tmp_path, 2, "short_list", "two")
    assert done.returncode != 0
    message = (
        r"expected tensors or arrays \(in tuples, lists or dicts\) whose first axis is the "
        r"batch's 8 samples, or lists of one entry per sample, got a value of type int at "
        r"batch\[0\]\[1\]\[0\]"
    )
    assert re.search(message, done.stderr), done.stderr[-2000:]
    assert not list(tmp_path.glob("two_rank*.json"))
