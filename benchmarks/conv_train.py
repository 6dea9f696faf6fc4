"""CNN train steps: chainrule against PyTorch eager, same network, weights, batch and threads.

Configurations (float32, batch 64, cross-entropy, plain SGD, module API in both libraries):

- ``lenet28``: LeNet-5 on 28x28 images: Conv2d(1, 6, 5, padding=2), ReLU, MaxPool2d(2),
  Conv2d(6, 16, 5), ReLU, MaxPool2d(2), Linear(400, 120), ReLU, Linear(120, 84), ReLU,
  Linear(84, 10);
- ``lenet8``: the same shape of network on 8x8 images (the digits' size): 3x3 kernels with
  padding 1, so Linear(64, 120) after the second pool;
- ``digits``: ``chainrule.nn.conv.digits_cnn`` (32 and 64 channels, BatchNorm2d, dropout
  off so that both libraries compute the same step) on rows of 64 pixels;
- ``mobile32``: depthwise-separable blocks (MobileNet's, without batch norm) on 32x32 RGB
  images: Conv2d(3, 16, 3, padding=1), ReLU, then four blocks of a depthwise
  Conv2d(C, C, 3, stride, padding=1, groups=C), ReLU, a pointwise Conv2d(C, C_out, 1), ReLU
  (16 -> 32, 32 -> 64 with stride 2, 64 -> 64, 64 -> 64 with stride 2), AvgPool2d(8),
  Linear(64, 10).

Before timing, one step is run in each library from the same start; the losses and the
updated weights must agree. Cases are timed in interleaved rounds (``_common``); the table
shows median milliseconds per step and samples per second, and the ratio of throughputs
(chainrule / PyTorch: above 1 means chainrule is faster).

    python benchmarks/conv_train.py                  # lenet28, lenet8; about 1 minute
    python benchmarks/conv_train.py --configs all --rounds 9
    python benchmarks/conv_train.py --profile        # then chainrule's time per op
    python benchmarks/conv_train.py --no-workspace   # without reusing scratch arrays
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from collections.abc import Callable
from typing import Any

import _common

BATCH = 64
LR = 0.01
SEED = 0
CONFIGS = ("lenet28", "lenet8", "digits", "mobile32")
MOBILE_BLOCKS = ((16, 32, 1), (32, 64, 2), (64, 64, 1), (64, 64, 2))
"""mobile32's depthwise-separable blocks: (in channels, out channels, depthwise stride)."""
DEFAULT_CONFIGS = ("lenet28", "lenet8")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configs",
        nargs="+",
        default=list(DEFAULT_CONFIGS),
        choices=[*CONFIGS, "all"],
        help="networks to time (default: lenet28 lenet8)",
    )
    _common.add_timing_options(parser, min_time=0.1)
    parser.add_argument(
        "--clock",
        choices=["auto", "cpu", "wall"],
        default="auto",
        help="cpu: this process's CPU time; wall: elapsed time; auto (default): cpu with one "
        "thread, wall with more",
    )
    parser.add_argument(
        "--no-workspace",
        action="store_true",
        help="allocate every temporary afresh, as before the conv ops reused scratch arrays",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, chainrule's forward and backward time per op for each network",
    )
    args = parser.parse_args(argv)
    if "all" in args.configs:
        args.configs = list(CONFIGS)
    _common.check_timing_options(parser, args)
    return args


# --------------------------------------------------------------------- networks
def chainrule_model(config: str) -> Any:
    from chainrule import nn
    from chainrule.nn.conv import digits_cnn

    if config == "digits":
        model = digits_cnn(generator=SEED)
        for layer in model.modules():
            if isinstance(layer, nn.Dropout):
                layer.p = 0.0  # the same step in both libraries: no random masks
        return model
    if config == "mobile32":
        layers: list[Any] = [nn.Conv2d(3, 16, 3, padding=1, generator=SEED), nn.ReLU()]
        for k, (c_in, c_out, stride) in enumerate(MOBILE_BLOCKS):
            layers += [
                nn.Conv2d(
                    c_in, c_in, 3, stride, padding=1, groups=c_in, generator=SEED + 2 * k + 1
                ),
                nn.ReLU(),
                nn.Conv2d(c_in, c_out, 1, generator=SEED + 2 * k + 2),
                nn.ReLU(),
            ]
        layers += [nn.AvgPool2d(8), nn.Flatten(), nn.Linear(64, 10, generator=SEED + 9)]
        return nn.Sequential(*layers)
    k, pad, flat = (5, (2, 0), 400) if config == "lenet28" else (3, (1, 1), 64)
    return nn.Sequential(
        nn.Conv2d(1, 6, k, padding=pad[0], generator=SEED),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, k, padding=pad[1], generator=SEED + 1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(flat, 120, generator=SEED + 2),
        nn.ReLU(),
        nn.Linear(120, 84, generator=SEED + 3),
        nn.ReLU(),
        nn.Linear(84, 10, generator=SEED + 4),
    )


def torch_model(config: str) -> Any:
    from torch import nn

    if config == "digits":
        blocks: list[Any] = [nn.Unflatten(1, (1, 8, 8))]
        for c_in, c_out in ((1, 32), (32, 64)):
            blocks += [
                nn.Conv2d(c_in, c_out, 3, padding="same"),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
        blocks += [nn.Flatten(), nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.0)]
        return nn.Sequential(*blocks, nn.Linear(128, 10))
    if config == "mobile32":
        layers: list[Any] = [nn.Conv2d(3, 16, 3, padding=1), nn.ReLU()]
        for c_in, c_out, stride in MOBILE_BLOCKS:
            layers += [
                nn.Conv2d(c_in, c_in, 3, stride, padding=1, groups=c_in),
                nn.ReLU(),
                nn.Conv2d(c_in, c_out, 1),
                nn.ReLU(),
            ]
        layers += [nn.AvgPool2d(8), nn.Flatten(), nn.Linear(64, 10)]
        return nn.Sequential(*layers)
    k, pad, flat = (5, (2, 0), 400) if config == "lenet28" else (3, (1, 1), 64)
    return nn.Sequential(
        nn.Conv2d(1, 6, k, padding=pad[0]),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, k, padding=pad[1]),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(flat, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def make_batch(config: str) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(SEED)
    shapes = {"digits": (BATCH, 64), "lenet28": (BATCH, 1, 28, 28), "mobile32": (BATCH, 3, 32, 32)}
    shape = shapes.get(config, (BATCH, 1, 8, 8))
    x = rng.standard_normal(shape, dtype=np.float32)
    return x, rng.integers(0, 10, size=BATCH, dtype=np.int64)


Step = Callable[[], Any]


def chainrule_step(config: str) -> tuple[Step, Any]:
    import chainrule as cr
    from chainrule import nn, optim

    model = chainrule_model(config)
    x_data, y_data = make_batch(config)
    x, y = cr.tensor(x_data), cr.tensor(y_data)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=LR)

    def step() -> Any:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step, model


def torch_step(config: str, weights: dict[str, Any]) -> tuple[Step, Any]:
    import torch

    model = torch_model(config)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()})
    x_data, y_data = make_batch(config)
    x, y = torch.from_numpy(x_data), torch.from_numpy(y_data)
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)

    def step() -> Any:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step, model


def check_same_step(config: str) -> str:
    """One step in each library from the same weights: the same loss and new weights."""
    import numpy as np

    step, model = chainrule_step(config)
    start = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    torch_fn, torch_model_ = torch_step(config, start)
    loss, torch_loss = float(step().item()), float(torch_fn().item())
    after = {k: v.numpy() for k, v in model.state_dict().items()}
    torch_after = {k: v.detach().numpy() for k, v in torch_model_.state_dict().items()}
    same = np.isclose(loss, torch_loss, rtol=1e-4) and all(
        np.allclose(after[k], torch_after[k], rtol=1e-3, atol=1e-5) for k in after
    )
    if not same:
        raise SystemExit(
            f"conv_train: {config}: chainrule's step disagrees with PyTorch's (loss {loss} vs "
            f"{torch_loss}); the timings would not compare like with like"
        )
    return (
        f"check     {config}: one step agrees (loss chainrule {loss:.6f}, torch {torch_loss:.6f})"
    )


# --------------------------------------------------------------------- profile
def profile_ops(config: str, steps: int = 20) -> None:
    """Forward and backward CPU time of each chainrule op, by op and input shape."""
    from chainrule.autograd import REGISTRY

    spent: dict[str, float] = collections.defaultdict(float)
    originals = {}
    for name, cls in REGISTRY.items():
        originals[name] = (cls.forward, cls.backward)

        def forward(ctx: Any, *args: Any, _f: Any = cls.forward, _n: str = name, **kw: Any) -> Any:
            key = f"{_n}{tuple(getattr(args[0], 'shape', ()))}"
            ctx.profile_key = key
            start = time.process_time()
            out = _f(ctx, *args, **kw)
            spent[key + " fwd"] += time.process_time() - start
            return out

        def backward(ctx: Any, grad: Any, _b: Any = cls.backward) -> Any:
            start = time.process_time()
            out = _b(ctx, grad)
            spent[ctx.profile_key + " bwd"] += time.process_time() - start
            return out

        cls.forward, cls.backward = staticmethod(forward), staticmethod(backward)  # type: ignore[method-assign]
    try:
        step, _ = chainrule_step(config)
        step()
        spent.clear()
        start = time.process_time()
        for _ in range(steps):
            step()
        total = (time.process_time() - start) / steps
    finally:
        for name, (f, b) in originals.items():
            REGISTRY[name].forward, REGISTRY[name].backward = staticmethod(f), staticmethod(b)  # type: ignore[method-assign]
    print(f"\nchainrule {config}: {total * 1e3:.2f} ms per step (CPU clock), by op:")
    rows = sorted(spent.items(), key=lambda kv: -kv[1])
    inside = sum(spent.values()) / steps
    for key, seconds in rows[:16]:
        print(f"  {key:44s} {seconds / steps * 1e3:7.3f} ms")
    print(
        f"  {'(outside the ops: engine, modules, optimizer)':44s} {(total - inside) * 1e3:7.3f} ms"
    )


# --------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    _common.set_thread_env(args.threads)

    import chainrule  # noqa: F401 - imported now, after the thread variables are set

    try:
        import torch  # noqa: F401
    except ImportError:
        raise SystemExit("conv_train: PyTorch is needed for the comparison") from None
    limiter = _common.limit_threads(args.threads)  # noqa: F841 - keeps the limits in force
    if args.no_workspace:
        from chainrule.autograd.ops.conv import WORKSPACE

        WORKSPACE.MIN_BYTES = sys.maxsize  # every array too small to keep: none is reused

    checks = [check_same_step(config) for config in args.configs]
    cases: dict[tuple[str, str], _common.Case] = {}
    for config in args.configs:
        step, model = chainrule_step(config)
        weights = {k: v.numpy().copy() for k, v in model.state_dict().items()}
        cases[config, "chainrule"] = _common.Case(f"{config}/chainrule", step)
        cases[config, "torch"] = _common.Case(f"{config}/torch", torch_step(config, weights)[0])

    print("\n".join(_common.environment_report(args.threads)))
    print("\n".join(checks))
    clock = _common.pick_clock(args.clock, args.threads)
    print(
        f"timing    {args.rounds} interleaved rounds x {args.repeat} batches of >= "
        f"{args.min_time * 1000:.0f} ms per case, {clock} clock; float32, batch {BATCH}\n",
        flush=True,
    )
    _common.run_interleaved(
        list(cases.values()), args.rounds, args.repeat, args.min_time, clock=clock
    )
    header = [
        "network",
        "chainrule ms/step",
        "PyTorch ms/step",
        "chainrule samples/s",
        "PyTorch samples/s",
        "throughput chainrule/PyTorch",
    ]
    rows = []
    for config in args.configs:
        mine, theirs = cases[config, "chainrule"], cases[config, "torch"]
        rows.append(
            [
                config,
                f"{mine.median * 1e3:.2f} ({min(mine.per_round) * 1e3:.2f}-"
                f"{max(mine.per_round) * 1e3:.2f})",
                f"{theirs.median * 1e3:.2f} ({min(theirs.per_round) * 1e3:.2f}-"
                f"{max(theirs.per_round) * 1e3:.2f})",
                f"{BATCH / mine.median:.0f}",
                f"{BATCH / theirs.median:.0f}",
                f"{1 / _common.median_ratio(mine, theirs):.2f}",
            ]
        )
    print("median over rounds (min-max); throughput ratio = median of per-round ratios\n")
    print(_common.format_table(header, rows))
    if args.profile:
        for config in args.configs:
            profile_ops(config)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
