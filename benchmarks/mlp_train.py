"""MLP train steps, samples per second: chainrule against PyTorch, scikit-learn and NumPy.

This file is long because it is one comparison: the four configurations of the speed
issue, written once for each library (chainrule, PyTorch eager with its default and its
fused/foreach Adam, scikit-learn's MLP, and the same step written out by hand in NumPy),
a check that every library takes the same step from the same start, the interleaved timing,
the GEMM peak, and the memory of each library measured in a process of its own.

Usage::

    python benchmarks/mlp_train.py                       # tiny, small, medium; ~2 min
    python benchmarks/mlp_train.py --configs large --rounds 3
    python benchmarks/mlp_train.py --configs all --threads 2
    python benchmarks/mlp_train.py --help                # libraries, rounds, memory, profile

See benchmarks/README.md for the method and a recorded run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import _common

SEED = 0


@dataclass(frozen=True)
class Config:
    """One network and its training setup."""

    name: str
    sizes: tuple[int, ...]  # input width, hidden widths..., output width
    batch: int
    activation: str  # "tanh" or "relu", after every layer but the last
    loss: str  # "mse" (regression, one output) or "ce" (cross-entropy over classes)
    optimizer: str  # "sgd" (plain) or "adam"
    lr: float
    pool: int  # batches in the data pool that the steps cycle through

    @property
    def layers(self) -> list[tuple[int, int]]:
        return list(zip(self.sizes[:-1], self.sizes[1:], strict=True))

    def flops_per_step(self) -> float:
        """Matrix-product FLOPs of one step: the forward product of each layer, the weight
        gradient of each layer, and the input gradient of every layer but the first."""
        products = [2.0 * self.batch * n_in * n_out for n_in, n_out in self.layers]
        return 2 * sum(products) + sum(products[1:])

    def describe(self) -> str:
        widths = "-".join(str(n) for n in self.sizes)
        return (
            f"{widths}, batch {self.batch}, {self.activation}, {self.loss.upper()}, "
            f"{self.optimizer.upper() if self.optimizer == 'sgd' else 'Adam'}"
        )


CONFIGS = {
    "tiny": Config("tiny", (13, 32, 1), 32, "tanh", "mse", "sgd", 0.01, 32),
    "small": Config("small", (784, 128, 10), 64, "relu", "ce", "sgd", 0.01, 16),
    "medium": Config("medium", (784, 512, 512, 10), 128, "relu", "ce", "adam", 1e-3, 8),
    "large": Config("large", (2048, 2048, 2048, 2048, 10), 512, "relu", "ce", "adam", 1e-3, 4),
}
DEFAULT_CONFIGS = ("tiny", "small", "medium")

LIBRARIES = (
    "chainrule",
    "chainrule-compiled",
    "torch",
    "torch-foreach",
    "torch-fused",
    "sklearn",
    "numpy",
)
LIBRARY_LABELS = {
    "chainrule": "chainrule",
    "chainrule-compiled": "chainrule, compile_step",
    "torch": "PyTorch eager",
    "torch-foreach": "PyTorch, foreach Adam",
    "torch-fused": "PyTorch, fused Adam",
    "sklearn": "scikit-learn MLP",
    "numpy": "NumPy by hand",
}


def applies(library: str, config: Config) -> bool:
    """Whether ``library`` has a distinct entry for ``config`` (foreach and fused: Adam)."""
    return config.optimizer == "adam" or library not in ("torch-foreach", "torch-fused")


# --------------------------------------------------------------------- data
def make_data(config: Config) -> dict[str, Any]:
    """Initial weights (PyTorch's default uniform init, drawn with NumPy) and the batches.

    Everything is drawn in float32 directly, so that no float64 copy inflates the memory a
    child process measures before the library starts.
    """
    import numpy as np

    rng = np.random.default_rng(SEED)
    f32 = np.float32

    def uniform(bound: float, shape: tuple[int, ...]) -> Any:
        values = rng.random(shape, dtype=f32)
        values *= 2 * bound
        values -= bound
        return values

    params = []
    for n_in, n_out in config.layers:
        bound = 1 / np.sqrt(n_in)
        params += [uniform(bound, (n_out, n_in)), uniform(bound, (n_out,))]
    n = config.batch * config.pool
    x = rng.standard_normal((n, config.sizes[0]), dtype=f32)
    if config.loss == "ce":
        y = rng.integers(0, config.sizes[-1], size=n, dtype=np.int64)
    else:
        y = rng.standard_normal((n, config.sizes[-1]), dtype=f32)
    batches = [
        (x[i : i + config.batch], y[i : i + config.batch]) for i in range(0, n, config.batch)
    ]
    return {"params": params, "x": x, "y": y, "batches": batches}


@dataclass
class Runner:
    """One library set up for one config: ``call()`` runs ``steps_per_call`` train steps."""

    call: Callable[[], Any]
    params: Callable[[], list[Any]]  # the parameters as NumPy arrays (W as (out, in))
    steps_per_call: int = 1
    loss: Callable[[], float] | None = None  # the loss of the last step, where kept
    first_step: Callable[[], Any] | None = None  # one step alone, where a call takes several


def _cycle(batches: list[Any]) -> Callable[[], Any]:
    position = [0]

    def next_batch() -> Any:
        batch = batches[position[0]]
        position[0] = (position[0] + 1) % len(batches)
        return batch

    return next_batch


# --------------------------------------------------------------------- chainrule
def chainrule_runner(config: Config, data: dict[str, Any], variant: str = "") -> Runner:
    """The loop a chainrule user writes: Sequential, a loss module, an optimizer; with
    ``variant`` "compiled", the same three given to ``chainrule.compile_step``."""
    import chainrule as cr
    from chainrule import nn, optim

    layers: list[Any] = []
    for k, (n_in, n_out) in enumerate(config.layers):
        linear = nn.Linear(n_in, n_out, generator=0)
        linear.weight.data[...] = data["params"][2 * k]
        linear.bias.data[...] = data["params"][2 * k + 1]
        layers.append(linear)
        if k < len(config.layers) - 1:
            layers.append(nn.Tanh() if config.activation == "tanh" else nn.ReLU())
    model = nn.Sequential(*layers)
    loss_fn = nn.MSELoss() if config.loss == "mse" else nn.CrossEntropyLoss()
    if config.optimizer == "sgd":
        opt: Any = optim.SGD(model.parameters(), lr=config.lr)
    else:
        opt = optim.Adam(model.parameters(), lr=config.lr)
    next_batch = _cycle([(cr.tensor(x), cr.tensor(y)) for x, y in data["batches"]])
    last: list[Any] = [None]
    compiled = cr.compile_step(model, loss_fn, opt) if variant == "compiled" else None

    def step() -> None:
        x, y = next_batch()
        if compiled is not None:
            last[0] = compiled(x, y)
            return
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        last[0] = loss

    return Runner(
        step,
        lambda: [p.data for p in model.parameters()],
        loss=lambda: float(last[0].item()),
    )


# --------------------------------------------------------------------- PyTorch
def torch_runner(config: Config, data: dict[str, Any], variant: str = "") -> Runner:
    """The same loop in PyTorch; ``variant`` "foreach" or "fused" picks Adam's kernel."""
    import torch
    from torch import nn

    layers: list[Any] = []
    for k, (n_in, n_out) in enumerate(config.layers):
        linear = nn.Linear(n_in, n_out)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(data["params"][2 * k]))
            linear.bias.copy_(torch.from_numpy(data["params"][2 * k + 1]))
        layers.append(linear)
        if k < len(config.layers) - 1:
            layers.append(nn.Tanh() if config.activation == "tanh" else nn.ReLU())
    model = nn.Sequential(*layers)
    loss_fn = nn.MSELoss() if config.loss == "mse" else nn.CrossEntropyLoss()
    if config.optimizer == "sgd":
        opt: Any = torch.optim.SGD(model.parameters(), lr=config.lr)
    else:
        options = {"foreach": True} if variant == "foreach" else {}
        if variant == "fused":
            options = {"fused": True}
        opt = torch.optim.Adam(model.parameters(), lr=config.lr, **options)
    batches = [(torch.from_numpy(x.copy()), torch.from_numpy(y.copy())) for x, y in data["batches"]]
    next_batch = _cycle(batches)
    last: list[Any] = [None]

    def step() -> None:
        x, y = next_batch()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        last[0] = loss

    return Runner(
        step,
        lambda: [p.detach().numpy() for p in model.parameters()],
        loss=lambda: float(last[0].item()),
    )


# --------------------------------------------------------------------- scikit-learn
def sklearn_runner(config: Config, data: dict[str, Any], variant: str = "") -> Runner:
    """scikit-learn's MLP, one ``partial_fit`` per pass over the pool (its own batching).

    Its squared error is halved (``mean((y - p)**2) / 2``), so plain SGD gets twice the
    learning rate to take PyTorch's steps; its L2 penalty, momentum and learning-rate
    schedule are switched off.
    """
    import numpy as np
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    common = {
        "hidden_layer_sizes": config.sizes[1:-1],
        "activation": config.activation,
        "solver": config.optimizer,
        "alpha": 0.0,
        "batch_size": config.batch,
        "learning_rate_init": config.lr * (2 if config.loss == "mse" else 1),
        "shuffle": False,
        "random_state": SEED,
    }
    if config.optimizer == "sgd":
        common.update(momentum=0.0, nesterovs_momentum=False, learning_rate="constant")
    model: Any = MLPRegressor(**common) if config.loss == "mse" else MLPClassifier(**common)
    x, y = data["x"], data["y"]
    y = y[:, 0] if config.loss == "mse" else y
    first_x, first_y = data["batches"][0][0], y[: config.batch]
    extra = {"classes": np.arange(config.sizes[-1])} if config.loss == "ce" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.partial_fit(first_x, first_y, **extra)  # builds the layers
    model.coefs_ = [data["params"][2 * k].T.copy() for k in range(len(config.layers))]
    model.intercepts_ = [data["params"][2 * k + 1].copy() for k in range(len(config.layers))]
    del model._optimizer  # the next partial_fit starts a fresh optimizer from these weights

    def epoch() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.partial_fit(x, y)

    def first_step_loss() -> float:
        return float(model.loss_) * (2 if config.loss == "mse" else 1)  # halved, see above

    def params() -> list[Any]:
        out = []
        for w, b in zip(model.coefs_, model.intercepts_, strict=True):
            out += [w.T, b]
        return out

    return Runner(
        epoch,
        params,
        steps_per_call=config.pool,
        loss=first_step_loss,
        first_step=lambda: model.partial_fit(first_x, first_y),
    )


# --------------------------------------------------------------------- NumPy by hand
def numpy_runner(config: Config, data: dict[str, Any], variant: str = "") -> Runner:
    """Forward, backward and update written out by hand: the floor an autograd library adds
    its overhead to. In place where a careful hand would write it so."""
    import numpy as np

    params = [p.copy() for p in data["params"]]
    n_layers = len(config.layers)
    next_batch = _cycle(data["batches"])
    relu = config.activation == "relu"
    adam = config.optimizer == "adam"
    moments = [(np.zeros_like(p), np.zeros_like(p), np.empty_like(p)) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    t = [0]
    last: list[Any] = [None]

    def step() -> None:
        x, y = next_batch()
        batch = x.shape[0]
        activations = [x]
        for k in range(n_layers):
            w, b = params[2 * k], params[2 * k + 1]
            z = activations[-1] @ w.T
            z += b
            if k < n_layers - 1:
                z = np.maximum(z, 0, out=z) if relu else np.tanh(z, out=z)
            activations.append(z)
        out = activations[-1]
        if config.loss == "ce":
            out -= out.max(axis=1, keepdims=True)
            np.exp(out, out=out)
            out /= out.sum(axis=1, keepdims=True)  # now the softmax probabilities
            rows = np.arange(batch)
            last[0] = -np.log(out[rows, y]).mean()
            out[rows, y] -= 1
            out /= batch
            grad = out
        else:
            grad = out - y
            last[0] = float(np.mean(grad * grad))
            grad *= 2 / grad.size
        grads: list[Any] = [None] * len(params)
        for k in reversed(range(n_layers)):
            a = activations[k]
            grads[2 * k] = grad.T @ a
            grads[2 * k + 1] = grad.sum(axis=0)
            if k > 0:
                grad = grad @ params[2 * k]
                if relu:
                    grad *= a > 0
                else:
                    grad *= 1 - a * a
        if adam:
            t[0] += 1
            c1, c2 = 1 - beta1 ** t[0], (1 - beta2 ** t[0]) ** 0.5
            for p, g, (m, v, scratch) in zip(params, grads, moments, strict=True):
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                np.multiply(g, g, out=scratch)
                scratch *= 1 - beta2
                v += scratch
                np.sqrt(v, out=scratch)
                scratch /= c2
                scratch += eps
                np.divide(m, scratch, out=scratch)
                scratch *= config.lr / c1
                p -= scratch
        else:
            for p, g in zip(params, grads, strict=True):
                g *= config.lr
                p -= g

    return Runner(step, lambda: params, loss=lambda: float(last[0]))


MAKERS: dict[str, Callable[..., Runner]] = {
    "chainrule": chainrule_runner,
    "chainrule-compiled": lambda c, d: chainrule_runner(c, d, "compiled"),
    "torch": torch_runner,
    "torch-foreach": lambda c, d: torch_runner(c, d, "foreach"),
    "torch-fused": lambda c, d: torch_runner(c, d, "fused"),
    "sklearn": sklearn_runner,
    "numpy": numpy_runner,
}


# --------------------------------------------------------------------- checks
def check_same_step(config: Config, data: dict[str, Any], libraries: list[str]) -> str:
    """One step per library from the same start must give NumPy's loss and update."""
    import numpy as np

    reference = numpy_runner(config, data)
    reference.call()
    start = data["params"]
    ref_params = reference.params()
    ref_loss = reference.loss() if reference.loss else 0.0
    update = np.sqrt(
        sum(float(np.sum((r - s) ** 2)) for r, s in zip(ref_params, start, strict=True))
    )
    report = []
    for library in libraries:
        if library == "numpy":
            continue
        runner = MAKERS[library](config, data)
        if runner.first_step is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                runner.first_step()
        else:
            runner.call()
        loss = runner.loss() if runner.loss else ref_loss
        got = runner.params()
        error = np.sqrt(
            sum(float(np.sum((g - r) ** 2)) for g, r in zip(got, ref_params, strict=True))
        )
        relative = error / update
        # float32 sums in another order, over up to 2048 terms: agree to about 1e-4.
        # scikit-learn's Adam adds eps before the bias correction of sqrt(v), not after:
        # a larger effective eps, which moves the coordinates with the smallest gradients.
        tolerance = 0.2 if library == "sklearn" and config.optimizer == "adam" else 1e-3
        if not np.isclose(loss, ref_loss, rtol=1e-4) or relative > tolerance:
            raise SystemExit(
                f"mlp_train: {config.name}: {library}'s first step disagrees with NumPy's "
                f"(loss {loss:.6g} vs {ref_loss:.6g}; update differs by {relative:.2g} of its "
                f"size); the timings would not compare like with like"
            )
        report.append(f"{library} {relative:.0e}")
    return (
        f"check     {config.name}: first step agrees with NumPy's (loss {ref_loss:.6f}; "
        f"update error / update size: {', '.join(report)})"
    )


# --------------------------------------------------------------------- memory
def _status_mib(field: str) -> float | None:
    """A memory line of /proc/self/status in MiB (Linux), or None elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _rss_mib() -> float:
    """Resident memory now (elsewhere than Linux: the peak so far)."""
    now = _status_mib("VmRSS")
    return now if now is not None else _peak_mib()


def _peak_mib() -> float:
    """Peak resident memory of this process.

    VmHWM, where there is one: ``ru_maxrss`` survives ``exec``, so a child started from a
    big parent would report the parent's peak.
    """
    peak = _status_mib("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 1024 if sys.platform != "darwin" else maxrss / 2**20


def memory_child(library: str, config_name: str, threads: int) -> None:
    """In a fresh process: import one library, build, train a few steps, print the peak."""
    _common.set_thread_env(threads)
    import numpy  # noqa: F401

    module = {"chainrule-compiled": "chainrule", "sklearn": "sklearn.neural_network"}.get(
        library, library if library == "chainrule" else "torch"
    )
    if library != "numpy":
        __import__(module)
    _common.limit_threads(threads)
    config = CONFIGS[config_name]
    data = make_data(config)
    before = _rss_mib()
    runner = MAKERS[library](config, data)
    for _ in range(max(1, 3 // runner.steps_per_call) + 1):
        runner.call()
    print(json.dumps({"peak": _peak_mib(), "before": before}))


def measure_memory(config: Config, libraries: list[str], threads: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for library in libraries:
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--memory-child",
            library,
            config.name,
            "--threads",
            str(threads),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            results[library] = None
            print(f"memory    {config.name}/{library} failed: {done.stderr.strip()[-300:]}")
            continue
        results[library] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


# --------------------------------------------------------------------- report
def gemm_cases(libraries: list[str], size: int) -> dict[str, _common.Case]:
    """float32 square matrix products: the peak each BLAS reaches on this machine."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty_like(a)
    cases = {"numpy": _common.Case("gemm/numpy", lambda: np.matmul(a, b, out=out))}
    if any(library.startswith("torch") for library in libraries):
        import torch

        ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.empty(size, size)
        cases["torch"] = _common.Case("gemm/torch", lambda: torch.mm(ta, tb, out=tout))
    return cases


def _rate(config: Config, runner: Runner, seconds: float) -> float:
    return config.batch * runner.steps_per_call / seconds


def _paired(a: _common.Case, b: _common.Case, a_runner: Runner, b_runner: Runner) -> float:
    """Median over rounds of (a's samples/s) / (b's samples/s), both from the same round."""
    ratios = [
        (a_runner.steps_per_call / ta) / (b_runner.steps_per_call / tb)
        for ta, tb in zip(a.per_round, b.per_round, strict=True)
    ]
    return statistics.median(ratios)


def _count(value: float) -> str:
    if value >= 1e5:
        return f"{value / 1e3:.0f}k"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def config_table(
    config: Config,
    cases: dict[str, _common.Case],
    runners: dict[str, Runner],
    peak_gflops: float,
    memory: dict[str, Any],
) -> tuple[str, dict[str, Any]]:
    header = [
        "library",
        "samples/s (min-max)",
        "ms/step",
        "GFLOP/s",
        "% of peak",
        "chainrule / this",
        "peak MiB (+train)",
    ]
    rows = []
    summary: dict[str, Any] = {"samples_per_s": {}, "ratio": {}, "memory": memory}
    mine = cases.get("chainrule")
    for library, case in cases.items():
        runner = runners[library]
        rates = [_rate(config, runner, s) for s in case.per_round]
        median_rate = statistics.median(rates)
        gflops = config.flops_per_step() * median_rate / config.batch / 1e9
        ratio = ""
        if mine is not None and library != "chainrule":
            value = _paired(mine, case, runners["chainrule"], runner)
            summary["ratio"][library] = value
            ratio = f"{value:.2f}"
        for variant in COMPARED:
            if variant in cases and library not in COMPARED:
                paired = _paired(cases[variant], case, runners[variant], runner)
                summary.setdefault(f"ratio:{variant}", {})[library] = paired
        summary["samples_per_s"][library] = median_rate
        mem = memory.get(library)
        mem_text = f"{mem['peak']:.0f} (+{mem['peak'] - mem['before']:.0f})" if mem else "-"
        rows.append(
            [
                LIBRARY_LABELS[library],
                f"{_count(median_rate)} ({_count(min(rates))}-{_count(max(rates))})",
                f"{1e3 * config.batch / median_rate:.3g}",
                f"{gflops:.1f}",
                f"{100 * gflops / peak_gflops:.0f}%",
                ratio,
                mem_text,
            ]
        )
    return _common.format_table(header, rows), summary


TARGETS = {  # config: (least chainrule/PyTorch, least chainrule/NumPy)
    "tiny": (3.0, None),
    "small": (1.2, 0.9),
    "medium": (1.0, 0.9),
    "large": (1.0, 0.9),
}


def _cell(ratio: dict[str, float], key: str, target: float | None) -> str:
    if key not in ratio:
        return "-"
    return f"{ratio[key]:.2f}" + (f" (>= {target})" if target else "")


COMPARED = ("chainrule", "chainrule-compiled")
"""The chainrule loops that the targets table rates: eager, and through ``compile_step``."""


def targets_table(summaries: dict[str, dict[str, Any]]) -> str:
    header = ["config", "loop", "vs PyTorch", "vs fused Adam", "vs NumPy", "vs sklearn", "targets"]
    rows = []
    for name, summary in summaries.items():
        for variant in COMPARED:
            ratio = summary.get(f"ratio:{variant}")
            if ratio:
                rows.append(_targets_row(name, LIBRARY_LABELS[variant], ratio))
    return _common.format_table(header, rows)


def _targets_row(name: str, loop: str, ratio: dict[str, float]) -> list[str]:
    torch_target, numpy_target = TARGETS[name]
    verdicts = []
    if "torch" in ratio:
        verdicts.append(ratio["torch"] >= torch_target)
    if "torch-fused" in ratio:
        verdicts.append(ratio["torch-fused"] >= 1.0)
    if numpy_target is not None and "numpy" in ratio:
        verdicts.append(ratio["numpy"] >= numpy_target)
    return [
        name,
        loop,
        _cell(ratio, "torch", torch_target),
        _cell(ratio, "torch-fused", 1.0 if "torch-fused" in ratio else None),
        _cell(ratio, "numpy", numpy_target),
        _cell(ratio, "sklearn", None),
        "met" if verdicts and all(verdicts) else "not met",
    ]


def profile(config: Config, data: dict[str, Any], steps: int) -> None:
    import cProfile
    import pstats

    runner = chainrule_runner(config, data)
    runner.call()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        runner.call()
    profiler.disable()
    print(f"\ncProfile of chainrule's {config.name} step, {steps} steps (shares, not times):")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(20)


# --------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configs",
        default=",".join(DEFAULT_CONFIGS),
        help=f"comma-separated from {', '.join(CONFIGS)}, or all (default "
        f"{','.join(DEFAULT_CONFIGS)}: large takes about 2 more minutes)",
    )
    parser.add_argument(
        "--libraries",
        default=",".join(LIBRARIES),
        help=f"comma-separated from {', '.join(LIBRARIES)} (default all; those not "
        f"installed are skipped)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="batches per case per round, best kept (default 3)"
    )
    parser.add_argument("--threads", type=int, default=1, help="threads for every library")
    parser.add_argument(
        "--min-time", type=float, default=0.1, help="seconds per timed batch at least (0.1)"
    )
    parser.add_argument("--clock", choices=["auto", "cpu", "wall"], default="auto")
    parser.add_argument("--gemm-size", type=int, default=1024, help="n of the n x n GEMM peak")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory processes")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--profile", action="store_true", help="afterwards, cProfile chainrule's step per config"
    )
    parser.add_argument(
        "--memory-child", nargs=2, metavar=("LIBRARY", "CONFIG"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    names = list(CONFIGS) if args.configs == "all" else args.configs.split(",")
    unknown = [n for n in names if n not in CONFIGS] + [
        n for n in args.libraries.split(",") if n not in LIBRARIES
    ]
    if unknown:
        parser.error(f"unknown config or library {unknown}")
    args.configs = names
    args.libraries = args.libraries.split(",")
    for name in ("rounds", "repeat", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    return args


def available(libraries: list[str]) -> list[str]:
    """The requested libraries that are installed (PyTorch and scikit-learn are optional)."""
    kept = []
    for library in libraries:
        module = {"sklearn": "sklearn"}.get(library, "torch" if "torch" in library else None)
        if module is not None:
            try:
                __import__(module)
            except ImportError:
                print(f"{module} is not installed: {library} is left out")
                continue
        kept.append(library)
    return kept


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child[0], args.memory_child[1], args.threads)
        return
    _common.set_thread_env(args.threads)
    import chainrule  # noqa: F401 - imported now, after the thread variables are set

    libraries = available(args.libraries)
    limiter = _common.limit_threads(args.threads)  # noqa: F841 - keeps the limits in force
    if "sklearn" in libraries:
        import sklearn

        sklearn_version = f"sklearn   {sklearn.__version__}"
    print("\n".join(_common.environment_report(args.threads)))
    if "sklearn" in libraries:
        print(sklearn_version)

    clock = _common.pick_clock(args.clock, args.threads)
    configs = [CONFIGS[name] for name in args.configs]
    all_cases: list[_common.Case] = []
    per_config: dict[str, tuple[dict[str, _common.Case], dict[str, Runner]]] = {}
    for config in configs:
        data = make_data(config)
        kept = [lib for lib in libraries if applies(lib, config)]
        print(check_same_step(config, data, kept), flush=True)
        runners = {lib: MAKERS[lib](config, data) for lib in kept}
        cases = {lib: _common.Case(f"{config.name}/{lib}", r.call) for lib, r in runners.items()}
        per_config[config.name] = (cases, runners)
        all_cases += cases.values()
    gemm = gemm_cases(libraries, args.gemm_size)
    all_cases += gemm.values()
    print(
        f"timing    {args.rounds} interleaved rounds x {args.repeat} batches of >= "
        f"{args.min_time * 1000:.0f} ms per case, {clock} clock; float32; "
        f"{len(all_cases)} cases\n",
        flush=True,
    )
    _common.run_interleaved(all_cases, args.rounds, args.repeat, args.min_time, clock=clock)

    gemm_flops = 2.0 * args.gemm_size**3
    # The peak is the best round: the rate the BLAS reaches when the machine lets it.
    peaks = {lib: gemm_flops / min(case.per_round) / 1e9 for lib, case in gemm.items()}
    peak = max(peaks.values())
    print(
        "GEMM peak "
        + ", ".join(f"{lib} {value:.1f} GFLOP/s" for lib, value in peaks.items())
        + f" ({args.gemm_size}^3 float32, best round); '% of peak' is of {peak:.1f}\n"
    )
    summaries: dict[str, dict[str, Any]] = {}
    for config in configs:
        cases, runners = per_config[config.name]
        memory = {} if args.no_memory else measure_memory(config, list(cases), args.threads)
        table, summary = config_table(config, cases, runners, peak, memory)
        summaries[config.name] = summary
        print(f"{config.name}: {config.describe()}")
        print(table + "\n", flush=True)
    print("chainrule / this: median over rounds of the paired ratio of samples/s (> 1: faster)")
    print("peak MiB: the process's peak resident memory; (+train): above it before the model\n")
    print(targets_table(summaries))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"gemm_gflops": peaks, "configs": summaries}, out, indent=1)
    if args.profile:
        for config in configs:
            profile(config, make_data(config), 200 if config.name != "large" else 5)


if __name__ == "__main__":
    main()
