"""Training steps reuse freed memory instead of faulting fresh pages in every step.

Counted, not timed: the minor page faults of 20 forward and backward passes, in a fresh
process, once the first passes have sized the heap. Each pass allocates and frees some
4 MiB of activations and gradients, about 1,000 pages; with glibc's default thresholds
all of them are returned to the kernel and faulted back in on the next pass.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from chainrule import _allocator

STEPS = """
import resource
import numpy as np
import chainrule as cr
from chainrule import nn
import chainrule.nn.functional as F

rng = np.random.default_rng(0)
x = cr.tensor(rng.normal(size=(2000, 64)))
y = cr.tensor(rng.integers(0, 10, 2000))
model = nn.Sequential(nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 10)).to(np.float64)

def step():
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()

for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""

glibc_only = pytest.mark.skipif(not _allocator._glibc(), reason="tunes glibc's malloc only")


def _faults_per_step(**env: str) -> float:
    result = subprocess.run(
        [sys.executable, "-c", STEPS],
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout)


@glibc_only
def test_steps_reuse_freed_memory():
    assert _faults_per_step() < 50


@glibc_only
def test_the_tuning_can_be_switched_off():
    # The same steps under glibc's own thresholds: the faults the tuning removes.
    assert _faults_per_step(CHAINRULE_MALLOC_TUNING="0") > 500


@glibc_only
def test_tuning_is_in_force_after_import():
    assert _allocator.tune() is True
