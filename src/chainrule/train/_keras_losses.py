"""Keras's losses by their Keras names, with Keras's meaning, for ``fit(loss=...)``.

Each is Keras's function of ``(y_true, y_pred)`` written out on chainrule's ops: one value
per sample (a mean or sum over the last axis), then the mean over the batch, Keras's
``reduction='sum_over_batch_size'``. With ``fit``'s sample weights, each sample's value is
weighted and the sum divided by the number of samples, as Keras does.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import chainrule.nn.functional as F
from chainrule.backend import Array
from chainrule.nn._loss_functions import _non_negative
from chainrule.tensor import Tensor, _values_hold

EPSILON = 1e-7
"""Keras's ``backend.epsilon()``, by which its losses, its percentage and logarithmic
errors and its probability cross-entropy clip."""


def _zero_one(values: Array) -> bool:
    return bool(((values == 0) | (values == 1)).all())


def kl_divergence(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """sum(t * log(t / p)) over the last axis, t and p clipped to [1e-7, 1]."""
    t = y_true.clamp(EPSILON, 1)
    return (t * (t / y_pred.clamp(EPSILON, 1)).log()).sum(dim=-1)


def poisson(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """mean(p - t * log(p + 1e-7)) over the last axis."""
    return (y_pred - y_true * (y_pred + EPSILON).log()).mean(dim=-1)


def log_cosh(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """mean(log(cosh(p - t))) over the last axis, as |x| + log1p(exp(-2|x|)) - log(2),
    which neither overflows nor loses the small values (Keras's x + softplus(-2x) - log 2)."""
    size = (y_pred - y_true).abs()
    return (size + (-2 * size).exp().log1p() - math.log(2)).mean(dim=-1)


def _as_signs(y_true: Tensor) -> Tensor:
    """Labels 0/1 as -1/1, as Keras converts them for its hinge losses (decided per batch:
    targets that are all 0 or 1); other targets as they are."""
    return 2 * y_true - 1 if _values_hold(y_true, _zero_one) else y_true


def hinge(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """mean(max(1 - t * p, 0)) over the last axis, labels 0/1 taken as -1/1."""
    # NOTE: at 1 - t * p = 0 the subgradient chosen is 0.
    return (1 - _as_signs(y_true) * y_pred).clamp(min=0).mean(dim=-1)


def squared_hinge(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """mean(max(1 - t * p, 0) ** 2) over the last axis, labels 0/1 taken as -1/1."""
    return (1 - _as_signs(y_true) * y_pred).clamp(min=0).square().mean(dim=-1)


def categorical_hinge(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """max(max((1 - t) * p) - sum(t * p) + 1, 0), the max and sum over the last axis, for
    one-hot targets t: the best wrong class's score against the true class's."""
    positive = (y_true * y_pred).sum(dim=-1)
    negative = ((1 - y_true) * y_pred).amax(dim=-1)
    return (negative - positive + 1).clamp(min=0)


def cosine_similarity(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """-sum(t / max(||t||, 1e-7) * p / max(||p||, 1e-7)) over the last axis: the negative
    cosine similarity, so that minimizing it aligns predictions with targets."""
    t = F.normalize(y_true, p=2.0, dim=-1, eps=EPSILON)
    return -(t * F.normalize(y_pred, p=2.0, dim=-1, eps=EPSILON)).sum(dim=-1)


class KerasLoss:
    """One of Keras's losses: ``per_sample(y_true, y_pred)`` gives each sample's value
    (shape ``y_pred.shape[:-1]``), reduced by their mean (``reduction='mean'``) or not at
    all (``'none'``, which ``fit`` uses to weigh samples).

    ``kind`` is what the model's outputs are, for the metrics: ``'proba'`` (class
    probabilities), ``'scores'`` (a score per class) or ``'values'``. ``positive``: the
    outputs must not be negative (probabilities, Poisson rates), refused as
    ``binary_crossentropy`` refuses outputs outside [0, 1], where Keras would clip them and
    the model silently fail to learn.
    """

    def __init__(
        self,
        name: str,
        per_sample: Callable[[Tensor, Tensor], Tensor],
        kind: str = "values",
        positive: str | None = None,
    ) -> None:
        self.name = name
        self.per_sample = per_sample
        self.kind = kind
        self.positive = positive
        self.reduction = "mean"

    def __call__(self, output: Tensor, target: Tensor) -> Tensor:
        if target.ndim == 1 and output.ndim == 2 and output.shape[1] == 1:
            target = target.reshape(-1, 1)  # an op, so that compile_step can replay it
        if target.shape != output.shape:
            hint = (
                "; for class labels, one-hot encode them"
                if target.ndim == output.ndim - 1 and target.shape == output.shape[:-1]
                else ""
            )
            raise ValueError(
                f"{self.name}: expected targets of the outputs' shape {output.shape}, got "
                f"shape {target.shape}{hint}"
            )
        if self.positive is not None and not _values_hold(output, _non_negative):
            raise ValueError(f"{self.name}: expected {self.positive}, got negative outputs")
        if output.ndim == 1:  # one value per sample: each its own last axis
            output, target = output.reshape(-1, 1), target.reshape(-1, 1)
        if target.dtype != output.dtype:
            target = target.to(output.dtype)  # Keras casts y_true to y_pred's dtype
        values = self.per_sample(target, output)
        return values if self.reduction == "none" else values.mean()


def keras_losses() -> dict[str, Callable[[], KerasLoss]]:
    """Factories of ``KerasLoss`` by each of Keras's names for it."""
    probabilities = "probabilities (outputs of a Softmax), as Keras's kl_divergence takes"
    rates = "non-negative predicted rates (a model ending in Softplus or exp)"
    found: dict[str, Callable[[], KerasLoss]] = {}
    for names, per_sample, kind, positive in [
        (("kl_divergence", "kld", "kullback_leibler_divergence"), kl_divergence, "proba",
         probabilities),
        (("poisson",), poisson, "values", rates),
        (("log_cosh", "logcosh"), log_cosh, "values", None),
        (("hinge",), hinge, "values", None),
        (("squared_hinge",), squared_hinge, "values", None),
        (("categorical_hinge",), categorical_hinge, "scores", None),
        (("cosine_similarity",), cosine_similarity, "values", None),
    ]:  # fmt: skip
        for name in names:
            found[name] = functools.partial(KerasLoss, name, per_sample, kind, positive)
    return found
