"""The options of ``chainrule train``: one table that the argument parser, the ``--config``
file and the checks all read, so that a flag and a config key mean the same and are checked
the same way.

Precedence: built-in defaults, then the TOML file given by ``--config`` (keys spelled as the
flags, with ``-`` or ``_``), then flags. Each value is checked where it is read, and a bad one
is named with where it came from: ``train: --epochs: expected a positive integer, got '-3'``
or ``train: config 'run.toml': epochs: ...``.
"""

from __future__ import annotations

import argparse
import difflib
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from chainrule.cli.errors import UsageError
from chainrule.data import DATASETS


class InvalidValueError(Exception):
    """A value that does not fit an option: ``expected`` says what would."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "silu", "elu", "leaky_relu", "selu")
OPTIMIZER_NAMES = ("sgd", "momentum", "adam", "adamw", "rmsprop")
DEFAULT_LR = {"sgd": 0.01, "momentum": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3}
CLASSIFICATION_LOSSES = ("cross_entropy",)
REGRESSION_LOSSES = ("mse", "mae", "huber")


def _integer(value: Any, expected: str, low: int) -> int:
    if isinstance(value, bool):
        raise InvalidValueError(expected)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise InvalidValueError(expected) from None
    if not isinstance(value, int) or value < low:
        raise InvalidValueError(expected)
    return value


def positive_int(value: Any) -> int:
    return _integer(value, "a positive integer", 1)


def count(value: Any) -> int:
    return _integer(value, "an integer >= 0", 0)


def _number(value: Any, expected: str) -> float:
    if isinstance(value, bool):
        raise InvalidValueError(expected)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise InvalidValueError(expected) from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidValueError(expected)
    return float(value)


def positive_float(value: Any) -> float:
    number = _number(value, "a number > 0")
    if number <= 0:
        raise InvalidValueError("a number > 0")
    return number


def nonnegative_float(value: Any) -> float:
    number = _number(value, "a number >= 0")
    if number < 0:
        raise InvalidValueError("a number >= 0")
    return number


def fraction(value: Any) -> float:
    number = _number(value, "a fraction in [0, 1)")
    if not 0 <= number < 1:
        raise InvalidValueError("a fraction in [0, 1)")
    return number


def choice(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if not isinstance(value, str) or value.strip().lower().replace("-", "_") not in choices:
            raise InvalidValueError("one of " + ", ".join(choices))
        return value.strip().lower().replace("-", "_")

    return convert


def hidden_sizes(value: Any) -> list[int]:
    """``"128,64"`` or ``[128, 64]``; ``"none"`` (or ``[]``) for no hidden layer. An empty
    text is refused: a shell variable that came out empty should not drop every layer."""
    expected = "layer widths like 128,64 (positive integers; 'none' for no hidden layer)"
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "none":
            return []
        value = text.split(",")
    if not isinstance(value, list):
        raise InvalidValueError(expected)
    try:
        return [positive_int(v) for v in value]
    except InvalidValueError:
        raise InvalidValueError(expected) from None


def column_list(value: Any) -> list[str]:
    """``"id,name"`` or ``["id", "name"]``, each text kept whole: ``train`` splits it at its
    commas once it knows the table's columns, unless it names one (``Income, USD``)."""
    if isinstance(value, str):
        if not any(v.strip() for v in value.split(",")):
            raise InvalidValueError("column names separated by commas")
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidValueError("column names separated by commas")
    return [v.strip() for v in value]


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueError("a non-empty text")
    return value


def switch(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValueError("true or false")
    return value


TRAIN_DATASETS = tuple(name for name in DATASETS if name != "xor")
"""The bundled datasets ``train`` learns from; xor's four points are for ``explain``."""


def dataset_name(value: Any) -> str:
    name = value.strip().lower().replace("_", "-") if isinstance(value, str) else None
    if name in TRAIN_DATASETS:
        return name
    hint = " (xor is for chainrule explain)" if name == "xor" else ""
    raise InvalidValueError("one of " + ", ".join(TRAIN_DATASETS) + hint)


@dataclass(frozen=True)
class Option:
    """One training option: its flag, how a value is checked, its default and help."""

    name: str
    convert: Callable[[Any], Any]
    default: Any
    help: str
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def is_switch(self) -> bool:
        return self.convert is switch


OPTIONS: tuple[Option, ...] = (
    Option("dataset", dataset_name, None, "train on a bundled dataset instead of DATA: "
           + ", ".join(TRAIN_DATASETS) + " (a test part is held out)",
           "NAME"),
    Option("target", text, None, "the column to predict (required with DATA)", "COLUMN"),
    Option("out", text, "model.safetensors", "model file to write (default model.safetensors)",
           "PATH"),
    Option("task", choice("auto", "classification", "regression"), "auto",
           "auto (default): text, booleans or at most 20 distinct whole numbers mean "
           "classification, other numbers regression", "TASK"),
    Option("drop", column_list, [], "columns to leave out of the features, e.g. an id "
           "(id,name; or the flag again: --drop id --drop name)",
           "COLUMNS"),
    Option("max_categories", positive_int, 100, "most categories one-hot encoded per text "
           "column, the most frequent in the training rows; a value of the others counts as "
           "none of them, as a value never seen does (default 100)", "N"),
    Option("arch", choice("mlp", "cnn"), "mlp", "network: mlp (default), or cnn for images of "
           "one channel given as square rows of pixels (e.g. --dataset digits)", "ARCH"),
    Option("hidden", hidden_sizes, [128, 64], "hidden layer widths (default 128,64; 128 "
           "after the convolutions of --arch cnn; none for no hidden layer)", "SIZES"),
    Option("activation", choice(*ACTIVATIONS), "relu",
           "activation after each hidden layer (and convolution): " + ", ".join(ACTIVATIONS)
           + " (default relu)", "NAME"),
    Option("dropout", fraction, 0.2, "dropout after each hidden layer (default 0.2; 0.25 "
           "with --arch cnn)", "P"),
    Option("batch_norm", switch, True, "batch normalization before each activation; with "
           "--arch cnn, of the convolutions only (default; --no-batch-norm turns it off)"),
    Option("epochs", positive_int, 200, "most passes over the data; early stopping usually "
           "ends sooner (default 200)", "N"),
    Option("batch_size", positive_int, 32, "rows per step (default 32)", "N"),
    Option("lr", positive_float, None, "learning rate (default 0.001, 0.01 for sgd and "
           "momentum)", "RATE"),
    Option("optimizer", choice(*OPTIMIZER_NAMES), "adam",
           "one of " + ", ".join(OPTIMIZER_NAMES) + " (default adam)", "NAME"),
    Option("weight_decay", nonnegative_float, None, "L2 penalty (default 0; for adamw, "
           "decoupled, default 0.01)", "W"),
    Option("loss", choice("auto", *CLASSIFICATION_LOSSES, *REGRESSION_LOSSES), "auto",
           "auto (default): cross_entropy to classify, mse for regression; or mae, huber. A "
           "regression learns the standardized target, (y - mean) / std: its loss and "
           "val_loss are of that, the final rmse, mae and r2 in the target's units",
           "NAME"),
    Option("val_split", fraction, 0.2, "share of the training rows held out for validation "
           "and early stopping, rounded up; 0 turns both off (default 0.2)", "FRACTION"),
    Option("test_split", fraction, None, "share of rows held out for a test score, rounded "
           "up (default 0.2 with --dataset, else 0)", "FRACTION"),
    Option("patience", count, 20, "stop after this many epochs without a better validation "
           "loss, keeping the best weights; 0 turns early stopping off, as --val-split 0 does "
           "(default 20)", "N"),
    Option("seed", count, 0, "seed of the splits, initial weights, order and dropout: the "
           "same seed gives the same model file (default 0)", "N"),
    Option("plot", text, None, "write the loss and metric curves as an image, in the format "
           "its suffix names (.png, .svg, .pdf; PNG otherwise)", "PATH"),
    Option("diagnostics", text, None, "record gradient health per layer and epoch and write "
           "it as an HTML report with plots and flags", "PATH"),
    Option("checkpoint_dir", text, None, "write a checkpoint after every epoch into this "
           "folder", "DIR"),
    Option("resume", switch, False, "continue from the checkpoint in --checkpoint-dir"),
    Option("quiet", switch, False, "no progress on stderr"),
)  # fmt: skip
"""Every option of ``chainrule train`` (besides DATA and ``--config``)."""

BY_NAME = {option.name: option for option in OPTIONS}
REPEATABLE = ("drop",)
"""Options whose flag may be given more than once, each adding to the list."""

ALIASES = {"out": ("--output", "-o")}
"""Other flags of an option: ``--output``/``-o`` as predict, explain and export spell it."""


@dataclass(frozen=True)
class TrainSettings:
    """The resolved options of one ``chainrule train`` run."""

    data: str | None
    dataset: str | None
    target: str | None
    out: str
    task: str
    drop: list[str]
    max_categories: int
    arch: str
    hidden: list[int]
    activation: str
    dropout: float
    batch_norm: bool
    epochs: int
    batch_size: int
    lr: float | None
    optimizer: str
    weight_decay: float | None
    loss: str
    val_split: float
    test_split: float | None
    patience: int
    seed: int
    plot: str | None
    diagnostics: str | None
    checkpoint_dir: str | None
    resume: bool
    quiet: bool
    given: frozenset[str] = frozenset()
    """The options set by a flag or by ``--config``, rather than left at their default."""


assert {f.name for f in fields(TrainSettings)} == {"data", "given", *BY_NAME}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The training options as flags; each defaults to None so that a config file's value
    shows through where the flag is not given."""
    parser.add_argument(
        "data",
        nargs="?",
        default=None,
        metavar="DATA",
        help="CSV or TSV file (or .parquet); - reads standard input",
    )
    parser.add_argument(
        "--config",
        metavar="FILE.toml",
        help="read options from a TOML file (keys as the flags: epochs = 50, hidden = "
        "[64, 32]); flags given too win; paths in it are relative to the working directory, "
        "as on the command line, not to the file's folder",
    )
    for option in OPTIONS:
        if option.is_switch:
            parser.add_argument(
                option.flag,
                dest=option.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=option.help,
            )
        else:
            parser.add_argument(
                option.flag, *ALIASES.get(option.name, ()), dest=option.name, default=None,
                metavar=option.metavar, help=option.help,
                # --drop id --drop name leaves out both, as --drop id,name does
                action="append" if option.name in REPEATABLE else "store",
            )  # fmt: skip


def _read_config(path: str) -> dict[str, Any]:
    from chainrule.cli.tables import check_readable

    where = "train: --config"
    target = check_readable(path, where, "a TOML file")
    try:
        with target.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(
            f"{where}: expected TOML in {path!r}, got a syntax error: {error}"
        ) from None
    except UnicodeDecodeError:
        raise UsageError(
            f"{where}: expected TOML text in {path!r}, got bytes that are not text"
        ) from None


def resolve(args: argparse.Namespace) -> TrainSettings:
    """Defaults, then ``--config``, then flags, each value checked where it was read."""
    values: dict[str, Any] = {option.name: option.default for option in OPTIONS}
    values["data"] = None
    given: set[str] = set()
    if args.config is not None:
        label = f"train: config {args.config!r}"
        for key, value in _read_config(args.config).items():
            name = key.replace("-", "_")
            if name == "data":
                try:
                    values["data"] = text(value)
                except InvalidValueError:
                    raise UsageError(
                        f"{label}: {key}: expected a file path, got {value!r}"
                    ) from None
                continue
            if name not in BY_NAME:
                names = ["data", *(o.flag[2:] for o in OPTIONS)]
                close = difflib.get_close_matches(key.replace("_", "-"), names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(names)}"
                raise UsageError(f"{label}: expected a known option, got {key!r}{hint}")
            try:
                values[name] = BY_NAME[name].convert(value)
            except InvalidValueError as error:
                raise UsageError(
                    f"{label}: {key}: expected {error.expected}, got {value!r}"
                ) from None
            given.add(name)
    if args.data is not None:
        values["data"] = args.data
    for option in OPTIONS:
        raw = getattr(args, option.name)
        if raw is None:
            continue
        converted = []
        for part in raw if option.name in REPEATABLE else [raw]:
            try:
                converted.append(option.convert(part))
            except InvalidValueError as error:
                raise UsageError(
                    f"train: {option.flag}: expected {error.expected}, got {part!r}"
                ) from None
        repeated = option.name in REPEATABLE
        values[option.name] = [v for part in converted for v in part] if repeated else converted[0]
        given.add(option.name)
    return TrainSettings(**values, given=frozenset(given))
