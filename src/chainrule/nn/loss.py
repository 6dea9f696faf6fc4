"""Loss modules: each stores its options and calls the function of the same name in
``chainrule.nn.functional``. Call as ``loss_fn(input, target)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import chainrule.nn.functional as F
from chainrule.backend import np
from chainrule.nn._loss_functions import _legacy_reduction
from chainrule.nn.distance import PairwiseDistance
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    """Base of the losses: checks and stores ``reduction``.

    PyTorch's deprecated ``size_average`` and ``reduce`` flags are accepted, keyword only:
    when either is given, it sets ``reduction`` as in PyTorch (``reduce=False``: 'none';
    else ``size_average=False``: 'sum'; else 'mean') and warns.
    """

    def __init__(
        self,
        reduction: str = "mean",
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ) -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = _legacy_reduction(type(self).__name__, size_average, reduce)
        allowed = (*_REDUCTIONS, "batchmean") if isinstance(self, KLDivLoss) else _REDUCTIONS
        if reduction not in allowed:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {allowed}, got {reduction!r}"
            )
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


def _weight(weight: Any) -> Tensor | None:
    if weight is None:
        return None
    return weight if isinstance(weight, Tensor) else Tensor(np.asarray(weight))


class _WeightedLoss(_Loss):
    """A loss with an optional per-class ``weight``, kept as a buffer (as in PyTorch): it is
    in the state dict and follows ``to(dtype)``."""

    weight: Tensor | None

    def __init__(
        self,
        weight: Any = None,
        reduction: str = "mean",
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ) -> None:
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        self.register_buffer("weight", _weight(weight))


class MSELoss(_Loss):
    """Mean squared error, (input - target)**2 reduced."""

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error, |input - target| reduced."""

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """Quadratic for errors below ``delta``, linear above."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta!r}")
        self.delta = delta

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)


class SmoothL1Loss(_Loss):
    """Huber loss divided by ``beta``: quadratic below ``beta``, |d| - beta/2 above."""

    def __init__(
        self,
        reduction: str = "mean",
        beta: float = 1.0,
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ) -> None:
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta!r}")
        self.beta = beta

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy from logits, against class labels or class probabilities.

    See ``chainrule.nn.functional.cross_entropy`` for ``weight``, ``ignore_index`` and
    ``label_smoothing``.
    """

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ) -> None:
        super().__init__(weight, reduction, size_average=size_average, reduce=reduce)
        if not 0 <= label_smoothing <= 1:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing!r}"
            )
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class labels given log-probabilities."""

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ) -> None:
        super().__init__(weight, reduction, size_average=size_average, reduce=reduce)
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities (after a sigmoid)."""

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy of raw scores, stable for any score; ``pos_weight`` scales the
    positive term (per class when it is a vector)."""

    pos_weight: Tensor | None

    def __init__(
        self,
        weight: Any = None,
        reduction: str = "mean",
        pos_weight: Any = None,
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ) -> None:
        super().__init__(weight, reduction, size_average=size_average, reduce=reduce)
        self.register_buffer("pos_weight", _weight(pos_weight))

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight
        )


class KLDivLoss(_Loss):
    """KL(target || q) for ``input`` = log q; ``reduction='batchmean'`` gives the true
    divergence per sample."""

    def __init__(
        self,
        reduction: str = "mean",
        log_target: bool = False,
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ) -> None:
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        self.log_target = log_target

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.kl_div(input, target, self.reduction, self.log_target)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood: exp(input) - target * input for ``input`` = log rate
    (``log_input=True``), else input - target * log(input + eps); see
    ``functional.poisson_nll_loss``. Called as ``loss_fn(log_input, target)``, PyTorch's
    names (the first is the rate itself when ``log_input=False``)."""

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        eps: float = 1e-8,
        reduction: str = "mean",
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ) -> None:
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input: Any, target: Any) -> Tensor:
        return F.poisson_nll_loss(
            log_input, target, self.log_input, self.full, self.eps, self.reduction
        )


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood, 0.5 (log var + (input - target)**2 / var); called as
    ``loss_fn(input, target, var)``."""

    def __init__(self, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Any, target: Any, var: Any) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)


class MarginRankingLoss(_Loss):
    """max(0, -target (input1 - input2) + margin); called as ``loss_fn(x1, x2, target)``."""

    def __init__(
        self,
        margin: float = 0.0,
        reduction: str = "mean",
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ) -> None:
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        self.margin = margin

    def forward(self, input1: Any, input2: Any, target: Any) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


class HingeEmbeddingLoss(_Loss):
    """``input`` where target = 1, max(0, margin - input) where target = -1."""

    def __init__(
        self,
        margin: float = 1.0,
        reduction: str = "mean",
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ) -> None:
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        self.margin = margin

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.hinge_embedding_loss(input, target, self.margin, self.reduction)


class SoftMarginLoss(_Loss):
    """Two-class logistic loss log(1 + exp(-target * input)) for targets +1 or -1."""

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.soft_margin_loss(input, target, self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """One-against-all logistic loss averaged over the classes, for 0/1 targets of shape
    (N, C); ``weight`` (C,) weighs each class."""

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.multilabel_soft_margin_loss(input, target, self.weight, self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 - cos(x1, x2) where target = 1, max(0, cos(x1, x2) - margin) where target = -1;
    called as ``loss_fn(x1, x2, target)``."""

    def __init__(
        self,
        margin: float = 0.0,
        reduction: str = "mean",
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ) -> None:
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        self.margin = margin

    def forward(self, input1: Any, input2: Any, target: Any) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)


class TripletMarginLoss(_Loss):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), d the ``p``-norm
    distance; called as ``loss_fn(anchor, positive, negative)``."""

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        reduction: str = "mean",
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ) -> None:
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        if not margin > 0:
            raise ValueError(f"TripletMarginLoss: margin must be > 0, got {margin!r}")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Any, positive: Any, negative: Any) -> Tensor:
        return F.triplet_margin_loss(
            anchor, positive, negative, self.margin, self.p, self.eps, self.swap, self.reduction
        )


class TripletMarginWithDistanceLoss(_Loss):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) with a distance of your
    own, as PyTorch's ``TripletMarginWithDistanceLoss``; called as
    ``loss_fn(anchor, positive, negative)``.

    Parameters
    ----------
    distance_function : callable, optional
        d(x1, x2), a function of two tensors giving one distance per row; default a
        ``PairwiseDistance()`` layer (Euclidean), kept as a submodule as in PyTorch.
    margin : float, default=1.0
        > 0.
    swap : bool, default=False
        Use min(d(anchor, negative), d(positive, negative)) as the negative distance.
    reduction : {'mean', 'sum', 'none'}, default='mean'

    Notes
    -----
    .. math::

        \\ell_i = \\max\\bigl(0,\\ m + d(a_i, p_i) - d(a_i, n_i)\\bigr)

    See ``F.triplet_margin_with_distance_loss``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> loss_fn = nn.TripletMarginWithDistanceLoss(
    ...     distance_function=lambda x, y: 1 - nn.functional.cosine_similarity(x, y), margin=0.5
    ... )
    >>> loss_fn(cr.tensor([[1.0, 0.0]]), cr.tensor([[1.0, 0.1]]), cr.tensor([[0.0, 1.0]]))
    tensor(0.)
    """

    def __init__(
        self,
        *,
        distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
        margin: float = 1.0,
        swap: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        if not margin > 0:
            raise ValueError(
                f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got "
                f"{margin} instead"
            )
        if distance_function is not None and not callable(distance_function):
            raise TypeError(
                f"TripletMarginWithDistanceLoss: expected a callable distance_function "
                f"(x1, x2) -> distances, got {type(distance_function).__name__}"
            )
        self.distance_function: Callable[[Tensor, Tensor], Tensor] = (
            distance_function if distance_function is not None else PairwiseDistance()
        )
        self.margin, self.swap = margin, swap

    def forward(self, anchor: Any, positive: Any, negative: Any) -> Tensor:
        return F.triplet_margin_with_distance_loss(
            anchor,
            positive,
            negative,
            distance_function=self.distance_function,
            margin=self.margin,
            swap=self.swap,
            reduction=self.reduction,
        )


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss for (N, C) scores and class labels:
    (1/C) sum_{i != y} w_y max(0, margin - x_y + x_i)**p.

    Parameters
    ----------
    p : {1, 2}, default=1
    margin : float, default=1.0
    weight : Tensor of shape (C,), optional
        Weight of each target class (a buffer, as in PyTorch).
    size_average, reduce : bool, optional
        PyTorch's deprecated flags: either one, when given, sets ``reduction`` as in
        PyTorch (``reduce=False``: 'none'; else ``size_average=False``: 'sum'; else
        'mean') and warns.
    reduction : {'mean', 'sum', 'none'}, default='mean'

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> loss = nn.MultiMarginLoss()(cr.tensor([[0.1, 0.2, 0.4, 0.8]]), cr.tensor([3]))
    >>> round(loss.item(), 4)
    0.325
    """

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Any = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, reduction, size_average=size_average, reduce=reduce)
        if p not in (1, 2) or isinstance(p, bool):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 are supported, got {p!r}")
        if self.weight is not None and self.weight.ndim != 1:
            raise ValueError(
                f"MultiMarginLoss: weight must be one-dimensional, got shape {self.weight.shape}"
            )
        self.p, self.margin = p, margin

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.multi_margin_loss(
            input, target, self.p, self.margin, self.weight, reduction=self.reduction
        )


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss: (1/C) sum over target classes j and non-target classes i of
    max(0, 1 - (x_j - x_i)); each target row lists its classes, ended by the first -1, and
    a class listed k times counts k times (as in PyTorch).

    Parameters
    ----------
    size_average, reduce : bool, optional
        PyTorch's deprecated flags: either one, when given, sets ``reduction`` as in
        PyTorch (``reduce=False``: 'none'; else ``size_average=False``: 'sum'; else
        'mean') and warns.
    reduction : {'mean', 'sum', 'none'}, default='mean'

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> x = cr.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> round(nn.MultiLabelMarginLoss()(x, cr.tensor([[3, 0, -1, 1]])).item(), 4)
    0.85
    """

    def __init__(
        self,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction, size_average=size_average, reduce=reduce)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)
