"""``chainrule train``: a table (or a bundled dataset) in, one model file out.

The run: read the table; encode the target (classes or scaled values) and drop rows without
one; hold out a test part (stratified by class) and a validation part; learn the feature
preprocessing on the training part only; build a multilayer perceptron; train it by
backpropagation with early stopping on the validation loss (keeping the best weights);
score every part; write the model file with everything ``predict`` needs in its metadata.

Every random choice (splits, initial weights, batch order, dropout) comes from ``--seed``, so
the same command on the same data writes the same file, byte for byte; a run resumed from
``--checkpoint-dir`` writes the file an uninterrupted run would (see ``resume``).

One file because it is one run read top to bottom: the checks made before any work, the
loading, and the steps above in order.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import math
import re
import shlex
import sys
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainrule.backend import Array, np
from chainrule.cli import bundle, outputs
from chainrule.cli.errors import RunInterruptedError, UsageError, reword
from chainrule.cli.options import BY_NAME, DEFAULT_LR, TrainSettings, resolve
from chainrule.cli.outputs import FOREIGN_SUFFIXES, check_output, renamed
from chainrule.cli.resume import (
    CHECKPOINT_NAME,
    ResumableEarlyStopping,
    RunCheckpoint,
    resumable,
)
from chainrule.cli.tables import (
    STDIN,
    check_writable,
    label_of,
    nearest,
    read_table_and_format,
    same_file,
    with_names,
    writing,
)
from chainrule.data.tabular import (
    CategoricalColumn,
    NumericColumn,
    TabularPreprocessor,
    TargetEncoder,
    category_of,
    infer_task,
    parse_numbers,
)
from chainrule.distributed.environment import is_root
from chainrule.nn import Module
from chainrule.nn.conv import SMALL_CNN_DROPOUT, SMALL_CNN_HIDDEN
from chainrule.train import Callback, History

BUNDLED_TARGET = "target"
IDENTIFIER_MIN_ROWS = 20
"""A text column with a different value in every row of at least this many looks like an
identifier (fewer rows hold distinct categories by chance)."""


def run(args: argparse.Namespace) -> int:
    settings = _built(resolve(args))
    _check_settings(settings)
    log = _Log(settings.quiet)
    notes: list[str] = []
    table, target_name, source, number_format = _load(settings, notes)
    settings = dataclasses.replace(settings, drop=_drop_columns(settings, table))
    return _Run(settings, log, table, target_name, source, notes, number_format).train()


def _built(settings: TrainSettings) -> TrainSettings:
    """``settings`` as the network is built: without a hidden layer (``--hidden none``), a
    multilayer perceptron is one Linear layer, with no batch normalization or dropout to
    describe, record or check; a CNN has no dropout then, and its own defaults."""
    if settings.arch == "cnn":
        # ``--hidden`` and ``--dropout`` not given: ``small_cnn``'s own
        hidden = settings.hidden if "hidden" in settings.given else [SMALL_CNN_HIDDEN]
        dropout = settings.dropout if "dropout" in settings.given else SMALL_CNN_DROPOUT
        return dataclasses.replace(settings, hidden=hidden, dropout=dropout if hidden else 0.0)
    if not settings.hidden:
        return dataclasses.replace(settings, batch_norm=False, dropout=0.0)
    return settings


class _Log:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        if not self.quiet and is_root():  # under mpirun, one copy of each note
            print(f"train: {message}", file=sys.stderr, flush=True)


def _check_settings(settings: TrainSettings) -> None:
    """Mistakes that can be seen before reading any data: fail before work, not after."""
    if settings.data is not None and settings.dataset is not None:
        raise UsageError(
            f"train: expected DATA or --dataset, got both ({label_of(settings.data)} and "
            f"{settings.dataset!r})"
        )
    if settings.data is None and settings.dataset is None:
        raise UsageError(
            "train: expected a DATA file and --target COLUMN, or --dataset NAME, got neither "
            "(try: chainrule train --dataset digits)"
        )
    if settings.dataset is not None and settings.target is not None:
        raise UsageError(
            f"train: --target: expected none with --dataset (a bundled dataset names its "
            f"target), got {settings.target!r}"
        )
    if settings.data is not None and settings.target is None:
        raise UsageError(
            f"train: --target: expected the column of {label_of(settings.data)} to predict, got "
            f"none"
        )
    if settings.batch_norm and settings.batch_size == 1:
        raise UsageError(
            "train: --batch-size: expected at least 2 with batch normalization (on by default), "
            "which needs the statistics of a batch, got 1; pass --no-batch-norm to train on "
            "one row at a time"
        )
    check_writable(settings.out, "train", "--out")
    _check_model_suffix(settings.out)
    if settings.data is not None and same_file(settings.out, settings.data):
        raise UsageError(
            f"train: --out: expected a path other than the data's, got {settings.out!r}"
        )
    if settings.diagnostics is not None:
        check_writable(settings.diagnostics, "train", "--diagnostics")
    _check_distinct_outputs(settings)
    check_output(settings.out, "train", "--out", outputs.MODEL)
    if settings.diagnostics is not None:
        check_output(settings.diagnostics, "train", "--diagnostics", outputs.REPORT)
    if settings.plot is not None:
        check_writable(settings.plot, "train", "--plot")
        check_output(settings.plot, "train", "--plot", outputs.PICTURE)
        if importlib.util.find_spec("matplotlib") is None:
            raise UsageError(
                "train: --plot: expected matplotlib to draw with, got none installed; "
                "install it with `pip install matplotlib` (chainrule's `plot` extra)"
            )
    if settings.resume and settings.checkpoint_dir is None:
        raise UsageError("train: --resume: expected --checkpoint-dir DIR to resume from, got none")
    if settings.checkpoint_dir is not None and Path(settings.checkpoint_dir).is_file():
        raise UsageError(
            f"train: --checkpoint-dir: expected a folder, got the file {settings.checkpoint_dir!r}"
        )


def _check_model_suffix(out: str) -> None:
    """Refuse an --out whose suffix names another format: train writes safetensors, and a
    file called model.onnx that is not ONNX fails later, somewhere else."""
    suffix = Path(out).suffix.lower()
    if suffix not in FOREIGN_SUFFIXES:
        return
    stem = shlex.quote(renamed(out, ".safetensors"))  # `m.safetensors.pt`: m.safetensors
    export = ""
    if suffix == ".onnx":
        export = f", then `chainrule export {stem} --output {shlex.quote(out)}` writes ONNX"
    raise UsageError(
        f"train: --out: expected a path for a chainrule model file, which is safetensors "
        f"(such as model.safetensors), got {out!r}, the suffix of {FOREIGN_SUFFIXES[suffix]}; "
        f"pass --out {stem}{export}"
    )


def _same_path(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file, whether or not it exists yet."""
    return same_file(str(a), str(b)) or Path(a).resolve() == Path(b).resolve()


def _check_distinct_outputs(settings: TrainSettings) -> None:
    """Each file the run writes needs a path of its own: a plot written over the data or the
    model would destroy it and still report success."""
    outputs: list[tuple[str, str | None]] = [("--out", settings.out)]
    outputs += [("--plot", settings.plot), ("--diagnostics", settings.diagnostics)]
    if settings.checkpoint_dir is not None:
        checkpoint = Path(settings.checkpoint_dir) / CHECKPOINT_NAME
        outputs.append(("--checkpoint-dir", str(checkpoint)))
    named = [(flag, path) for flag, path in outputs if path is not None]
    for index, (flag, path) in enumerate(named):
        if settings.data is not None and _same_path(path, settings.data):
            raise UsageError(f"train: {flag}: expected a path other than the data's, got {path!r}")
        for other_flag, other in named[:index]:
            if _same_path(path, other):
                raise UsageError(
                    f"train: {flag}: expected a path other than {other_flag}'s, got {path!r}"
                )


def _load(settings: TrainSettings, notes: list[str]) -> tuple[Any, str, str, dict[str, str] | None]:
    """The table, the target's column name, what to call the source in metadata, and the
    number format the table showed (see ``read_table_and_format``); notes on how the table
    was read go to ``notes``."""
    import pandas as pd

    if settings.dataset is not None:
        from chainrule.data import load_dataset

        data = load_dataset(settings.dataset)
        frame = pd.DataFrame(data.x.astype(np.float64), columns=data.feature_names)
        labels: Array = data.y
        names = data.target_names
        if data.task == "classification" and names != [str(i) for i in range(len(names))]:
            labels = np.array(names, dtype=object)[data.y]
        frame[BUNDLED_TARGET] = labels
        return frame, BUNDLED_TARGET, f"dataset {settings.dataset}", None
    assert settings.data is not None and settings.target is not None
    frame, number_format = read_table_and_format(settings.data, "train", notes)
    frame = with_names(frame, [settings.target, *settings.drop])
    columns = [str(c) for c in frame.columns]
    source = "standard input" if settings.data == STDIN else Path(settings.data).name
    if settings.target not in columns:
        stripped = settings.target.strip()
        if stripped != settings.target and stripped in columns:
            # The header's spaces are stripped from column names: `--target " b "` is b.
            return frame, stripped, source, number_format
        raise UsageError(
            f"train: --target: expected a column of {label_of(settings.data)}, got "
            f"{settings.target!r}; "
            f"{nearest(settings.target, columns)}"
        )
    return frame, settings.target, source, number_format


def _drop_columns(settings: TrainSettings, table: Any) -> list[str]:
    """The columns ``--drop`` names: a text that names a column whole (``Income, USD``) is
    that column, any other is split at its commas (``id,name``); each must be a column of
    the table, a bundled dataset's too."""
    columns = [str(c) for c in table.columns]
    source = repr(settings.data) if settings.data is not None else f"dataset {settings.dataset}"
    # A name matches its column in either Unicode form of an accented letter, as --target.
    forms = {unicodedata.normalize("NFC", c): c for c in columns}

    def column_of(name: str) -> str | None:
        return name if name in columns else forms.get(unicodedata.normalize("NFC", name))

    names: list[str] = []
    for entry in settings.drop:
        whole_entry = column_of(entry)
        parts = [entry] if whole_entry is not None else [p.strip() for p in entry.split(",")]
        for part in filter(None, parts):
            name = column_of(part)
            if name is None:
                split = "" if part == entry else f" (from {entry!r}, split at its commas)"
                whole = "; a name with a comma in it takes a --drop of its own" * bool(split)
                raise UsageError(
                    f"train: --drop: expected columns of {source}, got {part!r}{split}{whole}; "
                    f"{nearest(part, columns)}"
                )
            names.append(name)
    return names


def _is_empty(column: Any) -> bool:
    """Whether ``column`` holds no value at all, like the unnamed last column of a file whose
    lines end in a comma: nothing to learn from, and nothing to ask of a table to predict."""
    return bool(column.dropna().astype(str).str.strip().eq("").all())


def _numbers(column: Any) -> Array | None:
    """``parse_numbers`` of a column of the table."""
    return parse_numbers(column.to_numpy(dtype=object))


def _is_row_number(column: Any, numbers: Array | None) -> bool:
    """Whether ``column`` (whose ``_numbers`` are ``numbers``) numbers the rows in order,
    from 0 or from 1."""
    if len(column) < IDENTIFIER_MIN_ROWS:
        return False
    if numbers is None or numbers[0] not in (0, 1):
        return False
    return bool(np.array_equal(numbers, np.arange(len(numbers)) + numbers[0]))


def _stray_text(column: Any) -> tuple[int, Any, int] | None:
    """For a column of numbers but for a few texts (at most a tenth of its values): the row
    (from 1) and value of the first text, and how many there are; else None. Numbers may be
    written as ``parse_numbers`` reads them (``$1,200``, ``12%``)."""
    import pandas as pd

    values = column.to_numpy(dtype=object)
    present = column.notna().to_numpy() & column.astype(str).str.strip().ne("").to_numpy()
    limit = 0.1 * present.sum()
    text = present & pd.to_numeric(column, errors="coerce").isna().to_numpy()
    rows: list[int] = []
    for row in np.flatnonzero(text):  # the quick test above misses ``$1,200``: ask each
        if parse_numbers(values[row : row + 1]) is None:
            rows.append(int(row))
            if len(rows) > limit:
                return None
    if not rows:
        return None
    return rows[0] + 1, values[rows[0]], len(rows)


def _check_stray_target(values: Any, name: str) -> None:
    """Refuse a target of numbers to predict but for a few texts (a typo, a missing value
    written ``unknown``): read as text, every distinct number would become a class of its own."""
    stray = _stray_text(values)
    if stray is None:
        return
    import pandas as pd

    row, value, count = stray
    numbers = values.to_numpy(dtype=object).copy()
    for i in np.flatnonzero(pd.to_numeric(values, errors="coerce").isna().to_numpy()):
        if parse_numbers(numbers[i : i + 1]) is None:  # the quick test misses ``$1,200``
            numbers[i] = None
    if infer_task(numbers) != "regression":
        return  # a few whole numbers and a text: classes either way
    which = "a value" if count == 1 else f"{count} values, such as"
    raise UsageError(
        f"train: --target {name!r}: expected numbers to predict or labels of classes, got "
        f"numbers but for {which} that is not a number: {str(value)!r} in row {row}; leave a "
        f"missing value empty (or write NA or ?), or pass --task classification to make each "
        f"value a class"
    )


_DATE = re.compile(
    r"(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([AaPp][Mm]|Z|[+-]\d{2}:?\d{2})?)?"
)
"""A date, with or without a time: ``2024-03-01``, ``01/03/2024``, ``2024-03-01T12:00Z``."""


def _is_date(column: Any) -> bool:
    """Whether every value of ``column`` is a date (or a date and a time)."""
    present = column.dropna().astype(str).str.strip()
    present = present[present.ne("")]
    return bool(len(present)) and bool(present.str.fullmatch(_DATE).all())


def _is_identifier(column: Any, numbers: Array | None) -> bool:
    """Whether ``column`` (whose ``_numbers`` are ``numbers``) is text with a different
    value in every row: one-hot encoded, such a column only lets the network memorize rows."""
    if len(column) < IDENTIFIER_MIN_ROWS or numbers is not None:
        return False
    return bool(column.nunique() == len(column))


def _split(
    n: int, fraction: float, seed: np.random.SeedSequence, classes: Array | None, what: str
) -> tuple[Array, Array]:
    """Indices kept and held out (``fraction`` of ``n``, stratified by ``classes``)."""
    from chainrule.data import stratified_split

    if fraction == 0:
        return np.arange(n), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if classes is not None:
        kept, held = stratified_split(classes, fraction, rng)
    else:
        order = rng.permutation(n)
        size = math.ceil(fraction * n)  # as stratified_split and scikit-learn count
        kept, held = np.sort(order[size:]), np.sort(order[:size])
    if classes is not None and len(held) == 0 and len(kept) > 1:
        n_classes = len(np.unique(classes))
        raise UsageError(
            f"train: --{what}-split: expected classes with rows enough to hold out "
            f"{fraction:g} of each, got {n} rows in {n_classes} classes; pass --{what}-split "
            f"0, or --task regression if the target is a number to predict"
        )
    if len(kept) == 0 or len(held) == 0:
        raise UsageError(
            f"train: --{what}-split: expected enough rows to hold out {fraction:g} of them, got "
            f"{n} rows; pass --{what}-split 0 or more data"
        )
    return kept, held


def _splits(n: int, fraction: float, seed: np.random.SeedSequence, classes: Array | None) -> bool:
    """Whether ``_split`` can hold out ``fraction`` of these ``n`` rows."""
    try:
        _split(n, fraction, seed, classes, "val")
    except UsageError:
        return False
    return True


def _optimizer(settings: TrainSettings, model: Module) -> tuple[Any, float, float]:
    from chainrule.optim import SGD, Adam, AdamW, RMSprop

    lr = settings.lr if settings.lr is not None else DEFAULT_LR[settings.optimizer]
    decay = settings.weight_decay
    if decay is None:
        decay = 0.01 if settings.optimizer == "adamw" else 0.0
    params = list(model.parameters())
    optimizer: Any
    if settings.optimizer in ("sgd", "momentum"):
        momentum = 0.9 if settings.optimizer == "momentum" else 0.0
        optimizer = SGD(params, lr=lr, momentum=momentum, weight_decay=decay)
    elif settings.optimizer == "adam":
        optimizer = Adam(params, lr=lr, weight_decay=decay)
    elif settings.optimizer == "adamw":
        optimizer = AdamW(params, lr=lr, weight_decay=decay)
    else:
        optimizer = RMSprop(params, lr=lr, weight_decay=decay)
    return optimizer, lr, decay


def _loss(settings: TrainSettings, task: str) -> tuple[Module, str]:
    from chainrule import nn

    name = settings.loss
    if name == "auto":
        name = "cross_entropy" if task == "classification" else "mse"
    allowed = ("cross_entropy",) if task == "classification" else ("mse", "mae", "huber")
    if name not in allowed:
        raise UsageError(
            f"train: --loss: expected {' or '.join(allowed)} for {task}, got {name!r}"
            + ("; pass --task regression to predict numbers" if task == "classification" else "")
        )
    losses: dict[str, type[Module]] = {
        "cross_entropy": nn.CrossEntropyLoss,
        "mse": nn.MSELoss,
        "mae": nn.L1Loss,
        "huber": nn.HuberLoss,
    }
    return losses[name](), name


def _loss_units(loss_name: str, encoder: TargetEncoder) -> str:
    """The note that a regression's loss, in the progress lines and the stop reason, is of
    the standardized target, while the final tables are in the target's units."""
    scale = f"{encoder.std:.4g}"
    convert = {
        "mse": f"an mse of L is an rmse of {scale} * sqrt(L) in the target's units",
        "mae": f"an mae of L is an mae of {scale} * L in the target's units",
    }.get(loss_name, "it has no simple conversion to the target's units")
    return (
        f"loss and val_loss are the {loss_name} of the standardized target, (target - "
        f"{encoder.mean:.4g}) / {scale}: {convert}; the final table's rmse, mae and r2 are "
        f"in the target's units"
    )


@dataclass
class _Parts:
    """Row indices of each part of the table, and the target's encoding."""

    encoder: TargetEncoder
    table: Any
    rows: dict[str, Array]  # "training", and "validation" and "test" where they exist
    test_split: float
    left_out: int  # rows without a target value


class _Run:
    """One training run, step by step (see the module's docstring)."""

    def __init__(
        self,
        settings: TrainSettings,
        log: _Log,
        table: Any,
        target_name: str,
        source: str,
        notes: list[str] | None = None,
        number_format: dict[str, str] | None = None,
    ) -> None:
        self.settings, self.log, self.source = settings, log, source
        self.number_format = number_format  # as the table wrote its numbers, where it showed
        self.notes = notes or []  # on how the table was read
        self.target_name = target_name
        self.table = table
        drop = {target_name, *settings.drop}
        columns = [str(c) for c in table.columns if str(c) not in drop]
        self.empty = [name for name in columns if _is_empty(table[name])]
        self.feature_columns = [name for name in columns if name not in self.empty]
        if not self.feature_columns:
            raise UsageError(
                f"train: expected at least one feature column with values besides the target "
                f"{target_name!r}, got none"
            )
        # Each column is read as numbers once (None where it holds text): on a large table
        # that reading takes longer than an epoch.
        numbers = {name: _numbers(table[name]) for name in self.feature_columns}
        # An unnamed column numbering the rows is the index pandas writes with to_csv: it
        # cannot be named to --drop, and a model would only learn the order of the file.
        self.row_index = [
            name
            for name in self.feature_columns
            if not name and _is_row_number(table[name], numbers[name])
        ]
        self.feature_columns = [n for n in self.feature_columns if n not in self.row_index]
        if not self.feature_columns:
            raise UsageError(
                f"train: expected at least one feature column with values besides the target "
                f"{target_name!r} and the row numbers, got none"
            )
        # A column's kind is read from every row, so that text in a row held out for
        # validation makes it a column of categories, as text in a training row does.
        self.categorical = [name for name in self.feature_columns if numbers[name] is None]
        self.dates = [name for name in self.categorical if _is_date(table[name])]
        self.identifiers = [
            name
            for name in self.feature_columns
            if name not in self.dates
            and (
                _is_identifier(table[name], numbers[name])
                or _is_row_number(table[name], numbers[name])
            )
            and _stray_text(table[name]) is None  # numbers but for a typo: said so below
        ]
        seeds = np.random.SeedSequence(settings.seed).spawn(4)
        self.test_seed, self.val_seed, self.model_seed, self.fit_seed = seeds

    def train(self) -> int:
        s = self.settings
        parts = self._split()
        encoder, target = parts.encoder, parts.table[self.target_name]
        features = TabularPreprocessor(s.max_categories)
        try:
            features.fit(
                parts.table.iloc[parts.rows["training"]], self.feature_columns, self.categorical
            )
        except ValueError as error:
            raise reword(error, "train") from None
        data = {
            name: (
                features.transform(parts.table.iloc[rows]),
                encoder.encode(target.iloc[rows]),
            )
            for name, rows in parts.rows.items()
        }
        model = self._network(features, encoder)
        loss, loss_name = _loss(s, encoder.task)
        optimizer, lr, decay = _optimizer(s, model)
        settings_record = {
            "arch": s.arch,
            "hidden": list(s.hidden),
            "activation": s.activation,
            "dropout": s.dropout,
            "batch_norm": s.batch_norm,
            "epochs": s.epochs,
            "batch_size": s.batch_size,
            "optimizer": s.optimizer,
            "lr": lr,
            "weight_decay": decay,
            "loss": loss_name,
            "val_split": s.val_split,
            "test_split": parts.test_split,
            "patience": s.patience,
            "seed": s.seed,
            "drop": list(s.drop),
        }
        if s.max_categories != BY_NAME["max_categories"].default:
            # only then: a checkpoint of an earlier version, which has no such key, resumes
            settings_record["max_categories"] = s.max_categories
        # What a checkpoint must share with this run to be resumed by it.
        run_record = {
            "source": self.source,
            "rows": len(parts.table),
            "features": self.feature_columns,
            **{k: v for k, v in settings_record.items() if k not in ("epochs", "patience")},
        }
        # A regression network learns the standardized target: its loss is of that.
        unit = f" ({loss_name} of the standardized target)" if encoder.task == "regression" else ""
        stopper = ResumableEarlyStopping(s.patience, unit) if "validation" in data else None
        callbacks: list[Callback] = [stopper] if stopper is not None else []
        health = None
        if s.diagnostics is not None:
            from chainrule.explain import GradientHealth

            health = GradientHealth()
            callbacks.append(health)
        resume_from = None
        if s.checkpoint_dir is not None:
            path = self._checkpoint_path()
            if s.resume:
                scratch = self._network(features, encoder)
                resume_from = resumable(
                    path, str(s.checkpoint_dir), run_record, stopper, scratch, s.epochs
                )
            elif path.exists():
                self.log(f"starting afresh: {str(path)!r} will be replaced (--resume continues it)")
            callbacks.append(RunCheckpoint(path, stopper, run_record))

        # Notes on stderr start only now, once every check has passed: a mistake is one line.
        self._describe(features, encoder, parts, lr, loss_name)
        if stopper is None and s.patience > 0 and "patience" in s.given:
            self.log(
                f"--patience {s.patience} has no effect: early stopping watches the validation "
                f"loss, and --val-split 0 holds out no rows for it; every one of --epochs "
                f"{s.epochs} runs"
            )
        try:
            history = self._fit(model, loss, optimizer, data, encoder.task, callbacks, resume_from)
        except UsageError as error:  # the loss diverged: what the health report is for
            if health is None or s.diagnostics is None or not is_root():
                raise
            with writing("train", "--diagnostics", s.diagnostics):
                health.report.to_html(s.diagnostics)
            raise UsageError(f"{error}; gradient health report in {s.diagnostics}") from None
        if history.stop_reason:
            self.log(history.stop_reason)

        from chainrule.io import save
        from chainrule.train import predict

        metrics = {
            name: bundle.scores(encoder, predict(model, x), y) for name, (x, y) in data.items()
        }
        metadata = {
            "format": bundle.FORMAT,
            "version": 1,
            "task": encoder.task,
            "target": self.target_name,
            "classes": list(encoder.classes) if encoder.task == "classification" else None,
            "positive_class": bundle.positive_class(encoder),
            "feature_columns": self.feature_columns,
            "preprocessing": features.to_dict(),
            "target_encoding": encoder.to_dict(),
            "settings": settings_record,
            "training": {
                "source": self.source,
                "rows": {name: len(rows) for name, rows in parts.rows.items()},
                "epochs_run": len(history.epoch),
                "best_epoch": stopper.best_epoch if stopper and s.patience else None,
                "stop_reason": history.stop_reason,
            },
            "metrics": metrics,
        }
        if self.number_format is not None:  # only then: files of earlier versions lack it
            metadata["number_format"] = self.number_format
        if not is_root():
            return 0  # under mpirun, rank 0 writes the files and prints the results
        # The plot and the report first: if one of them cannot be written, the command fails
        # before it replaces a model already at --out.
        extras = ""
        if s.plot is not None:
            with writing("train", "--plot", s.plot):
                history.plot(s.plot, titles={"loss": f"loss{unit}"} if unit else None)
            extras += f"; curves plotted to {s.plot}"
        if health is not None and s.diagnostics is not None:
            with writing("train", "--diagnostics", s.diagnostics):
                health.report.to_html(s.diagnostics)
            for flag in health.report.flags:
                self.log(f"diagnostics: {flag}")
            extras += f"; gradient health report in {s.diagnostics}"
        with writing("train", "--out", s.out):
            save(model, s.out, metadata=metadata)
        written = f"model written to {s.out} ({bundle.n_parameters(model):,} parameters){extras}"
        print(bundle.format_table(metrics))
        if metadata["positive_class"] is not None:
            print(bundle.f1_note(metadata["positive_class"]))
        print(written)
        return 0

    def _split(self) -> _Parts:
        """Encode the target (rows without one left out), then hold out the test part and
        the validation part, stratified by class for a classification."""
        s = self.settings
        values = self.table[self.target_name]
        if s.task == "auto":
            _check_stray_target(values, self.target_name)
        try:
            encoder = TargetEncoder(s.task).fit(values)
        except ValueError as error:
            raise reword(error, f"train: --target {self.target_name!r}") from None
        missing = encoder.missing(values)
        table = self.table
        if missing.any():
            table = table[~missing].reset_index(drop=True)
        classification = encoder.task == "classification"
        classes = encoder.encode(table[self.target_name]) if classification else None
        test_split = s.test_split if s.test_split is not None else (0.2 if s.dataset else 0.0)
        rest, test = _split(len(table), test_split, self.test_seed, classes, "test")
        rest_classes = None if classes is None else classes[rest]
        try:
            kept, held = _split(len(rest), s.val_split, self.val_seed, rest_classes, "val")
        except UsageError:
            # The validation part is taken from the rows the test part left: when the whole
            # table could give it, it is the test part that took too many.
            if len(test) and _splits(len(table), s.val_split, self.val_seed, classes):
                raise UsageError(
                    f"train: --test-split: expected to leave rows enough to hold out "
                    f"--val-split {s.val_split:g} for validation, got {len(rest)} of "
                    f"{len(table)} rows left after holding out {test_split:g} for test; pass "
                    f"a smaller --test-split"
                ) from None
            raise
        train, val = rest[kept], rest[held]
        if s.batch_norm and len(train) % s.batch_size == 1 and len(train) > 1:
            # A last batch of one row has no batch statistics: that row validates instead
            # (or, without validation, sits out).
            if len(val):
                val = np.sort(np.append(val, train[-1]))
            train = train[:-1]
        if len(train) < 2:
            raise UsageError(
                f"train: expected at least 2 rows to train on, got {len(train)} of {len(table)} "
                f"after holding out validation and test rows"
            )
        if not classification:  # the network learns (y - mean) / std of the training part
            encoder = TargetEncoder("regression").fit(table[self.target_name].iloc[train])
        rows = {"training": train, "validation": val, "test": test}
        parts = {k: v for k, v in rows.items() if len(v)}
        return _Parts(encoder, table, parts, test_split, int(missing.sum()))

    def _network(self, features: TabularPreprocessor, encoder: TargetEncoder) -> Module:
        s = self.settings
        try:
            if s.arch == "cnn":
                return self._cnn(features, encoder)
            return bundle.build_network(
                features.n_features_out, encoder.n_outputs, s.hidden, s.activation, s.dropout,
                s.batch_norm, self.model_seed,
            )  # fmt: skip
        except MemoryError:
            widths = ",".join(str(size) for size in s.hidden)
            kind = "convolutional network" if s.arch == "cnn" else "network"
            raise UsageError(
                f"train: --hidden {widths}: expected layer widths whose weights fit in memory, "
                f"got a {kind} of {features.n_features_out} inputs that does not"
            ) from None

    def _cnn(self, features: TabularPreprocessor, encoder: TargetEncoder) -> Module:
        """A small CNN over rows read as square one-channel images (--arch cnn)."""
        from chainrule.nn.conv import small_cnn

        n = features.n_features_out
        side = round(n**0.5)
        if encoder.task != "classification":
            raise UsageError(
                f"train: --arch cnn: expected a classification of square one-channel images, "
                f"got a {encoder.task}; use --arch mlp"
            )
        if side * side != n:
            raise UsageError(
                f"train: --arch cnn: expected a classification of square one-channel images "
                f"(a square number of numeric columns, such as 64 for 8x8 pixels), got {n} "
                f"inputs, not a square number of pixels; use --arch mlp for a table"
            )
        smallest = 4  # small_cnn's two blocks each halve the image with a 2x2 pooling
        if side < smallest:
            raise UsageError(
                f"train: --arch cnn: expected images of at least {smallest}x{smallest} pixels "
                f"({smallest * smallest} numeric columns) for the network's two 2x2 poolings, "
                f"got {side}x{side} ({n} inputs); use --arch mlp for a table this narrow"
            )
        rng = np.random.default_rng(self.model_seed)
        s = self.settings
        try:
            return small_cnn(
                (1, side, side), encoder.n_outputs, hidden=s.hidden, dropout=s.dropout,
                generator=rng, batch_norm=s.batch_norm,
                activation=bundle.activation_type(s.activation),
            )  # fmt: skip
        except ValueError as error:
            raise UsageError(f"train: --arch cnn: {error}") from None

    def _describe(
        self,
        features: TabularPreprocessor,
        encoder: TargetEncoder,
        parts: _Parts,
        lr: float,
        loss_name: str,
    ) -> None:
        s = self.settings
        for note in self.notes:
            self.log(note)
        if parts.left_out:
            self.log(f"left out {parts.left_out} rows without a {self.target_name!r} value")
        for name in self.empty:
            self.log(f"left out column {name!r}: it has no values")
        for name in self.row_index:
            self.log(
                f"left out column {name!r}: it has no name and numbers the rows, like the "
                f"index pandas writes unless to_csv is given index=False"
            )
        for name in self.categorical:
            stray = _stray_text(self.table[name])
            if stray is not None:
                row, value, count = stray
                which = "a value" if count == 1 else f"{count} values, such as"
                self.log(
                    f"column {name!r} is read as categories, not numbers, because of {which} "
                    f"that is not a number: {str(value)!r} in row {row}; leave a missing value "
                    f"empty (or write NA or ?) to keep the column numeric"
                )
        for name in self.dates:
            self.log(
                f"column {name!r} holds dates, read as categories: the model learns nothing "
                f"from their order and nothing of a date it never saw; write them as numbers "
                f"(such as days since a start, or year and month columns), or --drop "
                f"{shlex.quote(name)}"
            )
        for name in self.identifiers:
            self.log(
                f"column {name!r} has a different value in every row, like an identifier, and "
                f"cannot help predict new rows; --drop {shlex.quote(name)} leaves it out"
            )
        training = parts.table.iloc[parts.rows["training"]]
        for column in features.columns:
            if isinstance(column, CategoricalColumn) and column.name not in self.identifiers:
                self._note_categories_left(column, training[column.name])
        n_numeric = sum(isinstance(c, NumericColumn) for c in features.columns)
        if encoder.task == "classification":
            what = f"classification into {encoder.n_outputs} classes"
        else:
            what = "regression"
        n_columns, n_inputs = len(self.feature_columns), features.n_features_out
        self.log(
            f"{what} of {self.target_name!r} from {n_columns} column{'s' * (n_columns != 1)} "
            f"({n_numeric} numeric, {n_columns - n_numeric} categorical) "
            f"-> {n_inputs} input{'s' * (n_inputs != 1)}"
        )
        if s.task == "auto" and encoder.task == "classification" and s.dataset is None:
            classes = np.array(encoder.classes, dtype=object)
            if len(classes) > 2 and parse_numbers(classes) is not None:  # 0/1 are classes
                self.log(
                    f"{self.target_name!r} holds {len(classes)} distinct whole numbers, so each "
                    f"is a class; --task regression predicts numbers instead"
                )
        if encoder.task == "regression":
            self.log(_loss_units(loss_name, encoder))
        widths = "-".join(str(w) for w in [features.n_features_out, *s.hidden, encoder.n_outputs])
        if s.arch == "cnn":
            hidden = ",".join(str(size) for size in s.hidden) or "none"
            self.log(
                ", ".join(f"{len(rows)} rows for {name}" for name, rows in parts.rows.items())
                + f"; a convolutional network (--arch cnn; hidden {hidden}, "
                + f"{s.activation}"
                + (f", dropout {s.dropout:g}" if s.dropout else "")
                + (", batch norm" if s.batch_norm else "")
                + f"), {s.optimizer} lr {lr:g}"
            )
            return
        self.log(
            ", ".join(f"{len(rows)} rows for {name}" for name, rows in parts.rows.items())
            + f"; network {widths}"
            + (f" ({s.activation}" if s.hidden else "")
            + (f", dropout {s.dropout:g}" if s.dropout else "")
            + (", batch norm" if s.batch_norm else "")
            + (")" if s.hidden else " (no hidden layer)")
            + f", {s.optimizer} lr {lr:g}"
        )

    def _note_categories_left(self, column: CategoricalColumn, values: Any) -> None:
        """A note where ``--max-categories`` left categories of ``column`` out of the model:
        their rows count as none of its categories, at training and at prediction time."""
        if len(column.categories) < self.settings.max_categories:
            return
        cells = values.to_numpy(dtype=object)
        left = column.unknown(cells)
        if not left.any():
            return
        total = len(column.categories) + len({category_of(v) for v in cells[left]})
        example = category_of(cells[left][0])
        example = example if len(example) <= 40 else example[:37] + "..."
        self.log(
            f"column {column.name!r} holds {total:,} categories in the training rows; the "
            f"{len(column.categories):,} most frequent are kept (--max-categories "
            f"{self.settings.max_categories}), and {int(left.sum()):,} of its "
            f"{int(values.notna().sum()):,} values, such as {example!r}, count as none of "
            f"them; --max-categories {total} keeps them all"
        )

    def _checkpoint_path(self) -> Path:
        folder = Path(str(self.settings.checkpoint_dir))
        if self.settings.resume:  # nothing to make: a missing folder is reported by resumable
            return folder / CHECKPOINT_NAME
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(
                f"train: --checkpoint-dir: expected a folder that can be made, got "
                f"{str(folder)!r}: {error.strerror}"
            ) from None
        return folder / CHECKPOINT_NAME

    def _fit(
        self,
        model: Module,
        loss: Module,
        optimizer: Any,
        data: dict[str, tuple[Array, Array]],
        task: str,
        callbacks: list[Callback],
        resume_from: Path | None,
    ) -> History:
        """``fit``, with a diverging loss and Ctrl-C turned into the command's errors."""
        from chainrule.train import DivergenceWarning, fit

        s = self.settings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DivergenceWarning)
            history = fit(
                model,
                loss,
                optimizer,
                data["training"],
                epochs=s.epochs,
                batch_size=s.batch_size,
                validation_data=data.get("validation"),
                metrics=["accuracy"] if task == "classification" else [],
                callbacks=callbacks,
                seed=int(self.fit_seed.generate_state(1)[0]),
                verbose=0 if s.quiet else "auto",
                resume_from=resume_from,
            )
        for warning in caught:
            if issubclass(warning.category, DivergenceWarning):
                what = str(warning.message).split("; training stopped")[0]
                raise UsageError(
                    f"{what.replace('fit: ', 'train: ', 1)}; no model was written. Lower --lr, "
                    f"or check the data for extreme values"
                )
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )
        if history.interrupted:
            done = len(history.epoch)
            hint = ""
            if s.checkpoint_dir is not None and done:
                hint = f"; `--resume` continues after epoch {done}"
            raise RunInterruptedError(
                f"train: interrupted in epoch {done + 1}; nothing was written{hint}"
            )
        return history
