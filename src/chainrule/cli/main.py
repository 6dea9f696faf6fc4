"""Entry point of the ``chainrule`` command: parses arguments, turns user mistakes into one
line on stderr and exit status 2, never a traceback (unless ``--debug``).

Exit status: 0 done; 2 a mistake in the command, its options or its files (one line
``chainrule: error: <where>: <expected>, got <actual>`` on stderr); 130 interrupted by
Ctrl-C (nothing half-written is left behind).
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from chainrule import __version__
from chainrule.cli.errors import RunInterruptedError, UsageError

__all__ = ["UsageError", "build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage mistakes reported as one line like every other mistake."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # --epoch is a typo, not --epochs
        super().__init__(*args, **kwargs)
        self._arguments: list[str] = []  # the command line parsed, for error messages

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._arguments = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("chainrule").strip()
        where = f"{command}: " if command else ""
        if message.endswith(": expected one argument"):
            # An option followed by a value that starts with '-' (--rows -2:), which
            # argparse takes for another option.
            names = message.removeprefix("argument ").split(":")[0].split("/")
            given = self._arguments
            if any(
                name in given[:-1] and given[given.index(name) + 1].startswith("-")
                for name in names
            ):
                message += f" (a value that starts with '-' is written {names[0]}=VALUE)"
        raise UsageError(f"{where}{message.removeprefix('argument ')} (see `{self.prog} --help`)")

    def option_strings(self) -> list[str]:
        return [s for action in self._actions for s in action.option_strings]


def _demo(args: argparse.Namespace) -> int:
    from chainrule.cli.demo import run_demo

    return run_demo(epochs=args.epochs, lr=args.lr, seed=args.seed)


def _train(args: argparse.Namespace) -> int:
    from chainrule.cli.train import run

    return run(args)


def _predict(args: argparse.Namespace) -> int:
    from chainrule.cli.use import run_predict

    return run_predict(args)


def _evaluate(args: argparse.Namespace) -> int:
    from chainrule.cli.use import run_evaluate

    return run_evaluate(args)


def _info(args: argparse.Namespace) -> int:
    from chainrule.cli.use import run_info

    return run_info(args)


def _explain(args: argparse.Namespace) -> int:
    from chainrule.cli.explain import run

    return run(args)


def _export(args: argparse.Namespace) -> int:
    from chainrule.cli.export import run

    return run(args)


def _command(
    commands: argparse._SubParsersAction[_Parser], name: str, summary: str, description: str
) -> _Parser:
    parser = commands.add_parser(name, help=summary, description=description)
    # SUPPRESS: a subcommand's default must not undo `chainrule --debug train ...`.
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    from chainrule.cli.options import add_arguments

    parser = _Parser(
        prog="chainrule",
        description="Train neural networks by backpropagation on NumPy.",
        epilog="Start with: chainrule train --dataset digits",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = _command(
        commands,
        "demo",
        "train a small network by backpropagation and print its loss falling",
        "Fit a 2-16-1 tanh network to a noisy sine curve with plain SGD, written "
        "with chainrule tensors and backward(), printing the loss as it falls.",
    )
    demo.add_argument("--epochs", type=int, default=200, help="passes over the data (default 200)")
    demo.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (default 0.1)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(handler=_demo)

    train = _command(
        commands,
        "train",
        "train a network on a CSV file (or a bundled dataset) and write a model file",
        "Train a multilayer perceptron by backpropagation on DATA to predict --target, "
        "or on a bundled dataset (--dataset), and write one model file holding the "
        "weights and the preprocessing. Numbers are standardized (missing: median), other "
        "columns one-hot encoded (missing: a category of its own); an empty cell, NA or ? is "
        "a missing value. Progress goes to stderr; "
        "the final metrics table goes to stdout.",
    )
    add_arguments(train)
    train.set_defaults(handler=_train)

    predict = _command(
        commands,
        "predict",
        "predict the target for each row of a table",
        "Write a CSV with a column 'prediction' (labels as in the training data) for each "
        "row of DATA, to stdout or --output. DATA needs the model's feature columns, in any "
        "order; other columns are ignored.",
    )
    predict.add_argument("model", metavar="MODEL", help="model file written by chainrule train")
    predict.add_argument(
        "data", metavar="DATA", help="CSV or TSV file (or .parquet); - reads standard input"
    )
    predict.add_argument(
        "--output",
        "--out",
        "-o",
        metavar="PATH",
        help="write the CSV here, not stdout (- is stdout)",
    )
    predict.add_argument(
        "--proba", action="store_true", help="add a column proba_<label> per class"
    )
    predict.add_argument("--id", metavar="COLUMN", help="copy this column of DATA to the output")
    predict.set_defaults(handler=_predict)

    evaluate = _command(
        commands,
        "evaluate",
        "score a model on a table with known targets",
        "Print the model's metrics on DATA, to stdout or --output: accuracy, macro F1 and "
        "log loss for a classifier; RMSE, MAE and R^2 for regression.",
    )
    evaluate.add_argument("model", metavar="MODEL", help="model file written by chainrule train")
    evaluate.add_argument(
        "data", metavar="DATA", help="CSV or TSV file (or .parquet); - reads standard input"
    )
    evaluate.add_argument(
        "--target", metavar="COLUMN", help="the target column (default: the model's)"
    )
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.add_argument(
        "--output",
        "--out",
        "-o",
        metavar="PATH",
        help="write the metrics here, not stdout (- is stdout)",
    )
    evaluate.set_defaults(handler=_evaluate)

    info = _command(
        commands,
        "info",
        "describe a model file",
        "Print a model file's task, classes, architecture, parameter count, preprocessing, "
        "training settings and final metrics.",
    )
    info.add_argument("model", metavar="MODEL", help="model file written by chainrule train")
    info.add_argument("--json", action="store_true", help="print everything as JSON")
    info.set_defaults(handler=_info)

    from chainrule.cli import explain as explain_options
    from chainrule.cli import export as export_options

    explain = _command(
        commands,
        "explain",
        "write out one training step: forward, loss, backward by the chain rule, update",
        "Trace one training step with the engine's own numbers: every layer's weighted sums "
        "and activations, the loss, the gradients from the output layer back to the first, and "
        "the optimizer's update of every parameter. Either the 2-2-1 XOR network "
        "(--dataset xor, MSE loss) or a model file on a few rows of DATA (--rows), "
        "preprocessed as predict does (cross-entropy for a classifier; for regression the "
        "loss the model was trained with, MSE by default).",
    )
    explain_options.add_arguments(explain)
    explain.set_defaults(handler=_explain)

    export = _command(
        commands,
        "export",
        "write a model file as ONNX",
        "Write MODEL as an ONNX graph. With only numeric feature columns it takes the raw "
        "columns (standardization built in; no missing values); with categorical columns it "
        "takes the encoded inputs. Classifiers output class probabilities, regressors values "
        "in the target's units. The graph's doc_string lists the inputs and classes in order.",
    )
    export_options.add_arguments(export)
    export.set_defaults(handler=_export)
    return parser


def _unknown(parser: argparse.ArgumentParser, args: argparse.Namespace, extra: list[str]) -> None:
    """Arguments no command knows: named with the command, and the nearest flag suggested."""
    command = getattr(args, "command", None)
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    sub = subparsers[0].choices.get(command) if subparsers and command else None
    known = sub.option_strings() if isinstance(sub, _Parser) else []
    hint = ""
    if extra[0].startswith("--"):
        close = difflib.get_close_matches(extra[0].split("=")[0], known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
    where = f"{command}: " if command else ""
    raise UsageError(
        f"{where}expected known arguments, got {' '.join(extra)}{hint} "
        f"(see `chainrule{' ' + command if command else ''} --help`)"
    )


def _debugging(argv: Sequence[str]) -> bool:
    return "--debug" in argv


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(arguments)
        if extra:
            _unknown(parser, args, extra)
        if not getattr(args, "handler", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.handler(args))
    except BrokenPipeError:  # `chainrule predict ... | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (UsageError, ValueError, TypeError, OSError) as error:
        if _debugging(arguments):
            raise
        print(f"chainrule: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except (MemoryError, ArithmeticError, RecursionError) as error:
        # A model or table that asks for more than the machine has (a forged file's sizes,
        # used only when called): one line, not a traceback.
        if _debugging(arguments):
            raise
        print(
            f"chainrule: error: {type(error).__name__}: {_one_line(error)}; the data or the "
            f"model asks for more than this machine can compute",
            file=sys.stderr,
        )
        return 2
    except RunInterruptedError as error:
        print(f"chainrule: {error}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        if _debugging(arguments):
            raise
        print("chainrule: interrupted", file=sys.stderr)
        return 130


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename!r}: {error.strerror or error}"
    return " ".join(str(error).split()) or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
