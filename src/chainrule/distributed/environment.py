"""Whether this process was started by an MPI launcher, read from the environment alone.

``mpiexec``/``mpirun`` (MPICH, Intel MPI, MS-MPI, Open MPI, MVAPICH) and Slurm's ``srun``
tell each process its rank and the number of processes through environment variables. Reading
them costs nothing and imports nothing, so a plain ``python train.py`` never loads mpi4py.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

SIZE_VARIABLES = (
    "OMPI_COMM_WORLD_SIZE",  # Open MPI
    "PMI_SIZE",  # MPICH's Hydra, Intel MPI, MS-MPI, MVAPICH, srun --mpi=pmi2
    "MV2_COMM_WORLD_SIZE",  # MVAPICH
    "SLURM_STEP_NUM_TASKS",  # srun: the tasks of this job step (not SLURM_NTASKS, which a
    # batch script sees too while it runs as one process)
)
"""Variables that hold the number of processes a launcher started, in the order read."""

RANK_VARIABLES = (
    "OMPI_COMM_WORLD_RANK",
    "PMI_RANK",
    "MV2_COMM_WORLD_RANK",
    "PMIX_RANK",
    "SLURM_PROCID",
)
"""Variables that hold this process's rank, in the order read."""


def _first_int(names: tuple[str, ...], environ: Mapping[str, str]) -> tuple[str, int] | None:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            try:
                return name, int(value)
            except ValueError:
                raise ValueError(
                    f"chainrule.distributed: expected an integer in ${name}, got {value!r}"
                ) from None
    return None


def launch_size(environ: Mapping[str, str] | None = None) -> int:
    """The number of processes the launcher started: 1 when none did.

    Parameters
    ----------
    environ : mapping, optional
        The environment to read (``os.environ`` when None).

    Examples
    --------
    >>> launch_size({"PMI_RANK": "1", "PMI_SIZE": "4"})
    4
    >>> launch_size({})
    1
    """
    found = _first_int(SIZE_VARIABLES, os.environ if environ is None else environ)
    return 1 if found is None else max(found[1], 1)


def launch_rank(environ: Mapping[str, str] | None = None) -> int:
    """This process's rank among them: 0 when no launcher started it.

    Useful to write a file or print once, from rank 0, without importing MPI.

    Examples
    --------
    >>> launch_rank({"OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4"})
    3
    >>> launch_rank({})
    0
    """
    found = _first_int(RANK_VARIABLES, os.environ if environ is None else environ)
    return 0 if found is None else found[1]


def is_root(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process is rank 0 (or was started alone): the one that writes files.

    Examples
    --------
    >>> is_root({"PMI_RANK": "0", "PMI_SIZE": "2"}), is_root({"PMI_RANK": "1", "PMI_SIZE": "2"})
    (True, False)
    """
    return launch_rank(environ) == 0


def describe_launch(environ: Mapping[str, str] | None = None) -> str:
    """Which variable told the size, for error messages: ``'PMI_SIZE=2'``."""
    found = _first_int(SIZE_VARIABLES, os.environ if environ is None else environ)
    return "no launcher variable" if found is None else f"{found[0]}={found[1]}"
