"""The model file that ``chainrule train`` writes and ``predict``, ``evaluate`` and ``info``
read: ``chainrule.save(model, path, metadata=...)`` where the metadata holds everything
needed to go from a raw table to labels (the preprocessing, the target's encoding) and what a
reader wants to know (task, classes, feature columns, settings, final metrics).

Layout of the metadata (``FORMAT``, version 1)::

    {"format": "chainrule.table-model", "version": 1,
     "task": "classification", "target": "species", "classes": ["setosa", ...],
     "positive_class": None,  # of two classes, the second: the one whose f1 is scored
     "feature_columns": [...], "preprocessing": {...}, "target_encoding": {...},
     "settings": {...}, "training": {...}, "metrics": {"training": {...}, ...},
     "number_format": {"decimal": ",", "thousands": "."}}

``number_format`` is there only where the training table's numbers showed one (see
``tables.read_table_and_format``); files of earlier versions lack it.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainrule.backend import Array, np
from chainrule.cli.errors import UsageError, reword
from chainrule.cli.tables import check_readable
from chainrule.data.tabular import TabularPreprocessor, TargetEncoder
from chainrule.nn import Module

FORMAT = "chainrule.table-model"


@dataclass
class Trained:
    """A model file read back: the network, its preprocessing, and the metadata."""

    path: str
    model: Module
    features: TabularPreprocessor
    target: TargetEncoder
    metadata: dict[str, Any]

    @property
    def task(self) -> str:
        return self.target.task

    def outputs(self, x: Array) -> Array:
        from chainrule.train import predict

        return predict(self.model, x)


def read(path: str, where: str) -> Trained:
    """The model file at ``path``, checked to be one ``chainrule train`` wrote.

    A file that is not safetensors (a pickle, a zip, random bytes), truncated, or foreign is
    refused before anything in it is interpreted; nothing in it can run code.
    """
    from chainrule.io import load

    check_readable(path, where, "a model file")
    try:
        model, metadata = load(path, with_metadata=True)
    except (ValueError, TypeError) as error:
        if _is_text(path):
            order = ""
            if where in ("predict", "evaluate", "explain"):
                order = f"; the model comes first: chainrule {where} MODEL DATA"
            raise UsageError(
                f"{where}: expected a model file written by `chainrule train` in {path!r}, got "
                f"a text file (a table?){order}"
            ) from None
        usage = reword(error, where)
        if "training checkpoint" in str(usage):  # a run of `train --checkpoint-dir` left it
            folder = shlex.quote(str(Path(path).parent))
            usage = UsageError(
                f"{usage} from Python, or continue the run with `chainrule train DATA "
                f"--target COLUMN --checkpoint-dir {folder} --resume` (with its other options)"
            )
        raise usage from None
    except OSError as error:
        raise UsageError(
            f"{where}: expected a readable model file, got {path!r}: {error.strerror or error}"
        ) from None
    label = repr(path)
    if metadata.get("format") != FORMAT:
        estimator = metadata.get("sklearn_estimator")
        if isinstance(estimator, str):
            name = estimator.rsplit(".", 1)[-1]
            got = f"a scikit-learn estimator; load it from Python with {name}.load(path)"
        elif isinstance(model, dict):
            got = (
                "a state dict (weights only); load it from Python with "
                "model.load_state_dict(chainrule.load(path))"
            )
        else:
            got = (
                "a chainrule model without the preprocessing that `train` stores; load it "
                "from Python with chainrule.load"
            )
            if where == "export":
                got += (
                    " and export it there with chainrule.export.to_onnx(model, path, "
                    "example_input), example_input a batch of its input"
                )
        raise UsageError(
            f"{where}: expected a model file written by `chainrule train` in {label}, got {got}"
        )
    if metadata.get("version") != 1:
        raise UsageError(
            f"{where}: expected version 1 of {FORMAT} in {label}, got "
            f"{metadata.get('version')!r}; upgrade chainrule to read it"
        )
    metrics = metadata.get("metrics", {})
    if not all(isinstance(metadata.get(key, {}), dict) for key in ("settings", "training")) or not (
        isinstance(metrics, dict)
        and all(
            isinstance(part, dict)
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in part.values())
            for part in metrics.values()
        )
    ):
        raise UsageError(
            f"{where}: expected dicts of settings, training facts and metrics in {label}, got "
            f"something else; the file is corrupt"
        )
    try:
        features = TabularPreprocessor.from_dict(metadata.get("preprocessing"))
        target = TargetEncoder.from_dict(metadata.get("target_encoding"))
    except ValueError as error:
        raise UsageError(
            f"{where}: expected well-formed preprocessing in {label}, got: "
            f"{str(error).split(': ', 1)[-1]}; the file is corrupt"
        ) from None
    # `train` writes no model whose run diverged, so a NaN or an infinity among the weights
    # means damaged bytes (safetensors keeps no checksum), not a model to predict with.
    for name, value in model.state_dict().items():
        array = value.data if hasattr(value, "data") else value
        if np.asarray(array).dtype.kind == "f" and not np.isfinite(array).all():
            raise UsageError(
                f"{where}: expected finite weights in {label}, got NaN or infinity in "
                f"{name!r}; the file is corrupt"
            )
    trained = Trained(path, model, features, target, metadata)
    # One row of zeros through the network proves that widths agree with the metadata.
    try:
        # Overflow shows as a non-finite output, refused below, not as a warning.
        with np.errstate(all="ignore"):
            probe = trained.outputs(np.zeros((1, features.n_features_out), np.float32))
    except (ValueError, TypeError) as error:
        raise UsageError(
            f"{where}: expected a network that takes the {features.n_features_out} inputs "
            f"its preprocessing makes in {label}, got: {error}; the file is corrupt"
        ) from None
    except (MemoryError, ArithmeticError) as error:
        # Sizes used only when called (padding 10**9 wide, an upscale by 1e10) ask for more
        # memory than there is, or overflow.
        raise UsageError(
            f"{where}: expected a network that one row can go through in {label}, got "
            f"{type(error).__name__} ({error}); the file is corrupt"
        ) from None
    width = probe.shape
    if np.asarray(probe).dtype.kind == "f" and not np.isfinite(probe).all():
        raise UsageError(
            f"{where}: expected finite outputs for one row of zeros from the network in "
            f"{label}, got NaN or infinity; the file is corrupt"
        )
    if width != (1, target.n_outputs):
        raise UsageError(
            f"{where}: expected a network with {target.n_outputs} outputs in {label}, got "
            f"{width[-1]}; the file is corrupt"
        )
    return trained


def _is_text(path: str) -> bool:
    """Whether the file at ``path`` starts as text: UTF-8 without NUL bytes. A safetensors
    file never does, since the 8 bytes of its header's length hold zeros."""
    with open(path, "rb") as handle:
        start = handle.read(4096)
    if not start or b"\x00" in start:
        return False
    try:
        start.decode("utf-8")
    except UnicodeDecodeError as error:  # cut in the middle of a character is still text
        return error.start >= len(start) - 3
    return True


def activation_type(name: str) -> type[Module]:
    """The module of an ``--activation`` name."""
    from chainrule import nn

    activations: Mapping[str, type[Module]] = {
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "gelu": nn.GELU,
        "silu": nn.SiLU,
        "elu": nn.ELU,
        "leaky_relu": nn.LeakyReLU,
        "selu": nn.SELU,
    }
    return activations[name]


def build_network(
    n_inputs: int,
    n_outputs: int,
    hidden: list[int],
    activation: str,
    dropout: float,
    batch_norm: bool,
    seeds: np.random.SeedSequence,
) -> Module:
    """Linear, [BatchNorm1d], activation, [Dropout] per hidden width, then a Linear head.

    Initial weights come from one generator of ``seeds``; each Dropout has its own
    generator (saved in checkpoints) spawned from it too.
    """
    from chainrule import nn

    init_seed, dropout_seed = seeds.spawn(2)
    dropout_seeds = iter(dropout_seed.spawn(len(hidden)))
    layers: list[Module] = []
    width = n_inputs
    for size in hidden:
        layers.append(nn.Linear(width, size))
        if batch_norm:
            layers.append(nn.BatchNorm1d(size))
        layers.append(activation_type(activation)())
        if dropout > 0:
            layers.append(nn.Dropout(dropout, generator=np.random.default_rng(next(dropout_seeds))))
        width = size
    layers.append(nn.Linear(width, n_outputs))
    model = nn.Sequential(*layers)
    model.reset_parameters(np.random.default_rng(init_seed))
    return model


def n_parameters(model: Module) -> int:
    return int(sum(p.data.size for p in model.parameters()))


def scores(target: TargetEncoder, outputs: Array, y: Array) -> dict[str, float]:
    """The task's metrics of ``outputs`` against encoded targets ``y``.

    Classification (``y`` class indices, -1 for a label the model does not know, which
    counts as an error): ``log_loss`` (over known labels), ``accuracy``, and for two classes
    ``f1`` of the second (``positive_class``), as scikit-learn's ``f1_score`` with that
    ``pos_label``; for more, ``f1_macro``, the macro average over classes.
    Regression (``y`` as ``target.encode`` gives): ``rmse``, ``mae``, ``r2`` in the target's
    own units.
    """
    from chainrule.train import metrics

    if target.task == "classification":
        known = y >= 0
        proba = softmax(outputs)
        predicted = proba.argmax(axis=1)
        # Outputs gone NaN (a diverged model) score NaN, where log_loss refuses them.
        scored = known.any() and bool(np.isfinite(proba).all())
        found = {
            "log_loss": metrics.log_loss(y[known], proba[known]) if scored else float("nan"),
            "accuracy": metrics.accuracy(y, predicted),
        }
        if len(target.classes) == 2:
            # An unknown label (-1) is not class 1 either: as 0 it leaves class 1's F1 the
            # same, with the labels of two classes that average='binary' takes.
            found["f1"] = metrics.f1_score(np.where(known, y, 0), predicted, average="binary")
        else:
            found["f1_macro"] = metrics.f1_score(y, predicted, average="macro")
        return found
    true = target.decode(y)
    predicted_values = target.decode(outputs)
    return {
        "rmse": metrics.root_mean_squared_error(true, predicted_values),
        "mae": metrics.mean_absolute_error(true, predicted_values),
        "r2": metrics.r2_score(true, predicted_values),
    }


def softmax(scores: Array) -> Array:
    """Class probabilities from class scores, row by row (float64)."""
    shifted = np.asarray(scores, dtype=np.float64)
    exp = np.exp(shifted - shifted.max(axis=1, keepdims=True))
    result: Array = exp / exp.sum(axis=1, keepdims=True)
    return result


def positive_class(target: TargetEncoder) -> Any:
    """The class whose ``f1`` the tables show for two classes, the second in sorted order
    (scikit-learn's ``pos_label=1`` of labels encoded 0 and 1); None for other tasks."""
    if target.task == "classification" and len(target.classes) == 2:
        return target.classes[1]
    return None


def f1_note(positive: Any) -> str:
    """The line that says which class a two-class table's ``f1`` is of."""
    return (
        f"f1 is of class {positive!r}, the second in sorted order (scikit-learn's "
        f"f1_score(y, predicted, pos_label={positive!r}))"
    )


PARTS = ("training", "validation", "test")
METRICS = ("log_loss", "accuracy", "f1", "f1_macro", "rmse", "mae", "r2")


def format_table(rows: Mapping[str, Mapping[str, float]]) -> str:
    """Metrics as an aligned text table: a line per part (training, validation, test), a
    column per metric, in that order whatever order ``rows`` has (JSON sorts keys)."""
    names = sorted(rows, key=lambda n: (PARTS.index(n) if n in PARTS else len(PARTS), n))
    found = {key for values in rows.values() for key in values}
    columns = sorted(found, key=lambda c: (METRICS.index(c) if c in METRICS else len(METRICS), c))
    width = max(len(name) for name in names)
    cells = {name: [format_number(rows[name].get(c)) for c in columns] for name in names}
    # A column as wide as its widest cell: an error of 47806355755.6069 (a target in the
    # billions) would otherwise push its row out from under the header.
    widths = [max(10, len(c), *(len(cells[n][i]) for n in names)) for i, c in enumerate(columns)]
    lines = [" " * width + "".join(f"  {c:>{w}}" for c, w in zip(columns, widths, strict=True))]
    for name in names:
        row = "".join(f"  {cell:>{w}}" for cell, w in zip(cells[name], widths, strict=True))
        lines.append(f"{name:<{width}}{row}")
    return "\n".join(lines)


def format_number(value: Any) -> str:
    """A score as the tables show it: four decimals, as the errors of ordinary targets want;
    four significant digits for one too small for decimals to show (an RMSE of 4.4e-06 on
    a target in millionths) and e-notation for one too large (a target near 1e200)."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    if not np.isfinite(value):
        return str(value)
    if value == 0 or 1e-3 <= abs(value) < 1e15:
        return f"{value:.4f}"
    return f"{value:.4g}" if abs(value) < 1e-3 else f"{value:.6g}"
