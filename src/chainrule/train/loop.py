"""``fit``, ``evaluate`` and ``predict``: the training loop a Keras user expects, on
chainrule's modules, losses and optimizers.

One epoch is: for each batch, forward pass, loss, ``backward()``, optional gradient
clipping, optimizer step; then metrics on the epoch's outputs, a validation pass, the
learning-rate schedule, and the callbacks. Checkpoint files are read and written through
``chainrule.io``, imported where used. Under an MPI launcher, ``chainrule.distributed``
(imported only then) spreads each batch over the processes: see ``fit(distributed=)``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import json
import math
import os
import signal
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import chainrule.nn.functional as F
from chainrule.autograd.anomaly import AnomalyError, detect_anomaly
from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import Array, is_floating, np
from chainrule.compiled import compile_step
from chainrule.data import (
    ConcatDataset,
    DataLoader,
    DistributedSampler,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    stratified_split,
)
from chainrule.data.sampler import _boolean, _positive_int
from chainrule.nn import loss as losses
from chainrule.nn._loss_functions import _non_negative
from chainrule.nn.module import Module
from chainrule.nn.utils import clip_grad_norm_
from chainrule.nn.utils.rnn import PackedSequence
from chainrule.optim import (
    LBFGS,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    NAdam,
    Optimizer,
    RAdam,
    RMSprop,
)
from chainrule.optim.lr_scheduler import CyclicLR, OneCycleLR, ReduceLROnPlateau
from chainrule.tensor import Tensor, _values_hold, as_generator
from chainrule.train._keras_losses import EPSILON, KerasLoss, keras_losses
from chainrule.train.callbacks import (
    _CALLBACK_HOOKS,
    Callback,
    ProgressBar,
    _KerasHooks,
    _say,
    calling_on_exception,
    with_keras_hooks,
)
from chainrule.train.history import History
from chainrule.train.metrics import Metric, get_metric


class DivergenceWarning(RuntimeWarning):
    """Training stopped because the loss became NaN or infinite."""


class _ProbabilityCrossEntropy:
    """Keras's ``categorical_crossentropy`` and ``sparse_categorical_crossentropy`` (with
    ``from_logits=False``): the model's outputs are class probabilities (after a softmax).

    As in Keras, each row is divided by its sum and clipped to [1e-7, 1 - 1e-7] before the
    log; the loss is the mean over rows of -sum(target * log(p)), with one-hot (or
    probability) targets, or integer class labels when ``sparse``.
    """

    def __init__(self, sparse: bool) -> None:
        self.sparse = sparse
        self.reduction = "mean"  # 'none' gives each row's loss, for fit's sample weights

    def __call__(self, output: Tensor, target: Tensor) -> Tensor:
        name = "sparse_categorical_crossentropy" if self.sparse else "categorical_crossentropy"
        if output.ndim != 2:
            raise ValueError(
                f"{name}: expected outputs of shape (N, classes), got shape {output.shape}"
            )
        if not self.sparse and target.shape != output.shape:
            raise ValueError(
                f"{name}: expected one-hot (or probability) targets of the outputs' shape "
                f"{output.shape}, got shape {target.shape}; for class labels use "
                f"'sparse_categorical_crossentropy'"
            )
        if self.sparse:
            _check_sparse_labels(name, output, target.data)
        if not _values_hold(output, _non_negative):
            # Keras divides raw scores by their sum as well, and the model silently fails to
            # learn; binary_crossentropy refuses them the same way.
            raise ValueError(
                f"{name}: expected probabilities (outputs of a Softmax), got negative outputs; "
                f"for raw scores (a model ending in Linear) use 'cross_entropy', or end the "
                f"model in nn.Softmax(dim=1)"
            )
        proba = output / output.sum(dim=1, keepdim=True)
        log_proba = proba.clamp(EPSILON, 1 - EPSILON).log()
        if self.sparse:
            # Keras takes labels of shape (N,) or (N, 1), of any number type.
            labels = target.data.reshape(-1).astype(np.int64)
            return F.nll_loss(log_proba, Tensor._from_op(labels, None), reduction=self.reduction)
        rows = -(target * log_proba).sum(dim=1)
        return rows if self.reduction == "none" else rows.mean()


def _sparse_labels(loss: Any) -> str | bool:
    """``"sparse"`` for Keras's sparse categorical cross-entropy, whose targets are class
    labels of shape (N,) or (N, 1); False for any other loss."""
    return "sparse" if isinstance(loss, _ProbabilityCrossEntropy) and loss.sparse else False


def _check_sparse_labels(name: str, output: Tensor, labels: Array) -> None:
    """Refuse targets that are not one class label per row of ``output`` (N, classes)."""
    if labels.dtype.kind not in "iub" and not is_floating(labels.dtype):
        raise TypeError(
            f"{name}: expected integer class labels as target, got dtype {labels.dtype}"
        )
    rows = output.shape[0]
    if labels.shape not in ((rows,), (rows, 1)):
        came = "one-hot targets" if labels.shape == output.shape else "targets"
        raise ValueError(
            f"{name}: expected class labels of shape ({rows},) or ({rows}, 1), got {came} of "
            f"shape {labels.shape}; for one-hot (or probability) targets use "
            f"'categorical_crossentropy'"
        )
    _check_no_missing_labels(name, labels, "of the batch")


def _check_no_missing_labels(where: str, labels: Array, of: str = "") -> None:
    """Refuse class labels with NaN (a pandas column of labels with missing values);
    ``of`` names what the rows counted are rows of."""
    if not is_floating(labels.dtype):
        return
    missing = np.flatnonzero(~np.isfinite(labels.reshape(-1)))
    if len(missing):
        raise ValueError(
            f"{where}: expected class labels, got {len(missing)} missing (NaN or infinite) of "
            f"{labels.size} labels, the first at row {missing[0]}{' ' + of if of else ''}; "
            f"drop those rows or fill in their labels"
        )


LOSSES: dict[str, Callable[[], Any]] = {
    "mse": losses.MSELoss,
    "mae": losses.L1Loss,
    "l1": losses.L1Loss,
    "huber": losses.HuberLoss,
    "smooth_l1": losses.SmoothL1Loss,
    "cross_entropy": losses.CrossEntropyLoss,
    "nll": losses.NLLLoss,
    "bce": losses.BCELoss,
    "bce_with_logits": losses.BCEWithLogitsLoss,
    "multi_margin": losses.MultiMarginLoss,
    "multilabel_margin": losses.MultiLabelMarginLoss,
    # Keras's names, with Keras's meaning: outputs are probabilities (from_logits=False).
    "mean_squared_error": losses.MSELoss,
    "mean_absolute_error": losses.L1Loss,
    "binary_crossentropy": losses.BCELoss,
    "categorical_crossentropy": lambda: _ProbabilityCrossEntropy(sparse=False),
    "sparse_categorical_crossentropy": lambda: _ProbabilityCrossEntropy(sparse=True),
    "huber_loss": losses.HuberLoss,  # Keras's huber: delta=1, PyTorch's default
    **keras_losses(),
}
"""Loss names that ``fit(loss=...)`` accepts.

PyTorch's losses take raw scores (``'cross_entropy'``, ``'bce_with_logits'``); Keras's names
keep Keras's meaning, where the model ends with a softmax or a sigmoid:
``'categorical_crossentropy'`` (one-hot targets), ``'sparse_categorical_crossentropy'``
(integer labels) and ``'binary_crossentropy'`` take probabilities.

Keras's other names, each the mean over the samples of a value per sample (t the target,
p the output, sums and means over the last axis, eps = 1e-7, Keras's epsilon):

- ``'huber_loss'``: Huber's loss with delta = 1, ``'huber'``;
- ``'kl_divergence'`` (``'kld'``, ``'kullback_leibler_divergence'``):
  sum(t * log(t / p)) with t and p clipped to [eps, 1]; targets and outputs are
  probabilities (negative outputs are refused);
- ``'poisson'``: mean(p - t * log(p + eps)), for non-negative predicted rates;
- ``'log_cosh'`` (``'logcosh'``): mean(log(cosh(p - t)));
- ``'hinge'``: mean(max(1 - t * p, 0)); ``'squared_hinge'``: mean(max(1 - t * p, 0) ** 2),
  both for labels -1/1, or 0/1 which they take as -1/1 (as Keras, when every target of
  the batch is 0 or 1);
- ``'categorical_hinge'``: max(max((1 - t) * p) - sum(t * p) + 1, 0), one-hot targets;
- ``'cosine_similarity'``: -sum(t / max(||t||, eps) * p / max(||p||, eps)), the negative
  cosine similarity (-1 at best).

Their targets have the outputs' shape ((N,) meets a one-column output (N, 1)), cast to the
outputs' dtype."""

OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": SGD,
    "momentum": lambda params, lr=0.01: SGD(params, lr=lr, momentum=0.9),
    "adam": Adam,
    "adamw": AdamW,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "adadelta": Adadelta,
    "adamax": Adamax,
    "nadam": NAdam,
    "radam": RAdam,
    "lbfgs": LBFGS,
}
"""Optimizer names that ``fit(optimizer=...)`` accepts (with their default settings)."""


def _output_kind(loss: Any) -> str:
    """What the model's outputs are, judged from the loss: it decides how metrics read them."""
    if isinstance(loss, _ColumnTargets):
        loss = loss.loss
    if isinstance(loss, losses.CrossEntropyLoss) or loss is F.cross_entropy:
        return "logits"
    if isinstance(loss, losses.NLLLoss) or loss is F.nll_loss:
        return "log_proba"
    if isinstance(loss, losses.BCEWithLogitsLoss) or loss is F.binary_cross_entropy_with_logits:
        return "binary_logits"
    if isinstance(loss, losses.BCELoss) or loss is F.binary_cross_entropy:
        return "binary_proba"
    if isinstance(loss, _ProbabilityCrossEntropy):
        return "proba"
    if isinstance(loss, KerasLoss):
        return loss.kind
    if isinstance(loss, losses.MultiMarginLoss) or loss is F.multi_margin_loss:
        return "scores"  # one per class, the label's highest; not probabilities
    return "values"


# Losses that compare outputs and targets element by element: for these a target of shape (N,)
# meets a one-column output (N, 1), as in Keras (a bundled regression target is (N,)).
_ELEMENTWISE_LOSSES = (
    losses.MSELoss,
    losses.L1Loss,
    losses.HuberLoss,
    losses.SmoothL1Loss,
    losses.BCELoss,
    losses.BCEWithLogitsLoss,
)
_ELEMENTWISE_FUNCTIONS = (
    F.mse_loss,
    F.l1_loss,
    F.huber_loss,
    F.smooth_l1_loss,
    F.binary_cross_entropy,
    F.binary_cross_entropy_with_logits,
)


class _ColumnTargets:
    """A built-in elementwise loss that reads targets of shape (N,) as the column (N, 1)
    when the model has one output column."""

    def __init__(self, loss: Callable[[Tensor, Tensor], Tensor]) -> None:
        self.loss = loss
        self.reduction = getattr(loss, "reduction", "mean")

    def __call__(self, output: Tensor, target: Tensor) -> Tensor:
        if target.ndim == 1 and output.ndim == 2 and output.shape[1] == 1:
            target = target.reshape(-1, 1)  # an op, so that compile_step can replay it
        return self.loss(output, target)


def _resolve_loss(loss: Any, where: str) -> Callable[[Tensor, Tensor], Tensor]:
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"{where}: unknown loss {loss!r}; expected one of {sorted(LOSSES)}")
        loss = LOSSES[loss]()
    elif isinstance(loss, type) and issubclass(loss, Module):
        loss = loss()  # a loss class, as Keras takes one, with its default settings
    if not callable(loss):
        raise TypeError(f"{where}: loss must be a loss module, a function or a name, got {loss!r}")
    if isinstance(loss, _ELEMENTWISE_LOSSES) or loss in _ELEMENTWISE_FUNCTIONS:
        return _ColumnTargets(loss)
    return loss


class _WeightedLoss:
    """Keras's weighted loss: the mean over the batch's rows of each row's weight times
    that row's loss (itself the mean over the row's elements).

    As in Keras (``reduction='sum_over_batch_size'``), the sum is divided by the number of
    rows, not by the sum of the weights, so that weights scale the loss and its gradient.
    A cross-entropy or NLL loss of class labels divides instead by what its own mean
    divides by, PyTorch's: the total class ``weight`` of the labels it counts (those that
    are not ``ignore_index``; their number without a ``weight``), so that sample weights
    of 1 give its unweighted loss and gradients exactly. A loss reduced by ``'sum'`` stays
    a sum: of each row's weight times the sum over its elements.
    """

    def __init__(
        self,
        per_row: Callable[[Tensor, Tensor], Tensor],
        summed: bool,
        averaged_over: Callable[[Tensor, int], float] | None = None,
    ) -> None:
        self.per_row = per_row
        self.summed = summed
        self.averaged_over = averaged_over

    def __call__(self, output: Tensor, target: Tensor, weight: Tensor) -> Tensor:
        values = self.per_row(output, target)
        rows = values.shape[0]
        if self.averaged_over is not None and not self.summed:
            # Each element's loss already carries its class weight (0 where ignored).
            flat = values.reshape(rows, -1).sum(axis=1) if values.ndim != 1 else values
            total = (flat * weight).sum()
            denominator = self.averaged_over(target, rows)
            if denominator == 0:  # every label ignored: NaN, as PyTorch's, with 0 gradients
                return total * 0.0 + float("nan")
            return total / denominator
        if values.ndim != 1:
            flat = values.reshape(rows, -1)
            values = flat.sum(axis=1) if self.summed else flat.mean(axis=1)
        weighted = values * weight
        return weighted.sum() if self.summed else weighted.mean()


def _unreduced(loss_fn: Any) -> Callable[[Tensor, Tensor], Tensor] | None:
    """``loss_fn`` giving one value per element instead of their mean; None when it cannot."""
    if isinstance(loss_fn, _ColumnTargets):
        inner = _unreduced(loss_fn.loss)
        return None if inner is None else _ColumnTargets(inner)
    if isinstance(loss_fn, Module | _ProbabilityCrossEntropy | KerasLoss) and hasattr(
        loss_fn, "reduction"
    ):
        per_element = copy.copy(loss_fn)  # the caller's loss keeps its reduction
        per_element.reduction = "none"
        return per_element
    if loss_fn in _ELEMENTWISE_FUNCTIONS or loss_fn in (F.cross_entropy, F.nll_loss):
        return functools.partial(loss_fn, reduction="none")
    return None


def _weights_need_arrays(where: str, data: Any) -> TypeError:
    """The error for sample weights given with a stream, whose rows cannot be matched."""
    return TypeError(
        f"{where}: sample_weight and class_weight need the data as arrays, "
        f"{where}(model, loss, {'optimizer, ' if where == 'fit' else ''}x, y), "
        f"got a {type(data).__name__}"
    )


def _sample_weights(
    dataset: Any,
    sample_weight: Any,
    class_weight: Any,
    dtype: Any,
    where: str,
    name: str = "sample_weight",
    indices: bool = False,
    counted: Array | None = None,
) -> Array:
    """Each sample's weight in ``dataset`` (a ``TensorDataset`` of (x, y)), from
    ``sample_weight`` (called ``name`` in messages) or from its class's entry in
    ``class_weight`` (1 for a class not named), as Keras's. Batches take theirs by the
    indices they are made of, so that a DataLoader's ``collate_fn`` sees its (x, y)
    samples alone. ``indices``: the loss reads integer targets as class indices (a
    cross-entropy's), so that integer targets (N, L) hold a class per position, which no
    weight of the sample stands for, where under another loss they are one-hot.
    ``counted``: the positions of the rows that ``class_weight='balanced'`` counts (those
    that train, after ``validation_split``); all rows when None."""
    assert sample_weight is not None or class_weight is not None  # callers pass one
    if sample_weight is not None and class_weight is not None:
        raise ValueError(f"{where}: pass sample_weight or class_weight, not both (as in Keras)")
    if not (isinstance(dataset, TensorDataset) and len(dataset.arrays) == 2):
        raise _weights_need_arrays(where.split(":")[0], dataset)
    x, y = dataset.arrays
    n = len(x)
    if sample_weight is not None:
        given = sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight
        try:
            weight = np.asarray(given, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{where}: expected {name} as an array of {n} numbers, one weight per "
                f"sample, got {type(given).__name__}"
            ) from None
        if weight.shape not in ((n,), (n, 1)):
            raise ValueError(
                f"{where}: expected {name} of shape ({n},), one weight per sample, "
                f"got shape {weight.shape}"
            )
        weight = weight.reshape(n)
    else:
        balanced = isinstance(class_weight, str) and class_weight == "balanced"
        if not (balanced or isinstance(class_weight, dict)):
            kind = type(class_weight).__name__
            came = repr(class_weight) if isinstance(class_weight, str) else kind
            raise TypeError(
                f"{where}: expected class_weight as a dict of class to weight or 'balanced', "
                f"got {came}"
            )
        if y.ndim > 2 or (indices and y.ndim == 2 and y.shape[1] > 1 and not is_floating(y.dtype)):
            # A class per position (of a sequence, of an image): Keras refuses class_weight
            # for targets of 3 or more axes.
            raise ValueError(
                f"{where}: expected class_weight with one class per sample (labels (N,) or "
                f"one-hot targets (N, classes)), got targets of shape {y.shape}, a class per "
                f"position; weigh the classes in the loss instead: "
                f"nn.CrossEntropyLoss(weight=...)"
            )
        # Keras reads one-hot targets by their largest column, a column of labels as labels.
        labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] != 1 else y.reshape(n)
        if not np.isfinite(labels).all() if is_floating(labels.dtype) else False:
            raise ValueError(f"{where}: class_weight needs class labels, got non-finite targets")
        labels = np.round(labels).astype(np.int64)
        if balanced:
            # scikit-learn's rule: n_samples / (n_classes * count), over the classes present
            # in the training rows.
            training = labels if counted is None else labels[counted]
            classes, counts = np.unique(training, return_counts=True)
            shares = len(training) / (len(classes) * counts)
            class_weight = dict(zip(classes.tolist(), shares.tolist(), strict=True))
        try:
            table = {int(k): float(v) for k, v in class_weight.items()}
        except (TypeError, ValueError):
            raise ValueError(
                f"{where}: expected class_weight as a dict of integer class label to number "
                f"(as in Keras), got {class_weight!r}"
            ) from None
        weight = np.array([table.get(label, 1.0) for label in labels.tolist()])
    if not np.isfinite(weight).all():
        what = name if sample_weight is not None else "class_weight"
        raise ValueError(f"{where}: {what} must be finite, got NaN or infinite values")
    return weight.astype(dtype)


def _weighted(loss_fn: Any, where: str) -> _WeightedLoss:
    per_row = _unreduced(loss_fn)
    if per_row is None:
        raise TypeError(
            f"{where}: sample weights need the loss of each sample: expected a loss name, a "
            f"chainrule.nn loss module or a chainrule.nn.functional loss, got {loss_fn!r}"
        )
    inner = loss_fn.loss if isinstance(loss_fn, _ColumnTargets) else loss_fn
    reduction = getattr(inner, "reduction", "mean")
    if reduction not in ("mean", "sum"):
        raise ValueError(
            f"{where}: sample weights need a loss reduced by 'mean' or 'sum', got "
            f"reduction={reduction!r}"
        )
    averaged_over = None
    settings = _loss_settings(inner)
    if settings.ignored is not None:
        averaged_over = functools.partial(_averaged_over, settings)
    return _WeightedLoss(per_row, summed=reduction == "sum", averaged_over=averaged_over)


def _resolve_optimizer(optimizer: Any, model: Module) -> Optimizer:
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, type) and issubclass(optimizer, Optimizer):
        make: Callable[..., Optimizer] = optimizer  # a class, with its default settings
        return make(list(model.parameters()))
    if isinstance(optimizer, str):
        # Keras spells them 'SGD', 'Adam', 'RMSprop' as well as in lower case.
        if optimizer.lower() not in OPTIMIZERS:
            raise ValueError(
                f"fit: unknown optimizer {optimizer!r}; expected one of {sorted(OPTIMIZERS)}"
            )
        return OPTIMIZERS[optimizer.lower()](list(model.parameters()))
    raise TypeError(
        "fit: optimizer must be a chainrule.optim optimizer or a name, "
        f"got {type(optimizer).__name__}"
    )


def _check_scheduled(scheduler: Any, optimizer: Optimizer, given: Any) -> None:
    """Refuse a scheduler of another optimizer than the one fit steps: it would set rates
    that nothing trains with, and leave fit's own optimizer at its first rate."""
    scheduled = getattr(scheduler, "optimizer", None)
    if scheduler is None or scheduled is None or scheduled is optimizer:
        return
    if isinstance(given, Optimizer):
        raise ValueError(
            f"fit: the scheduler ({type(scheduler).__name__}) was built on another "
            f"{type(scheduled).__name__} than the optimizer passed to fit, whose rates it "
            f"would never change; a scheduler needs the optimizer object it was built on: "
            f"pass that optimizer, or build the scheduler on this one"
        )
    named = given.__name__ if isinstance(given, type) else repr(given)
    raise ValueError(
        f"fit: a scheduler needs the optimizer object it was built on, got the optimizer "
        f"{named}, which fit builds afresh, so the scheduler ({type(scheduler).__name__}) "
        f"could never change its rate; build the optimizer, the scheduler on it, and pass "
        f"both"
    )


def _check_optimizes(optimizer: Optimizer, model: Module, loss_fn: Any) -> None:
    """Refuse an optimizer that would train nothing here: one built for another model."""
    owned = {id(p) for p in model.parameters()}
    if isinstance(loss_fn, Module):
        owned.update(id(p) for p in loss_fn.parameters())
    held = [p for group in optimizer.param_groups for p in group["params"]]
    if held and not any(id(p) in owned for p in held):
        raise ValueError(
            f"fit: the {type(optimizer).__name__} optimizer holds none of the model's "
            f"parameters, so training would change nothing; build it from "
            f"model.parameters()"
        )


def _with_targets(x: Any, y: Any, where: str, name: str) -> Any:
    """``(x, y)`` where the targets come apart, as Keras's ``fit(x, y)``; else ``x``."""
    if y is None:
        return x
    if not _array_like(x) or isinstance(x, tuple):
        raise TypeError(
            f"{where}: y is given, so {name} must be the inputs x as an array or tensor, "
            f"got {type(x).__name__}"
        )
    return (x, y)


def _array_like(data: Any) -> bool:
    """Arrays, tensors, data frames and nested lists, as opposed to datasets."""
    return isinstance(data, Tensor | list | tuple) or hasattr(data, "__array__")


def _as_dtype(batch: Any, dtype: Any) -> Any:
    """Floating-point inputs in the model's dtype, as fit converts its arrays; inputs that
    are not a tensor (a dict a collate_fn made) as they are."""
    if isinstance(batch, Tensor) and is_floating(batch.dtype) and batch.dtype != dtype:
        return Tensor._from_op(batch.data.astype(dtype), None)
    return batch


def _model_dtype(model: Module) -> Any:
    for param in model.parameters():
        return param.dtype
    return np.float32


def _stream_loader(data: Any, batch_size: int, drop_last: bool = False) -> DataLoader | None:
    """The loader whose batches are taken as they come: a DataLoader over an
    ``IterableDataset`` or with ``batch_size=None`` (its own order and batches), or one of
    ``batch_size`` (and ``drop_last``) over a bare ``IterableDataset``; None for data that
    can be indexed."""
    if isinstance(data, DataLoader):
        return data if data._streamed or data.batch_size is None else None
    if isinstance(data, IterableDataset):
        return DataLoader(data, batch_size, drop_last=drop_last)
    return None


def _batches_per_epoch(loader: DataLoader) -> int | None:
    """``len(loader)``, or None where the number of batches is unknown (a stream without a
    length, a sampler without one)."""
    try:
        return len(loader)
    except TypeError:
        return None


def _set_epoch(loader: DataLoader, epoch: int) -> None:
    """Tell the loader's sampler (or its batch sampler's) which epoch begins, counted from 0,
    as a PyTorch loop calls ``DistributedSampler.set_epoch``: each epoch a new order, and a
    resumed run the orders of the run it continues."""
    batch_sampler = loader.batch_sampler
    for source in (loader.sampler, batch_sampler, getattr(batch_sampler, "sampler", None)):
        set_epoch = getattr(source, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)


def _sampled(loader: DataLoader) -> bool:
    """Whether ``loader`` picks its indices by a sampler or a batch sampler of the user's."""
    return loader._index_batches() is not None


def _items(loader: DataLoader) -> Iterator[tuple[Any, Any]]:
    """``(indices, item)`` for each item of one pass over ``loader``, exactly as iterating it
    gives the items; ``indices`` (see ``DataLoader._fetches``) is None where unknown: a
    stream's, or a DataLoader subclass's with an ``__iter__`` of its own."""
    if type(loader).__iter__ is DataLoader.__iter__:
        return loader._fetches()
    return ((None, item) for item in loader)


def _indexed(loader: DataLoader) -> bool:
    """Whether the indices of ``loader``'s items are known before it is iterated, so that
    the ranks of an MPI run can share its batches out."""
    return not loader._streamed and type(loader).__iter__ is DataLoader.__iter__


def _samples(x: Any) -> int:
    """The number of samples in a batch's inputs ``x``: its first axis; for inputs in a tuple,
    list or dict (a padded batch and its sequence lengths), the first axis of the first
    tensor or array in them, else their number of entries (a list of string ids)."""
    pending = [x]
    while pending:
        value = pending.pop(0)
        if isinstance(value, Tensor | np.ndarray):
            return len(value)
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, tuple | list):
            pending.extend(value)
    return len(x)


def _one_sample(loader: DataLoader, indices: Any, target: Any) -> bool:
    """Whether an item of ``loader`` is one sample, unbatched, which counts as one row and
    takes a leading axis where rows are joined: PyTorch's per-sample mode
    (``batch_size=None`` over an indexed dataset, each item fetched by a single index),
    over a dataset whose indices are rows (``_rows_of``) or with a scalar target (which
    no batch has). Otherwise the dataset gives batches of its own (a list of them, say)."""
    if loader.batch_size is not None or indices is None or np.ndim(indices) != 0:
        return False
    return _rows_of(loader.dataset) or (target is not None and getattr(target, "ndim", 1) == 0)


def _rows_of(dataset: Any) -> bool:
    """Whether each index of ``dataset`` is one row of arrays: a ``TensorDataset``, or a
    ``Subset``, ``ConcatDataset`` or ``StackDataset`` of such."""
    if isinstance(dataset, TensorDataset):
        return True
    if isinstance(dataset, Subset):
        return _rows_of(dataset.dataset)
    if isinstance(dataset, ConcatDataset):
        return all(_rows_of(part) for part in dataset.datasets)
    if isinstance(dataset, StackDataset):
        parts = dataset.datasets
        return all(
            _rows_of(part) for part in (parts.values() if isinstance(parts, dict) else parts)
        )
    return False


def _pass_loader(
    data: Any, batch_size: int, where: str, dtype: Any, labels: bool | str = False
) -> tuple[DataLoader, bool]:
    """The loader an evaluation pass iterates, and whether it was made here: a DataLoader
    given is taken as it is (its batches, order, ``drop_last`` and ``collate_fn``, as a
    PyTorch loop over it sees them); arrays, a dataset or an ``IterableDataset`` are
    batched by ``batch_size``."""
    if isinstance(data, DataLoader):
        return data, False
    if isinstance(data, IterableDataset):
        return DataLoader(data, batch_size), True
    dataset = _as_dataset(data, where, dtype, labels)
    if len(dataset) == 0:
        raise ValueError(f"{where} is empty")
    return DataLoader(dataset, batch_size), True


def _as_dataset(data: Any, where: str, dtype: Any, labels: bool | str = False) -> Any:
    """A dataset from (x, y) arrays or tensors, or a dataset as it is. With ``labels`` (True
    for a cross-entropy or NLL loss, ``"sparse"`` for Keras's sparse categorical
    cross-entropy), float targets of shape (N,) that are all whole numbers (a pandas column
    of labels) become int64 class labels, as Keras's sparse cross-entropy reads them; NaN
    among them (missing labels), or in the (N, 1) column the sparse loss also takes, is
    refused before training, with the dataset's row."""
    if isinstance(data, tuple | list):
        if len(data) != 2:
            raise ValueError(
                f"{where}: expected (x, y) with two arrays, got a sequence of {len(data)}"
            )
        x, y = (d.data if isinstance(d, Tensor) else np.asarray(d) for d in data)
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"{where}: x and y must have the same number of rows, got {x.shape[0]} and "
                f"{y.shape[0]}"
            )
        if is_floating(x.dtype) and x.dtype != dtype:
            x = x.astype(dtype)  # the model's dtype: float64 data must not widen float32 weights
        if labels and (y.ndim == 1 or (labels == "sparse" and y.shape[1:] == (1,))):
            # A cross-entropy of (N,) targets reads them as labels, never as probabilities.
            _check_no_missing_labels(where, y)
        if labels and y.ndim == 1 and is_floating(y.dtype) and _whole(y):
            y = y.astype(np.int64)
        if is_floating(y.dtype) and y.dtype != dtype:
            y = y.astype(dtype)
        return TensorDataset(x, y)
    if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        return data
    raise TypeError(
        f"{where}: expected (x, y) arrays, a dataset or a DataLoader, got {type(data).__name__}"
    )


def _whole(y: Array) -> bool:
    """Whether every value of ``y`` is a finite whole number."""
    return bool(np.isfinite(y).all() and (y == np.trunc(y)).all())


def _targets(dataset: Any) -> Array | None:
    """The target array of a ``TensorDataset`` (or subset of one), when there is one."""
    if isinstance(dataset, TensorDataset) and len(dataset.arrays) >= 2:
        return dataset.arrays[1]
    if isinstance(dataset, Subset):
        parent = _targets(dataset.dataset)
        return None if parent is None else parent[dataset._positions]
    return None


def _split(
    dataset: Any, fraction: float, generator: np.random.Generator, classes: bool
) -> tuple[Any, Any]:
    """Hold out ``fraction`` of the data: stratified when the targets are class labels
    (``classes``: the loss is a classification loss, and they are integers)."""
    y = _targets(dataset)
    n = len(dataset)
    if classes and y is not None and y.ndim == 1 and y.dtype.kind in "iub":
        kept, held = stratified_split(y, fraction, generator)
        if len(held) == 0 and len(kept) > 1:
            raise ValueError(
                f"fit: validation_split: expected classes with samples enough to hold out "
                f"{fraction:g} of each, got {n} samples in {len(np.unique(y))} classes; pass "
                f"validation_split=0, or validation_data"
            )
    else:
        order = generator.permutation(n)
        count = math.ceil(fraction * n)  # scikit-learn's count (0.25 of 10 is 3)
        kept, held = np.sort(order[count:]), np.sort(order[:count])
    if len(kept) == 0 or len(held) == 0:
        raise ValueError(f"fit: validation_split={fraction:g} leaves an empty part of {n} samples")
    return Subset(dataset, kept), Subset(dataset, held)


def _readings(kind: str, outputs: Array) -> dict[str, Array]:
    """Predicted labels, class probabilities or values from raw outputs, as metrics need."""
    if kind in ("logits", "log_proba", "proba"):
        if kind == "proba":
            proba = outputs / outputs.sum(axis=1, keepdims=True)
        else:
            # Softmax of logits; for log-probabilities the same expression normalizes again.
            proba = np.exp(outputs - outputs.max(axis=1, keepdims=True))
            proba /= proba.sum(axis=1, keepdims=True)
        return {
            "labels": outputs.argmax(axis=1),
            "proba": proba,
            "predictions": outputs.argmax(axis=1),
        }
    if kind == "scores":
        labels = outputs.argmax(axis=1)
        return {"labels": labels, "scores": outputs, "predictions": labels}
    if kind in ("binary_logits", "binary_proba"):
        flat = outputs.reshape(outputs.shape[0], -1)
        positive = 1 / (1 + np.exp(-flat)) if kind == "binary_logits" else flat
        labels = (positive > 0.5).astype(np.int64)
        if flat.shape[1] == 1:
            labels = labels[:, 0]
        proba = np.concatenate([1 - positive, positive], axis=1) if flat.shape[1] == 1 else positive
        return {"labels": labels, "proba": proba, "predictions": labels}
    return {"values": outputs, "predictions": outputs}


def _listed(value: Any, one: Callable[[Any], bool], where: str, name: str) -> list[Any]:
    """``value`` as a list, as Keras takes it: None is none, and a lone item (``one``
    says which are: a metric's name or function, a callback) a list of that one."""
    if value is None:
        return []
    if one(value):
        return [value]
    if isinstance(value, str | bytes | dict) or not isinstance(value, Iterable):
        raise TypeError(
            f"{where}: expected {name} as a list (or one of them, or None), got "
            f"{type(value).__name__}"
        )
    return list(value)


def _one_metric(value: Any) -> bool:
    return isinstance(value, str | Metric) or (callable(value) and not isinstance(value, type))


def _one_callback(value: Any) -> bool:
    return isinstance(value, Callback) or (
        not isinstance(value, list | tuple) and any(hasattr(value, h) for h in _CALLBACK_HOOKS)
    )


_LOG_KEYS = ("loss", "lr", "time", "epoch")
"""What ``fit`` logs besides the metrics (``epoch`` in CSVLogger's rows and checkpoint
paths), which a metric's name must not hide."""


def _metrics_for(metrics: Any, kind: str, where: str) -> list[Metric]:
    """The metrics asked for (a list of them, one, or None), checked before any training
    against what the loss produces."""
    found = [get_metric(m) for m in _listed(metrics, _one_metric, where, "metrics")]
    names = [metric.name for metric in found]
    for name in names:
        if names.count(name) > 1:
            # The logs (and the history) key each metric by its name: one would hide the other.
            raise ValueError(
                f"{where}: expected metrics of distinct names (the logs key each by its name), "
                f"got {name!r} {names.count(name)} times in {names}; list each once, or give "
                f"one a name of its own: chainrule.train.metrics.Metric('my_name', fn, "
                f"'predictions')"
            )
    for name in names:
        if name in _LOG_KEYS or name.startswith("val_"):
            # The logs hold fit's own quantities under these names, and each metric's
            # validation value under its name prefixed by val_.
            raise ValueError(
                f"{where}: expected metric names other than those fit logs "
                f"({', '.join(_LOG_KEYS)}, or val_ followed by a name), got {name!r}; give the "
                f"metric a name of its own: chainrule.train.metrics.Metric('my_name', fn, "
                f"'predictions')"
            )
    given = _readings(kind, np.ones((1, 1)))  # what outputs of this kind are read as
    for metric in found:
        if _reading(metric, given) is None:
            raise ValueError(
                f"{where}: metric {metric.name!r} needs {metric.needs}, which a model trained "
                f"with this loss does not produce"
            )
    return found


def _refuse_for_multilabel(metrics: Sequence[Metric], kind: str, dataset: Any, where: str) -> None:
    """Before any work, where the targets are arrays: refuse the metrics that a multi-label
    model (targets of several columns under a binary loss) has no meaning for. Data whose
    targets are seen only batch by batch is checked when the metrics are computed."""
    y = _targets(dataset)
    if kind in _BINARY_KINDS and y is not None and y.ndim == 2 and y.shape[1] > 1:
        _check_multilabel(metrics, y.shape[1], where)


def _reduction(loss_fn: Any) -> str:
    """How ``loss_fn`` reduces its elements to one number: its ``reduction`` (a loss module),
    the ``reduction`` a ``functools.partial`` binds, or the default of the function's own
    ``reduction`` parameter (``F.mse_loss``); a function without one is taken as a mean over
    the rows, which is what ``fit`` assumes of any function of its own.

    Examples
    --------
    >>> _reduction(functools.partial(F.mse_loss, reduction="sum"))
    'sum'
    >>> _reduction(lambda output, target: ((output - target) ** 2).mean())
    'mean'
    """
    reduction = getattr(loss_fn, "reduction", None)
    if isinstance(reduction, str):
        return reduction
    if isinstance(loss_fn, functools.partial):
        bound = loss_fn.keywords.get("reduction")
        return bound if isinstance(bound, str) else _reduction(loss_fn.func)
    try:
        parameter = inspect.signature(loss_fn).parameters.get("reduction")
    except (TypeError, ValueError):  # a callable whose signature Python cannot read
        parameter = None
    if parameter is not None and isinstance(parameter.default, str):
        return parameter.default
    return "mean"


class _LossSettings(NamedTuple):
    """What ``fit`` needs to know of a loss to add its batches up: its ``reduction``, the
    label it leaves out (``ignore_index``, None for a loss that is not a cross-entropy or
    NLL loss) and its class weights (None when it has none)."""

    reduction: str
    ignored: int | None
    weight: Array | None


def _loss_settings(loss_fn: Any) -> _LossSettings:
    """The settings of ``loss_fn`` that decide how its batches add up: those of a loss
    module, of ``F.cross_entropy`` or ``F.nll_loss``, or of one of them with some bound by
    ``functools.partial`` (``partial(F.cross_entropy, weight=w)`` is
    ``nn.CrossEntropyLoss(weight=w)``). Work it out once per run: for a plain function it
    reads the signature.

    Examples
    --------
    >>> _loss_settings(functools.partial(F.cross_entropy, ignore_index=1, reduction="sum"))
    _LossSettings(reduction='sum', ignored=1, weight=None)
    >>> _loss_settings(F.mse_loss)
    _LossSettings(reduction='mean', ignored=None, weight=None)
    """
    reduction = _reduction(loss_fn)
    weight: Any
    if isinstance(loss_fn, losses.CrossEntropyLoss | losses.NLLLoss):
        ignored, weight = int(loss_fn.ignore_index), loss_fn.weight
    else:
        function, _, bound = _unwrap_partial(loss_fn)
        if function is not F.cross_entropy and function is not F.nll_loss:
            return _LossSettings(reduction, None, None)
        ignored, weight = int(bound.get("ignore_index", -100)), bound.get("weight")
    if weight is not None:
        weight = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    return _LossSettings(reduction, ignored, weight)


def _unwrap_partial(loss_fn: Any) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """The function that ``loss_fn`` calls, with the positional and keyword arguments that
    ``functools.partial`` (nested ones included) binds to it; ``(loss_fn, (), {})`` for
    anything else.

    Examples
    --------
    >>> function, args, bound = _unwrap_partial(functools.partial(F.huber_loss, delta=0.5))
    >>> function is F.huber_loss, args, bound
    (True, (), {'delta': 0.5})
    """
    function, args, bound = loss_fn, tuple[Any, ...](), dict[str, Any]()
    while isinstance(function, functools.partial):
        args = (*function.args, *args)
        bound = {**function.keywords, **bound}  # an outer partial's keywords win
        function = function.func
    return function, args, bound


class _SettingsOf:
    """``_loss_settings`` of the loss last asked about, worked out again only for another
    loss: a function's reads its signature (tens of microseconds), too slow for every batch.
    A loss with its own ``reduction`` (a loss module) is read each time, as a callback may
    change its settings while ``fit`` runs."""

    def __init__(self) -> None:
        self._loss_fn: Any = None
        self._settings: _LossSettings | None = None

    def __call__(self, loss_fn: Any) -> _LossSettings:
        if isinstance(getattr(loss_fn, "reduction", None), str):
            return _loss_settings(loss_fn)
        if self._settings is None or loss_fn is not self._loss_fn:
            self._loss_fn, self._settings = loss_fn, _loss_settings(loss_fn)
        return self._settings


def _averaged_over(settings: _LossSettings, y: Tensor, rows: int) -> float:
    """What one batch's loss is the mean over, so that batches add up to the mean over all
    the data: the batch's rows, except for class labels under a cross-entropy or NLL loss
    reduced by "mean", which divides by the total weight of the labels it counts (those that
    are not ``ignore_index``, each weighted by its class's ``weight``). 0 for a batch whose
    labels are all ignored: its loss is NaN (0 / 0, as in PyTorch) and stands for nothing.
    ``settings`` are the loss's, from ``_loss_settings``."""
    if settings.ignored is None or is_floating(y.dtype) or settings.reduction != "mean":
        return rows
    labels = y.data
    counted = labels != settings.ignored
    if settings.weight is None:
        return int(np.count_nonzero(counted))
    return float(settings.weight[labels[counted]].sum())


def _score(
    metrics: Sequence[Metric],
    kind: str,
    y_true: Array,
    outputs: Array,
    prefix: str,
    ignored: int | None = None,
) -> dict[str, float]:
    """Each metric over the rows whose label is not ``ignored`` (the loss's ignore_index);
    outputs per position, such as a segmentation model's (N, C, H, W), each position a row."""
    if not metrics:
        return {}
    y_true, outputs = _positions_as_rows(kind, y_true, outputs)
    if ignored is not None and y_true.ndim == 1 and not is_floating(y_true.dtype):
        kept = y_true != ignored
        if not kept.any():
            return {prefix + m.name: float("nan") for m in metrics}
        if not kept.all():
            y_true, outputs = y_true[kept], outputs[kept]
    readings = _readings(kind, outputs)
    if kind in _CLASS_KINDS and y_true.ndim == 2 and y_true.shape == outputs.shape:
        # One-hot (or probability) targets: metrics compare classes, as Keras's
        # categorical_accuracy takes the argmax of both.
        y_true = y_true.argmax(axis=1)
    # Two classes, as one output column under a binary loss or two class scores (per sample,
    # or per pixel: (N, 2, H, W)): precision and the like of class 1, as scikit-learn's
    # default pos_label=1 (over every pixel, the labels flattened).
    two_scores = kind in ("logits", "log_proba", "proba", "scores") and outputs.ndim >= 2
    binary = (kind in _BINARY_KINDS and readings["labels"].ndim == 1) or (
        two_scores and outputs.shape[1] == 2
    )
    multilabel = kind in _BINARY_KINDS and not binary
    if multilabel:
        _check_multilabel(metrics, readings["labels"].shape[1], "fit" if prefix else "evaluate")
    scores = {}
    for m in metrics:
        fn = m.fn
        if binary and m.binary is not None:
            fn = m.binary
        elif multilabel and m.multilabel is not None:
            fn = m.multilabel
        predicted = _reading(m, readings)
        assert predicted is not None  # metrics without one are refused before fitting
        if m.needs == "proba" and not np.isfinite(predicted).all():
            # Outputs gone NaN or infinite (a diverging model) score NaN, as the loss does,
            # where the metric functions refuse such probabilities.
            scores[prefix + m.name] = float("nan")
            continue
        if m.needs != "proba" and predicted.shape != y_true.shape and predicted.size == y_true.size:
            # As Keras matches ranks: a one-column output (N, 1) meets targets (N,) as (N,),
            # where a user's function would broadcast the two to (N, N).
            predicted = predicted.reshape(y_true.shape)
        scores[prefix + m.name] = float(fn(y_true, predicted))
    return scores


def _reading(metric: Metric, readings: dict[str, Array]) -> Array | None:
    """What ``metric`` scores among ``readings``: what it needs, or class scores for a
    metric of probabilities that only ranks them; None where there is neither."""
    if metric.needs in readings:
        return readings[metric.needs]
    if metric.ranks_only and metric.needs == "proba":
        return readings.get("scores")
    return None


_BINARY_KINDS = ("binary_logits", "binary_proba")
_INDEX_KINDS = ("logits", "log_proba", "scores")  # losses of integer class indices
_CLASS_KINDS = ("logits", "log_proba", "proba", "scores")


def _positions_as_rows(kind: str, y_true: Array, outputs: Array) -> tuple[Array, Array]:
    """Outputs at each position of a sample, (N, C, d1, ..., dk) as a segmentation or
    sequence model gives them (channels on axis 1, as PyTorch's), as rows of the channels,
    (M, C) with M = N * d1 * ... * dk, with their targets moved alike, so that each
    position is scored as a sample, as scikit-learn scores the flattened labels (and an
    ignored label leaves out its position alone).

    Under a cross-entropy the C channels are class scores: the targets are labels
    (N, d1, ..., dk), flattened to (M,), or one-hot (probability) targets of the outputs'
    shape, to (M, C). Under a binary loss they are C yes/no labels of each position, with
    targets of the outputs' shape: (M, C), a multi-label model, or for one channel
    (N, 1, d1, ..., dk), whose targets may also lack the channel axis, a model of two
    classes, targets (M,). Other outputs (two axes or fewer, or values) come back as they
    are; so do targets of another shape, which the metrics then refuse."""
    if outputs.ndim <= 2 or kind not in (*_CLASS_KINDS, *_BINARY_KINDS):
        return y_true, outputs
    channels = outputs.shape[1]
    rows = np.moveaxis(outputs, 1, -1).reshape(-1, channels)
    if y_true.shape == outputs.shape:
        y_rows: Array = np.moveaxis(y_true, 1, -1).reshape(-1, channels)
        if kind in _BINARY_KINDS and channels == 1:
            y_rows = y_rows.reshape(-1)
        return y_rows, rows
    positions = outputs.shape[:1] + outputs.shape[2:]
    if y_true.shape == positions and (kind in _CLASS_KINDS or channels == 1):
        return y_true.reshape(-1), rows
    return y_true, outputs


def _check_multilabel(metrics: Sequence[Metric], columns: int, where: str) -> None:
    """Refuse, for a multi-label model (``columns`` outputs or targets under a binary
    loss), the metrics that rank classes of which one is true (top-k)."""
    for metric in metrics:
        if metric.needs == "proba" and metric.multilabel is None:
            raise ValueError(
                f"{where}: metric {metric.name!r} needs one true class per row, got a "
                f"multi-label model ({columns} columns under a binary loss, each a label of "
                f"its own); use metrics that score each label, such as 'accuracy', "
                f"'precision', 'recall', 'f1' or 'log_loss'"
            )


@dataclass
class FitState:
    """What callbacks see and may change while ``fit`` runs."""

    model: Module
    optimizer: Optimizer
    loss_fn: Callable[[Tensor, Tensor], Tensor]
    history: History
    epochs: int | None  # None where the run's length is unknown (partial_fit's calls)
    steps_per_epoch: int | None  # None for a stream of unknown length
    scheduler: Any = None
    scheduler_interval: str = "epoch"  # 'epoch' or 'step': when fit steps the scheduler
    generator: np.random.Generator = field(default_factory=np.random.default_rng)
    epoch: int = 0
    step: int = 0
    stop_training: bool = False
    stop_reason: str | None = None
    distributed: Any = None
    seed: int | None = None
    diverged: bool = False  # stopped because the loss became NaN or infinite
    validation_skipped: bool = False  # this epoch is not one that validation_freq validates
    unbatched: bool = False  # this step's input is one sample, without a batch axis
    # With sample_weight or class_weight: the loss of (output, target, weight), and each
    # training sample's weight, by its index in the training loader's dataset.
    weighted_loss: Any = None
    sample_weights: Any = None
    compiled: Any = None  # the CompiledStep of fit(compiled=True)
    metrics: list[Metric] = field(default_factory=list)  # logged, and val_ of each
    # The run's callbacks, as fit calls them: checkpoints keep the state of those with
    # state_dict() and load_state_dict().
    callbacks: list[Any] = field(default_factory=list, repr=False)
    # While the callbacks' on_epoch_end run: the position of the one running and the logs.
    _epoch_end: tuple[int, dict[str, float]] | None = field(default=None, repr=False)
    # What a checkpoint resumed from kept of the callbacks, until fit puts it back.
    _resumed: dict[str, Any] | None = field(default=None, repr=False)
    # With scheduler_interval='step': the rate of the last optimizer step, the epoch's 'lr'.
    _step_lr: float | None = field(default=None, repr=False)
    # How the loss's batches add up (its reduction, ignore_index, class weights).
    _loss_settings: _SettingsOf = field(default_factory=_SettingsOf, repr=False)

    @property
    def is_root(self) -> bool:
        """Whether this process prints progress and writes files: always, except on the
        ranks other than 0 of a distributed run."""
        return self.distributed is None or self.distributed.is_root

    def generators(self) -> dict[str, np.random.Generator]:
        """Every random generator whose state a resumed run needs: the data order's and
        those of layers that draw (dropout)."""
        found = {"fit.shuffle": self.generator}
        for name, module in self.model.named_modules():
            rng = getattr(module, "generator", None)
            if isinstance(rng, np.random.Generator):
                found[f"model.{name}.generator"] = rng
        return found

    def save_checkpoint(self, path: str | Path) -> None:
        """Write everything needed to resume after this epoch (see ``fit(resume_from=)``)."""
        from chainrule.io import save_checkpoint

        save_checkpoint(
            path,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            epoch=self.epoch,
            generators=self.generators(),
            history=self.history.to_dict(),
            extra={"step": self.step, "seed": self.seed, **self._callback_record()},
        )

    def _callback_record(self) -> dict[str, Any]:
        """The callbacks' states for a checkpoint, each under its class name and its position
        among the callbacks of that class; those whose ``on_epoch_end`` has not yet run in
        this epoch (listed after the one writing) are marked ``pending``, and the epoch's
        logs kept, so that a resumed run runs them on this epoch first. A stop a callback
        asked for this epoch is kept too: an uninterrupted run would have stopped here."""
        position, logs = self._epoch_end if self._epoch_end is not None else (-1, None)
        states = {
            key: {"state": callback.state_dict(), "pending": logs is not None and at > position}
            for key, at, callback in _stateful(self.callbacks)
        }
        record: dict[str, Any] = {"callbacks": states} if states else {}
        if logs is not None:
            record["epoch_logs"] = {
                k: float(v) for k, v in logs.items() if isinstance(v, int | float | np.number)
            }
            record["validation_skipped"] = self.validation_skipped
        stopping = self.stop_training or vars(self.model).get("stop_training") is True
        if stopping and self.stop_reason != "interrupted":
            record["stop_reason"] = self.stop_reason or "a callback set model.stop_training"
        return record

    def load_checkpoint(self, path: str | Path) -> None:
        from chainrule.io import load_checkpoint

        try:
            restored = load_checkpoint(
                path,
                model=self.model,
                optimizer=self.optimizer,
                scheduler=self.scheduler,
                generators=self.generators(),
            )
        except ValueError:
            if not _holds_weights_only(path):
                raise
            raise ValueError(
                f"fit: resume_from: expected a training checkpoint in {os.fspath(path)!r}, got "
                f"model weights alone (as ModelCheckpoint(save_weights_only=True) writes), "
                f"with no optimizer state or epoch to resume from; to resume later, use "
                f"ModelCheckpoint without save_weights_only; to start a new run from these "
                f"weights, chainrule.load_state_dict_file(model, path) and fit without "
                f"resume_from"
            ) from None
        self.epoch = int(restored["epoch"])
        self.history = History.from_dict(restored.get("history") or {})
        extra = restored.get("extra") or {}
        self.step = int(extra.get("step", 0))
        # A checkpoint written before callbacks' states were kept has none: they start afresh.
        kept = ("callbacks", "epoch_logs", "validation_skipped", "stop_reason")
        self._resumed = {k: extra[k] for k in kept if k in extra} or None


def _stateful(callbacks: Sequence[Any]) -> Iterator[tuple[str, int, Any]]:
    """``(key, position, callback)`` for each callback with ``state_dict`` and
    ``load_state_dict``: the key is its class name and its position among the callbacks of
    that class (``'EarlyStopping.0'``), so that adding a callback of another class to a
    resumed run leaves the others' states where they belong."""
    seen: dict[str, int] = {}
    for position, wrapped in enumerate(callbacks):
        callback = wrapped.callback if isinstance(wrapped, _KerasHooks) else wrapped
        if not (
            callable(getattr(callback, "state_dict", None))
            and callable(getattr(callback, "load_state_dict", None))
        ):
            continue
        name = type(callback).__name__
        seen[name] = seen.get(name, -1) + 1
        yield f"{name}.{seen[name]}", position, callback


def _restore_callbacks(state: FitState) -> None:
    """Put back the callbacks' states that the checkpoint resumed from kept, run the
    ``on_epoch_end`` of those that had not yet seen its epoch end, and stop where the run that
    wrote it stopped. Nothing for a run that does not resume."""
    resumed, state._resumed = state._resumed, None
    if not resumed:
        return
    saved = resumed.get("callbacks")
    saved = saved if isinstance(saved, dict) else {}
    pending = []
    for key, position, callback in _stateful(state.callbacks):
        entry = saved.get(key)
        if not isinstance(entry, dict) or "state" not in entry:
            continue  # not a callback of the run that wrote the checkpoint: it starts afresh
        try:
            callback.load_state_dict(entry["state"])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(
                f"fit: resume_from: expected a state that {key} can load, got one it refuses "
                f"({type(error).__name__}: {error})"
            ) from None
        if entry.get("pending"):
            pending.append(position)
    reason = resumed.get("stop_reason")
    if isinstance(reason, str):
        state.stop_training, state.stop_reason = True, reason
    logs = resumed.get("epoch_logs")
    if not isinstance(logs, dict):
        return
    state.validation_skipped = bool(resumed.get("validation_skipped"))
    for position in pending:
        state._epoch_end = (position, logs)
        state.callbacks[position].on_epoch_end(state, logs)
    state._epoch_end = None
    state.history.amend(logs)
    _keras_stop(state)


def _holds_weights_only(path: str | Path) -> bool:
    """Whether the file at ``path`` is a model file or a state dict (weights alone, as
    ``ModelCheckpoint(save_weights_only=True)`` writes), which no run can resume from."""
    from chainrule.io import _container

    try:
        document = json.loads(_container.read_metadata_text(path, "fit") or "{}")
    except (OSError, ValueError, RecursionError):
        return False
    formats = (_container.MODEL_FORMAT, _container.STATE_DICT_FORMAT)
    return isinstance(document, dict) and document.get("format") in formats


def _saved_seed(path: str | Path) -> int | None:
    """The seed of the run that wrote the checkpoint at ``path`` (its header alone is read);
    None when it has none."""
    from chainrule.io._container import read_metadata_text

    try:
        document = json.loads(read_metadata_text(path, "load_checkpoint") or "{}")
    except ValueError:
        return None  # load_checkpoint reports what is wrong with the file
    extra = document.get("extra") if isinstance(document, dict) else None
    seed = extra.get("seed") if isinstance(extra, dict) else None
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[list[bool]]:
    """Turn Ctrl-C into a flag that the loop checks after each step, so that the step in
    progress completes and nothing is left half-updated."""
    flag = [False]
    try:
        previous = signal.signal(signal.SIGINT, lambda *_: flag.__setitem__(0, True))
    except ValueError:  # not the main thread: leave Ctrl-C as it is
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


# Set by mpiexec/mpirun (MPICH, Intel MPI, Open MPI, MVAPICH) or srun in the processes they
# start (chainrule.distributed.SIZE_VARIABLES): only such a process looks for MPI.
_MPI_SIZE_VARIABLES = (
    "OMPI_COMM_WORLD_SIZE",
    "PMI_SIZE",
    "MV2_COMM_WORLD_SIZE",
    "SLURM_STEP_NUM_TASKS",
)


def _distributed_context(distributed: Any) -> Any:
    """The ``chainrule.distributed`` context that ``fit`` trains with, or None for one process."""
    if distributed is None or distributed is False:
        return None
    if isinstance(distributed, str) and distributed == "auto":
        if not any(name in os.environ for name in _MPI_SIZE_VARIABLES):
            return None
        from chainrule.distributed import from_environment

        return from_environment()
    if not hasattr(distributed, "forward_backward"):
        raise TypeError(
            "fit: distributed must be 'auto', None or a chainrule.distributed.MPIContext, "
            f"got {distributed!r}"
        )
    return distributed


def fit(
    model: Module,
    loss: Any,
    optimizer: Any,
    train_data: Any,
    y: Any = None,
    *,
    epochs: int = 10,
    batch_size: int | None = 32,
    validation_data: Any = None,
    validation_split: float | None = 0.0,
    validation_freq: int = 1,
    validation_batch_size: int | None = None,
    initial_epoch: int = 0,
    metrics: Sequence[Any] | Any = (),
    callbacks: Sequence[Callback] | Callback | None = (),
    scheduler: Any = None,
    scheduler_interval: str = "auto",
    clip_grad_norm: float | None = None,
    seed: int | None = None,
    verbose: int | str = "auto",
    shuffle: bool = True,
    drop_last: bool = False,
    resume_from: str | Path | None = None,
    distributed: Any = "auto",
    sample_weight: Any = None,
    class_weight: dict[Any, float] | str | None = None,
    compiled: bool = False,
) -> History:
    """Train ``model`` by backpropagation for ``epochs`` passes over ``train_data``.

    Parameters
    ----------
    model : Module
    loss : loss module, function ``loss(output, target)``, or name
        Names: see ``LOSSES`` (``'cross_entropy'``, ``'mse'``, ...). A function is read as
        reduced the way its ``reduction`` says: bound by ``functools.partial``
        (``partial(F.mse_loss, reduction="sum")``), else its parameter's default; a function
        without one is taken as a mean over the batch's rows. That matters under MPI and
        for the validation loss, which add up the ranks' or batches' losses by it.
    optimizer : Optimizer or name
        An optimizer over ``model.parameters()``, or a name from ``OPTIMIZERS`` (with that
        optimizer's default settings). One whose ``step`` needs a closure (``LBFGS``) is
        given one, as PyTorch Lightning gives it: it recomputes the batch's loss and
        gradients (clipped by ``clip_grad_norm``) wherever the optimizer evaluates; the
        batch's logged loss is the first evaluation's, before the step, the loss that
        ``LBFGS.step`` returns. L-BFGS works best on full batches (``batch_size=len(x)``).
    train_data : (x, y) arrays or tensors, a dataset, or a DataLoader
        Floating-point arrays are converted to the model's dtype; under a cross-entropy or
        NLL loss, float targets of shape (N,) that are all whole numbers (a pandas column
        of labels) are read as int64 class labels, as Keras's sparse cross-entropy reads
        them; missing (NaN) labels are refused. A DataLoader's ``batch_size`` and
        ``drop_last`` are used (``batch_size`` here is then ignored);
        the order of its batches is fit's, set by ``shuffle`` and ``seed``, unless it has a
        ``sampler`` or ``batch_sampler``: then that decides each epoch's batches, as in a
        PyTorch loop (``shuffle`` and ``seed`` do not apply to them, and
        ``validation_split`` cannot be taken from such a loader). An ``IterableDataset``
        (batched by ``batch_size``), a DataLoader over one, or a DataLoader with
        ``batch_size=None`` is iterated as it comes, once an epoch: its own order and
        batches (``shuffle`` and ``seed`` do not apply; with ``batch_size=None`` over a
        ``TensorDataset``, or where the targets are scalars, each item is one sample, given
        to the model unbatched and counted as one row, as in PyTorch; a sampler of index
        lists, such as a ``BatchSampler``, fetches a batch per item), epochs of unknown
        length where it
        has no ``__len__`` (the progress bar counts steps without a total, and callbacks
        see ``steps_per_epoch`` and ``params['steps']`` None, as Keras's ``steps`` for a
        generator); not with ``validation_split``, sample weights or MPI. An epoch that
        gives no batches stops training with a ``RuntimeWarning`` (a ``ValueError`` when it
        is the first), as a stream that does not start over at each ``iter()`` does.
    y : array or tensor, optional
        The targets, when ``train_data`` holds the inputs alone: ``fit(model, loss,
        optimizer, x, y)`` as Keras's ``fit(x, y)``.
    epochs, batch_size : int
        ``batch_size`` (default 32; None is that default, as in Keras) is the global batch:
        with ``distributed``, each of N processes computes on ``batch_size / N`` rows of it.
    validation_data : (x, y), (x, y, sample_weight), dataset or DataLoader, optional
        Evaluated after every epoch: ``val_loss`` and ``val_<metric>`` in the logs; a
        ``sample_weight`` of None is no weights, as in Keras. A
        DataLoader is iterated as it is, as a PyTorch validation loop over it would be
        (see ``evaluate``): its own batches (``batch_size``, ``drop_last``, ``sampler`` or
        ``batch_sampler``), order and ``collate_fn`` (never the training loader's, which
        may augment). Arrays and a dataset are batched by ``validation_batch_size`` with
        default collation, an ``IterableDataset`` in its order. Under MPI the ranks share
        out the batches of a DataLoader given, each made whole, so the scores are one
        process's; such a loader must give the same batches on every rank (no shuffling
        or random sampling by a generator of each rank's own: refused), and a stream is
        refused. The rows of arrays or a dataset are shared out instead.
    validation_split : float in [0, 1), default=0
        Hold out this share of ``train_data`` for validation instead (None: none), drawn
        from ``seed`` and batched as the training data is: ``ceil(validation_split * N)``
        rows (scikit-learn's count: 0.25 of 10 rows is 3), leaving at least 1. When the
        loss is a classification loss and the targets integer labels, they are stratified
        by class as ``chainrule.data.stratified_split`` draws them (each class's share in
        proportion to its size; each class keeps a row for training); integer targets of a
        regression loss such as ``'mse'`` are values, not classes. Unlike Keras, which holds
        out the last rows as they come, the rows held out are drawn at random, so that data
        sorted by class or by time still gives a representative validation set.
    validation_freq : int, default=1
        Validate after every ``validation_freq``-th epoch only, as in Keras; the other
        epochs' validation entries in the history are NaN.
    validation_batch_size : int, optional
        Rows per batch of the validation pass, as in Keras; by default the larger of
        ``batch_size`` and 256 (a forward pass without gradients holds less memory). Not
        for a validation DataLoader, which keeps its own.
    initial_epoch : int, default=0
        Epochs already done, as in Keras: training runs epochs ``initial_epoch + 1`` to
        ``epochs`` (numbered from 1). Not with ``resume_from``, which restores the epoch.
    metrics : sequence of names or functions, one of them, or None
        See ``chainrule.train.metrics.METRICS``, and ``ALIASES`` there for Keras's and
        scikit-learn's names (``'f1_score'`` is ``'f1'``); computed on each epoch's outputs.
        ``'precision'``, ``'recall'`` and ``'f1'`` are of class 1 for a model of two
        classes (one output under a binary loss, or two class scores), as scikit-learn's
        default ``pos_label=1``, and the macro average for more (``'f1_macro'`` is that
        average always). A multi-label model (several output columns under a binary
        loss) is scored label by label, as that module says; the top-k accuracies are
        refused for it. Outputs of 3 or more axes, (N, C, d1, ...) as a segmentation or
        sequence model gives them (channels on axis 1, as PyTorch's), are scored position
        by position, each a sample (as scikit-learn scores the flattened labels), batches
        padded to lengths of their own included. Under a cross-entropy the C channels are
        class scores: positions labelled with the loss's ``ignore_index`` are left out, as
        the loss leaves them out, and one-hot or probability targets of the outputs' shape
        are read by their argmax. Under a binary loss they are C yes/no labels of each
        position, a multi-label model (targets of the outputs' shape); one channel,
        (N, 1, d1, ...), with targets (N, 1, d1, ...) or (N, d1, ...), is a model of two
        classes. So a mask without its channel axis, (N, H, W), reads as H labels at each
        of W positions: give it as (N, 1, H, W) to score each pixel. Two axes, (N, K), are
        K labels of each sample, as in scikit-learn. A plain function ``fn(y_true,
        y_pred)`` gets a regression model's outputs in the targets' shape where they have
        as many entries (see ``metrics.get_metric``). Each metric's name must be its own
        (two of one name, ``['accuracy', 'accuracy']`` or two ``functools.partial`` of one
        function, are refused: the logs key each by its name) and not one of fit's own
        quantities: ``'loss'``, ``'lr'``, ``'time'``, ``'epoch'`` and names that begin with
        ``'val_'`` are refused.
    callbacks : sequence of Callback, one of them, or None
    scheduler : learning-rate scheduler, optional
        Built on ``optimizer``, the object passed (an optimizer given by name is built
        here, so it cannot be scheduled; a scheduler of another optimizer is refused).
        Stepped after each epoch, once validated (``ReduceLROnPlateau`` with the monitored
        loss: ``val_loss``, else ``loss``), or after each optimizer step: see
        ``scheduler_interval``. Its state goes into checkpoints, so a resumed run goes on
        with the rates of the run it continues.
    scheduler_interval : {'auto', 'epoch', 'step'}, default='auto'
        When ``scheduler.step()`` runs, as PyTorch Lightning's ``interval``: 'epoch', once
        after each epoch; 'step', after each ``optimizer.step()``, where a PyTorch loop
        calls it for a schedule over batches (a warm-up by ``LambdaLR`` over steps, say); a
        batch whose loss is NaN or infinite takes no step, and stops training. 'auto' is
        'step' for ``OneCycleLR`` and ``CyclicLR``, which are made to be stepped per batch,
        and 'epoch' for every other scheduler; an explicit value wins. ``ReduceLROnPlateau``
        steps on an epoch's loss and refuses 'step'. A ``OneCycleLR`` must have steps
        enough for the run (``epochs`` times the batches per epoch with 'step', ``epochs``
        with 'epoch'), checked before training. The ``lr`` logged for an epoch is the rate
        of its last step either way (per epoch: the rate the whole epoch trained with).
    clip_grad_norm : float, optional
        Rescale gradients whose global L2 norm exceeds this before each step.
    seed : int, optional
        Seeds the data order, the validation split and the random layers (the generators of
        dropout layers are replaced by ones drawn from it). Same seed, data and initial
        weights: the same weights, bit for bit.
    verbose : 'auto', 0, 1 or 2
        1 (and 'auto'): a progress bar per epoch on a terminal, then the epoch's summary
        line (every logged value), else that line alone, on stderr; 2: a line per epoch;
        0: silent. A ``ProgressBar`` passed in ``callbacks`` replaces fit's own.
    shuffle : bool, default=True
        Not for a stream, whose order is its own. A sampler with ``set_epoch`` (such as
        ``DistributedSampler``) is told each epoch's number, from 0, before the epoch.
    drop_last : bool, default=False
        Leave out each epoch's last batch when it is shorter than ``batch_size``, as
        ``DataLoader(drop_last=True)`` does: a model with batch normalization cannot train
        on a last batch of one row (N % batch_size == 1). For the data that fit batches
        itself (arrays, a dataset, an ``IterableDataset``); a DataLoader keeps its own
        ``drop_last``, and True here with a DataLoader's False is refused. With
        ``shuffle``, the rows left out change from epoch to epoch; validation sees every row
        (of a validation DataLoader, those its own ``drop_last`` keeps).
    resume_from : path, optional
        A checkpoint written by ``ModelCheckpoint``: model, optimizer, scheduler, random
        states and history are restored, and training continues after its epoch. So are
        the states of the callbacks that have ``state_dict()`` and ``load_state_dict()``
        (``EarlyStopping``, ``ModelCheckpoint``, ``ReduceLROnPlateau``), matched by class and
        position among the callbacks of that class, after their ``on_train_begin``: those
        listed after the ``ModelCheckpoint`` that wrote the file first finish its epoch,
        and a run that a callback stopped at that epoch stays stopped. The final weights
        are those of a run never interrupted. A checkpoint written before callbacks' states
        were kept resumes with the callbacks started afresh.
    sample_weight : array of shape (N,), optional
        A weight for each sample of ``train_data`` (given as arrays, or a DataLoader over a
        ``TensorDataset`` of them), as in Keras: the loss is the mean over a batch's rows
        of each row's weight times its loss (divided by the number of rows, not by the sum
        of the weights; for a cross-entropy or NLL loss of class labels, by what its own
        mean divides by, the total class ``weight`` of the labels not ``ignore_index``, so
        that weights of 1 change nothing). Each batch takes the weights of the indices it
        is made of: a DataLoader's ``collate_fn`` sees its (x, y) samples alone. The rows
        held out by ``validation_split`` keep their weights, so ``val_loss`` is weighted too;
        ``validation_data`` may be ``(x, y, sample_weight)`` likewise, and given without
        weights (``(x, y)``, ``(x, y, None)``, a dataset or a DataLoader) its ``val_loss`` is
        unweighted, as in Keras. Metrics are not weighted (Keras's ``metrics``, not its
        ``weighted_metrics``).
    class_weight : dict of class to float, or 'balanced', optional
        As in Keras: each training sample weighs as its class (1 for a class not named),
        the class read from integer labels or from one-hot targets. ``'balanced'`` is
        scikit-learn's rule, ``n_samples / (n_classes * count of the class)`` over the
        training samples (after ``validation_split``). Training loss only: ``val_loss`` is
        not weighted. Not together with ``sample_weight``. Refused for a class per
        position (integer labels (N, L) or (N, H, W) under a cross-entropy, or any targets
        of 3 or more axes, as Keras refuses these): weigh the classes in the loss,
        ``nn.CrossEntropyLoss(weight=...)``.
    distributed : 'auto', None or chainrule.distributed.MPIContext, default='auto'
        Data-parallel training over MPI processes. 'auto': when an MPI launcher (``mpirun``,
        ``mpiexec``, ``srun``) started several processes, train on all of them, with the
        same result as one process up to floating-point summation order; otherwise (and
        with None) train in this process alone, without importing MPI. Every rank must
        call ``fit`` with the same model, data and arguments; rank 0 prints progress and
        writes checkpoints, and every rank returns the same history.
    compiled : bool, default=False
        Run each step through ``chainrule.compile_step``: recorded at the first batch (of
        each shape, and again after ``model.train()``/``eval()`` switches), then replayed
        without the Python around the ops. The same results to the bit, faster on small
        networks (a 13-32-1 network's step in about 0.7 of the time); models it cannot
        replay (dropout while training, batch normalization, hooks) train eagerly as
        without it. Python in ``forward`` beyond the ops (a print, a counter) runs only
        when a step is recorded. Without effect with ``sample_weight``, ``class_weight``,
        an optimizer that needs a closure (``LBFGS``) or over MPI.

    Returns
    -------
    History
        Per-epoch logs, per-step losses and why training stopped early, if it did; its
        ``params`` and ``model``, as Keras's ``History`` has them.

    Notes
    -----
    A callback may also stop training as in Keras, with ``model.stop_training = True``
    (each callback's ``model`` and ``params`` are set when training begins).

    A NaN or infinite loss stops training with a ``DivergenceWarning`` that names the epoch
    and step; History keeps that epoch's loss (NaN or infinite), as Keras's
    ``TerminateOnNaN`` leaves it. Ctrl-C stops after the current step and returns the
    history so far.
    """
    epochs = _positive_int(epochs, "fit", "epochs")
    batch_size = _positive_int(32 if batch_size is None else batch_size, "fit", "batch_size")
    val_batch_size = (
        max(batch_size, 256)
        if validation_batch_size is None
        else _positive_int(validation_batch_size, "fit", "validation_batch_size")
    )
    _check_verbose(verbose, "fit")
    validation_split = _fraction(validation_split)
    callbacks = _listed(callbacks, _one_callback, "fit", "callbacks")
    for item in callbacks:
        if isinstance(item, type):
            name = item.__name__
            raise TypeError(
                f"fit: expected a callback instance, got the class {name}; write {name}()"
            )
    validation_freq = _positive_int(validation_freq, "fit", "validation_freq")
    drop_last = _boolean(drop_last, "fit", "drop_last")
    interval = _scheduler_interval(scheduler, scheduler_interval)
    if (
        isinstance(initial_epoch, bool)
        or not isinstance(initial_epoch, int | np.integer)
        or not 0 <= initial_epoch <= epochs
    ):
        raise ValueError(
            f"fit: initial_epoch must be an integer in [0, epochs={epochs}], got {initial_epoch!r}"
        )
    if initial_epoch and resume_from is not None:
        raise ValueError("fit: pass initial_epoch or resume_from, not both")
    if not isinstance(model, Module):
        raise TypeError(f"fit: model must be a chainrule.nn.Module, got {type(model).__name__}")
    loss_fn = _resolve_loss(loss, "fit")
    kind = _output_kind(loss_fn)
    # float labels of (N,) may be read as classes; Keras's sparse loss takes (N, 1) too
    labels: bool | str = kind in ("logits", "log_proba") or _sparse_labels(loss_fn)
    opt = _resolve_optimizer(optimizer, model)
    _check_optimizes(opt, model, loss_fn)
    _check_scheduled(scheduler, opt, optimizer)
    metric_list = _metrics_for(metrics, kind, "fit")
    dtype = _model_dtype(model)
    dist = _distributed_context(distributed)
    seeded = seed is not None  # the caller's seed decides the random layers too
    if dist is not None:
        seed = dist.common_seed(seed, resume_from)
    elif seed is None:
        # A resumed run must hold out the same validation rows as the run it continues.
        seed = None if resume_from is None else _saved_seed(resume_from)
        if seed is None:
            # From the default generator: random in each process, repeatable after
            # chainrule.manual_seed.
            seed = int(as_generator(None).integers(2**63))

    split_seed, shuffle_seed, layer_seed = np.random.SeedSequence(seed).spawn(3)
    source = _with_targets(train_data, y, "fit", "train_data")
    given = train_data if isinstance(train_data, DataLoader) else None
    if drop_last and given is not None and not given.drop_last:
        raise ValueError(
            "fit: drop_last=True applies to the batches fit makes, but train_data is a "
            "DataLoader, which makes its own with drop_last=False; pass the DataLoader "
            "drop_last=True instead"
        )
    # A stream: taken batch by batch as it comes, neither indexed nor shuffled by fit.
    stream = _stream_loader(source, batch_size, drop_last=drop_last)
    sampled = given is not None and stream is None and _sampled(given)
    if stream is not None and validation_split:
        raise ValueError(
            "fit: validation_split holds out rows of the data, but the samples of an "
            "IterableDataset (or of a DataLoader with batch_size=None) come as a stream that "
            "fit does not index; pass validation_data instead"
        )
    if sampled and validation_split:
        raise ValueError(
            "fit: validation_split holds out rows of the data, but the DataLoader's sampler "
            "picks its own indices; pass validation_data (a DataLoader with a sampler over "
            "the held-out indices, for instance) instead"
        )
    if sampled and dist is not None and given is not None:
        if isinstance(given.sampler, DistributedSampler):
            raise ValueError(
                "fit: under MPI fit splits every batch over the ranks itself, and a "
                "DistributedSampler would split the data a second time; give fit the "
                "dataset (or a DataLoader without the sampler), which every rank reads whole"
            )
        raise ValueError(
            "fit: a DataLoader with a sampler or batch_sampler is not supported with MPI; "
            "give the dataset (fit shuffles it) instead"
        )
    if stream is not None:
        train_set = stream.dataset
    elif given is not None:
        train_set = given.dataset
    else:
        train_set = _as_dataset(source, "fit: train_data", dtype, labels)
    if stream is None and len(train_set) == 0:
        raise ValueError("fit: train_data is empty")
    _refuse_for_multilabel(metric_list, kind, train_set, "fit")
    held_out: tuple[Any, Any] | None = None  # validation_split's (training, held-out) rows
    if validation_split:
        if validation_data is not None:
            raise ValueError("fit: pass validation_data or validation_split, not both")
        # Integer targets of a regression (counts, prices in cents) are not classes.
        classes = kind != "values"
        split_rng = np.random.default_rng(split_seed)
        held_out = _split(train_set, validation_split, split_rng, classes)
    weighted_loss, val_weighted = None, False
    weights: Array | None = None  # each training sample's, by its index in train_set
    val_weights: Array | None = None
    if sample_weight is not None or class_weight is not None:
        if stream is not None:
            raise _weights_need_arrays("fit", train_data)
        if dist is not None:
            raise ValueError("fit: sample_weight and class_weight are not supported with MPI")
        weights = _sample_weights(
            train_set,
            sample_weight,
            class_weight,
            dtype,
            "fit",
            indices=kind in _INDEX_KINDS,
            counted=None if held_out is None else held_out[0]._positions,
        )
        weighted_loss = _weighted(loss_fn, "fit")
    # A DataLoader brings its own batching: its batch size, and whether it drops a last
    # short batch. The order stays fit's (``shuffle`` and ``seed``) so that a run resumes.
    # Its collate_fn makes the batches, and those of the rows validation_split holds out.
    collate_fn = given.collate_fn if given is not None else None
    # The validation pass: a DataLoader given is iterated as it is (its own batches and
    # collate_fn: the training one may augment); fit batches arrays and datasets itself.
    val_loader: DataLoader | None = None
    val_own = True  # fit made val_loader, over an indexable dataset or a stream
    if held_out is not None:
        train_set, val_set = held_out
        if weights is not None:
            # Keras weighs the held-out rows by their sample weights; class weights train only.
            if sample_weight is not None:
                val_weights = weights[val_set._positions]
                val_weighted = True
            weights = weights[train_set._positions]
        val_loader = DataLoader(val_set, val_batch_size, collate_fn=collate_fn)
    elif (
        isinstance(validation_data, tuple | list)
        and len(validation_data) == 3
        and validation_data[2] is not None
    ):
        # Keras's (x_val, y_val, val_sample_weight)
        where = "fit: validation_data"
        val_set = _as_dataset(validation_data[:2], where, dtype, labels)
        val_weights = _sample_weights(
            val_set, validation_data[2], None, dtype, where, "sample_weight (its third element)"
        )
        val_weighted = True
        val_loader = DataLoader(val_set, val_batch_size)
    elif isinstance(validation_data, tuple | list) and len(validation_data) == 3:
        # (x_val, y_val, None): no weights, as in Keras
        val_loader = DataLoader(
            _as_dataset(validation_data[:2], "fit: validation_data", dtype, labels),
            val_batch_size,
        )
    elif validation_data is not None:
        val_loader, val_own = _pass_loader(
            validation_data, val_batch_size, "fit: validation_data", dtype, labels
        )
    if dist is not None and stream is not None:
        raise ValueError(
            "fit: an IterableDataset (or a DataLoader with batch_size=None) is not supported "
            "with MPI, where fit splits each batch of an indexable dataset over the ranks; "
            "give a dataset with __len__ and __getitem__"
        )
    if dist is not None and val_loader is not None and not _indexed(val_loader):
        raise ValueError(
            "fit: validation_data: an IterableDataset (or a DataLoader over one, or one with "
            "an __iter__ of its own) is not supported with MPI, where each rank evaluates a "
            "share of the validation batches, picked by their indices; give a dataset with "
            "__len__ and __getitem__, or a DataLoader over one"
        )
    val_loss_fn = _weighted(loss_fn, "fit") if val_weighted else None
    if stream is not None:
        loader = stream
    elif given is not None and sampled:
        # The user's sampler decides the batches; its generator (when it has one) is the
        # one a checkpoint keeps, so that a resumed run draws on from where it stopped.
        loader = DataLoader(
            train_set,
            given.batch_size,
            sampler=given.sampler,
            batch_sampler=given.batch_sampler,
            drop_last=given.drop_last,
            generator=_sampler_generator(given) or np.random.default_rng(shuffle_seed),
            collate_fn=collate_fn,
        )
    else:
        loader = DataLoader(
            train_set,
            given.batch_size if given is not None else batch_size,
            shuffle=shuffle,
            drop_last=given.drop_last if given is not None else drop_last,
            generator=np.random.default_rng(shuffle_seed),
            collate_fn=collate_fn,
        )
    steps_per_epoch = _batches_per_epoch(loader)
    if stream is None and steps_per_epoch == 0:
        raise ValueError(
            f"fit: train_data has {len(train_set)} samples, fewer than one batch of "
            f"{loader.batch_size} with drop_last=True, so no training step would run"
        )

    if seeded:
        _seed_random_layers(model, layer_seed)
    history = History()
    state = FitState(
        model=model,
        optimizer=opt,
        loss_fn=loss_fn,
        history=history,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        scheduler=scheduler,
        scheduler_interval=interval,
        generator=loader.generator,
        distributed=dist,
        seed=seed,
        weighted_loss=weighted_loss,
        sample_weights=weights,
        metrics=metric_list,
    )
    if compiled and dist is None and weighted_loss is None and not _needs_closure(opt):
        state.compiled = compile_step(model, loss_fn, opt)
    if dist is not None:
        dist.start(state, len(train_set), resume_from)  # every rank takes rank 0's state
    elif resume_from is not None:
        state.load_checkpoint(resume_from)
    state.epoch = max(state.epoch, int(initial_epoch))
    _check_cycle_length(state)
    history = state.history
    # Keras's levels: 2 is one line per epoch even on a terminal. A ProgressBar among the
    # callbacks takes the place of fit's own.
    show = verbose != 0 and state.is_root
    show = show and not any(isinstance(c, ProgressBar) for c in callbacks)
    progress = [ProgressBar(force_bar=False if verbose == 2 else None)] if show else []
    all_callbacks = [*callbacks, *progress]
    history.params = {"verbose": verbose, "epochs": epochs, "steps": steps_per_epoch}
    history.model = model
    for callback in all_callbacks:
        _give_keras_attributes(callback, model, history.params)
    all_callbacks = [with_keras_hooks(callback) for callback in all_callbacks]
    state.callbacks = all_callbacks
    if "stop_training" in vars(model):
        model.stop_training = False  # a flag a Keras-style callback set in an earlier run

    @contextlib.contextmanager
    def guard() -> Iterator[None]:
        """An exception reaches each callback's on_exception (to release hooks and files),
        then, with MPI, aborts every rank (the others would wait)."""
        aborting = contextlib.nullcontext() if dist is None else dist.guard()
        with aborting, calling_on_exception(all_callbacks, state):
            yield

    with guard():
        for callback in all_callbacks:
            callback.on_train_begin(state)
        _restore_callbacks(state)
    # NumPy's overflow warnings would repeat every step; a non-finite loss is reported once,
    # with its cause, by _diverged.
    first_epoch = state.epoch + 1
    with guard(), _deferred_interrupt() as interrupted, np.errstate(all="ignore"):
        while state.epoch < epochs and not state.stop_training:
            # Ctrl-C during validation or a callback: no further step (with MPI, ranks stop
            # together once agree_to_stop has seen it, not each on its own flag).
            if dist is None and interrupted[0]:
                state.stop_training, state.stop_reason = True, "interrupted"
                break
            state.epoch += 1
            _set_epoch(loader, state.epoch - 1)
            steps_before = state.step
            try:
                logs = _run_epoch(
                    state, loader, kind, metric_list, clip_grad_norm, all_callbacks, interrupted
                )
            except ValueError as error:
                rows = None if stream is not None or sampled else len(train_set)
                hint = _one_row_hint(error, given, loader.batch_size, rows)
                if hint is None:
                    raise
                raise ValueError(hint) from error
            if logs is None:
                break
            if state.step == steps_before:
                _ran_dry(state, first=state.epoch == first_epoch)
                break
            if dist is not None:
                dist.sync_buffers(model)
            state.validation_skipped = val_loader is not None and state.epoch % validation_freq != 0
            if state.validation_skipped:
                # The same keys every epoch (NaN where not validated), so that loggers keep
                # their columns; the callbacks that monitor a val_ key skip such epochs.
                logs.update(
                    dict.fromkeys(
                        ["val_loss", *(f"val_{m.name}" for m in metric_list)], float("nan")
                    )
                )
            elif val_loader is not None:
                logs.update(
                    _evaluate(
                        model,
                        loss_fn,
                        val_loader,
                        metric_list,
                        kind,
                        "val_",
                        dist,
                        val_loss_fn,
                        val_weights,
                        val_own,
                    )
                )
            if state.scheduler_interval == "step" and state._step_lr is not None:
                logs["lr"] = state._step_lr  # the scheduler has set the next step's already
            else:
                logs["lr"] = float(opt.param_groups[0]["lr"])
            if state.scheduler_interval == "epoch":
                _step_scheduler(state.scheduler, logs, state.validation_skipped)
            history.record(state.epoch, logs)
            for position, callback in enumerate(all_callbacks):
                state._epoch_end = (position, logs)  # what a checkpoint written now keeps
                callback.on_epoch_end(state, logs)
            state._epoch_end = None
            history.amend(logs)  # what callbacks added, as Keras's History, called last, sees
            _keras_stop(state)
            if dist is not None:
                dist.agree_to_stop(state, interrupted)
    with guard():
        for callback in all_callbacks:
            callback.on_train_end(state)
    history.stop_reason = state.stop_reason
    return history


def _fraction(validation_split: Any) -> float:
    """``fit``'s ``validation_split`` as a float in [0, 1) (None: 0, none held out)."""
    if validation_split is None:
        return 0.0
    if isinstance(validation_split, bool | np.bool_) or not isinstance(
        validation_split, int | float | np.integer | np.floating
    ):
        raise TypeError(
            f"fit: expected validation_split as a number in [0, 1) (or None), got "
            f"{validation_split!r} ({type(validation_split).__name__})"
        )
    if not 0 <= validation_split < 1:
        raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split!r}")
    return float(validation_split)


def _check_verbose(verbose: Any, where: str) -> None:
    if verbose not in ("auto", 0, 1, 2):
        raise ValueError(f"{where}: verbose must be 'auto', 0, 1 or 2, got {verbose!r}")


def _ran_dry(state: FitState, first: bool) -> None:
    """An epoch without a batch (only a stream can give one): an error in the first epoch
    of the run, else the end of training with a warning, as Keras's 'ran out of data'."""
    if first:
        raise ValueError(
            f"fit: train_data gave no batches in epoch {state.epoch}: the stream is empty, or "
            f"shorter than one batch with drop_last=True"
        )
    message = (
        f"fit: train_data gave no batches in epoch {state.epoch}, so training stopped; an "
        f"IterableDataset must start over at each iter() (fit calls it once an epoch), "
        f"which one that returns a generator made once in __init__ does not"
    )
    state.stop_training, state.stop_reason = True, message
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def _sampler_generator(loader: DataLoader) -> np.random.Generator | None:
    """The random generator of ``loader``'s sampler (or of the sampler inside its batch
    sampler), when it has one."""
    for source in (loader.sampler, loader.batch_sampler):
        while source is not None:
            rng = getattr(source, "generator", None)
            if isinstance(rng, np.random.Generator):
                return rng
            source = getattr(source, "sampler", None)
    return None


def _seed_random_layers(model: Module, seed: np.random.SeedSequence) -> None:
    """Give each module that draws random numbers (dropout) a generator from ``seed``, in
    module order, so that ``fit(seed=...)`` decides the masks too, as a global seed does in
    PyTorch and Keras."""
    drawing = [
        m
        for _, m in model.named_modules()
        if isinstance(getattr(m, "generator", None), np.random.Generator)
    ]
    for module, child in zip(drawing, seed.spawn(len(drawing)), strict=True):
        module.generator = np.random.default_rng(child)


def _give_keras_attributes(callback: Any, model: Module, params: dict[str, Any]) -> None:
    """Set ``callback.model`` and ``.params`` as Keras does, unless the callback keeps
    attributes of its own by those names (a teacher model, a property)."""
    own = vars(callback) if hasattr(callback, "__dict__") else {}
    given = own.get("_keras_attributes_from_fit", False)
    for name, value in (("model", model), ("params", params)):
        setter = getattr(callback, f"set_{name}", None)
        if callable(setter):
            setter(value)  # Keras's way: the callback keeps what it needs of the model
            continue
        if isinstance(getattr(type(callback), name, None), property):
            continue
        if own.get(name) is not None and not given:
            continue
        setattr(callback, name, value)
        callback._keras_attributes_from_fit = True


def _keras_stop(state: FitState) -> None:
    """Stop where a callback set ``model.stop_training``, as Keras's callbacks do."""
    if vars(state.model).get("stop_training") is True and not state.stop_training:
        state.stop_training = True
        state.stop_reason = state.stop_reason or "a callback set model.stop_training"


def _scheduler_interval(scheduler: Any, interval: Any) -> str:
    """'epoch' or 'step': when ``fit`` steps ``scheduler`` (see its ``scheduler_interval``)."""
    if not isinstance(interval, str) or interval not in ("auto", "epoch", "step"):
        raise ValueError(
            f"fit: scheduler_interval must be 'auto', 'epoch' or 'step', got {interval!r}"
        )
    if interval == "auto":
        # The schedules made to be stepped per batch, as every PyTorch loop steps them.
        return "step" if isinstance(scheduler, OneCycleLR | CyclicLR) else "epoch"
    if interval == "step" and isinstance(scheduler, ReduceLROnPlateau):
        raise ValueError(
            "fit: expected scheduler_interval='epoch' (or 'auto') for ReduceLROnPlateau, "
            "which steps on an epoch's loss (val_loss, else loss), got 'step'"
        )
    return interval


def _check_cycle_length(state: FitState) -> None:
    """Refuse, before any training, a ``OneCycleLR`` that would run out of steps before
    the run's last epoch (it raises at the first step past ``total_steps``)."""
    scheduler, per_epoch = state.scheduler, state.steps_per_epoch
    if not isinstance(scheduler, OneCycleLR) or state.epochs is None or state.epoch >= state.epochs:
        return
    epochs_left = state.epochs - state.epoch
    if state.scheduler_interval == "epoch":
        needed, what = epochs_left, f"{epochs_left} epochs, scheduler_interval='epoch'"
    elif per_epoch is None:
        return  # a stream of unknown length: the scheduler says so when it runs out
    else:
        needed = epochs_left * per_epoch
        what = f"{epochs_left} epochs of {per_epoch} batches, scheduler_interval='step'"
    taken = scheduler.last_epoch
    if needed > scheduler.total_steps - taken:
        fix = f"build it with total_steps={taken + needed}"
        if state.scheduler_interval == "step":
            fix += ", or pass scheduler_interval='epoch' to step it once an epoch"
        raise ValueError(
            f"fit: expected a OneCycleLR with {needed} steps left ({what}), got one with "
            f"{scheduler.total_steps - taken} (total_steps={scheduler.total_steps}, {taken} "
            f"taken); {fix}"
        )


def _one_row_hint(
    error: ValueError, given: DataLoader | None, batch_size: int | None, rows: int | None
) -> str | None:
    """``fit``'s message for batch normalization refusing a training batch of one row, with
    the way to leave such a batch out; None for any other error. (Under MPI a rank's share
    has one row only where the whole batch has: ``training_share``.)"""
    if "expected more than 1 value per channel" not in str(error):
        return None
    if batch_size == 1:
        fix = "train in batches of at least 2 rows"
    elif given is not None:
        fix = "give the DataLoader drop_last=True to leave out a last batch of 1 row"
    else:
        fix = "pass drop_last=True to leave out a last batch of 1 row"
    over = ""
    if rows is not None and batch_size and rows % batch_size == 1:
        over = f" ({rows} rows in batches of {batch_size} leave 1 row for the last)"
    return (
        f"fit: batch normalization needs more than one value per channel when training, got "
        f"a batch of 1 row{over} ({error}); {fix}"
    )


def _step_scheduler(scheduler: Any, logs: dict[str, float], unvalidated: bool = False) -> None:
    if scheduler is None:
        return
    if isinstance(scheduler, ReduceLROnPlateau):  # subclasses too
        if unvalidated:
            return  # it tracks the validation loss: an epoch without one is not counted
        scheduler.step(logs.get("val_loss", logs["loss"]))
    else:
        scheduler.step()


def _run_epoch(
    state: FitState,
    loader: DataLoader,
    kind: str,
    metrics: Sequence[Metric],
    clip: float | None,
    callbacks: Sequence[Callback],
    interrupted: list[bool],
) -> dict[str, float] | None:
    """One pass over the training data; the epoch's logs, or None when it was cut short."""
    model, optimizer, dist = state.model, state.optimizer, state.distributed
    weighted_loss = state.weighted_loss
    compiled = state.compiled
    if compiled is not None and (
        compiled.model is not model
        or compiled.loss_fn is not state.loss_fn
        or compiled.optimizer is not optimizer
    ):
        compiled = None  # a callback swapped one of them: train on eagerly
    needs_closure = _needs_closure(optimizer)  # once: it may read step's signature
    model.train()
    for callback in callbacks:
        callback.on_epoch_begin(state)
    started = time.perf_counter()
    total, count = 0.0, 0.0
    outputs: list[Array] = []
    targets: list[Array] = []
    items = _items(loader) if dist is None else ((None, b) for b in dist.shard(loader))
    for indices, batch in items:
        x, y = _pair(batch)
        if weighted_loss is not None:
            weight = Tensor._from_op(state.sample_weights[indices], None)
        one = state.unbatched = _one_sample(loader, indices, y)
        for callback in callbacks:
            callback.on_batch_begin(state)
        optimizer.zero_grad()
        if compiled is not None:
            loss, output = compiled.forward(x, y)
            value = float(loss.item())
        elif dist is None:
            output = model(x)
            if weighted_loss is None:
                loss = state.loss_fn(output, y)
            else:
                loss = weighted_loss(output, y, weight)
            value = float(loss.item())
        else:
            # This rank's rows forward and backward, then the gradients summed over the
            # ranks: the loss and row count are the whole batch's.
            output, value, rows = dist.forward_backward(model, state.loss_fn, optimizer, x, y)
        if dist is None:
            # What the batch's loss is the mean over (its rows, or a cross-entropy's counted
            # labels), weighted or not, so that batches add up to the epoch's mean.
            settings = state._loss_settings(state.loss_fn)
            rows = _averaged_over(settings, y, 1 if one else _samples(x))
        state.step += 1
        if not np.isfinite(value) and rows:
            _diverged(state, value, x, y)
            # The epoch's loss (NaN or infinite) stays in History, as Keras's TerminateOnNaN
            # leaves it; other keys of this epoch are NaN.
            state.history.record(state.epoch, {"loss": (total + value * rows) / (count + rows)})
            return None
        if compiled is not None:
            compiled.backward()
        elif dist is None:
            loss.backward()
        if clip is not None:
            clip_grad_norm_(model.parameters(), clip)
        if needs_closure:
            given = weight if weighted_loss is not None else None
            optimizer.step(_recomputing_closure(state, x, y, given, clip, value))
        else:
            optimizer.step()
        if state.scheduler is not None and state.scheduler_interval == "step":
            state._step_lr = float(optimizer.param_groups[0]["lr"])
            state.scheduler.step()  # after the optimizer's step, as in a PyTorch loop
        if rows:  # a batch of ignored labels only: its gradients are 0, its loss NaN
            total += value * rows
            count += rows
        state.history.step_loss.append(value)
        if metrics and output is not None:
            y_rows = y.data[None] if one else y.data
            out_rows = output.data[None] if one else output.data
            if dist is None:
                # Rows of each position, batch by batch: sequences padded to each batch's
                # own length join as rows (the MPI gather takes each rank's samples whole).
                y_rows, out_rows = _positions_as_rows(kind, y_rows, out_rows)
            # A copy of the output, which the next step may overwrite (moving the channels
            # last has made one already).
            shared = np.may_share_memory(out_rows, output.data)
            outputs.append(out_rows.copy() if shared else out_rows)
            targets.append(y_rows)
        for callback in callbacks:
            callback.on_batch_end(state, {"loss": value})
        _keras_stop(state)
        if dist is not None:
            dist.agree_to_stop(state, interrupted)
        if interrupted[0]:
            state.stop_training = True
            state.stop_reason = "interrupted"
            return None
        if state.stop_training:
            break
    logs = {"loss": total / max(count, 1)}
    if dist is not None and metrics:
        targets, outputs = dist.gather_epoch(targets, outputs)
    if metrics and outputs:
        ignored = state._loss_settings(state.loss_fn).ignored
        y_true, y_out = np.concatenate(targets), np.concatenate(outputs)
        logs.update(_score(metrics, kind, y_true, y_out, "", ignored))
    logs["time"] = time.perf_counter() - started
    return logs


def _needs_closure(optimizer: Optimizer) -> bool:
    """Whether ``optimizer.step`` must be given a closure: ``LBFGS``'s, or a ``step`` whose
    ``closure`` parameter has no default."""
    if isinstance(optimizer, LBFGS):
        return True
    try:
        parameter = inspect.signature(optimizer.step).parameters.get("closure")
    except (TypeError, ValueError):  # a step whose signature Python cannot read
        return False
    return parameter is not None and parameter.default is inspect.Parameter.empty


def _recomputing_closure(
    state: FitState,
    x: Tensor,
    y: Tensor,
    weight: Tensor | None,
    clip: float | None,
    first: float,
) -> Callable[[], Any]:
    """The closure that ``fit`` gives an optimizer that needs one (``LBFGS``), as PyTorch
    Lightning does: its first call hands over the batch's evaluation that ``fit`` has just
    made (loss ``first``, the gradients in place, clipped); each later call clears the
    gradients, recomputes the batch's loss and gradients at the current parameters, clips
    them as ``fit`` does, and returns the loss, as the closure of a PyTorch loop would."""
    model, optimizer, dist = state.model, state.optimizer, state.distributed
    pending = [first]

    def closure() -> Any:
        if pending:
            return pending.pop()
        optimizer.zero_grad()
        loss: Any
        if dist is None:
            output = model(x)
            if weight is None:
                loss = state.loss_fn(output, y)
            else:
                assert state.weighted_loss is not None  # weights come with their loss
                loss = state.weighted_loss(output, y, weight)
            loss.backward()
        else:
            _, loss, _ = dist.forward_backward(model, state.loss_fn, optimizer, x, y)
        if clip is not None:
            clip_grad_norm_(model.parameters(), clip)
        return loss

    return closure


def _pair(batch: Any, where: str = "fit") -> tuple[Tensor, Tensor]:
    if not isinstance(batch, tuple | list):
        raise ValueError(
            f"{where}: expected samples of two fields (x, y) from the dataset, got samples "
            f"collated into a {type(batch).__name__}; a DataLoader whose collate_fn makes "
            f"(x, y) pairs of them can be given instead"
        )
    if len(batch) != 2:
        raise ValueError(
            f"{where}: expected samples of two fields (x, y) from the dataset, got {len(batch)}"
        )
    return batch[0], batch[1]


def _diverged(state: FitState, value: float, x: Tensor, y: Tensor) -> None:
    """Stop training, naming where the loss went non-finite and which op started it."""
    culprit = ""
    if not np.isfinite(x.data).all() if is_floating(x.dtype) else False:
        culprit = "; the batch's inputs already hold NaN or infinite values"
    elif is_floating(y.dtype) and not np.isfinite(y.data).all():
        culprit = "; the batch's targets already hold NaN or infinite values"
    elif len(x):  # a rank of a distributed run can have no rows of the batch
        # Replay the batch's forward pass with every op checking its result.
        try:
            with no_grad(), detect_anomaly():
                state.loss_fn(state.model(x), y)
        except AnomalyError as error:
            culprit = f"; the first non-finite value came from op {error.op!r}"
    message = (
        f"fit: the loss became {value} at epoch {state.epoch}, step {state.step}{culprit}; "
        f"training stopped. Lower the learning rate, clip gradients (clip_grad_norm=...) or "
        f"check the data for NaN or infinite values"
    )
    state.stop_training, state.stop_reason, state.diverged = True, message, True
    warnings.warn(message, DivergenceWarning, stacklevel=3)


def _evaluate(
    model: Module,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    loader: DataLoader,
    metrics: Sequence[Metric],
    kind: str,
    prefix: str,
    dist: Any = None,
    weighted_loss: _WeightedLoss | None = None,
    weights: Array | None = None,
    own: bool = True,
) -> dict[str, float]:
    """Loss and metrics over one pass of ``loader``, iterated as it is; each sample's weight
    (``weights``, by its index in the loader's dataset) counts in the loss when
    ``weighted_loss`` is given. Under MPI each rank evaluates a share: of the rows of each
    batch of a loader that fit made (``own``) over an indexable dataset, or of the batches
    of a loader given, each made as one process makes it. Either way the loss is one
    process's, up to the order of floating-point sums, whatever the loss's reduction: the
    ranks' parts of a batch are added up before the batch is weighed by its rows."""
    items: Iterable[tuple[Any, Any]]
    split = dist is not None and own  # each batch split over the ranks, as in training
    settings = _loss_settings(loss_fn)
    summed = settings.reduction == "sum"
    if weighted_loss is not None:
        summed = weighted_loss.summed
    if dist is None:
        items = _items(loader)
    elif own:
        pieces = dist.split_batches(list(loader._index_plan()), len(loader.dataset))
        items = ((mine, None if mine is None else loader._fetch(mine)) for mine in pieces)
    else:
        chosen = dist.shard_batches(list(loader._index_plan()))
        items = ((indices, loader._fetch(indices)) for indices in chosen)
    was_training = model.training
    model.eval()
    total, count, batches = 0.0, 0.0, 0
    outputs: list[Any] = []
    targets: list[Any] = []
    sums: list[tuple[float, float]] = []  # split: each batch's loss sum over this rank's rows
    where = "fit: validation_data" if prefix else "evaluate"
    try:
        with no_grad():
            for indices, batch in items:
                if batch is None:  # split: this rank has no row of the batch
                    sums.append((0.0, 0.0))
                    if metrics:
                        outputs.append(None)
                        targets.append(None)
                    continue
                x, y = _pair(batch, where)
                one = _one_sample(loader, indices, y)
                output = model(x)
                if weighted_loss is None:
                    value = loss_fn(output, y)
                    rows = _averaged_over(settings, y, 1 if one else _samples(x))
                else:
                    assert weights is not None  # given together
                    weight = Tensor._from_op(weights[indices], None)
                    value = weighted_loss(output, y, weight)
                    rows = _averaged_over(settings, y, _samples(x))
                if split:
                    # A sum adds up over the ranks as it is; a mean times what it is a mean
                    # over (0 for labels all ignored, whose mean is NaN) is a sum too.
                    part = float(value.item()) if summed else float(value.item()) * rows
                    sums.append((part if rows else 0.0, rows))
                elif rows:  # a batch of ignored labels only: its loss is NaN, worth nothing
                    total += float(value.item()) * rows
                    count += rows
                batches += 1
                if metrics:  # rows of each position: batches padded to their own lengths join
                    y_rows, out_rows = _positions_as_rows(
                        kind,
                        y.data[None] if one else y.data,
                        output.data[None] if one else output.data,
                    )
                    outputs.append(out_rows)
                    targets.append(y_rows)
    finally:
        model.train(was_training)
    if split:
        combined, targets, outputs = dist.sum_batches(
            np.array(sums, dtype=np.float64).reshape(-1, 2), targets, outputs
        )
        for part, rows in combined:
            if rows:  # the whole batch's loss, weighed by its rows as one process weighs it
                total += (part if summed else part / rows) * rows
                count += rows
        batches = len(combined)
    elif dist is not None:
        total, count, batches, targets, outputs = dist.gather_evaluation(
            total, count, batches, targets, outputs
        )
    if not batches:
        # A loader can give none (an empty sampler, drop_last with fewer rows than a batch).
        named = "fit: validation_data" if prefix else "evaluate: data"
        raise ValueError(f"{named} gave no batches")
    logs = {prefix + "loss": total / max(count, 1)}
    if outputs:
        y_true, y_out = np.concatenate(targets), np.concatenate(outputs)
        logs.update(_score(metrics, kind, y_true, y_out, prefix, settings.ignored))
    return logs


def evaluate(
    model: Module,
    loss: Any,
    data: Any,
    y: Any = None,
    *,
    batch_size: int | None = 256,
    metrics: Sequence[Any] | Any = (),
    return_dict: bool = True,
    sample_weight: Any = None,
    verbose: int | str = 0,
) -> Any:
    """Loss and metrics of ``model`` on ``data``, in evaluation mode, batched, without
    building a graph.

    Parameters
    ----------
    model : Module
    loss : loss module, function or name
        As ``fit`` takes it.
    data : (x, y) arrays or tensors, a dataset, or a DataLoader
        Arrays and datasets are batched by ``batch_size``, an ``IterableDataset`` in its
        order. A DataLoader is iterated as it is, as a PyTorch loop over it would be: its
        own batches (``batch_size``, ``drop_last``, ``sampler`` or ``batch_sampler``), order
        and ``collate_fn``. With the DataLoader's ``batch_size=None``, an item of a
        ``TensorDataset`` (or one whose target is a scalar) is one sample, given to the model
        unbatched, and counts as one row, as in PyTorch; other items are batches (a list of
        batches, a sampler of index lists), whose rows count.
    y : array or tensor, optional
        The targets, when ``data`` holds the inputs alone: ``evaluate(model, loss, x, y)``
        as Keras's ``evaluate(x, y)``.
    batch_size : int, default=256
        Rows per batch for arrays, datasets and an ``IterableDataset`` (None: the default);
        a DataLoader keeps its own.
    metrics : sequence of names or functions, one of them, or None
        As ``fit`` takes them.
    return_dict : bool, default=True
        False: Keras's other form, the loss alone when there are no metrics, else the list
        ``[loss, *metrics]`` in the order given.
    sample_weight : array of shape (N,), optional
        Weighs the loss as ``fit(sample_weight=)`` does, one weight per sample of the data
        as arrays (or of a DataLoader's ``TensorDataset``, each batch taking the weights of
        the indices it is made of; its ``collate_fn`` sees the (x, y) samples alone).
        Metrics are not weighted. Not for a stream or a DataLoader with
        ``batch_size=None``.
    verbose : 'auto', 0, 1 or 2, default=0
        0: silent; otherwise one line on stderr once done, with the loss, the metrics and
        the time taken, as ``fit``'s line per epoch (Keras's default is 'auto', a progress
        bar; here silence is, as in a PyTorch evaluation loop).

    Returns
    -------
    dict of str to float, float or list of float
        ``{'loss': ..., <metric>: ...}``, the loss the mean over the rows (over the
        counted labels of a cross-entropy), or Keras's form (see ``return_dict``).

    Raises
    ------
    ValueError
        For empty data, or a DataLoader that gives no batches.
    TypeError
        For ``sample_weight`` with data whose rows it cannot be matched with.
    """
    batch_size = _positive_int(256 if batch_size is None else batch_size, "evaluate", "batch_size")
    _check_verbose(verbose, "evaluate")
    started = time.perf_counter()
    loss_fn = _resolve_loss(loss, "evaluate")
    kind = _output_kind(loss_fn)
    dtype = _model_dtype(model)
    source = _with_targets(data, y, "evaluate", "data")
    labels = kind in ("logits", "log_proba") or _sparse_labels(loss_fn)
    loader, _ = _pass_loader(source, batch_size, "evaluate: data", dtype, labels)
    metric_list = _metrics_for(metrics, kind, "evaluate")
    if not loader._streamed:
        _refuse_for_multilabel(metric_list, kind, loader.dataset, "evaluate")
    weighted_loss, weights = None, None
    if sample_weight is not None:
        if loader._streamed or loader.batch_size is None or not _indexed(loader):
            raise _weights_need_arrays("evaluate", data)
        weights = _sample_weights(loader.dataset, sample_weight, None, dtype, "evaluate")
        weighted_loss = _weighted(loss_fn, "evaluate")
    logs = _evaluate(
        model,
        loss_fn,
        loader,
        metric_list,
        kind,
        "",
        weighted_loss=weighted_loss,
        weights=weights,
    )
    if verbose != 0:
        summary = "  ".join(f"{k} {v:.4g}" for k, v in logs.items())
        _say(f"evaluate  {summary}  ({time.perf_counter() - started:.2f}s)")
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def predict(
    model: Module, x: Any, *, batch_size: int | None = 256, verbose: int | str = 0
) -> Array:
    """The model's outputs for ``x``, computed in batches in evaluation mode without a graph.

    Parameters
    ----------
    model : Module
    x : array or tensor of inputs, a dataset, or a DataLoader
        Of a dataset's or DataLoader's items, the first field (the inputs of ``(x, y)``) is
        used. A DataLoader is iterated as it is, as a PyTorch loop over it would be: its
        own batches, order (a shuffling loader gives its outputs in a new order each call)
        and ``collate_fn``. With the DataLoader's ``batch_size=None``, an item of a
        ``TensorDataset`` (or one whose target is a scalar) is one sample, given to the model
        unbatched, and its output is one row of the result, as in PyTorch; other items are
        batches. An ``IterableDataset`` is batched by ``batch_size``.
    batch_size : int, default=256
        Rows per batch for arrays, datasets and an ``IterableDataset`` (None: the default);
        a DataLoader keeps its own.
    verbose : 'auto', 0, 1 or 2, default=0
        0: silent; otherwise one line on stderr once done, with the rows, batches and time
        taken.

    Returns
    -------
    ndarray
        The outputs of every batch joined along the first axis (raw outputs: logits for a
        classifier trained with cross-entropy).

    Raises
    ------
    ValueError
        For empty ``x``, or a DataLoader that gives no batches.
    TypeError
        For a ``PackedSequence``, which cannot be cut into batches.
    """
    batch_size = _positive_int(256 if batch_size is None else batch_size, "predict", "batch_size")
    _check_verbose(verbose, "predict")
    started = time.perf_counter()
    dtype = _model_dtype(model)
    if isinstance(x, PackedSequence):
        raise TypeError(
            "predict: expected x as an array, a tensor, a dataset or a DataLoader, got a "
            "PackedSequence (its sequences cannot be cut into batches); call the model on it "
            "under chainrule.no_grad() instead"
        )
    items: Iterable[tuple[Any, Any]]
    loader: DataLoader | None = None
    if isinstance(x, DataLoader | IterableDataset) or (
        hasattr(x, "__len__") and hasattr(x, "__getitem__") and not _array_like(x)
    ):
        loader = x if isinstance(x, DataLoader) else DataLoader(x, batch_size)
        items = _items(loader)
    else:
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        items = (
            (None, Tensor._from_op(data[start : start + batch_size], None))
            for start in range(0, len(data), batch_size)
        )
    was_training = model.training
    model.eval()
    parts = []
    try:
        with no_grad():
            for indices, batch in items:
                fields = isinstance(batch, tuple | list)
                inputs = batch[0] if fields else batch
                output = model(_as_dtype(inputs, dtype)).data
                target = batch[1] if fields and len(batch) > 1 else None
                one = loader is not None and _one_sample(loader, indices, target)
                parts.append(output[None] if one else output)
    finally:
        model.train(was_training)
    if not parts:
        raise ValueError(
            "predict: x is empty"
            if loader is None or loader is not x
            else "predict: the DataLoader gave no batches"
        )
    outputs = np.concatenate(parts)
    if verbose != 0:
        batches = f"{len(parts)} batch{'es' if len(parts) != 1 else ''}"
        _say(f"predict  {len(outputs)} rows in {batches}  ({time.perf_counter() - started:.2f}s)")
    return outputs
