"""One image layer's forward and backward, chainrule against PyTorch eager, in one run.

Where ``conv_train.py`` times whole networks, this times the layers one at a time, on a
batch of 32 images of 16 channels, 32x32, float32: the convolutions with groups and with
dilation, the pools (fixed and adaptive), batch normalization and the resizes of
``interpolate``. Each case is ``layer(x).sum().backward()`` from the same input; the first
call of each is checked against PyTorch's output and input gradient before anything is
timed. Cases are timed in interleaved rounds; the table shows medians over rounds and the
median of the per-round ratios. ``python benchmarks/layer_ops.py --help`` for the options.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import _common

BATCH, CHANNELS, SIZE = 32, 16, 32
SEED = 0

# name -> the layer, made from either library's nn module
LAYERS: dict[str, Callable[[Any], Any]] = {
    "conv 3x3": lambda nn: nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1),
    "conv 3x3 groups=4": lambda nn: nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1, groups=4),
    "conv 3x3 depthwise": lambda nn: nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1, groups=CHANNELS),
    "conv 3x3 dilation=2": lambda nn: nn.Conv2d(CHANNELS, CHANNELS, 3, padding=2, dilation=2),
    "conv transpose 4x4 /2": lambda nn: nn.ConvTranspose2d(
        CHANNELS, CHANNELS, 4, stride=2, padding=1
    ),
    "max pool 2x2": lambda nn: nn.MaxPool2d(2),
    "max pool 3x3 /2": lambda nn: nn.MaxPool2d(3, stride=2, padding=1),
    "avg pool 2x2": lambda nn: nn.AvgPool2d(2),
    "adaptive max pool 7": lambda nn: nn.AdaptiveMaxPool2d(7),
    "adaptive avg pool 7": lambda nn: nn.AdaptiveAvgPool2d(7),
    "batch norm (train)": lambda nn: nn.BatchNorm2d(CHANNELS),
    "upsample nearest x2": lambda nn: nn.Upsample(scale_factor=2, mode="nearest"),
    "upsample bilinear x2": lambda nn: nn.Upsample(
        scale_factor=2, mode="bilinear", align_corners=False
    ),
    "upsample bicubic x2": lambda nn: nn.Upsample(
        scale_factor=2, mode="bicubic", align_corners=False
    ),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _common.add_timing_options(parser, min_time=0.05)
    parser.add_argument(
        "--layers",
        nargs="+",
        default=list(LAYERS),
        choices=list(LAYERS),
        metavar="LAYER",
        help="which layers to time (default: all; names as in the table, quoted)",
    )
    args = parser.parse_args(argv)
    _common.check_timing_options(parser, args)
    return args


def make_pair(name: str, images: Any) -> tuple[Callable[[], Any], Callable[[], Any], str]:
    """chainrule's and PyTorch's forward+backward of layer ``name`` (same weights), and how
    far apart their outputs and input gradients are after one call."""
    import numpy as np
    import torch

    import chainrule as cr

    ours = LAYERS[name](cr.nn)
    theirs = LAYERS[name](torch.nn)
    with torch.no_grad():
        for key, value in ours.state_dict().items():
            theirs.state_dict()[key].copy_(torch.from_numpy(np.array(value.numpy())))
    x_ours = cr.tensor(images, requires_grad=True)
    x_theirs = torch.tensor(images, requires_grad=True)

    def step_ours() -> Any:
        x_ours.grad = None
        out = ours(x_ours)
        out.sum().backward()
        return out

    def step_theirs() -> Any:
        x_theirs.grad = None
        out = theirs(x_theirs)
        out.sum().backward()
        return out

    out_ours, out_theirs = step_ours().numpy(), step_theirs().detach().numpy()
    scale = max(float(np.abs(out_theirs).max()), 1.0)
    value_error = float(np.abs(out_ours - out_theirs).max()) / scale
    grad_theirs = x_theirs.grad.numpy()
    grad_error = float(np.abs(x_ours.grad.numpy() - grad_theirs).max()) / max(
        float(np.abs(grad_theirs).max()), 1.0
    )
    return step_ours, step_theirs, f"{value_error:.0e} / {grad_error:.0e}"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    _common.set_thread_env(args.threads)
    try:
        import torch  # noqa: F401 - the comparison is the point of this benchmark
    except ImportError:
        raise SystemExit("layer_ops.py compares with PyTorch: install torch first") from None
    import numpy as np

    limiter = _common.limit_threads(args.threads)  # noqa: F841 - keeps the limits in force
    images = np.random.default_rng(SEED).standard_normal(
        (BATCH, CHANNELS, SIZE, SIZE), dtype=np.float32
    )
    cases: dict[str, tuple[_common.Case, _common.Case, str]] = {}
    for name in args.layers:
        ours, theirs, agreement = make_pair(name, images)
        cases[name] = (
            _common.Case(f"{name}/chainrule", ours),
            _common.Case(f"{name}/torch", theirs),
            agreement,
        )
    print("\n".join(_common.environment_report(args.threads)))
    clock = _common.pick_clock("auto", args.threads)
    print(
        f"timing    {args.rounds} interleaved rounds x {args.repeat} batches of >= "
        f"{args.min_time * 1000:.0f} ms per case, {clock} clock; float32, input "
        f"({BATCH}, {CHANNELS}, {SIZE}, {SIZE}), layer(x).sum().backward()\n",
        flush=True,
    )
    every = [case for ours, theirs, _ in cases.values() for case in (ours, theirs)]
    _common.run_interleaved(every, args.rounds, args.repeat, args.min_time, clock=clock)
    header = ["layer", "chainrule ms", "PyTorch ms", "chainrule / PyTorch", "error out / grad"]
    rows = [
        [
            name,
            f"{ours.median * 1e3:.2f}",
            f"{theirs.median * 1e3:.2f}",
            f"{_common.median_ratio(ours, theirs):.2f}x",
            agreement,
        ]
        for name, (ours, theirs, agreement) in cases.items()
    ]
    print("median milliseconds per forward+backward; ratio = median of per-round time ratios")
    print("(> 1: chainrule slower); error: max abs difference from PyTorch over its max\n")
    print(_common.format_table(header, rows))


if __name__ == "__main__":
    main()
