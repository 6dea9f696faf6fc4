"""Entry point of the ``chainrule`` command: parses arguments, turns user mistakes into one
line on stderr and exit status 2, never a traceback (unless ``--debug``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


class UsageError(Exception):
    """A mistake in what the user asked for: reported in one line, exit status 2."""


def _demo(args: argparse.Namespace) -> int:
    from chainrule.cli.demo import run_demo

    return run_demo(epochs=args.epochs, lr=args.lr, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Train neural networks by backpropagation on NumPy.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train a small network by backpropagation and print its loss falling",
        description="Fit a 2-16-1 tanh network to a noisy sine curve with plain SGD, written "
        "with chainrule tensors and backward(), printing the loss as it falls.",
    )
    demo.add_argument("--epochs", type=int, default=200, help="passes over the data (default 200)")
    demo.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (default 0.1)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args))
    except (UsageError, ValueError, TypeError, OSError) as error:
        if args.debug:
            raise
        print(f"chainrule: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
