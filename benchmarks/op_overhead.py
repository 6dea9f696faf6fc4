"""Per-op overhead of chainrule against PyTorch eager and hand-written NumPy, in one run.

Three measurements, float32, the same thread count for every library (1 by default):

(a) a tiny op, where the Python bookkeeping is the whole cost: ``a + b`` on 4x4 tensors,
    without grad, recording the graph, and ``(a + b).sum().backward()``;
(b) one SGD train step of a small MLP (64x784 batch, Linear(784, 128), ReLU,
    Linear(128, 10), cross-entropy as log_softmax and indexing), same weights and batch;
(c) the same step written by hand in NumPy: the floor that an autograd library adds to.

Cases are timed in interleaved rounds; the table shows medians over rounds and the ratio
chainrule/PyTorch. Run ``python benchmarks/op_overhead.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import _common

BATCH, N_IN, N_HIDDEN, N_OUT = 64, 784, 128, 10
LR = 0.01
SEED = 0

Step = Callable[[], Any]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _common.add_timing_options(parser, min_time=0.05)
    parser.add_argument(
        "--clock",
        choices=["auto", "cpu", "wall"],
        default="auto",
        help="cpu: this process's CPU time, blind to waits for a busy core; wall: elapsed "
        "time; auto (default): cpu with one thread, wall with more",
    )
    parser.add_argument(
        "--no-torch", action="store_true", help="skip PyTorch even if it is installed"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, cProfile chainrule's (a + b).sum().backward() and print the top",
    )
    args = parser.parse_args(argv)
    _common.check_timing_options(parser, args)
    return args


# --------------------------------------------------------------------- data
def make_data() -> dict[str, Any]:
    """The tiny operands, the MLP's initial weights (PyTorch's default init) and one batch."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    f32 = np.float32

    def uniform(bound: float, shape: tuple[int, ...]) -> Any:
        return rng.uniform(-bound, bound, size=shape).astype(f32)

    b1, b2 = 1 / np.sqrt(N_IN), 1 / np.sqrt(N_HIDDEN)
    return {
        "a": rng.standard_normal((4, 4), dtype=f32),
        "b": rng.standard_normal((4, 4), dtype=f32),
        "params": [
            uniform(b1, (N_HIDDEN, N_IN)),
            uniform(b1, (N_HIDDEN,)),
            uniform(b2, (N_OUT, N_HIDDEN)),
            uniform(b2, (N_OUT,)),
        ],
        "x": rng.standard_normal((BATCH, N_IN), dtype=f32),
        "labels": rng.integers(0, N_OUT, size=BATCH, dtype=np.int64),
    }


# --------------------------------------------------------------------- chainrule
def chainrule_tiny(data: dict[str, Any]) -> dict[str, Step]:
    import chainrule as cr

    a = cr.tensor(data["a"], requires_grad=True)
    b = cr.tensor(data["b"], requires_grad=True)
    a_const, b_const = cr.tensor(data["a"]), cr.tensor(data["b"])

    def forward() -> Any:
        return a_const + b_const

    def forward_graph() -> Any:
        return a + b

    def forward_backward() -> None:
        a.grad = None
        b.grad = None
        (a + b).sum().backward()

    return {"fwd": forward, "graph": forward_graph, "fwd_bwd": forward_backward}


def chainrule_mlp(data: dict[str, Any]) -> tuple[Step, list[Any]]:
    """A train step and the parameter arrays it updates in place."""
    import chainrule as cr

    params = [cr.tensor(p, requires_grad=True) for p in data["params"]]
    x, labels = cr.tensor(data["x"]), cr.tensor(data["labels"])
    rows = cr.arange(BATCH)

    def step() -> float:
        w1, b1, w2, b2 = params
        hidden = cr.relu(cr.linear(x, w1, b1))
        log_probs = cr.log_softmax(cr.linear(hidden, w2, b2), axis=1)
        loss = -log_probs[rows, labels].mean()
        loss.backward()
        with cr.no_grad():
            for p in params:
                p.sub_(p.grad, alpha=LR)
                p.grad = None
        return loss

    return step, [p.data for p in params]


# --------------------------------------------------------------------- PyTorch
def torch_tiny(data: dict[str, Any]) -> dict[str, Step]:
    import torch

    a = torch.from_numpy(data["a"].copy()).requires_grad_()
    b = torch.from_numpy(data["b"].copy()).requires_grad_()
    a_const, b_const = torch.from_numpy(data["a"].copy()), torch.from_numpy(data["b"].copy())

    def forward() -> Any:
        return a_const + b_const

    def forward_graph() -> Any:
        return a + b

    def forward_backward() -> None:
        a.grad = None
        b.grad = None
        (a + b).sum().backward()

    return {"fwd": forward, "graph": forward_graph, "fwd_bwd": forward_backward}


def torch_mlp(data: dict[str, Any]) -> tuple[Step, list[Any]]:
    import torch
    import torch.nn.functional as F

    params = [torch.from_numpy(p.copy()).requires_grad_() for p in data["params"]]
    x, labels = torch.from_numpy(data["x"].copy()), torch.from_numpy(data["labels"].copy())
    rows = torch.arange(BATCH)

    def step() -> Any:
        w1, b1, w2, b2 = params
        hidden = F.relu(F.linear(x, w1, b1))
        log_probs = F.log_softmax(F.linear(hidden, w2, b2), dim=1)
        loss = -log_probs[rows, labels].mean()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p.sub_(p.grad, alpha=LR)
                p.grad = None
        return loss

    return step, [p.detach().numpy() for p in params]


# --------------------------------------------------------------------- NumPy floor
def numpy_tiny(data: dict[str, Any]) -> dict[str, Step]:
    import numpy as np

    a, b = data["a"].copy(), data["b"].copy()

    def forward() -> Any:
        return a + b

    def forward_backward() -> Any:
        total = (a + b).sum()
        return total, np.ones_like(a), np.ones_like(b)  # the loss, d(loss)/da, d(loss)/db

    return {"fwd": forward, "fwd_bwd": forward_backward}


def numpy_mlp(data: dict[str, Any]) -> tuple[Step, list[Any]]:
    """The MLP step with forward and backward written out by hand."""
    import numpy as np

    params = [p.copy() for p in data["params"]]
    x, labels = data["x"], data["labels"]
    rows = np.arange(BATCH)

    def step() -> float:
        w1, b1, w2, b2 = params
        pre = x @ w1.T
        pre += b1
        hidden = np.maximum(pre, 0)
        logits = hidden @ w2.T
        logits += b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        loss = -(shifted[rows, labels] - np.log(total[:, 0])).mean()
        # d loss / d logits = (softmax - one_hot) / batch
        grad_logits = exp / total
        grad_logits[rows, labels] -= 1
        grad_logits /= BATCH
        grad_w2 = grad_logits.T @ hidden
        grad_b2 = grad_logits.sum(axis=0)
        grad_hidden = grad_logits @ w2
        grad_hidden *= pre > 0
        grad_w1 = grad_hidden.T @ x
        grad_b1 = grad_hidden.sum(axis=0)
        for p, g in zip(params, (grad_w1, grad_b1, grad_w2, grad_b2), strict=True):
            p -= LR * g
        return float(loss)

    return step, params


# --------------------------------------------------------------------- checks
def check_same_step(data: dict[str, Any], makers: dict[str, Any]) -> str:
    """Run one MLP step per library from the same start; they must agree."""
    import numpy as np

    results = {}
    for name, make in makers.items():
        step, arrays = make(data)
        loss = step()
        loss = float(loss.item() if hasattr(loss, "item") else loss)
        results[name] = (loss, [a.copy() for a in arrays])
    reference_loss, reference = results["numpy"]
    for name, (loss, arrays) in results.items():
        same = np.isclose(loss, reference_loss, rtol=1e-4) and all(
            np.allclose(a, r, rtol=1e-4, atol=1e-6) for a, r in zip(arrays, reference, strict=True)
        )
        if not same:
            raise SystemExit(
                f"op_overhead: {name}'s MLP step disagrees with hand-written NumPy "
                f"(loss {loss} vs {reference_loss}); the timings would not compare like with like"
            )
    losses = ", ".join(f"{name} {loss:.6f}" for name, (loss, _) in results.items())
    return f"check     one MLP step agrees across libraries (loss {losses})"


# --------------------------------------------------------------------- report
ROWS = [
    ("fwd", "(a) a + b, 4x4, no grad", 1),
    ("graph", "(a) a + b, 4x4, recording the graph", 1),
    ("fwd_bwd", "(a) (a + b).sum().backward()", 2),
    ("mlp", "(b/c) MLP train step, 64x784 -> 128 -> 10", 7),
]
LIBRARIES = ("chainrule", "torch", "numpy")


def _us(seconds: float) -> str:
    microseconds = seconds * 1e6
    return f"{microseconds:.1f}" if microseconds < 100 else f"{microseconds:.0f}"


def _microseconds(case: _common.Case | None) -> str:
    if case is None:
        return "-"
    return f"{_us(case.median)} ({_us(min(case.per_round))}-{_us(max(case.per_round))})"


def results_table(cases: dict[tuple[str, str], _common.Case]) -> str:
    header = [
        "case",
        "ops",
        "chainrule us",
        "PyTorch us",
        "NumPy us",
        "chainrule/PyTorch",
        "chainrule us/op",
        "PyTorch us/op",
    ]
    rows = []
    for key, label, n_ops in ROWS:
        mine, theirs = cases.get((key, "chainrule")), cases.get((key, "torch"))
        numpy_case = cases.get((key, "numpy"))
        ratio = f"{_common.median_ratio(mine, theirs):.2f}x" if mine and theirs else "-"
        per_op = key != "mlp"
        rows.append(
            [
                label,
                str(n_ops),
                _microseconds(mine),
                _microseconds(theirs),
                _microseconds(numpy_case),
                ratio,
                f"{mine.median * 1e6 / n_ops:.1f}" if mine and per_op else "",
                f"{theirs.median * 1e6 / n_ops:.1f}" if theirs and per_op else "",
            ]
        )
    return _common.format_table(header, rows)


def profile_tiny(data: dict[str, Any], iterations: int = 20000) -> None:
    """cProfile of chainrule's tiny forward+backward, heaviest functions first."""
    import cProfile
    import pstats

    step = chainrule_tiny(data)["fwd_bwd"]
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(iterations):
        step()
    profiler.disable()
    print(f"\ncProfile of chainrule (a + b).sum().backward(), {iterations} iterations:")
    print("(cProfile inflates every Python call; read the shares, not the absolute times)")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(18)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    _common.set_thread_env(args.threads)

    import chainrule  # noqa: F401 - imported now, after the thread variables are set

    have_torch = False
    if not args.no_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("PyTorch is not installed: measuring chainrule and NumPy only.\n")
        else:
            have_torch = True
    limiter = _common.limit_threads(args.threads)  # noqa: F841 - keeps the limits in force

    data = make_data()
    mlp_makers: dict[str, Any] = {"numpy": numpy_mlp, "chainrule": chainrule_mlp}
    tiny_makers: dict[str, Any] = {"numpy": numpy_tiny, "chainrule": chainrule_tiny}
    if have_torch:
        mlp_makers["torch"] = torch_mlp
        tiny_makers["torch"] = torch_tiny
    check = check_same_step(data, mlp_makers)

    cases: dict[tuple[str, str], _common.Case] = {}
    for library, make in tiny_makers.items():
        for key, fn in make(data).items():
            cases[key, library] = _common.Case(f"{key}/{library}", fn)
    for library, make in mlp_makers.items():
        cases["mlp", library] = _common.Case(f"mlp/{library}", make(data)[0])

    print("\n".join(_common.environment_report(args.threads)))
    print(check)
    clock = _common.pick_clock(args.clock, args.threads)
    print(
        f"timing    {args.rounds} interleaved rounds x {args.repeat} batches of >= "
        f"{args.min_time * 1000:.0f} ms per case, {clock} clock; float32\n",
        flush=True,
    )
    _common.run_interleaved(
        list(cases.values()), args.rounds, args.repeat, args.min_time, clock=clock
    )
    print("median microseconds per iteration (min-max over rounds); ratio = median of per-round")
    print("ratios; ops = graph nodes (forward and backward each run once per node)\n")
    print(results_table(cases))
    if args.profile:
        profile_tiny(data)


if __name__ == "__main__":
    main()
