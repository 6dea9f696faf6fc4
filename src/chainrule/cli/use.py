"""``chainrule predict``, ``evaluate`` and ``info``: what a model file written by ``train``
does with a new table, how well, and what it is. Each needs only the model file."""

from __future__ import annotations

import argparse
import difflib
import json
import math
import sys
from typing import Any

from chainrule.backend import Array, np
from chainrule.cli import bundle
from chainrule.cli.errors import UsageError, reword
from chainrule.cli.outputs import TABLE, TEXT, Output, check_output
from chainrule.cli.tables import (
    STDIN,
    check_writable,
    format_csv,
    label_of,
    missing_target,
    nearest,
    print_notes,
    read_table,
    read_table_and_column,
    same_file,
    with_names,
    write_result,
)
from chainrule.data.tabular import CategoricalColumn, NumericColumn, category_of


def _features(trained: bundle.Trained, table: Any, data: str, where: str) -> Array:
    """The model's input matrix from ``table``: every feature column must be there (the
    absent ones are named); the order of columns and any extra ones do not matter."""
    table = with_names(table, trained.features.feature_columns)
    present = {str(c) for c in table.columns}
    absent = [name for name in trained.features.feature_columns if name not in present]
    if absent:
        plural = len(absent) > 1
        hint = _renames(absent, present - set(trained.features.feature_columns))
        raise UsageError(
            f"{where}: expected the feature column{'s' if plural else ''} "
            f"{', '.join(map(repr, absent[:10]))}{' and more' if len(absent) > 10 else ''} "
            f"that the model was trained with in {label_of(data)}, got a table without "
            f"{'them' if plural else 'it'}{hint}"
        )
    try:
        return trained.features.transform(table)
    except ValueError as error:
        raise reword(error, f"{where}: {label_of(data)}") from None


def _renames(absent: list[str], present: set[str]) -> str:
    """A hint naming the columns of the table (``present``, those the model does not take)
    that look like the absent ones (``Age`` for ``age``), as ``train --target`` suggests
    one; empty where none does."""
    others = sorted(present)
    pairs = []
    for name in absent[:10]:
        folded = [c for c in others if c.casefold() == name.casefold()]
        close = folded or difflib.get_close_matches(name, others, n=1, cutoff=0.8)
        if close:
            pairs.append(f"{close[0]!r} for {name!r}")
    if not pairs:
        return ""
    return f"; did you mean {', '.join(pairs)}? Rename the column{'s' * (len(pairs) > 1)}"


def _note_unknown_categories(trained: bundle.Trained, table: Any, where: str) -> None:
    """A note on stderr per categorical column with values the model has no category for
    (each such row gets none of that column's categories, as documented)."""
    for column in trained.features.columns:
        if not isinstance(column, CategoricalColumn):
            continue
        values = table[column.name].to_numpy(dtype=object)
        unknown = column.unknown(values)
        if unknown.any():
            count = int(unknown.sum())
            which = f"{count} values" if count > 1 else "a value"
            text = category_of(values[unknown][0])
            text = text if len(text) <= 40 else text[:37] + "..."  # a cell may be a page long
            example = f"{text!r} in row {int(unknown.argmax()) + 1}"
            kept = ""
            if len(column.categories) >= trained.features.max_categories:
                kept = (
                    f"; the model kept the {len(column.categories)} most frequent categories "
                    f"of its training rows (train --max-categories keeps more)"
                )
            print(
                f"{where}: column {column.name!r} holds {which} the model has no category "
                f"for ({'such as ' * (count > 1)}{example}); "
                f"{'they count' if count > 1 else 'it counts'} as none of its categories{kept}",
                file=sys.stderr,
            )


def _check_output(path: str | None, where: str, output: Output, *inputs: str) -> None:
    """Fail before any work where --output ``path`` cannot be written, is one of the
    ``inputs``, or would replace a file of another kind (see ``outputs.check_output``)."""
    if path is None:
        return
    flag = "--output"
    check_writable(path, where, flag)
    for other in inputs:
        if same_file(path, other):
            raise UsageError(
                f"{where}: {flag}: expected a path other than the input {other!r}, got the "
                f"same file"
            )
    check_output(path, where, flag, output)


def run_predict(args: argparse.Namespace) -> int:
    import pandas as pd

    where = "predict"
    output = None if args.output == STDIN else args.output  # `-o -`: standard output
    _check_output(output, where, TABLE, args.model, args.data)
    trained = bundle.read(args.model, where)
    if args.proba and trained.task != "classification":
        raise UsageError(
            f"{where}: --proba: expected a classification model, got a {trained.task} model"
        )
    written_columns = ["prediction"]
    if args.proba:
        written_columns += [f"proba_{_label_text(label)}" for label in trained.target.classes]
    if args.id is not None and args.id in written_columns:
        raise UsageError(
            f"{where}: --id: expected a column name other than those predict writes "
            f"({', '.join(map(repr, written_columns[:6]))}{', ...' * (len(written_columns) > 6)})"
            f", got {args.id!r}, which the outputs would overwrite; rename the column"
        )
    notes: list[str] = []
    table, ids = read_table_and_column(
        args.data, where, args.id, notes, trained.metadata.get("number_format")
    )
    names = trained.features.feature_columns
    table = with_names(table, names if args.id is None else [args.id, *names])
    if args.id is not None and (ids is None or args.id not in table.columns):
        raise UsageError(
            f"{where}: --id: expected a column of {label_of(args.data)}, got {args.id!r}; "
            f"{nearest(args.id, [str(c) for c in table.columns])}"
        )
    outputs = trained.outputs(_features(trained, table, args.data, where))
    print_notes(where, notes)
    _note_unknown_categories(trained, table, where)
    result = pd.DataFrame(index=range(len(table)))
    if args.id is not None:
        result[args.id] = ids.to_numpy()
    predictions = trained.target.decode(outputs)
    if trained.task == "regression":
        result["prediction"] = [_value_text(v, trained.target.std) for v in predictions]
    else:
        result["prediction"] = predictions
    if args.proba:
        proba = bundle.softmax(outputs)
        for i, name in enumerate(written_columns[1:]):
            result[name] = [f"{p:.6f}" for p in proba[:, i]]
    written = f"predict: {len(result)} predictions written to {output}"
    write_result(format_csv(result), output, written, where)
    return 0


def _label_text(label: Any) -> str:
    """A class label as the name of its probability column writes it (``proba_setosa``)."""
    return label if isinstance(label, str) else category_of(label)


def _value_text(value: float, std: float) -> str:
    """A predicted value as text, never in e-notation, to the digits the network's float32
    output carries: it computes the value in units of the target's ``std``, to 7 significant
    digits, so ``value`` gets 7 plus one per power of ten that it is larger than ``std``. A
    value far from zero next to its spread (a reading of 1000000000.0042 with a std of
    0.001) keeps the digits in which values differ.

    >>> _value_text(12345678.9, 1e7), _value_text(12345678.9, 1.0)
    ('12345680', '12345678.9')
    >>> _value_text(1000000000.0042, 0.001)
    '1000000000.0042'
    """
    ratio = abs(value) / std if std > 0 else 0.0
    extra = max(0, math.floor(math.log10(ratio))) if ratio > 0 and math.isfinite(ratio) else 0
    digits = min(17, 7 + extra)  # float64 holds 17
    return np.format_float_positional(
        value, precision=digits, unique=False, fractional=False, trim="-"
    )


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


def run_evaluate(args: argparse.Namespace) -> int:
    where = "evaluate"
    output = None if args.output == STDIN else args.output  # `-o -`: standard output
    _check_output(output, where, TEXT, args.model, args.data)
    trained = bundle.read(args.model, where)
    target = args.target if args.target is not None else str(trained.metadata.get("target"))
    notes: list[str] = []
    table = read_table(args.data, where, notes, trained.metadata.get("number_format"))
    table = with_names(table, [target, *trained.features.feature_columns])
    columns = [str(c) for c in table.columns]
    flag = "--target" if args.target is not None else "the model's target"
    if target not in columns:
        named = args.target is not None
        raise UsageError(missing_target(where, target, args.data, columns, named))
    # Every check comes before any note on stderr, so that a mistake is reported in one line.
    x = _features(trained, table, args.data, where)
    missing = trained.target.missing(table[target])
    if missing.all():
        raise UsageError(
            f"{where}: expected values in the target column {target!r} of {label_of(args.data)}, "
            f"got only missing ones"
        )
    values = table[target][~missing]
    try:
        if trained.task == "classification":
            y = trained.target.encode(values, unknown=-1)
        else:  # every row, so that a message names the row of the file (0 stands in)
            every_row = table[target].to_numpy(dtype=object, copy=True)
            every_row[missing] = 0.0
            y = trained.target.encode(every_row)[~missing]
    except ValueError as error:
        raise reword(error, f"{where}: {flag} {target!r}") from None
    if trained.task == "classification" and (y < 0).all():  # the wrong column, most likely
        classes = ", ".join(_category_shown(category_of(c)) for c in trained.target.classes[:12])
        classes += ", ..." if len(trained.target.classes) > 12 else ""
        raise UsageError(
            f"{where}: {flag} {target!r}: expected the labels the model was trained on "
            f"({classes}), got none of them (such as {values.iloc[0]!r})"
        )
    print_notes(where, notes)
    _note_unknown_categories(trained, table, where)
    if missing.any():
        print(
            f"{where}: left out {int(missing.sum())} rows without a {target!r} value",
            file=sys.stderr,
        )
    unknown = int((y < 0).sum()) if trained.task == "classification" else 0
    if unknown:
        example = values[y < 0].iloc[0]
        print(
            f"{where}: {unknown} rows have labels the model never saw (such as {example!r}); "
            f"they count as errors in accuracy and f1, and log_loss leaves them out",
            file=sys.stderr,
        )
    outputs = trained.outputs(x[~missing])
    result: dict[str, Any] = {"rows": len(values), **bundle.scores(trained.target, outputs, y)}
    if "r2" in result and len(values) < 2:  # metrics.r2_score's NaN: say why
        print(f"{where}: r2 is undefined for one row (nan); score two or more", file=sys.stderr)
    positive = bundle.positive_class(trained.target)
    if args.json:
        if positive is not None:
            result["positive_class"] = positive
        text = json.dumps(_finite_or_none(result), indent=2) + "\n"
    else:
        width = max(len(k) for k in result)
        lines = [f"{key:<{width}}  {bundle.format_number(value)}" for key, value in result.items()]
        if positive is not None:
            lines.append(bundle.f1_note(positive))
        text = "\n".join(lines) + "\n"
    write_result(text, output, f"{where}: metrics written to {output}", where)
    return 0


def _settings_lines(settings: dict[str, Any]) -> list[str]:
    words = []
    for key, value in settings.items():
        if isinstance(value, list):
            value = ",".join(str(v) for v in value) or "none"
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        words.append(f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}")
    lines, line = [], ""
    for word in words:
        if line and len(line) + len(word) + 2 > 76:
            lines.append(line)
            line = ""
        line = f"{line}  {word}" if line else word
    return [*lines, line] if line else lines


def _category_shown(category: str) -> str:
    """A category as ``info`` lists it: cut to 40 characters, and quoted where a comma in
    it (``New York, NY``), its text (``<missing>``) or a character that does not print (a
    line break, which would break the table) would read as something else."""
    text = category if len(category) <= 40 else category[:37] + "..."
    quoted = "," in text or text == "<missing>" or not text.isprintable()
    return repr(text) if quoted else text


def _column_line(column: NumericColumn | CategoricalColumn, width: int) -> str:
    if isinstance(column, NumericColumn):
        # A constant column's std is 0; it is divided by 1 instead (files of earlier
        # versions do not say which columns were constant, and show the divisor).
        std = "0 (constant: scaled by 1)" if column.constant else f"{column.std:.4g}"
        detail = f"numeric      median {column.median:.4g}, mean {column.mean:.4g}, std {std}"
    else:
        shown = [_category_shown(c) for c in column.categories[:8]]
        more = len(column.categories) - len(shown)
        names = ", ".join(shown) + (f" and {more} more" if more else "")
        if column.missing:
            names += (", " if names else "") + "<missing>"
        detail = f"categorical  {names}"
    return f"  {column.name:<{width}}  {detail}"


def _number_format_line(number_format: dict[str, Any]) -> str:
    """How the training table wrote its numbers, which predict and evaluate read other
    tables by where a table does not show its own."""
    if number_format["decimal"] == ",":
        return "decimal commas, points grouping thousands (1.234,5), as in the training table"
    return "decimal points, commas grouping thousands (1,234.5), as in the training table"


def run_info(args: argparse.Namespace) -> int:
    from chainrule.io import describe_model

    trained = bundle.read(args.model, "info")
    meta = trained.metadata
    n_parameters = bundle.n_parameters(trained.model)
    if args.json:
        document = {
            "file": args.model,
            "parameters": n_parameters,
            "architecture": describe_model(trained.model),
            **meta,
        }
        print(json.dumps(_finite_or_none(document), indent=2))
        return 0
    target = trained.target
    if target.task == "classification":
        classes = ", ".join(_category_shown(category_of(c)) for c in target.classes[:12])
        more = len(target.classes) - 12
        task = (
            f"classification of {meta.get('target')!r} into {len(target.classes)} classes: "
            f"{classes}{f' and {more} more' if more > 0 else ''}"
        )
    else:
        task = (
            f"regression of {meta.get('target')!r} (mean {target.mean:.4g}, std {target.std:.4g}; "
            f"the network and its loss see the standardized target, (y - mean) / std)"
        )
    training = meta.get("training") or {}
    rows = training.get("rows")
    rows = rows if isinstance(rows, dict) else {}
    # in the order of the run, not the file's (its JSON keys are sorted)
    order = {name: i for i, name in enumerate(("training", "validation", "test"))}
    trained_on = f"{training.get('source')}: " + ", ".join(
        f"{rows[name]} rows for {name}" for name in sorted(rows, key=lambda n: order.get(n, 3))
    )
    stop = training.get("stop_reason") or "ran every epoch"
    best = training.get("best_epoch")
    if isinstance(best, int) and best != training.get("epochs_run"):
        # the weights are those of the best epoch, restored after training (the stop reason
        # of an early stop says so itself)
        stop += "" if "best" in stop else f"; weights from epoch {best}, the best"
    features = trained.features
    architecture = repr(trained.model).splitlines()
    print(f"{'file':<13} {args.model}")
    print(f"{'task':<13} {task}")
    print(f"{'trained on':<13} {trained_on}")
    print(f"{'epochs':<13} {training.get('epochs_run')} ({stop})")
    print(f"{'parameters':<13} {n_parameters:,}")
    print(f"{'architecture':<13} {architecture[0]}")
    for line in architecture[1:]:
        print(f"{'':<13} {line}")
    settings = _settings_lines(dict(meta.get("settings") or {}))
    for i, line in enumerate(settings):
        print(f"{'settings' if i == 0 else '':<13} {line}")
    print(
        f"{'features':<13} {len(features.columns)} columns -> {features.n_features_out} inputs "
        f"(numbers: median for missing, then standardized; categories: one-hot)"
    )
    width = max(len(c.name) for c in features.columns)
    for column in features.columns:
        print(_column_line(column, width))
    number_format = meta.get("number_format")
    if isinstance(number_format, dict) and number_format.get("decimal") in (",", "."):
        print(f"{'numbers':<13} {_number_format_line(number_format)}")
    metrics = meta.get("metrics")
    if isinstance(metrics, dict) and metrics:
        print("metrics")
        for line in bundle.format_table(metrics).splitlines():
            print(f"  {line}")
        if any("f1" in part for part in metrics.values()):
            if "positive_class" in meta:
                print(f"  {bundle.f1_note(meta['positive_class'])}")
            else:  # files of earlier versions scored every task's f1 as the macro average
                print("  f1 is the macro average over classes (a file of an earlier chainrule)")
    return 0
