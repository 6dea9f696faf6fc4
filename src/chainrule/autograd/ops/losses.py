"""Fused softmax cross-entropy: one op from logits to per-sample losses.

Composing log_softmax, indexing and a sum would work, but costs three graph nodes and a
(batch, classes) temporary per node; the fused form's backward is a single expression,
``p * sum(A) - A`` with p = softmax(logits), and it stays finite for logits of any size.
"""

from __future__ import annotations

from chainrule.autograd.function import Context, Function, register
from chainrule.backend import Array, np


@register("softmax_cross_entropy")
class SoftmaxCrossEntropy(Function):
    """l_i = -sum_c A_ic * log softmax(x)_ic for logits x of shape (N, C);
    dl_i/dx_ij = p_ij * sum_c A_ic - A_ij, with p = softmax(x).

    ``A`` holds, for each sample, the weight that each class's log-probability gets: a one-hot
    row for a class label (scaled by the class weight and blended with label smoothing), a
    probability row for soft targets, zeros for an ignored sample. The targets carry no
    gradient.
    """

    @staticmethod
    def forward(ctx: Context, logits: Array, target_weights: Array) -> Array:
        shifted = logits - logits.max(axis=-1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        log_probs = shifted - log_norm
        ctx.save_for_backward(log_probs, target_weights)
        return -(target_weights * log_probs).sum(axis=-1)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        log_probs, target_weights = ctx.saved
        probs = np.exp(log_probs)
        row_total = target_weights.sum(axis=-1, keepdims=True)
        grad_logits = probs * row_total
        grad_logits -= target_weights
        grad_logits *= grad[..., None]
        return grad_logits, None
