"""More of PyTorch's tensor functions: the running ``logcumsumexp`` (an op of its own, stable
where exp overflows), and compositions of ops whose gradients follow: ``renorm``, ``inner``,
``vdot``, ``broadcast_tensors``, ``nanmedian``, and the function forms of the methods
``masked_fill`` and ``adjoint``."""

from __future__ import annotations

import math
from typing import Any

from chainrule.autograd.function import Context, Function, register
from chainrule.autograd.ops._operands import as_tensor, floating_only, quietly
from chainrule.autograd.ops.arithmetic import add, div, mul
from chainrule.autograd.ops.elementwise import where
from chainrule.autograd.ops.linalg import matmul
from chainrule.autograd.ops.more import _axis, _dropped, _kept, dot
from chainrule.autograd.ops.reductions import ValuesIndices, norm
from chainrule.autograd.ops.reductions import sum as _sum
from chainrule.autograd.ops.shape import broadcast_to, gather, index, reshape, transpose
from chainrule.backend import Array, np
from chainrule.tensor import Tensor


# --------------------------------------------------------------------- logcumsumexp
@register("logcumsumexp")
class LogCumSumExp(Function):
    """y_i = log(sum of exp(x_j) for j <= i) along ``axis``;
    dL/dx_j = sum over i >= j of g_i exp(x_j - y_i).

    The backward is PyTorch's: the positive and the negative parts of g summed separately in
    log space (logcumsumexp taken from the other end), so that nothing overflows.
    """

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array, axis: int) -> Array:
        y = _running_logaddexp(x, axis)
        ctx.save_for_backward(x, y)
        ctx.axis = axis
        return y

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        x, y = ctx.saved
        axis = ctx.axis
        size = np.log(np.abs(grad))
        # The lowest finite number rather than -inf stands for log 0, so that -inf - y is
        # never inf - inf where y is -inf too (PyTorch's choice, NaN and all).
        lowest = np.finfo(grad.dtype).min

        def from_the_end(v: Array) -> Array:
            return np.flip(_running_logaddexp(np.flip(v, axis), axis), axis)

        positive = np.exp(from_the_end(np.where(grad > 0, size, lowest) - y) + x)
        negative = np.exp(from_the_end(np.where(grad < 0, size, lowest) - y) + x)
        return positive - negative, None


def _running_logaddexp(x: Array, axis: int) -> Array:
    """log(exp(x_0) + ... + exp(x_i)) along ``axis``, one ``logaddexp`` at a time, added up
    in float64 for narrower floats as PyTorch's CPU kernel does."""
    if x.dtype.itemsize < 8:
        return np.logaddexp.accumulate(x.astype(np.float64), axis=axis).astype(x.dtype)
    return np.logaddexp.accumulate(x, axis=axis)


def logcumsumexp(input: Any, dim: int) -> Tensor:
    """The running log-sum-exp along ``dim``: log(exp(x_0) + ... + exp(x_i)) at position i,
    computed without overflow.

    Parameters
    ----------
    input : Tensor of floating dtype
        Integers are refused, as by PyTorch.
    dim : int
        The axis to run along (0 or -1 for a 0-d tensor).

    Returns
    -------
    Tensor
        Of ``input``'s shape and dtype. -inf entries count as exp(-inf) = 0; a NaN makes the
        rest of its run NaN.

    Raises
    ------
    TypeError
        If ``input`` is not floating-point.
    ValueError
        If ``dim`` is not an axis of ``input``.

    Notes
    -----
    y_i = log(sum over j <= i of exp(x_j)), each step y_i = logaddexp(y_(i-1), x_i)
    = max + log1p(exp(min - max)) (float32 added up in float64, as PyTorch's);
    dL/dx_j = sum over i >= j of g_i exp(x_j - y_i), computed as PyTorch's (NaN where a run
    of -inf meets a gradient, and at +inf).

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([0.0, 0.0, 1000.0], dtype=cr.float64, requires_grad=True)
    >>> y = cr.logcumsumexp(x, 0)
    >>> y.detach()  # exp(1000) overflows; its log does not
    tensor([0.0000e+00, 6.9315e-01, 1.0000e+03], dtype=float64)
    >>> y[1].backward()
    >>> x.grad
    tensor([0.5000, 0.5000, 0.0000], dtype=float64)
    """
    x = floating_only(input, "logcumsumexp")
    axis = _axis("logcumsumexp", x, dim)
    if x.ndim == 0:
        return reshape(LogCumSumExp.apply(reshape(x, (1,)), 0), ())
    return LogCumSumExp.apply(x, axis)


# --------------------------------------------------------------------- renorm
def renorm(input: Any, p: float, dim: int, maxnorm: float) -> Tensor:
    """``input`` with each slice along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down
    to norm ``maxnorm`` (the others left as they are), as PyTorch's ``renorm``.

    Parameters
    ----------
    input : Tensor of floating dtype, with at least 2 dimensions
    p : float
        The norm's order, > 0 (``inf``: the largest absolute value).
    dim : int
        The axis whose slices ``input.select(dim, i)`` are renormalized.
    maxnorm : float
        The largest norm a slice keeps, >= 0.

    Returns
    -------
    Tensor
        Of ``input``'s shape and dtype.

    Raises
    ------
    TypeError
        If ``input`` is not floating-point.
    ValueError
        If ``input`` has fewer than 2 dimensions, ``p`` is not > 0 or ``maxnorm`` is
        negative.

    Notes
    -----
    For each slice s with norm n = ||s||_p: y = s * maxnorm / (n + 1e-7) where n > maxnorm,
    else y = s (the 1e-7 is PyTorch's). The gradient goes through n too:
    dL/ds = c g - maxnorm / (n + 1e-7)**2 * sum(g * s) * dn/ds where the slice is scaled
    (c = maxnorm / (n + 1e-7)), dL/ds = g elsewhere.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([[3.0, 4.0], [0.3, 0.4]], dtype=cr.float64)
    >>> cr.renorm(x, 2, 0, 1.0)  # the first row had norm 5 (1e-7 added, as PyTorch)
    tensor([[0.6000, 0.8000],
            [0.3000, 0.4000]], dtype=float64)
    """
    x = floating_only(input, "renorm")
    if x.ndim < 2:
        raise ValueError(
            f"renorm: expected a tensor with at least 2 dimensions, got shape {x.shape}"
        )
    order, limit = _number(p), _number(maxnorm)
    if not order > 0:
        raise ValueError(f"renorm: expected a norm order p > 0 (or inf), got p={p!r}")
    if not limit >= 0:
        raise ValueError(f"renorm: expected maxnorm >= 0, got maxnorm={maxnorm!r}")
    axis = _axis("renorm", x, dim)
    others = tuple(i for i in range(x.ndim) if i != axis)
    norms = norm(x, order, others, True)
    scale = div(limit, add(norms, 1e-7))
    one = Tensor._from_op(np.ones((), dtype=x.dtype), None)
    return mul(x, where(norms.data > limit, scale, one))


def _number(value: Any) -> float:
    """``value`` as a float (NaN, which every check refuses, for a bool or a non-number)."""
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


# --------------------------------------------------------------------- products
def inner(input: Any, other: Any) -> Tensor:
    """The inner product over the last axes: ``out[i..., j...] = sum over k of
    input[i..., k] * other[j..., k]`` (a product when either is 0-d), as PyTorch's.

    Parameters
    ----------
    input : Tensor of shape (..., n), or 0-d
    other : Tensor of shape (..., n), or 0-d

    Returns
    -------
    Tensor
        Of shape ``input.shape[:-1] + other.shape[:-1]``; dtypes combine as in ``matmul``.

    Raises
    ------
    ValueError
        If the last axes differ in length.

    Notes
    -----
    y[i, j] = sum over k of a[i, k] b[j, k];  dL/da[i, k] = sum over j of g[i, j] b[j, k],
    dL/db[j, k] = sum over i of g[i, j] a[i, k] (a matrix product and its gradients).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.inner(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), cr.tensor([1.0, 1.0]))
    tensor([3., 7.])
    """
    a, b = as_tensor(input), as_tensor(other)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"inner: expected the last dimensions to match, got shapes {a.shape} and {b.shape}"
        )
    n = a.shape[-1]
    # Leading sizes spelled out: -1 cannot be inferred when n is 0.
    rows = reshape(a, (math.prod(a.shape[:-1]), n)) if a.ndim != 2 else a
    columns = transpose(reshape(b, (math.prod(b.shape[:-1]), n)) if b.ndim != 2 else b)
    return reshape(matmul(rows, columns), a.shape[:-1] + b.shape[:-1])


def vdot(input: Any, other: Any) -> Tensor:
    """The dot product of two 1-D tensors of one length, the first conjugated (for the real
    tensors of chainrule, ``dot`` itself), as PyTorch's ``vdot``.

    Parameters
    ----------
    input : Tensor of shape (n,)
    other : Tensor of shape (n,)

    Returns
    -------
    Tensor
        0-d: sum over i of input[i] * other[i].

    Raises
    ------
    ValueError
        If either is not 1-D, or their lengths differ.

    Notes
    -----
    y = sum a_i b_i;  dy/da = b, dy/db = a.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.vdot(cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0]))
    tensor(11.)
    """
    a, b = as_tensor(input), as_tensor(other)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"vdot: expected two 1-D tensors of one length, got shapes {a.shape} and {b.shape}"
        )
    return dot(a, b)


def broadcast_tensors(*tensors: Any) -> tuple[Tensor, ...]:
    """The tensors broadcast to their common shape (NumPy's and PyTorch's rules), each a
    view of its input, as PyTorch's ``broadcast_tensors``.

    Parameters
    ----------
    *tensors : Tensor or array_like

    Returns
    -------
    tuple of Tensor
        One per input, all of the broadcast shape, each keeping its dtype.

    Raises
    ------
    ValueError
        If the shapes do not broadcast together.

    Notes
    -----
    Each result repeats its input along the broadcast axes; its gradient is summed back over
    them (dL/dx = g summed to x's shape).

    Examples
    --------
    >>> import chainrule as cr
    >>> a, b = cr.broadcast_tensors(cr.zeros(3, 1), cr.tensor([1.0, 2.0]))
    >>> a.shape, b.shape
    ((3, 2), (3, 2))
    """
    items = [as_tensor(t) for t in tensors]
    try:
        shape = np.broadcast_shapes(*(t.shape for t in items))
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in items)
        raise ValueError(
            f"broadcast_tensors: expected shapes that broadcast together, got {shapes}"
        ) from None
    return tuple(broadcast_to(t, shape) for t in items)


# --------------------------------------------------------------------- nanmedian
def nanmedian(input: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    """The lower median of the elements that are not NaN (of two middle values, the
    smaller), of all elements or ``(values, indices)`` along ``dim``, as PyTorch's.

    Parameters
    ----------
    input : Tensor
        Numbers (bool refused, as by PyTorch).
    dim : int, optional
        The axis to reduce; None (the default) reduces all elements to one value.
    keepdim : bool, default=False
        Whether ``dim`` stays, with length 1.

    Returns
    -------
    Tensor or ValuesIndices
        Without ``dim``, the 0-d median (NaN when all elements are NaN or there are none).
        With ``dim``, the medians and their positions along ``dim``.

    Raises
    ------
    TypeError
        If ``input`` is boolean.
    ValueError
        If ``dim`` is given and that axis has length 0.

    Notes
    -----
    Of the m values that are not NaN, sorted (ties in order of position), the one at
    position (m - 1) // 2; NaN where m = 0. Without ``dim`` the gradient is shared evenly
    by the elements equal to the median (the NaN ones when it is NaN), as PyTorch's; along
    ``dim`` it goes to the element at the returned index. For a slice that is all NaN the
    index returned is 0, where PyTorch's is whichever NaN its C++ selection leaves first.

    Examples
    --------
    >>> import chainrule as cr
    >>> nan = float("nan")
    >>> cr.nanmedian(cr.tensor([1.0, nan, 3.0, 2.0]))
    tensor(2.)
    >>> cr.nanmedian(cr.tensor([[1.0, nan, 3.0], [nan, 5.0, nan]]), dim=1)
    ValuesIndices(values=tensor([1., 5.]), indices=tensor([0, 1]))
    """
    x = as_tensor(input)
    if x.dtype.kind == "b":
        raise TypeError("nanmedian: expected a numeric tensor, got dtype bool (as in PyTorch)")
    floating = x.dtype.kind == "f"
    if dim is None:
        flat_values = x.data.reshape(-1)
        if flat_values.size == 0:
            if not floating:
                raise ValueError(f"nanmedian: expected a non-empty tensor, got shape {x.shape}")
            return _sum(x) + math.nan  # NaN, as PyTorch's
        missing = np.isnan(flat_values) if floating else np.zeros(flat_values.size, bool)
        count = flat_values.size - int(missing.sum())
        if count == 0:
            tied = np.flatnonzero(missing)
            value = flat_values[0]
        else:
            order = np.argsort(flat_values, kind="stable")  # NaN sorts last
            value = flat_values[order[(count - 1) // 2]]
            tied = np.flatnonzero(flat_values == value)
        if not x.requires_grad:
            return Tensor._from_op(np.asarray(value), None)
        # value + mean(tied - value): exactly the value, with 1 / count to each tied element
        picked = index(reshape(x, (-1,)), (tied,))
        return (picked - value).mean() + value
    axis = _axis("nanmedian", x, dim)
    if x.ndim == 0:
        values = x * 1 if x.requires_grad else x
        return ValuesIndices(values, Tensor._from_op(np.zeros((), np.int64), None))
    if x.shape[axis] == 0:
        raise ValueError(f"nanmedian: expected a non-empty axis {axis}, got shape {x.shape}")
    order = np.argsort(x.data, axis=axis, kind="stable")  # NaN sorts last
    if floating:
        count = x.shape[axis] - np.isnan(x.data).sum(axis=axis, keepdims=True)
        middle = np.maximum(count - 1, 0) // 2
    else:
        middle = np.full(_kept(x.shape, axis), (x.shape[axis] - 1) // 2)
    picks = np.take_along_axis(order, middle, axis=axis).astype(np.int64)
    values = gather(x, axis, picks)
    if not keepdim:
        values, picks = reshape(values, _dropped(x.shape, axis)), picks.squeeze(axis)
    return ValuesIndices(values, Tensor._from_op(picks, None))


def masked_fill(input: Any, mask: Any, value: Any) -> Tensor:
    """``value`` where ``mask`` holds, else ``input`` (``torch.masked_fill``, the function
    form of ``Tensor.masked_fill``).

    Parameters
    ----------
    input : Tensor
        The tensor to fill from.
    mask : Tensor or array of bool
        Broadcast to ``input``'s shape.
    value : number or 0-d Tensor
        Converted to ``input``'s dtype; a 0-d tensor that requires grad receives the sum of
        the gradient over the filled places.

    Returns
    -------
    Tensor
        A new tensor of ``input``'s shape and dtype.

    Raises
    ------
    TypeError
        If ``mask`` is not boolean.
    ValueError
        If ``value`` has dimensions (``chainrule.where(mask, values, input)`` takes them).

    Notes
    -----
    y = where(mask, value, x): dy/dx = 1 where the mask is false and 0 where it is true.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0, 3.0])
    >>> cr.masked_fill(x, x > 1.5, 0.0)
    tensor([1., 0., 0.])
    """
    return as_tensor(input).masked_fill(mask, value)


def adjoint(input: Any) -> Tensor:
    """The conjugate transpose of each matrix in ``input`` (``torch.adjoint``, the function
    form of ``Tensor.adjoint()`` and ``Tensor.mH``).

    Parameters
    ----------
    input : Tensor of shape (..., m, n)
        A matrix or a batch of them.

    Returns
    -------
    Tensor of shape (..., n, m)
        The last two axes swapped, complex values conjugated; for a real tensor, ``mT``
        (whose gradient is the gradient transposed back).

    Raises
    ------
    ValueError
        If ``input`` has fewer than 2 dimensions.

    Notes
    -----
    adjoint(A)_ij = conj(A_ji).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.adjoint(cr.tensor([[1 + 2j, 3 + 0j]]))
    tensor([[1.-2.j],
            [3.-0.j]], dtype=complex128)
    """
    return as_tensor(input).adjoint()
