"""Helpers shared by the benchmarks: thread pinning, interleaved median timing, reports.

This module imports only the standard library at import time, so that a benchmark can call
``set_thread_env`` before NumPy or PyTorch is imported (their thread pools read the
environment once, when they load).
"""

from __future__ import annotations

import gc
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
"""Variables that size the thread pools of OpenMP, MKL, OpenBLAS, BLIS, Accelerate, numexpr."""

OPENBLAS_TUNING_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
"""OpenBLAS settings that change which kernels run; reported, never changed."""


# --------------------------------------------------------------------- threads
def set_thread_env(threads: int) -> None:
    """Size every BLAS/OpenMP thread pool to ``threads`` through the environment.

    Must run before NumPy or PyTorch is imported: the pools read these variables once.
    """
    loaded = [name for name in ("numpy", "torch") if name in sys.modules]
    if loaded:
        raise RuntimeError(
            f"set_thread_env: call it before importing NumPy or PyTorch, got {loaded} loaded"
        )
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)


def _chainrule_blas() -> str:
    from importlib import metadata

    from chainrule import _blas

    if _blas.enabled():
        return f"MKL {metadata.version('mkl')} (chainrule._blas; on one thread only)"
    return "NumPy's (the mkl wheel not installed or not loadable here, or CHAINRULE_MKL=0)"


def limit_threads(threads: int) -> Any:
    """Apply ``threads`` to the pools already loaded (threadpoolctl, PyTorch) as well.

    Returns the threadpoolctl limiter (keep it alive), or None without threadpoolctl.
    """
    limiter = None
    if "chainrule" in sys.modules:
        from chainrule import _blas

        _blas.enabled()  # loads MKL where chainrule uses it, so that the limits reach it too
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        limiter = threadpool_limits(limits=threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    return limiter


# --------------------------------------------------------------------- options
def add_timing_options(parser: Any, rounds: int = 7, min_time: float = 0.05) -> None:
    """The options every timing benchmark takes: --rounds, --repeat, --threads, --min-time
    (checked by ``check_timing_options`` once parsed)."""
    parser.add_argument(
        "--rounds", type=int, default=rounds, help=f"interleaved rounds (default {rounds})"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="batches per case per round, best kept (default 3)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="threads for every library (default 1)"
    )
    parser.add_argument(
        "--min-time",
        type=float,
        default=min_time,
        help=f"seconds one timed batch should last at least (default {min_time})",
    )


def check_timing_options(parser: Any, args: Any) -> None:
    """Refuse, through ``parser.error``, counts below 1 and a --min-time not above 0."""
    for name in ("rounds", "repeat", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.min_time <= 0:
        parser.error(f"--min-time must be > 0, got {args.min_time}")


# --------------------------------------------------------------------- timing
@dataclass
class Case:
    """One thing to time: ``fn`` is called with no arguments, ``number`` times per batch."""

    key: str
    fn: Callable[[], Any]
    number: int = 0
    per_round: list[float] = field(default_factory=list)  # seconds per call, one per round

    @property
    def median(self) -> float:
        return statistics.median(self.per_round)


CLOCKS: dict[str, Callable[[], float]] = {
    "wall": time.perf_counter,
    # CPU time of this process: on a shared machine it leaves out the time the benchmark
    # waited for a core, but with several threads it adds up their times (use wall there).
    "cpu": time.process_time,
}


def pick_clock(name: str, threads: int) -> str:
    """``name``, or for "auto" the CPU clock with one thread and the wall clock otherwise."""
    if name == "auto":
        return "cpu" if threads == 1 else "wall"
    return name


def _batch(fn: Callable[[], Any], number: int, clock: Callable[[], float]) -> float:
    """Seconds per call over one batch of ``number`` calls (garbage collector left on)."""
    start = clock()
    for _ in range(number):
        fn()
    return (clock() - start) / number


def calibrate(case: Case, min_time: float, clock: Callable[[], float]) -> None:
    """Warm ``case`` up and pick a batch size whose run takes at least ``min_time`` seconds."""
    number = 1
    while True:
        elapsed = _batch(case.fn, number, clock) * number
        if elapsed >= min_time / 4:
            break
        number *= 4
    case.number = max(1, int(number * min_time / max(elapsed, 1e-9)))


def run_interleaved(
    cases: Sequence[Case],
    rounds: int,
    repeat: int,
    min_time: float,
    clock: str = "wall",
    seed: int = 0,
) -> None:
    """Time every case once per round, in a new random order each round.

    A case's value for a round is the best of ``repeat`` batches (the least disturbed by
    other processes); ``Case.median`` is then the median over rounds. Interleaving puts the
    cases that are compared side by side in the same stretch of machine load.
    """
    timer = CLOCKS[clock]
    for case in cases:
        calibrate(case, min_time, timer)
    order = list(cases)
    shuffle = random.Random(seed).shuffle
    for _ in range(rounds):
        shuffle(order)
        for case in order:
            gc.collect()
            case.per_round.append(min(_batch(case.fn, case.number, timer) for _ in range(repeat)))


def median_ratio(numerator: Case, denominator: Case) -> float:
    """Median over rounds of the per-round ratio (both sides timed in the same round)."""
    pairs = zip(numerator.per_round, denominator.per_round, strict=True)
    return statistics.median(n / d for n, d in pairs)


# --------------------------------------------------------------------- reports
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _numpy_blas() -> str:
    import numpy

    try:
        config = numpy.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
    except (TypeError, KeyError):  # NumPy < 1.25 has no mode="dicts"
        return "unknown (numpy.show_config() prints it)"
    text = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    detail = blas.get("openblas configuration")
    return f"{text} [{detail}]" if detail else text


def _torch_blas(torch: Any) -> str:
    found = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    blas = found.group(1) if found else "unknown"
    capability = torch.backends.cpu.get_cpu_capability()
    return f"{blas}, CPU capability {capability}"


def _source_state(module: Any) -> str:
    """Where ``module`` was imported from, with the git commit (and "+ edits") if any."""
    folder = os.path.dirname(os.path.abspath(module.__file__))
    try:
        commit = subprocess.run(
            ["git", "-C", folder, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", folder, "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return folder
    return f"{folder}, git {commit}{' + uncommitted edits' if dirty else ''}"


def environment_report(threads: int) -> list[str]:
    """Lines describing the machine, the library versions, their BLAS and the thread pools."""
    import numpy

    chainrule = sys.modules.get("chainrule")
    lines = [
        f"machine   {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()}",
        f"python    {platform.python_version()} ({platform.python_implementation()})",
        f"numpy     {numpy.__version__}, BLAS {_numpy_blas()}",
    ]
    if chainrule is not None:
        version = getattr(chainrule, "__version__", "?")
        lines.append(f"chainrule {version} ({_source_state(chainrule)})")
        from chainrule import _allocator
        from chainrule.optim import _fused

        try:
            import numba

            compiled = f"numba {numba.__version__}" if _fused.enabled() else "off"
        except ImportError:
            compiled = "off (numba not installed: NumPy's 13 passes)"
        tuned = "on" if _allocator.tune() else "off"
        lines.append(f"          Adam compiled: {compiled}; malloc thresholds: {tuned}")
        lines.append(f"          large matrix products: {_chainrule_blas()}")
    torch = sys.modules.get("torch")
    if torch is not None:
        lines.append(
            f"torch     {torch.__version__}, BLAS {_torch_blas(torch)}, "
            f"intra-op threads {torch.get_num_threads()}"
        )
    else:
        lines.append("torch     not installed: PyTorch columns are left empty")
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        lines.append(
            f"threads   {threads}, set through {', '.join(THREAD_ENV_VARS[:3])} "
            f"(threadpoolctl not installed, so the pools could not be inspected)"
        )
    else:
        pools = [
            " ".join(
                str(part)
                for part in (
                    pool["internal_api"],
                    pool.get("version"),
                    pool.get("architecture"),  # the kernels OpenBLAS picked for this CPU
                    f"x{pool['num_threads']}",
                    f"({os.path.basename(pool['filepath'])})",
                )
                if part
            )
            for pool in threadpool_info()
        ]
        lines.append(f"threads   {threads}; pools: " + "; ".join(pools))
    tuning = [f"{name}={os.environ[name]}" for name in OPENBLAS_TUNING_VARS if name in os.environ]
    lines.append("openblas  " + (", ".join(tuning) if tuning else "no OPENBLAS_CORETYPE/L2_SIZE"))
    return lines


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [str(row[0]).ljust(widths[0])]
        cells += [str(cell).rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])
