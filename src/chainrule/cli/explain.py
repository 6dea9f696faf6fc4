"""``chainrule explain``: one training step written out with the engine's own numbers, the
forward pass, the loss, backward by the chain rule and the optimizer's update.

Two sources of the step: the textbook XOR network (``--dataset xor``), or a model file that
``chainrule train`` wrote (any architecture it builds: batch normalization, dropout,
``--arch cnn``) with a few rows of a table (``MODEL DATA --rows 0:4``), preprocessed exactly
as ``predict`` does.
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Any

from chainrule.backend import Array, np
from chainrule.cli.errors import UsageError, reword
from chainrule.cli.outputs import TEXT, check_output
from chainrule.cli.tables import (
    STDIN,
    check_writable,
    label_of,
    missing_target,
    read_table,
    same_file,
    with_names,
    write_result,
)
from chainrule.distributed.environment import is_root
from chainrule.nn.module import Module

DATASETS = ("xor",)
FORMATS = ("text", "markdown", "html")
OPTIMIZERS = ("sgd", "adam")
DEFAULT_ROWS = "0:4"
DEFAULT_LR = {"sgd": 0.5, "adam": 0.01}
"""Learning rates when ``--lr`` is not given: a visible change after one step."""

WHERE = "explain"
BATCH_ERRORS = ("more than 1 value per channel",)
"""What the engine says when the batch itself is the problem (batch statistics of one row),
so that only those errors are put down to ``--rows``."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model", metavar="MODEL", nargs="?", help="model file written by chainrule train"
    )
    parser.add_argument(
        "data", metavar="DATA", nargs="?", help="CSV or TSV file (or .parquet) with MODEL"
    )
    parser.add_argument(
        "--dataset", choices=DATASETS, help="trace a 2-2-1 network on the four XOR points"
    )
    parser.add_argument(
        "--rows",
        metavar="START:END",
        help="rows of DATA, from 0 (default 0:4); negative ones count from the end, given "
        "with = (--rows=-2:)",
    )
    parser.add_argument(
        "--target", metavar="COLUMN", help="the target column (default: the model's)"
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="default text")
    parser.add_argument(
        "--output", "--out", "-o", metavar="PATH", help="write the trace here, not stdout"
    )
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="default sgd")
    parser.add_argument(
        "--lr", type=float, help="learning rate (default 0.5 for sgd, 0.01 for adam)"
    )
    parser.add_argument("--seed", type=int, help="initial weights of xor (default 0)")


def parse_rows(text: str, n_rows: int) -> slice:
    """``START:END`` (END excluded, either may be left out) or one row ``N``, within
    ``n_rows``, a negative one counting from the end as a Python slice counts;
    ``UsageError`` otherwise.

    >>> parse_rows("0:4", 10)
    slice(0, 4, None)
    >>> parse_rows("7", 10)
    slice(7, 8, None)
    >>> parse_rows("-2:", 10), parse_rows("-1", 10)
    (slice(8, 10, None), slice(9, 10, None))
    """
    start_text, colon, end_text = text.partition(":")

    def row(number: str) -> int:
        value = int(number)
        return value + n_rows if value < 0 else value

    try:
        if not text.strip():
            raise ValueError("no rows")
        start = row(start_text) if start_text.strip() else 0
        end = (row(end_text) if end_text.strip() else n_rows) if colon else start + 1
    except ValueError:
        raise UsageError(
            f"{WHERE}: --rows: expected START:END with whole numbers (such as 0:4), got {text!r}"
        ) from None
    if not 0 <= start < end <= n_rows:
        raise UsageError(
            f"{WHERE}: --rows: expected 0 <= START < END <= {n_rows} (the table's rows), "
            f"got {text!r}"
        )
    return slice(start, end)


def xor_step() -> tuple[Module, Array, Array]:
    """The textbook example: 2-2-1, tanh hidden layer, sigmoid output, the four XOR points."""
    from chainrule import nn

    model = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1), nn.Sigmoid())
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    return model, x, y


def _model_step(args: argparse.Namespace) -> tuple[Module, Array, Array, Module]:
    """The saved network, the chosen rows as ``predict`` sees them, their encoded targets
    and the loss the model was trained with."""
    from chainrule.cli import bundle
    from chainrule.cli.use import _features
    from chainrule.nn import loss as losses

    trained = bundle.read(args.model, WHERE)
    target = args.target if args.target is not None else str(trained.metadata.get("target"))
    number_format = trained.metadata.get("number_format")
    table = with_names(read_table(args.data, WHERE, number_format=number_format), [target])
    columns = [str(c) for c in table.columns]
    if target not in columns:
        named = args.target is not None
        raise UsageError(missing_target(WHERE, target, args.data, columns, named))
    rows = parse_rows(args.rows if args.rows is not None else DEFAULT_ROWS, len(table))
    table = table.iloc[rows].reset_index(drop=True)
    try:
        x = _features(trained, table, args.data, WHERE)
    except UsageError as error:
        raise UsageError(_table_row(str(error), rows.start)) from None
    try:
        y = trained.target.encode(table[target])
    except ValueError as error:
        message = str(reword(error, f"{WHERE}: target {target!r} in rows {_rows(args)}"))
        raise UsageError(_table_row(message, rows.start)) from None
    # The loss the model was trained with (train's --loss), cross-entropy or MSE by default.
    trained_with = trained.metadata.get("settings", {}).get("loss")
    regression = {"mae": losses.L1Loss, "huber": losses.HuberLoss}.get(trained_with, losses.MSELoss)
    loss: Module = losses.CrossEntropyLoss() if trained.task == "classification" else regression()
    return trained.model, x, y, loss


def _table_row(message: str, start: int) -> str:
    """``message`` with its "in row N" (counted from 1 within the chosen rows, as the
    library counts) given as the table's row, counted from 0 as ``--rows`` counts.

    >>> _table_row("explain: expected numbers, got 'a' in row 2", 4)
    "explain: expected numbers, got 'a' in row 5 (counted from 0, as --rows counts)"
    """
    return re.sub(
        r"\bin row (\d+)$",
        lambda m: f"in row {start + int(m.group(1)) - 1} (counted from 0, as --rows counts)",
        message,
        count=1,
    )


def _rows(args: argparse.Namespace) -> str:
    """The rows of DATA as given, or the default."""
    return str(args.rows) if args.rows is not None else DEFAULT_ROWS


def _check_sources(args: argparse.Namespace) -> None:
    """Refuse options that do not apply to the chosen source, rather than ignore them: a
    user who asks for ``--rows`` of the XOR points, or a ``--seed`` for a trained model's
    weights, would otherwise read a trace that is not the one asked for."""
    if args.dataset is not None:
        for flag, value in (("--rows", args.rows), ("--target", args.target)):
            if value is not None:
                raise UsageError(
                    f"{WHERE}: {flag}: expected none with --dataset {args.dataset} (it applies "
                    f"to MODEL DATA), got {value!r}"
                )
    elif args.seed is not None:
        raise UsageError(
            f"{WHERE}: --seed: expected none with MODEL DATA (the model file holds its "
            f"weights; --seed sets those of --dataset xor), got {args.seed}"
        )


def run(args: argparse.Namespace) -> int:
    from chainrule.explain.trace import trace_step
    from chainrule.optim import SGD, Adam

    if args.dataset is not None and args.model is not None:
        raise UsageError(
            f"{WHERE}: expected either --dataset or MODEL DATA, got both "
            f"(--dataset {args.dataset} and {args.model!r})"
        )
    if args.dataset is None and (args.model is None or args.data is None):
        got = "nothing" if args.model is None else f"only MODEL {args.model!r}"
        raise UsageError(f"{WHERE}: expected --dataset xor or MODEL DATA, got {got}")
    _check_sources(args)
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    if not (lr > 0 and math.isfinite(lr)):
        raise UsageError(f"{WHERE}: --lr: expected a number > 0, got {lr:g}")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"{WHERE}: --seed: expected a whole number >= 0, got {args.seed}")
    if args.output is not None:
        check_writable(args.output, WHERE, "--output")
        for other in (args.model, args.data):
            if other is not None and same_file(args.output, other):
                raise UsageError(
                    f"{WHERE}: --output: expected a path other than the input {other!r}, got "
                    f"the same file"
                )
        if args.output != STDIN:
            check_output(args.output, WHERE, "--output", TEXT)

    loss: Module | None
    if args.dataset is not None:
        model, x, y = xor_step()
        model.reset_parameters(np.random.default_rng(args.seed if args.seed is not None else 0))
        loss = None  # MSE
    else:
        model, x, y, loss = _model_step(args)
    optimizer: Any = (SGD if args.optimizer == "sgd" else Adam)(model.parameters(), lr=lr)
    try:
        trace = trace_step(model, x, y, loss, optimizer)
    except TypeError as error:
        raise UsageError(
            f"{WHERE}: {str(error).removeprefix(WHERE + ': ')}; {args.model!r} cannot be traced"
        ) from None
    except ValueError as error:
        if args.dataset is not None:
            raise
        if any(sign in str(error) for sign in BATCH_ERRORS):
            raise UsageError(
                f"{WHERE}: --rows {_rows(args)}: {error}; batch normalization takes the "
                f"statistics of the rows, so pass two or more (such as --rows 3:5)"
            ) from None
        raise UsageError(
            f"{WHERE}: {error}; the step of {args.model!r} on {label_of(args.data)} cannot be "
            f"traced"
        ) from None
    if args.format == "markdown":
        text = trace.to_markdown()
    elif args.format == "html":
        text = trace.to_html()
    else:
        text = trace.to_text()
    text = text if text.endswith("\n") else text + "\n"
    if not is_root():
        return 0  # under mpirun, every rank traces the same step; rank 0 writes it
    write_result(text, args.output, f"{WHERE}: trace of one step written to {args.output}", WHERE)
    return 0
