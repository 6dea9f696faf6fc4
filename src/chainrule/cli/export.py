"""``chainrule export``: a model file that ``chainrule train`` wrote, as an ONNX graph that
other runtimes serve.

When every feature column is numeric, the graph takes the raw columns and standardizes them
itself; classifiers output class probabilities, regressors values in the target's units.
One-hot encoding of categories has no simple ONNX form here, so with categorical columns
the graph takes the already-encoded inputs (``feature_names_out``), and says so.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chainrule.backend import np
from chainrule.cli import bundle
from chainrule.cli.errors import UsageError
from chainrule.cli.outputs import ONNX, check_output
from chainrule.cli.tables import check_writable, same_file, writing
from chainrule.cli.use import _category_shown
from chainrule.data.tabular import (
    CategoricalColumn,
    NumericColumn,
    TabularPreprocessor,
    category_of,
)

WHERE = "export"
FORMATS = ("onnx",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file written by chainrule train")
    parser.add_argument("--format", choices=FORMATS, default="onnx", help="default onnx")
    parser.add_argument(
        "--output", "--out", "-o", metavar="PATH", required=True, help="where to write the file"
    )


def _doc_string(trained: bundle.Trained, inputs: list[str], raw: bool) -> str:
    target = trained.target
    lines = [f"chainrule model of {trained.metadata.get('target')!r} ({target.task})."]
    if raw:
        lines += [
            f"Input 'input': float32 of shape (batch, {len(inputs)}), the raw feature columns "
            f"in this order: {', '.join(inputs)}.",
            "Standardization (x - mean) / std is part of the graph. The graph expects no "
            "missing values: chainrule replaces a missing number with its column's training "
            "median, which the graph does not do; fill them in first.",
        ]
    else:
        lines += [
            f"Input 'input': float32 of shape (batch, {len(inputs)}), the ALREADY ENCODED "
            f"features (numbers standardized with missing ones as the training median, "
            f"categories one-hot), in this order: {', '.join(inputs)}.",
            "Encode with the preprocessing stored in the model file: "
            "chainrule.data.tabular.TabularPreprocessor.from_dict("
            "metadata['preprocessing']).transform(table).",
        ]
    if target.task == "classification":
        labels = [category_of(c) for c in target.classes]
        lines.append(
            f"Output 'output': class probabilities (softmax) of shape (batch, {len(labels)}), "
            f"in this class order: {', '.join(labels)}."
        )
    else:
        lines.append("Output 'output': predictions of shape (batch, 1) in the target's own units.")
    return "\n".join(lines)


def _inputs_shown(features: TabularPreprocessor) -> list[str]:
    """The encoded inputs' names as ``info`` shows categories: one that holds a comma or a
    line break quoted and escaped (``Notiz='line1\\nline2'``), so that a note stays one line
    whose commas separate inputs."""
    shown = []
    for column in features.columns:
        name = _category_shown(column.name)
        if isinstance(column, NumericColumn):
            shown.append(name)
            continue
        shown += [f"{name}={_category_shown(category)}" for category in column.categories]
        if column.missing:
            shown.append(f"{name}=<missing>")
    return shown


def run(args: argparse.Namespace) -> int:
    check_writable(args.output, WHERE, "--output")
    if same_file(args.output, args.model):
        raise UsageError(
            f"{WHERE}: --output: expected a path other than the input {args.model!r}, got the "
            f"same file"
        )
    check_output(args.output, WHERE, "--output", ONNX)
    try:
        import onnx  # noqa: F401 - only to fail before any work
    except ImportError:
        raise UsageError(
            f"{WHERE}: --format onnx: expected the onnx package, got none installed; install it "
            f"with `pip install onnx` (chainrule's `onnx` extra)"
        ) from None
    from chainrule.export.onnx import to_onnx

    trained = bundle.read(args.model, WHERE)
    features = trained.features
    raw = all(isinstance(c, NumericColumn) for c in features.columns)
    settings: dict[str, Any] = {}
    if raw:
        numeric = [c for c in features.columns if isinstance(c, NumericColumn)]
        settings["input_mean"] = np.array([c.mean for c in numeric])
        settings["input_scale"] = np.array([c.std for c in numeric])
        inputs = features.feature_columns
    else:
        inputs = features.feature_names_out
        categorical = [c.name for c in features.columns if isinstance(c, CategoricalColumn)]
        print(
            f"{WHERE}: note: the categorical column{'s' if len(categorical) > 1 else ''} "
            f"{', '.join(map(repr, categorical))} cannot be one-hot encoded inside the graph; "
            f"it takes the {len(inputs)} encoded inputs instead: "
            f"{', '.join(_inputs_shown(features))}",
            file=sys.stderr,
        )
    if trained.task == "classification":
        settings["output"] = "softmax"
    else:
        settings["output_mean"] = np.array([trained.target.mean])
        settings["output_scale"] = np.array([trained.target.std])
    example = np.zeros((1, features.n_features_out), dtype=np.float32)
    with writing(WHERE, "--output", args.output):
        to_onnx(
            trained.model,
            args.output,
            example,
            doc_string=_doc_string(trained, inputs, raw),
            **settings,
        )
    shown = "class probabilities" if trained.task == "classification" else "predictions"
    kind = "raw feature columns" if raw else "encoded inputs"
    print(
        f"{WHERE}: wrote {args.output} ({len(inputs)} {kind} -> {shown})",
        file=sys.stderr,
    )
    return 0
