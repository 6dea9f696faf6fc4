"""Instructions per train step, counted by valgrind: a measure of overhead that noise can't move.

On a shared two-core machine the timed benchmarks move by 10-30% from run to run, more than
most changes to chainrule's per-op bookkeeping are worth. The number of instructions a step
executes does not move: valgrind's callgrind counts them exactly, whatever else runs. For the
small networks, where Python's bookkeeping rather than the matrix products sets the pace,
that count is the figure to compare before and after a change (and an estimate of time: the
interpreter runs at about 2 instructions per nanosecond here, BLAS kernels at several).

Each library's step (the runners of ``mlp_train.py``: same weights, batches and loop) runs
in two child processes under callgrind, with the same set-up and warm-up and a different
number of steps; the difference of the two totals over the difference in steps is the
count per step, start-up and imports cancelled out. One thread, and ``PYTHONHASHSEED=0``
unless set (with a fresh hash seed per run, one version's tiny step counted 519,773 and
531,046: 2%). Needs ``valgrind`` (Debian: ``apt-get install valgrind``); tiny and small for
chainrule and NumPy took 14 minutes with 100 and 400 steps on a busy machine.

Usage::

    python benchmarks/step_instructions.py                     # tiny and small
    python benchmarks/step_instructions.py --configs tiny --libraries chainrule
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import _common

WARMUP = 20
"""Steps every child takes before the counted ones (first-use costs: caches, lazy imports)."""


def child(library: str, config_name: str, steps: int) -> None:
    """Set up ``library`` on ``config_name`` and take WARMUP + ``steps`` steps."""
    _common.set_thread_env(1)
    import mlp_train

    config = mlp_train.CONFIGS[config_name]
    runner = mlp_train.MAKERS[library](config, mlp_train.make_data(config))
    for _ in range(WARMUP + steps):
        runner.call()


def count(library: str, config_name: str, steps: int) -> int:
    """The instructions of a whole child process that takes ``steps`` counted steps."""
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={os.path.join(folder, 'callgrind.out')}",
                sys.executable,
                __file__,
                "--child",
                library,
                config_name,
                str(steps),
            ],
            capture_output=True,
            text=True,
            check=False,
            # Python's string hashes are salted per process, which moves a step's count by a
            # few thousand instructions (dict probes): one fixed seed makes runs comparable.
            env={**os.environ, "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")},
        )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or found is None:
        raise RuntimeError(
            f"{library} on {config_name} under valgrind failed (exit {result.returncode}):\n"
            f"{result.stderr[-2000:]}"
        )
    return int(found.group(1))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configs", default="tiny,small", help="of mlp_train.py's (default tiny,small)"
    )
    parser.add_argument(
        "--libraries",
        default="chainrule,numpy",
        help="of mlp_train.py's (default chainrule,numpy; torch works, slowly)",
    )
    parser.add_argument(
        "--steps",
        default="50,250",
        help="the two step counts whose difference is counted (default 50,250)",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        library, config_name, steps = args.child
        child(library, config_name, int(steps))
        return
    if shutil.which("valgrind") is None:
        sys.exit("step_instructions: valgrind is not on PATH (Debian: apt-get install valgrind)")
    few, many = (int(n) for n in args.steps.split(","))
    if not 0 <= few < many:
        sys.exit(f"step_instructions: --steps must be two counts, smaller first; got {args.steps}")
    libraries = [name.strip() for name in args.libraries.split(",") if name.strip()]
    print(f"instructions per train step (valgrind callgrind; {many} - {few} steps, 1 thread)\n")
    print(f"{'config':<8} {'library':<14} {'per step':>12} {'/ NumPy by hand':>16}")
    for config_name in (name.strip() for name in args.configs.split(",")):
        per_step = {
            library: (count(library, config_name, many) - count(library, config_name, few))
            / (many - few)
            for library in libraries
        }
        for library, instructions in per_step.items():
            ratio = ""
            if "numpy" in per_step:
                ratio = f"{instructions / per_step['numpy']:.2f}"
            print(f"{config_name:<8} {library:<14} {instructions:>12,.0f} {ratio:>16}")


if __name__ == "__main__":
    main()
