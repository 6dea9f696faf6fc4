"""Fit time of chainrule.sklearn's MLP against scikit-learn's, same settings, same data.

    python benchmarks/sklearn_fit.py                # 5 interleaved rounds, 1 thread
    python benchmarks/sklearn_fit.py --rounds 9 --threads 2
    python benchmarks/sklearn_fit.py --only early_stopping --no-float32

Each case fits a fresh estimator with a fixed ``random_state`` (or calls ``partial_fit`` on
one, mini-batch after mini-batch); with solver sgd or adam in float64 both libraries reach
the same weights (tests/sklearn checks it), so the times compare the same arithmetic. Beside
the digits cases: early stopping (a validation score each epoch), partial_fit on small
batches (where checking each call's data weighs as much as the step) and the smallest
datasets with default settings. The table shows medians over rounds (each round the best of
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


def _fitter(estimator: Any, how: Any, x: Any, y: Any) -> Any:
    """What one timed call does: ``fit``, or ``partial_fit`` over mini-batches of ``how[1]``
    rows, ``how[2]`` passes over the data (``classes`` given on the first call)."""
    if how == "fit":
        return lambda: estimator().fit(x, y)
    _, rows, passes = how

    def loop() -> Any:
        model = estimator()
        classes = sorted(set(y.tolist()))
        for _ in range(passes):
            for start in range(0, x.shape[0], rows):
                model.partial_fit(x[start : start + rows], y[start : start + rows], classes=classes)
        return model

    return loop


def _cases() -> list[tuple[str, Any, Any, dict[str, Any], Any]]:
    """(name, X, y, settings, how): ``how`` is "fit" or ("partial_fit", rows, passes)."""
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
        out.append((f"digits, {solver}", x_digits, digits.target, settings, "fit"))
    settings = {
        "hidden_layer_sizes": (256, 128),
        "solver": "adam",
        "random_state": 0,
        "max_iter": 3,
        "tol": 0.0,
    }
    out.append(("20000x100, (256, 128), adam", x_big, y_big, settings, "fit"))
    # Early stopping: a validation score and loss every epoch, and a copy of the best
    # weights; the default tol and n_iter_no_change end the fit (after the same epochs in
    # both libraries).
    for sizes in [(100,), (10,)]:
        settings = {"hidden_layer_sizes": sizes, "early_stopping": True, "random_state": 0}
        out.append(
            (f"digits, adam, early_stopping, {sizes}", x_digits, digits.target, settings, "fit")
        )
    # partial_fit in a loop over mini-batches: one optimizer step per call, so the cost of
    # a call (checking the data and parameters) weighs as much as the step itself.
    for rows in [32, 200]:
        settings = {"random_state": 0}
        how = ("partial_fit", rows, 3)
        out.append(
            (f"digits, partial_fit x{rows} rows, 3 passes", x_digits, digits.target, settings, how)
        )
    # The smallest datasets with default settings (max_iter=200, tol=1e-4, (100,)).
    small = [
        ("iris", datasets.load_iris()),
        ("wine", datasets.load_wine()),
        ("breast cancer", datasets.load_breast_cancer()),
    ]
    for name, data in small:
        x = StandardScaler().fit_transform(data.data)
        for solver in ["adam", "sgd"]:
            settings = {"solver": solver, "random_state": 0}
            out.append((f"{name}, {solver}, defaults", x, data.target, settings, "fit"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", default="auto", choices=["auto", "cpu", "wall"])
    parser.add_argument(
        "--only", default="", help="run only the cases whose name contains this text"
    )
    parser.add_argument("--no-float32", action="store_true", help="leave out chainrule float32")
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
    for name, x, y, settings, how in _cases():
        if args.only not in name:
            continue
        ours64 = Case(
            "chainrule float64", _fitter(lambda s=settings: MLPClassifier(**s), how, x, y)
        )
        ours32 = Case(
            "chainrule float32",
            _fitter(lambda s=settings: MLPClassifier(**s, dtype="float32"), how, x, y),
        )
        theirs = Case("scikit-learn", _fitter(lambda s=settings: SkMLP(**s), how, x, y))
        cases = [ours64, theirs] if args.no_float32 else [ours64, ours32, theirs]
        run_interleaved(cases, args.rounds, args.repeat, min_time=0.0, clock=clock)
        row = [
            name,
            f"{theirs.median:.3f}",
            f"{ours64.median:.3f}",
            f"{median_ratio(theirs, ours64):.2f}x",
        ]
        if not args.no_float32:
            row += [f"{ours32.median:.3f}", f"{median_ratio(theirs, ours32):.2f}x"]
        rows.append(row)
        print(f"done: {name}", file=sys.stderr)
    header = ["fit", "scikit-learn s", "chainrule f64 s", "speed-up"]
    if not args.no_float32:
        header += ["chainrule f32 s", "speed-up"]
    print(format_table(header, rows))


if __name__ == "__main__":
    main()
