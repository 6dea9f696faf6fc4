"""Under ``mpiexec -n 2``, a cross-entropy or NLL loss given as ``functools.partial`` (class
weights or ``ignore_index`` bound) trains as ``nn.CrossEntropyLoss`` / ``nn.NLLLoss`` with
the same settings in one process: each rank's share of the batch is weighed by the weight of
the labels it counts, not by its rows."""

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

import chainrule as cr
from chainrule import nn

BIN = Path(sys.executable).parent
MPIEXEC = shutil.which("mpiexec", path=str(BIN)) or shutil.which("mpiexec")

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
    reason="needs mpi4py and an mpiexec",
)

WEIGHT = [1.0, 5.0, 0.2]

SCRIPT = f"""
WEIGHT = {WEIGHT!r}
import functools, json, sys
import numpy as np
import chainrule as cr
from chainrule import nn
import chainrule.nn.functional as F
from chainrule.distributed import launch_rank

out = sys.argv[1]
weight = np.array(WEIGHT)
losses = {{
    "weight": functools.partial(F.cross_entropy, weight=cr.tensor(weight)),
    "ignore": functools.partial(F.cross_entropy, ignore_index=1),
    "nll": functools.partial(F.nll_loss, weight=weight, ignore_index=0),
}}
result = {{}}
for name, loss in losses.items():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)); y = rng.integers(0, 3, 64)
    model = nn.Sequential(nn.Linear(5, 3)).to(np.float64)
    model.reset_parameters(generator=0)
    if name == "nll":
        model.append(nn.LogSoftmax(dim=1))
    history = cr.fit(model, loss, "sgd", (x, y), epochs=2, batch_size=24, seed=0, verbose=0,
                     shuffle=False, validation_data=(x[:20], y[:20]), validation_batch_size=7)
    result[name] = {{"loss": history.history["loss"], "val_loss": history.history["val_loss"],
                    "weight": model[0].weight.data.tolist()}}
with open(f"{{out}}-rank{{launch_rank()}}.json", "w") as f:
    json.dump(result, f)
"""


def _one_process(name: str) -> tuple[dict[str, Any], np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5))
    y = rng.integers(0, 3, 64)
    model = nn.Sequential(nn.Linear(5, 3)).to(np.float64)
    model.reset_parameters(generator=0)
    weight = cr.tensor(np.array(WEIGHT))
    loss: Any = {
        "weight": nn.CrossEntropyLoss(weight=weight),
        "ignore": nn.CrossEntropyLoss(ignore_index=1),
        "nll": nn.NLLLoss(weight=weight, ignore_index=0),
    }[name]
    if name == "nll":
        model.append(nn.LogSoftmax(dim=1))
    history = cr.fit(
        model,
        loss,
        "sgd",
        (x, y),
        epochs=2,
        batch_size=24,
        seed=0,
        verbose=0,
        shuffle=False,
        validation_data=(x[:20], y[:20]),
        validation_batch_size=7,
        distributed=None,
    )
    return history.history, model[0].weight.numpy()


def test_a_partial_label_loss_trains_under_mpi_as_its_module_in_one_process(
    tmp_path: Path,
) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", CHAINRULE_MPI_TIMEOUT="100")
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    source = str(Path(cr.__file__).resolve().parents[1])  # the chainrule under test
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    out = tmp_path / "partial"
    assert MPIEXEC is not None
    done = subprocess.run(
        [MPIEXEC, "-n", "2", sys.executable, str(script), str(out)],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads(Path(f"{out}-rank{rank}.json").read_text()) for rank in (0, 1)]
    for name in ("weight", "ignore", "nll"):
        history, weight = _one_process(name)
        for result in ranks:
            got = result[name]
            for key in ("loss", "val_loss"):
                np.testing.assert_allclose(got[key], history[key], rtol=1e-10, err_msg=name)
            np.testing.assert_allclose(got["weight"], weight, rtol=1e-10, err_msg=name)
