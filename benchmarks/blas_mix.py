"""Two BLAS libraries in one process: chainrule's products in MKL, a user's in NumPy's OpenBLAS.

With the ``fast`` extra chainrule computes large products in MKL (``chainrule._blas``)
while NumPy keeps OpenBLAS. Each library has its own thread pool, and a pool whose idle
threads spin holds cores that the other one needs. This script times, with the same
threads for both libraries:

- ``MKL alone``: chainrule's product of a (256, 784) batch and a (512, 784) weight, as a
  ``Linear`` layer computes it;
- ``MKL + NumPy``: the same, each time followed by a NumPy product that OpenBLAS runs on
  all its threads: a 10-class output layer on a batch of 128, ``h @ v.T`` with h (128, 512)
  and v (10, 512), 655k multiply-adds (as a user's own NumPy code might compute it);
- ``NumPy alone``: that NumPy product by itself;

and reports how much longer the pair takes than its two parts alone. libgomp's spinning,
under which MKL's threads run, is set by ``GOMP_SPINCOUNT`` when libgomp loads: chainrule
sets 10,000 rounds around its own load of libgomp where the user has not chosen; run with
``GOMP_SPINCOUNT=300000`` (libgomp's default) to see what that setting saves.

    python benchmarks/blas_mix.py --threads 2
    GOMP_SPINCOUNT=300000 python benchmarks/blas_mix.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # after the path, and before NumPy (thread variables)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for both libraries")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    args = parser.parse_args(argv)

    _common.set_thread_env(args.threads)
    import numpy as np

    from chainrule import _blas

    limiter = _common.limit_threads(args.threads)  # noqa: F841 - keeps the limits in force
    print("\n".join(_common.environment_report(args.threads)))
    spin = os.environ.get(
        "GOMP_SPINCOUNT", f"{_blas.SPIN_COUNT} (chainrule's, where it loads libgomp)"
    )
    print(f"spin      GOMP_SPINCOUNT={spin}")
    if not _blas.enabled():
        print("MKL is not in use here (install chainrule[fast] on x86-64 Linux): nothing to mix")
        return

    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 784)).astype(np.float32)
    w = rng.standard_normal((512, 784)).astype(np.float32)
    h = rng.standard_normal((128, 512)).astype(np.float32)
    v = rng.standard_normal((10, 512)).astype(np.float32)

    def mkl() -> None:
        _blas.matmul(x, w.T)

    def numpy() -> None:
        np.matmul(h, v.T)

    def both() -> None:
        mkl()
        numpy()

    cases = [
        _common.Case("MKL alone", mkl),
        _common.Case("NumPy alone", numpy),
        _common.Case("MKL + NumPy", both),
    ]
    clock = _common.pick_clock("auto", args.threads)
    _common.run_interleaved(cases, rounds=args.rounds, repeat=3, min_time=0.1, clock=clock)
    rows = [[case.key, f"{case.median * 1e6:.0f}"] for case in cases]
    print()
    print(_common.format_table(["case", "us per call"], rows))
    parts = cases[0].median + cases[1].median
    print(f"\nMKL + NumPy takes {cases[2].median / parts:.2f}x its two parts alone ({clock} clock)")


if __name__ == "__main__":
    main()
