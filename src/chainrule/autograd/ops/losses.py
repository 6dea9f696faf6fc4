"""Fused losses: softmax cross-entropy (per-sample, and reduced for plain class labels), the
reduced mean squared error, binary cross-entropy on probabilities, and the reduced binary
cross-entropy with logits.

Composing log_softmax, indexing and a sum would work, but costs three graph nodes and a
(batch, classes) temporary per node; the fused form's backward is a single expression,
``p * sum(A) - A`` with p = softmax(logits), and it stays finite for logits of any size.
On the small batches of tabular data, the nodes a composition adds cost more than the
arithmetic itself (benchmarks/mlp_train.py): the reduced forms save them.
"""

from __future__ import annotations

from chainrule.autograd.function import Context, Function, register
from chainrule.autograd.ops._operands import quietly
from chainrule.autograd.ops.reductions import divided, mean_array
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
    @quietly
    def forward(ctx: Context, logits: Array, target_weights: Array) -> Array:
        shifted = logits - logits.max(axis=-1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        log_probs = shifted - log_norm
        ctx.save_for_backward(log_probs, target_weights)
        # A class of weight 0 contributes nothing, even at a log-probability of -inf (a
        # masked class), where the product would be NaN.
        terms = np.where(target_weights != 0, target_weights * log_probs, 0)
        return -terms.sum(axis=-1)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        log_probs, target_weights = ctx.saved
        probs = np.exp(log_probs)
        row_total = target_weights.sum(axis=-1, keepdims=True)
        grad_logits = probs * row_total
        grad_logits -= target_weights
        grad_logits *= grad[..., None]
        return grad_logits, None


@register("softmax_cross_entropy_labels")
class SoftmaxCrossEntropyLabels(Function):
    """L = -s * sum_i log softmax(x)_i[y_i] for logits x of shape (N, C) and class labels y,
    s = 1/N ('mean') or 1 ('sum');  dL/dx = s * (softmax(x) - onehot(y)).

    The plain case of cross-entropy (labels, no class weights, no smoothing, nothing
    ignored) as one node from logits to the reduced loss: no (N, C) target matrix and no
    separate reduction nodes, which on small batches cost more than the arithmetic. The
    values are those of ``softmax_cross_entropy`` followed by its sum and division, to the
    last bit. The labels carry no gradient.
    """

    @staticmethod
    def forward(ctx: Context, logits: Array, labels: Array, mean: bool) -> Array:
        # ufunc.reduce: what .max() and .sum() call, without their Python-level wrappers.
        shifted = logits - np.maximum.reduce(logits, axis=1, keepdims=True)
        log_norm = np.log(np.add.reduce(np.exp(shifted), axis=1, keepdims=True))
        log_probs = shifted
        log_probs -= log_norm
        rows = np.arange(labels.shape[0])
        ctx.save_for_backward(log_probs, rows, labels)
        ctx.mean = mean
        total = -np.add.reduce(log_probs[rows, labels])
        return total / logits.dtype.type(labels.shape[0]) if mean else total

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None, None]:
        log_probs, rows, labels = ctx.saved
        scale = grad / log_probs.dtype.type(labels.shape[0]) if ctx.mean else grad
        grad_logits = np.exp(log_probs)
        grad_logits[rows, labels] -= 1
        grad_logits *= scale
        return grad_logits, None, None


@register("mse_loss")
class MSELoss(Function):
    """L = s * sum (a - b)**2, s = 1/n ('mean', n elements) or 1 ('sum');
    dL/da = 2 s (a - b), dL/db = -2 s (a - b).

    One node instead of a subtraction, a product and a reduction; the values are those of
    the three, to the last bit. ``a`` and ``b`` have one shape.
    """

    @staticmethod
    def forward(ctx: Context, a: Array, b: Array, mean: bool) -> Array:
        diff = a - b
        ctx.save_for_backward(diff)
        ctx.mean = mean
        axes = tuple(range(diff.ndim))
        square = diff * diff
        return mean_array(square, axes) if mean else np.add.reduce(square, axis=axes)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None, None]:
        (diff,) = ctx.saved
        da, db = ctx.needs_input_grad[:2]
        scale = divided(grad, diff.size) if ctx.mean else grad
        grad_a = diff * scale
        grad_a += grad_a  # 2 (a - b) s, as the product's two halves add up
        return grad_a if da else None, -grad_a if db else None, None


@register("binary_cross_entropy")
class BinaryCrossEntropy(Function):
    """l = -(y log p + (1 - y) log(1 - p)) elementwise, each log clamped at -100 so that
    p = 0 or 1 gives a finite loss;  dl/dp = (p - y) / max(p (1 - p), 1e-12),
    dl/dy = log(1 - p) - log p.

    PyTorch's formulas, to its float32 epsilon: dl/dp divides by p (1 - p) kept above 1e-12
    rather than being the derivative of the clamped logs, so that a confident wrong
    prediction (p = 0 for y = 1) still gets a large gradient, not 0; dl/dy takes the logs
    unclamped (infinite at p = 0 or 1).
    """

    EPSILON = np.float32(1e-12)

    @staticmethod
    @quietly
    def forward(ctx: Context, p: Array, y: Array) -> Array:
        log_p, log_not_p = np.log(p), np.log1p(-p)
        ctx.save_for_backward(p, y, log_p, log_not_p)
        return -(y * np.maximum(log_p, -100) + (1 - y) * np.maximum(log_not_p, -100))

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        p, y, log_p, log_not_p = ctx.saved
        dp, dy = ctx.needs_input_grad
        floor = p.dtype.type(BinaryCrossEntropy.EPSILON)
        grad_p = grad * (p - y) / np.maximum(p * (1 - p), floor) if dp else None
        grad_y = grad * (log_not_p - log_p) if dy else None
        return grad_p, grad_y


@register("binary_cross_entropy_with_logits")
class BinaryCrossEntropyWithLogits(Function):
    """L = s * sum w ((1 - y) x + l softplus(-x)), l = 1 + (pw - 1) y, s = 1/n ('mean', n
    elements) or 1 ('sum');  dL/dx = s w ((1 - y) - l sigmoid(-x)),
    dL/dy = s w ((pw - 1) softplus(-x) - x).

    Without ``pos_weight`` (l = 1) and ``weight`` (w = 1) this is s * sum (max(x, 0) - x y +
    log1p(exp(-|x|))) with dL/dx = s (sigmoid(x) - y), PyTorch's stable form; softplus(-x)
    is computed as max(-x, 0) + log1p(exp(-|x|)), which never overflows.

    One node instead of the six of the composition (``1 - y``, a product, a negation, a
    softplus, a sum, the reduction; up to five more with weights), which on small batches
    cost more than the arithmetic. Forward and backward take the composition's steps in its
    order, so the values and both gradients are those of the composition to the last bit.
    ``x`` and ``y`` have one shape; ``weight`` and ``pos_weight`` (None, or arrays that
    broadcast to it) carry no gradient.
    """

    @staticmethod
    @quietly
    def forward(
        ctx: Context,
        x: Array,
        y: Array,
        weight: Array | None,
        pos_weight: Array | None,
        mean: bool,
    ) -> Array:
        not_y = 1 - y
        e = np.exp(-np.abs(x))
        softplus_neg = np.maximum(-x, 0) + np.log1p(e)
        if pos_weight is None:
            log_weight = None
            loss = not_y * x + softplus_neg
        else:
            log_weight = 1 + (pos_weight - 1) * y
            loss = not_y * x + log_weight * softplus_neg
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, not_y, e, weight, pos_weight, log_weight, softplus_neg)
        ctx.mean = mean
        axes = tuple(range(x.ndim))
        return mean_array(loss, axes) if mean else np.add.reduce(loss, axis=axes)

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None, None, None, None]:
        x, not_y, e, weight, pos_weight, log_weight, softplus_neg = ctx.saved
        dx, dy = ctx.needs_input_grad[:2]
        scale = divided(grad, x.size) if ctx.mean else grad
        if weight is not None:
            scale = scale * weight
        grad_x = grad_y = None
        if dx:
            # sigmoid(-x) as the softplus node computes it: 1 / (1 + e) where -x >= 0.
            sigmoid_neg = np.where(x <= 0, 1 / (1 + e), e / (1 + e))
            grad_x = scale * not_y
            softplus_grad = scale if log_weight is None else scale * log_weight
            grad_x -= softplus_grad * sigmoid_neg
        if dy:
            grad_y = -(scale * x)
            if pos_weight is not None:
                grad_y += scale * softplus_neg * (pos_weight - 1)
        return grad_x, grad_y, None, None, None
