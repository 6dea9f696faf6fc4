"""Fit time of chainrule.sklearn's MLP against scikit-learn's, same settings, same data.

    python benchmarks/sklearn_fit.py                # 5 interleaved rounds, 1 thread
    python benchmarks/sklearn_fit.py --rounds 9 --threads 2

Each case fits a fresh estimator with a fixed ``random_state``; with solver sgd or adam in
float64 both libraries reach the same weights (tests/sklearn checks it), so the times compare
the same arithmetic. The table shows medians over rounds (each round the best of
``--repeat`` fits) and the median of per-round ratios, scikit-learn time / chainrule time:
above 1 means chainrule is faster.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (
    Case,
    environment_report,
    format_table,
    limit_threads,
    median_ratio,
    pick_clock,
    run_interleaved,
    set_thread_env,
)


def _cases() -> list[tuple[str, Any, Any, dict[str, Any]]]:
    import numpy as np
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    digits = datasets.load_digits()
    x_digits = StandardScaler().fit_transform(digits.data)
    rng = np.random.default_rng(0)
    x_big = rng.normal(size=(20000, 100))
    y_big = (x_big[:, :5].sum(axis=1) > 0).astype(int)
    out = []
    for solver, extra in [
        ("adam", {"max_iter": 30}),
        ("sgd", {"max_iter": 30}),
        ("lbfgs", {"max_iter": 60}),
    ]:
        settings = {
            "hidden_layer_sizes": (100,),
            "solver": solver,
            "random_state": 0,
            "tol": 0.0,
            **extra,
        }
        out.append((f"digits, {solver}", x_digits, digits.target, settings))
    settings = {
        "hidden_layer_sizes": (256, 128),
        "solver": "adam",
        "random_state": 0,
        "max_iter": 3,
        "tol": 0.0,
    }
    out.append(("20000x100, (256, 128), adam", x_big, y_big, settings))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", default="auto", choices=["auto", "cpu", "wall"])
    args = parser.parse_args()
    set_thread_env(args.threads)

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as SkMLP

    from chainrule.sklearn import MLPClassifier

    limiter = limit_threads(args.threads)  # noqa: F841 - keeps the limits in force
    warnings.simplefilter("ignore", ConvergenceWarning)
    clock = pick_clock(args.clock, args.threads)
    print("\n".join(environment_report(args.threads)))
    print(f"clock     {clock}; {args.rounds} rounds, best of {args.repeat} per round\n")

    rows = []
    for name, x, y, settings in _cases():
        ours64 = Case(
            "chainrule float64", lambda s=settings, x=x, y=y: MLPClassifier(**s).fit(x, y)
        )
        ours32 = Case(
            "chainrule float32",
            lambda s=settings, x=x, y=y: MLPClassifier(**s, dtype="float32").fit(x, y),
        )
        theirs = Case("scikit-learn", lambda s=settings, x=x, y=y: SkMLP(**s).fit(x, y))
        run_interleaved(
            [ours64, ours32, theirs], args.rounds, args.repeat, min_time=0.0, clock=clock
        )
        rows.append(
            [
                name,
                f"{theirs.median:.3f}",
                f"{ours64.median:.3f}",
                f"{median_ratio(theirs, ours64):.2f}x",
                f"{ours32.median:.3f}",
                f"{median_ratio(theirs, ours32):.2f}x",
            ]
        )
        print(f"done: {name}", file=sys.stderr)
    header = ["fit", "scikit-learn s", "chainrule f64 s", "speed-up", "chainrule f32 s", "speed-up"]
    print(format_table(header, rows))


if __name__ == "__main__":
    main()
