"""Activation functions and the softmax family.

Each is an op of its own (rather than a composition) because its derivative has a cheap
closed form in terms of the saved input or output, and because it must stay finite where a
naive composition overflows (sigmoid, softplus, log_softmax, logsumexp).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from chainrule.autograd.function import Context, Function, masked, register
from chainrule.autograd.ops._operands import (
    as_floating_tensor,
    as_tensor,
    check_axis,
    floating_only,
    in_place,
    normalize_axis,
    quietly,
    torch_dim,
)
from chainrule.backend import Array, np
from chainrule.tensor import Tensor

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _erf(x: Array) -> Array:
    """Error function, elementwise, to double precision.

    NumPy has none: SciPy's vectorized one is used when installed (it comes with
    scikit-learn), else Python's ``math.erf`` element by element, exact but slow.
    """
    try:
        from scipy.special import erf
    except ImportError:  # pragma: no cover - SciPy is present wherever the tests run
        return np.asarray(np.frompyfunc(math.erf, 1, 1)(x), dtype=x.dtype)
    return np.asarray(erf(x), dtype=x.dtype)


@register("relu")
class ReLU(Function):
    """y = max(x, 0);  dy/dx = 1 where x > 0, else 0.

    NOTE: relu'(0) = 0, as in PyTorch; at NaN the gradient passes through, as in PyTorch.
    """

    @staticmethod
    def forward(ctx: Context, x: Array) -> Array:
        y = np.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (y,) = ctx.saved
        # y != 0 is x > 0, or x NaN (y too): one comparison, as cheap as y > 0.
        return (masked(grad, y != 0),)


@register("leaky_relu")
class LeakyReLU(Function):
    """y = x if x > 0 else slope * x;  dy/dx = 1 if x > 0 else slope.

    NOTE: at x = 0 the derivative is taken as ``slope``, as in PyTorch.
    """

    @staticmethod
    def forward(ctx: Context, x: Array, negative_slope: float) -> Array:
        positive = x > 0
        ctx.save_for_backward(positive)
        ctx.negative_slope = negative_slope
        return np.where(positive, x, x * negative_slope)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        (positive,) = ctx.saved
        return np.where(positive, grad, grad * ctx.negative_slope), None


@register("elu")
class ELU(Function):
    """y = x if x > 0 else alpha * (exp(x) - 1);  dy/dx = 1 if x > 0 else y + alpha.

    NOTE: at NaN the derivative is 1 (the gradient passes through), as in PyTorch.
    """

    @staticmethod
    def forward(ctx: Context, x: Array, alpha: float) -> Array:
        positive = ~(x <= 0)  # NaN too
        y = np.where(positive, x, alpha * np.expm1(np.minimum(x, 0)))
        ctx.save_for_backward(positive, y)
        ctx.alpha = alpha
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        positive, y = ctx.saved
        return np.where(positive, grad, grad * (y + ctx.alpha)), None


@register("selu")
class SELU(Function):
    """y = scale * (x if x > 0 else alpha * (exp(x) - 1));
    dy/dx = scale if x > 0 else y + scale * alpha (constants of Klambauer et al., 2017).

    NOTE: at NaN the derivative is scale, as in PyTorch.
    """

    @staticmethod
    def forward(ctx: Context, x: Array) -> Array:
        positive = ~(x <= 0)  # NaN too
        y = SELU_SCALE * np.where(positive, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))
        y = y.astype(x.dtype, copy=False)
        ctx.save_for_backward(positive, y)
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        positive, y = ctx.saved
        slope = np.where(positive, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA)
        return ((grad * slope).astype(grad.dtype, copy=False),)


@register("gelu")
class GELU(Function):
    """Exact: y = x * Phi(x), Phi the standard normal CDF;  dy/dx = Phi(x) + x * phi(x).
    Tanh approximation: y = x/2 * (1 + tanh(u)), u = sqrt(2/pi) * (x + 0.044715 x**3);
    dy/dx = (1 + tanh(u))/2 + x/2 * (1 - tanh(u)**2) * du/dx."""

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array, approximate: str) -> Array:
        ctx.approximate = approximate
        ctx.save_for_backward(x)
        if approximate == "tanh":
            u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
            return (0.5 * x * (1 + np.tanh(u))).astype(x.dtype, copy=False)
        cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
        return (x * cdf).astype(x.dtype, copy=False)

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        (x,) = ctx.saved
        if ctx.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            t = np.tanh(k * (x + 0.044715 * x**3))
            slope = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x**2)
        else:
            cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
            pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
            slope = cdf + x * pdf
        return (grad * slope).astype(grad.dtype, copy=False), None


@register("silu")
class SiLU(Function):
    """y = x * sigmoid(x);  dy/dx = s + x * s * (1 - s), s = sigmoid(x)."""

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array) -> Array:
        s = _sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        x, s = ctx.saved
        return (grad * (s * (1 + x * (1 - s))),)


@register("softplus")
class Softplus(Function):
    """y = log(1 + exp(beta x)) / beta;  dy/dx = sigmoid(beta x).

    Where beta * x > threshold the function reverts to the identity, as in PyTorch.
    """

    @staticmethod
    def forward(ctx: Context, x: Array, beta: float, threshold: float) -> Array:
        bx = x * beta
        ctx.save_for_backward(bx)
        ctx.threshold = threshold
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|) never overflows.
        soft = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
        return np.where(bx > threshold, x, soft)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None, None]:
        (bx,) = ctx.saved
        return grad * np.where(bx > ctx.threshold, 1, _sigmoid(bx)), None, None


def _sigmoid(x: Array) -> Array:
    # 1 / (1 + e^-x) overflows e^-x for very negative x; this form is finite for all x.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


@register("sigmoid")
class Sigmoid(Function):
    """y = 1 / (1 + exp(-x));  dy/dx = y * (1 - y)."""

    @staticmethod
    def forward(ctx: Context, x: Array) -> Array:
        y = _sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (y,) = ctx.saved
        return (grad * y * (1 - y),)


@register("tanh")
class Tanh(Function):
    """y = tanh(x);  dy/dx = 1 - y**2."""

    @staticmethod
    def forward(ctx: Context, x: Array) -> Array:
        y = np.tanh(x)
        ctx.save_for_backward(y)  # the derivative needs only the output
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (y,) = ctx.saved
        return (grad * (1 - y * y),)


@register("hardtanh")
class Hardtanh(Function):
    """y = clip(x, min_val, max_val);  dy/dx = 1 where min_val < x < max_val, else 0.

    NOTE: at the bounds the derivative is 0 (strict inequalities), as in PyTorch; at NaN
    it is 1 (the gradient passes through), as in PyTorch.
    """

    @staticmethod
    def forward(ctx: Context, x: Array, min_val: float, max_val: float) -> Array:
        y = np.clip(x, min_val, max_val)
        # Clipped or on a bound: y equals it. A NaN equals neither, and passes.
        ctx.save_for_backward((y != min_val) & (y != max_val))
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None, None]:
        (inside,) = ctx.saved
        return masked(grad, inside), None, None


@register("softmax")
class Softmax(Function):
    """y_i = exp(x_i) / sum_j exp(x_j) along ``axis``;  dL/dx = y * (g - sum(g * y)).

    float16 is computed in float32 and rounded at the end, as PyTorch does: a float16 sum
    of more than 65,504 terms near 1 would be inf, and every y 0.
    """

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array, axis: int) -> Array:
        if x.size == 0:  # NumPy's max has no empty case; the softmax of nothing is empty
            ctx.save_for_backward(x)
            ctx.axis = axis
            return x.copy()
        work = x.astype(np.float32) if x.dtype == np.float16 else x
        e = np.exp(work - work.max(axis=axis, keepdims=True))
        y = (e / e.sum(axis=axis, keepdims=True)).astype(x.dtype, copy=False)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        (y,) = ctx.saved
        dtype = y.dtype
        if dtype == np.float16:  # in float32, as the forward
            y, grad = y.astype(np.float32), grad.astype(np.float32)
        gy = grad * y
        return (gy - y * gy.sum(axis=ctx.axis, keepdims=True)).astype(dtype, copy=False), None


@register("log_softmax")
class LogSoftmax(Function):
    """y = x - logsumexp(x) along ``axis``;  dL/dx = g - softmax(x) * sum(g).

    The backward of float16 is computed in float32 and rounded at the end, as PyTorch does:
    a float16 sum of more than 65,504 gradients near 1 would be inf, and every gradient NaN.
    The forward stays in float16, as PyTorch's CPU forward does (a row of more than 65,504
    equal values gives -inf there too).
    """

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array, axis: int) -> Array:
        if x.size == 0:
            ctx.save_for_backward(x)
            ctx.axis = axis
            return x.copy()
        shifted = x - x.max(axis=axis, keepdims=True)
        y = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        (y,) = ctx.saved
        dtype = y.dtype
        if dtype == np.float16:
            y, grad = y.astype(np.float32), grad.astype(np.float32)
        dx = grad - np.exp(y) * grad.sum(axis=ctx.axis, keepdims=True)
        return dx.astype(dtype, copy=False), None


@register("logsumexp")
class LogSumExp(Function):
    """y = log(sum exp(x)) over ``axis``;  dy/dx = softmax(x) along those axes."""

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array, axis: Any, keepdims: bool) -> Array:
        # The sum of exp over nothing is 0, whose log is -inf, as in PyTorch.
        peak = x.max(axis=axis, keepdims=True, initial=-np.inf)
        peak = np.where(np.isfinite(peak), peak, 0)  # all -inf along an axis: avoid inf - inf
        kept = np.log(np.exp(x - peak).sum(axis=axis, keepdims=True)) + peak
        ctx.save_for_backward(x, kept)
        y = kept if keepdims else np.squeeze(kept, axis=axis)
        return y

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array, None, None]:
        x, kept = ctx.saved
        return np.exp(x - kept) * grad.reshape(kept.shape), None, None


def relu(input: Any, inplace: bool = False) -> Tensor:
    """Rectified linear unit, max(x, 0).

    ``inplace=True`` (here and in the other activations) changes ``input`` itself and returns
    it, as PyTorch does: ``relu_(x)``, recorded under grad mode like ``Tensor.relu_`` and
    refused for a leaf that requires grad.
    """
    if inplace:
        return in_place("relu", input, relu)
    return ReLU.apply(as_tensor(input))


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where positive, ``negative_slope * x`` elsewhere."""
    if inplace:
        return in_place("leaky_relu", input, lambda t: leaky_relu(t, negative_slope))
    return LeakyReLU.apply(floating_only(input, "leaky_relu"), float(negative_slope))


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """Exponential linear unit: x where positive, alpha * (exp(x) - 1) elsewhere."""
    if inplace:
        return in_place("elu", input, lambda t: elu(t, alpha))
    return ELU.apply(floating_only(input, "elu"), float(alpha))


def selu(input: Any, inplace: bool = False) -> Tensor:
    """Scaled exponential linear unit (self-normalizing constants)."""
    if inplace:
        return in_place("selu", input, selu)
    return SELU.apply(floating_only(input, "selu"))


def gelu(input: Any, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit; ``approximate='tanh'`` for the tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(floating_only(input, "gelu"), approximate)


def silu(input: Any, inplace: bool = False) -> Tensor:
    """Sigmoid linear unit (swish), x * sigmoid(x)."""
    if inplace:
        return in_place("silu", input, silu)
    return SiLU.apply(floating_only(input, "silu"))


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Smooth ReLU, log(1 + exp(beta x)) / beta (linear where beta x > threshold)."""
    if beta <= 0:
        raise ValueError(f"softplus: beta must be > 0, got {beta!r}")
    return Softplus.apply(floating_only(input, "softplus"), float(beta), float(threshold))


def sigmoid(input: Any) -> Tensor:
    """Logistic sigmoid, 1 / (1 + exp(-x)), finite for every input."""
    return Sigmoid.apply(as_floating_tensor(input))


def tanh(input: Any) -> Tensor:
    """Hyperbolic tangent."""
    return Tanh.apply(as_floating_tensor(input))


def hardtanh(
    input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """Clip to [min_val, max_val] with zero gradient outside. An integer tensor keeps its
    dtype, as in PyTorch: the bounds are truncated toward zero."""
    if min_val >= max_val:
        raise ValueError(
            f"hardtanh: min_val must be less than max_val, got min_val={min_val}, max_val={max_val}"
        )
    if inplace:
        return in_place("hardtanh", input, lambda t: hardtanh(t, min_val, max_val))
    x = as_tensor(input)
    if x.data.dtype.kind in "iu":
        return _integer_clip(x, min_val, max_val, "hardtanh")
    return Hardtanh.apply(x, float(min_val), float(max_val))


def _as_integer_bound(bound: float, dtype: np.dtype[Any]) -> int:
    """``bound`` truncated toward zero and kept within ``dtype``'s range, as PyTorch converts
    the float bounds of hardtanh and threshold for an integer tensor."""
    info = np.iinfo(dtype)
    return int(min(max(bound, info.min), info.max))


def _integer_clip(x: Tensor, min_val: float, max_val: float, where: str) -> Tensor:
    """hardtanh of an integer tensor, which keeps its dtype, as in PyTorch (integers never
    require grad: there is no graph to record)."""
    if x.data.dtype.kind == "u" and min_val <= -1:  # truncated, a negative bound
        raise ValueError(
            f"{where}: expected bounds >= 0 for an unsigned tensor of dtype {x.dtype}, got "
            f"min_val={min_val}"
        )
    low, high = (_as_integer_bound(bound, x.data.dtype) for bound in (min_val, max_val))
    return Tensor._from_op(np.clip(x.data, low, high), None)


def _single_axis(x: Tensor, axis: Any, dim: Any, where: str) -> int:
    axis = normalize_axis(axis, dim, where)
    if axis is None:
        axis = -1
    check_axis(axis, x.ndim, where)
    return int(axis)


def _softmax_axis(x: Tensor, axis: Any, dim: Any, where: str, stacklevel: int) -> int:
    """The one axis of a softmax: ``axis`` or ``dim``, or with neither PyTorch's implicit
    choice, with its deprecation warning: axis 0 for inputs of 0, 1 or 3 dimensions (an
    unbatched vector or image), axis 1 otherwise (the classes of a batch). ``stacklevel``
    counts from here, as PyTorch's ``_stacklevel`` does: 3 names the caller of ``softmax``."""
    if axis is None and dim is None:
        warnings.warn(
            f"Implicit dimension choice for {where} has been deprecated. "
            "Change the call to include dim=X as an argument.",
            UserWarning,
            stacklevel=stacklevel,
        )
        axis = 0 if x.ndim in (0, 1, 3) else 1
    return _single_axis(x, axis if dim is None else None, dim, where)


def softmax(
    input: Any,
    axis: int | None = None,
    *,
    dim: int | None = None,
    dtype: Any = None,
    _stacklevel: int = 3,
) -> Tensor:
    """Softmax along ``axis`` (or ``dim``): non-negative values that sum to 1.

    Without ``axis`` or ``dim`` the axis is PyTorch's implicit one, with PyTorch's warning:
    axis 0 for inputs of 0, 1 or 3 dimensions, axis 1 otherwise (not the last axis of 3-d
    and 4-d input). ``dtype``, as in PyTorch, casts the input first (a float32 input summed
    in float64).
    """
    x = floating_only(input if dtype is None else as_tensor(input).to(dtype), "softmax")
    return Softmax.apply(x, _softmax_axis(x, axis, dim, "softmax", _stacklevel))


def log_softmax(
    input: Any,
    axis: int | None = None,
    *,
    dim: int | None = None,
    dtype: Any = None,
    _stacklevel: int = 3,
) -> Tensor:
    """Logarithm of softmax along ``axis`` (or ``dim``; PyTorch's implicit axis, with its
    warning, without either, as for ``softmax``), computed stably (``dtype`` casts the
    input first)."""
    x = floating_only(input if dtype is None else as_tensor(input).to(dtype), "log_softmax")
    return LogSoftmax.apply(x, _softmax_axis(x, axis, dim, "log_softmax", _stacklevel))


def logsumexp(
    x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
) -> Tensor:
    """log(sum(exp(x))) over ``axis`` (all axes when None, or for PyTorch's ``dim=()``),
    computed stably."""
    x = as_floating_tensor(x)
    axis = normalize_axis(axis, torch_dim(dim), "logsumexp")
    keepdims = keepdims if keepdim is None else bool(keepdim)
    check_axis(axis, x.ndim, "logsumexp")
    return LogSumExp.apply(x, tuple(axis) if isinstance(axis, list) else axis, keepdims)


# --------------------------------------------------------------------- more of torch.nn's
# Ops of their own where a composition would put the kinks elsewhere than PyTorch does
# (hardswish), overflow (mish) or round differently (celu); the rest are compositions.


@register("hardswish")
class Hardswish(Function):
    """y = x * relu6(x + 3) / 6;  dy/dx = 0 if x <= -3, x/3 + 1/2 if -3 < x < 3, else 1.

    NOTE: at x = -3 the derivative is taken as 0 and at x = 3 as 1 (the outer pieces'), as in
    PyTorch.
    """

    @staticmethod
    def forward(ctx: Context, x: Array) -> Array:
        ctx.save_for_backward(x)
        return x * np.clip(x + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (x,) = ctx.saved
        # finite and nonzero below -3 too, where the mask then selects 0: an infinite
        # gradient gives 0 there, not inf * 0 = NaN
        slope = np.where(x < 3, np.maximum(x, -3) / 3 + 0.5, 1)
        return (masked((grad * slope).astype(grad.dtype, copy=False), ~(x <= -3)),)


_ONE_SIXTH_FLOAT32 = float(np.float32(1 / 6))


@register("hardsigmoid")
class Hardsigmoid(Function):
    """y = relu6(x + 3) / 6;  dy/dx = 1/6 where -3 < x < 3, else 0.

    NOTE: the derivative at -3 and at 3 is 0, as in PyTorch.
    """

    @staticmethod
    def forward(ctx: Context, x: Array) -> Array:
        ctx.save_for_backward((x > -3) & (x < 3))
        return np.clip(x + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (inside,) = ctx.saved
        # PyTorch multiplies by 1/6 rounded to float32, in float64 too; so does this, to
        # give its gradients bit for bit (a relative difference of 3e-8 otherwise).
        return (np.where(inside, grad * _ONE_SIXTH_FLOAT32, 0).astype(grad.dtype, copy=False),)


@register("mish")
class Mish(Function):
    """y = x * t, t = tanh(softplus(x));  dy/dx = t + x * sigmoid(x) * (1 - t**2)."""

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array) -> Array:
        # softplus as max(x, 0) + log1p(e^-|x|): finite where log1p(exp(x)) overflows.
        t = np.tanh(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))
        ctx.save_for_backward(x, t)
        return x * t

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        x, t = ctx.saved
        return (grad * (t + x * _sigmoid(x) * (1 - t * t)),)


@register("celu")
class CELU(Function):
    """y = x if x > 0 else alpha * (exp(x / alpha) - 1);  dy/dx = 1 if x > 0 else exp(x / alpha).

    NOTE: at x = 0 the derivative is exp(0) = 1 from either side; at NaN it is 1, as in
    PyTorch.
    """

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array, alpha: float) -> Array:
        negative = np.minimum(x, 0) / alpha
        positive = ~(x <= 0)  # NaN too
        ctx.save_for_backward(positive, negative)
        return np.where(positive, x, alpha * np.expm1(negative)).astype(x.dtype, copy=False)

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        positive, negative = ctx.saved
        slope = np.where(positive, 1, np.exp(negative))
        return (grad * slope).astype(grad.dtype, copy=False), None


def hardswish(input: Any, inplace: bool = False) -> Tensor:
    """Hard swish (MobileNetV3), x * relu6(x + 3) / 6."""
    if inplace:
        return in_place("hardswish", input, hardswish)
    return Hardswish.apply(floating_only(input, "hardswish"))


def mish(input: Any, inplace: bool = False) -> Tensor:
    """Mish, x * tanh(softplus(x)), finite for every input."""
    if inplace:
        return in_place("mish", input, mish)
    return Mish.apply(floating_only(input, "mish"))


def celu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """Continuously differentiable ELU: x where positive, alpha * (exp(x / alpha) - 1) elsewhere."""
    if alpha == 0:
        raise ValueError(f"celu: alpha must be nonzero, got {alpha!r}")
    if inplace:
        return in_place("celu", input, lambda t: celu(t, alpha))
    return CELU.apply(floating_only(input, "celu"), float(alpha))


def relu6(input: Any, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6);  dy/dx = 1 where 0 < x < 6, else 0.

    NOTE: the derivative at 0 and at 6 is 0, as in PyTorch (``hardtanh(x, 0, 6)``).
    """
    if inplace:
        return in_place("relu6", input, relu6)
    x = as_tensor(input)
    if x.data.dtype.kind in "iu":  # integers keep their dtype, as in PyTorch
        return _integer_clip(x, 0.0, 6.0, "relu6")
    return Hardtanh.apply(x, 0.0, 6.0)


def hardsigmoid(input: Any, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6;  dy/dx = 1/6 where -3 < x < 3, else 0.

    NOTE: the derivative at -3 and at 3 is 0, as in PyTorch.
    """
    if inplace:
        return in_place("hardsigmoid", input, hardsigmoid)
    return Hardsigmoid.apply(floating_only(input, "hardsigmoid"))


def logsigmoid(input: Any) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x);  dy/dx = sigmoid(-x); finite for every input, and
    exact to rounding for every input (softplus without its linear threshold)."""
    return -softplus(-floating_only(input, "logsigmoid"), 1.0, math.inf)


def softsign(input: Any) -> Tensor:
    """x / (1 + |x|);  dy/dx = 1 / (1 + |x|)**2."""
    x = as_floating_tensor(input)
    return x / (x.abs() + 1)


def tanhshrink(input: Any) -> Tensor:
    """x - tanh(x);  dy/dx = tanh(x)**2."""
    x = as_floating_tensor(input)
    return x - tanh(x)


def softmin(
    input: Any,
    axis: int | None = None,
    *,
    dim: int | None = None,
    dtype: Any = None,
    _stacklevel: int = 3,
) -> Tensor:
    """softmax(-x) along ``axis`` (or ``dim``; PyTorch's implicit axis, with its warning,
    without either, as for ``softmax``): small inputs get the large weights."""
    x = floating_only(input if dtype is None else as_tensor(input).to(dtype), "softmin")
    return Softmax.apply(-x, _softmax_axis(x, axis, dim, "softmin", _stacklevel))


def glu(input: Any, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)``, ``a`` and ``b`` the two halves of ``x`` along
    ``dim``; the output's ``dim`` is half as long."""
    x = floating_only(input, "glu")
    if x.ndim == 0:
        raise ValueError("glu: expected a tensor of at least one dimension, got a scalar")
    axis = _single_axis(x, None, dim, "glu")
    size = x.shape[axis]
    if size % 2:
        raise ValueError(
            f"glu: expected an even size along dim {dim} to halve, got shape {x.shape}"
        )
    a, b = x.chunk(2, axis)
    return a * sigmoid(b)


def threshold(input: Any, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else ``value``;  dy/dx = 1 where x > threshold, else 0.

    NOTE: at x = threshold the output is ``value`` and the derivative 0, as in PyTorch; NaN
    passes through, with derivative 1. An integer tensor keeps its dtype, as in PyTorch:
    ``threshold`` and ``value`` are truncated toward zero.
    """
    if inplace:
        return in_place("threshold", input, lambda t: _threshold(t, threshold, value))
    return _threshold(as_tensor(input), threshold, value)


def _threshold(x: Tensor, threshold: float, value: float) -> Tensor:
    from chainrule.autograd.ops.elementwise import where

    dtype = x.data.dtype
    if dtype.kind not in "iu":
        return where(~(x.data <= threshold), x, value)
    # An integer tensor keeps its dtype, as in PyTorch: threshold and value truncated.
    info = np.iinfo(dtype)
    if not (math.isfinite(value) and info.min <= math.trunc(value) <= info.max):
        raise ValueError(
            f"threshold: expected a value that a tensor of dtype {x.dtype} can hold "
            f"({info.min} to {info.max}), got value={value!r}"
        )
    limit = _as_integer_bound(threshold, dtype)
    return Tensor._from_op(np.where(x.data > limit, x.data, dtype.type(math.trunc(value))), None)


def hardshrink(input: Any, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0;  dy/dx = 1 where |x| > lambd, else 0.

    NOTE: at |x| = lambd the output and the derivative are 0, as in PyTorch; NaN passes
    through, with derivative 1.
    """
    from chainrule.autograd.ops.elementwise import where

    x = floating_only(input, "hardshrink")
    return where(~(np.abs(x.data) <= lambd), x, 0.0)


def softshrink(input: Any, lambd: float = 0.5) -> Tensor:
    """x - lambd where x > lambd, x + lambd where x < -lambd, else 0;  dy/dx = 1 where
    |x| > lambd, else 0.

    NOTE: at |x| = lambd the derivative is 0, and NaN passes through with derivative 1, as in
    PyTorch. The gradient is selected, not multiplied, so an infinite one stays infinite where
    |x| > lambd and 0 elsewhere (``x - clamp(x)`` would give inf - inf = NaN).
    """
    from chainrule.autograd.ops.elementwise import where

    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be >= 0, got {lambd!r}")
    x = floating_only(input, "softshrink")
    return where(~(np.abs(x.data) <= lambd), x - lambd * np.sign(x.data), 0.0)


def prelu(input: Any, weight: Any) -> Tensor:
    """x where x > 0, else ``weight * x``, one weight for all channels or one per channel
    (axis 1);  dy/dx = 1 if x > 0 else weight, dy/dw = min(x, 0).

    An input of 0 or 1 dimensions has one channel, as in PyTorch: a weight of several
    slopes is refused for it.

    NOTE: at x = 0 the derivative is ``weight``, as in PyTorch.
    """
    from chainrule.autograd.ops.elementwise import where

    x, w = floating_only(input, "prelu"), as_tensor(weight)
    if w.data.size != 1:
        channels = x.shape[1] if x.ndim >= 2 else 1
        if w.ndim != 1 or channels != w.shape[0]:
            raise ValueError(
                f"prelu: expected input with {w.data.size} channels on axis 1 for a weight "
                f"of shape {w.shape}, got input of shape {x.shape}"
                + (" (an input of 0 or 1 dimensions has one channel)" if x.ndim < 2 else "")
            )
        w = w.reshape((-1,) + (1,) * (x.ndim - 2))
    else:
        w = w.reshape(())
    return where(x.data > 0, x, w * x)
