"""Data-parallel ``fit`` on MPI: training throughput with 1 and 2 ranks, one thread each.

The driver starts ``mpiexec -n N python distributed_train.py --worker ...`` for each rank
count (and once without mpiexec, the plain single process), in interleaved rounds; each run
trains with ``chainrule.train.fit`` on synthetic data and reports the wall time of its steps
after a warm-up. Throughput is global batch rows per second; scaling efficiency with N ranks
is ``throughput(N) / (N * throughput(1 rank))``.

Usage::

    python benchmarks/distributed_train.py                    # large config, 1 and 2 ranks
    python benchmarks/distributed_train.py --config medium --steps 40
    python benchmarks/distributed_train.py --ranks 1 2 4 --rounds 3

Needs ``pip install 'chainrule[mpi]'``. See benchmarks/README.md for a recorded run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _common

CONFIGS: dict[str, dict[str, Any]] = {
    # the "large" and "medium" configurations of benchmarks/mlp_train.py
    "large": {"sizes": (2048, 2048, 2048, 2048, 10), "batch": 512, "lr": 1e-3},
    "medium": {"sizes": (784, 512, 512, 10), "batch": 128, "lr": 1e-3},
}


# --------------------------------------------------------------------- worker (one rank)
def worker(config_name: str, steps: int, warmup: int, out: Path) -> None:
    """Train ``warmup + steps`` steps with ``fit`` and write rank 0's step times as JSON."""
    _common.set_thread_env(1)
    import numpy as np

    from chainrule import nn
    from chainrule.distributed import launch_rank, launch_size
    from chainrule.optim import Adam
    from chainrule.train import Callback, fit

    config = CONFIGS[config_name]
    sizes, batch = config["sizes"], config["batch"]
    rng = np.random.default_rng(0)
    rows = batch * (warmup + steps)
    x = rng.normal(size=(rows, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=rows)
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    model.reset_parameters(0)

    class StepTimes(Callback):
        def __init__(self) -> None:
            self.ends: list[float] = []
            self.cpu: list[float] = []

        def on_epoch_begin(self, state: Any) -> None:
            self.ends.append(time.perf_counter())
            self.cpu.append(time.process_time())

        def on_batch_end(self, state: Any, logs: dict[str, float]) -> None:
            self.ends.append(time.perf_counter())
            self.cpu.append(time.process_time())

    times = StepTimes()
    waited = [0.0]
    import chainrule.distributed.context as context

    original_wait = context.MPIContext._wait

    def timed_wait(self: Any, requests: list[Any], what: str) -> None:
        started = time.perf_counter()
        original_wait(self, requests, what)
        waited[0] += time.perf_counter() - started

    context.MPIContext._wait = timed_wait  # type: ignore[method-assign]
    optimizer = Adam(model.parameters(), lr=config["lr"])
    optimizer_cpu = [0.0]
    adam_step = optimizer.step

    def timed_step(closure: Any = None) -> Any:
        started = time.process_time()
        result = adam_step(closure)
        optimizer_cpu[0] += time.process_time() - started
        return result

    optimizer.step = timed_step  # type: ignore[method-assign]
    limiter = _common.limit_threads(1)
    fit(
        model,
        "cross_entropy",
        optimizer,
        (x, y),
        epochs=1,
        batch_size=batch,
        shuffle=False,
        seed=0,
        verbose=0,
        callbacks=[times],
    )
    del limiter
    # The gradient sum alone (packing the buckets, allreduce, unpacking), the ranks started
    # together by a barrier: best of 10.
    alone = []
    world = context.from_environment()
    if world is not None:
        for _ in range(10):
            world.comm.Barrier()
            started = time.perf_counter()
            world._allreduce_gradients(optimizer, 0.0, 1.0)
            alone.append(time.perf_counter() - started)
    step_seconds = [b - a for a, b in itertools.pairwise(times.ends)][warmup:]
    cpu_seconds = [b - a for a, b in itertools.pairwise(times.cpu)][warmup:]
    if launch_rank() == 0:
        report = {
            "ranks": launch_size(),
            "batch": batch,
            "step_seconds": step_seconds,
            "cpu_seconds": cpu_seconds,
            "waited_per_step": waited[0] / (warmup + steps),
            "optimizer_per_step": optimizer_cpu[0] / (warmup + steps),
            "gradient_sum_alone": min(alone) if alone else None,
            "environment": _common.environment_report(1),
        }
        out.write_text(json.dumps(report))


# --------------------------------------------------------------------- driver
def _mpiexec() -> str:
    beside = Path(sys.executable).with_name("mpiexec")
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        sys.exit("distributed_train: no mpiexec found; pip install 'chainrule[mpi]'")
    return found


def run(ranks: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    worker_args = [
        sys.executable,
        __file__,
        "--worker",
        "--config",
        args.config,
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
        "--out",
        str(out),
    ]
    command = worker_args if ranks == 0 else [_mpiexec(), "-n", str(ranks), *worker_args]
    subprocess.run(command, check=True)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="large")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=12, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first steps")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs of each")
    parser.add_argument("--no-plain", action="store_true", help="skip the run without mpiexec")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.config, args.steps, args.warmup, args.out)
        return

    import tempfile

    counts = ([] if args.no_plain else [0]) + args.ranks
    medians: dict[int, list[float]] = {n: [] for n in counts}
    cpu: dict[int, list[float]] = {n: [] for n in counts}
    optimizer: dict[int, list[float]] = {n: [] for n in counts}
    alone: dict[int, list[float]] = {n: [] for n in counts}
    waits: dict[int, list[float]] = {n: [] for n in counts}
    environment: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            for n in counts if round_ % 2 == 0 else counts[::-1]:
                result = run(n, args, Path(folder) / "result.json")
                medians[n].append(statistics.median(result["step_seconds"]))
                waits[n].append(result["waited_per_step"])
                cpu[n].append(statistics.median(result["cpu_seconds"]))
                optimizer[n].append(result["optimizer_per_step"])
                if result["gradient_sum_alone"] is not None:
                    alone[n].append(result["gradient_sum_alone"])
                environment = result["environment"]
                label = "plain" if n == 0 else f"{n} rank(s)"
                print(f"round {round_ + 1}: {label}: {medians[n][-1]:.3f} s/step", file=sys.stderr)

    config = CONFIGS[args.config]
    widths = "-".join(str(s) for s in config["sizes"])
    print("\n".join(environment))
    print(
        f"config    {args.config}: {widths}, batch {config['batch']} (global), relu, CE, "
        f"Adam, float32; fit(shuffle=False), 1 thread per rank"
    )
    print(
        f"timing    {args.rounds} interleaved rounds x {args.steps} steps after {args.warmup} "
        f"warm-up steps; wall clock per step, median within a run, then median over rounds\n"
    )
    rows = []
    for n in counts:
        seconds, best = statistics.median(medians[n]), min(medians[n])
        efficiency = "-"
        if 1 in medians and n > 0:
            median_1, best_1 = statistics.median(medians[1]), min(medians[1])
            efficiency = f"{median_1 / (n * seconds):.0%} ({best_1 / (n * best):.0%})"
        rows.append(
            [
                "plain python (no mpiexec)" if n == 0 else f"mpiexec -n {n}",
                f"{seconds * 1000:.0f} ({best * 1000:.0f}-{max(medians[n]) * 1000:.0f})",
                f"{config['batch'] / seconds:.0f} ({config['batch'] / best:.0f})",
                f"{statistics.median(cpu[n]) * 1000:.0f}",
                f"{statistics.median(optimizer[n]) * 1000:.0f}",
                f"{statistics.median(waits[n]) * 1000:.0f}" if n > 1 else "-",
                f"{min(alone[n]) * 1000:.0f}" if alone[n] else "-",
                efficiency,
            ]
        )
    header = [
        "run",
        "ms/step (min-max)",
        "rows/s (best)",
        "rank-0 CPU ms/step",
        "of it Adam",
        "ms/step in collectives",
        "gradient sum alone",
        "efficiency (best)",
    ]
    print(_common.format_table(header, rows))
    print(
        "\nefficiency: throughput with N ranks / (N x throughput with 1 rank); in brackets from "
        "the best round of each.\nrank-0 CPU ms/step well below ms/step: the rank waited for a "
        "core held by another process (MPICH spins while it waits for the other ranks, so\nthat "
        "wait counts as CPU time). Adam: CPU time of the optimizer step, which every rank "
        "repeats on all the parameters.\ngradient sum alone: packing, allreduce and unpacking "
        "of all the gradients, ranks started together, best of 10 after training (ms)."
    )
    if 1 in cpu:
        total, repeated = statistics.median(cpu[1]), statistics.median(optimizer[1])
        bounds = ", ".join(
            f"{n} ranks {total / (n * (repeated + (total - repeated) / n)):.0%}"
            for n in counts
            if n > 1
        )
        print(
            f"bound from the 1-rank run, with free communication and an idle core per rank "
            f"(Amdahl: {repeated * 1000:.0f} of {total * 1000:.0f} ms is the optimizer step): "
            f"{bounds}"
        )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
