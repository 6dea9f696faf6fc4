"""Distance layers: ``CosineSimilarity`` and ``PairwiseDistance`` (no parameters; each calls
the function of the same name in ``chainrule.nn.functional``)."""

from __future__ import annotations

from typing import Any

import chainrule.nn.functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class CosineSimilarity(Module):
    """Cosine of the angle between two inputs along ``dim``:
    sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)).

    Parameters
    ----------
    dim : int, default=1
        The axis the vectors lie along.
    eps : float, default=1e-8
        Lower bound of each norm, so that a zero vector gives 0 instead of nan.

    Notes
    -----
    Shape: inputs x1 and x2 that broadcast together; output their broadcast shape without
    axis ``dim``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.CosineSimilarity()(cr.tensor([[1.0, 0.0]]), cr.tensor([[2.0, 0.0]])).tolist()
    [1.0]
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Any, x2: Any) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """The ``p``-norm distance between two inputs over their last axis, ||x1 - x2 + eps||_p.

    Parameters
    ----------
    p : float, default=2.0
        The norm's order; as in PyTorch any number: 0 counts the nonzero differences,
        p < 0 gives sum(|d|^p)^(1/p), -inf the smallest |d|.
    eps : float, default=1e-6
        Added to the difference (as PyTorch), so that equal vectors get a finite gradient.
    keepdim : bool, default=False
        Keep the last axis, of length 1.

    Notes
    -----
    Shape: inputs (N, D) or (D,) that broadcast together; output (N,) or () (with
    ``keepdim``, (N, 1) or (1,)).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> d = nn.PairwiseDistance(eps=0.0)(cr.tensor([[0.0, 0.0]]), cr.tensor([[3.0, 4.0]]))
    >>> d.tolist()
    [5.0]
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Any, x2: Any) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
