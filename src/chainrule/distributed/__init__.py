"""Data-parallel training on MPI: ``mpirun -np 4 python train.py`` and ``fit`` does the rest.

Started by an MPI launcher (``mpiexec``, ``mpirun``, ``srun``), ``fit`` trains one model on
all the processes: each computes on its slice of every batch, the gradients are summed in a
few contiguous buckets with ``MPI_Allreduce``, and every rank takes the same step, the step
one process would take on the whole batch (``batch_size`` stays the global batch). Rank 0
prints progress and writes files. Started without a launcher, nothing here is used and
mpi4py is never imported. Install with ``pip install 'chainrule[mpi]'`` (mpi4py and MPICH);
docs/distributed.md explains runs on several machines.

Examples
--------
>>> from chainrule.distributed import launch_size, share
>>> launch_size({})  # not started by a launcher
1
>>> share(512, 1, 2)  # rank 1 of 2 computes on rows 256 to 511 of a batch of 512
(256, 512)
"""

from chainrule.distributed._watchdog import DEFAULT_TIMEOUT, TIMEOUT_VARIABLE
from chainrule.distributed.context import MPIContext, from_environment, share
from chainrule.distributed.environment import (
    RANK_VARIABLES,
    SIZE_VARIABLES,
    is_root,
    launch_rank,
    launch_size,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "MPIContext",
    "RANK_VARIABLES",
    "SIZE_VARIABLES",
    "TIMEOUT_VARIABLE",
    "from_environment",
    "is_root",
    "launch_rank",
    "launch_size",
    "share",
]
