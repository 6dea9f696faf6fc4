"""PyTorch functions that are combinations of other ops, their gradients those of the ops:
``tensordot``, ``kron``, ``cdist``, ``std_mean``, ``var_mean``, ``aminmax``, ``quantile``,
the sliding windows of ``unfold``, the stacking helpers ``atleast_1d``/``2d``/``3d``,
``column_stack`` and ``dstack``; the fused-looking products ``addmm``, ``addmv`` and
``baddbmm``, ``fmax``/``fmin``, ``dist``, ``rot90``, ``true_divide`` and ``isin``."""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

from chainrule.autograd.ops._operands import (
    as_floating_tensor,
    as_tensor,
    check_axis,
    torch_dim,
)
from chainrule.autograd.ops.arithmetic import div
from chainrule.autograd.ops.elementwise import where
from chainrule.autograd.ops.linalg import matmul
from chainrule.autograd.ops.more import Lerp, einsum, index_select, movedim, sort
from chainrule.autograd.ops.reductions import amax, amin, mean, norm, std, var
from chainrule.autograd.ops.shape import concatenate, flip, reshape, transpose
from chainrule.backend import np
from chainrule.tensor import Tensor

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def tensordot(a: Any, b: Any, dims: Any = 2) -> Tensor:
    """Sum of products over axes of ``a`` and ``b``: ``dims`` an int n (the last n axes of
    ``a`` with the first n of ``b``) or a pair of axis lists, as PyTorch's ``tensordot``."""
    a, b = as_tensor(a), as_tensor(b)
    if isinstance(dims, int | np.integer):
        n = operator.index(dims)
        if not 0 <= n <= min(a.ndim, b.ndim):
            raise ValueError(
                f"tensordot: dims must be in [0, {min(a.ndim, b.ndim)}] for shapes {a.shape} "
                f"and {b.shape}, got {n}"
            )
        pairs = list(zip(range(a.ndim - n, a.ndim), range(n), strict=True))
    else:
        first, second = ([d] if isinstance(d, int) else list(d) for d in dims)
        if len(first) != len(second):
            raise ValueError(f"tensordot: expected two lists of as many axes, got {dims}")
        check_axis(tuple(first), a.ndim, "tensordot")
        check_axis(tuple(second), b.ndim, "tensordot")
        for axes, ndim in ((first, a.ndim), (second, b.ndim)):
            if len({i % max(ndim, 1) for i in axes}) != len(axes):
                raise ValueError(f"tensordot: expected distinct axes, got {dims}")
        pairs = [
            (i % max(a.ndim, 1), j % max(b.ndim, 1)) for i, j in zip(first, second, strict=True)
        ]
    for i, j in pairs:
        if a.shape[i] != b.shape[j]:
            raise ValueError(
                f"tensordot: contracted axes must match, got axis {i} of {a.shape} and "
                f"axis {j} of {b.shape}"
            )
    if a.ndim + b.ndim > len(_LETTERS):
        raise ValueError(f"tensordot: at most {len(_LETTERS)} axes in all, got {a.ndim + b.ndim}")
    left = list(_LETTERS[: a.ndim])
    right = list(_LETTERS[a.ndim : a.ndim + b.ndim])
    for i, j in pairs:
        right[j] = left[i]
    summed = {left[i] for i, _ in pairs}
    out = [c for c in left if c not in summed] + [c for c in right if c not in summed]
    return einsum(f"{''.join(left)},{''.join(right)}->{''.join(out)}", a, b)


def kron(a: Any, b: Any) -> Tensor:
    """The Kronecker product: each element of ``a`` times the whole of ``b``, in blocks."""
    a, b = as_tensor(a), as_tensor(b)
    ndim = max(a.ndim, b.ndim)
    a = reshape(a, (1,) * (ndim - a.ndim) + a.shape)
    b = reshape(b, (1,) * (ndim - b.ndim) + b.shape)
    # Axes (a0, b0, a1, b1, ...): a's spread over b's, then merged pair by pair.
    spread_a = reshape(a, tuple(k for n in a.shape for k in (n, 1)))
    spread_b = reshape(b, tuple(k for n in b.shape for k in (1, n)))
    return reshape(spread_a * spread_b, tuple(m * n for m, n in zip(a.shape, b.shape, strict=True)))


def cdist(x1: Any, x2: Any, p: float = 2.0) -> Tensor:
    """The p-norm distance between each row of ``x1`` (..., P, M) and each row of ``x2``
    (..., R, M): shape (..., P, R)."""
    x1, x2 = as_floating_tensor(x1), as_floating_tensor(x2)
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ValueError(
            f"cdist: expected (..., P, M) and (..., R, M) with one M, got {x1.shape} and {x2.shape}"
        )
    first = reshape(x1, x1.shape[:-1] + (1, x1.shape[-1]))
    second = reshape(x2, x2.shape[:-2] + (1,) + x2.shape[-2:])
    return norm(first - second, ord=p, axis=-1)


def std_mean(
    x: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, **options: Any
) -> tuple[Tensor, Tensor]:
    """``(std, mean)`` over ``dim`` (all axes when None), as PyTorch's; the correction is
    given as for ``std``: ``correction=``, ``unbiased`` by position or by name, or
    ``std_mean(x, False)`` alone."""
    return _with_mean(std, x, dim, unbiased, keepdim, options)


def var_mean(
    x: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, **options: Any
) -> tuple[Tensor, Tensor]:
    """``(var, mean)`` over ``dim`` (all axes when None), as PyTorch's; the correction is
    given as for ``var``: ``correction=``, ``unbiased`` by position or by name, or
    ``var_mean(x, False)`` alone."""
    return _with_mean(var, x, dim, unbiased, keepdim, options)


def _with_mean(
    spread: Any, x: Any, dim: Any, unbiased: bool | None, keepdim: bool, options: dict[str, Any]
) -> tuple[Tensor, Tensor]:
    dim = torch_dim(dim)
    first = spread(x, dim, unbiased, keepdim, **options)
    over = None if isinstance(dim, bool | np.bool_) else dim  # (x, unbiased): every axis
    return first, mean(as_floating_tensor(x), over, keepdims=keepdim)


class MinMax(NamedTuple):
    """What ``aminmax`` returns: the smallest and the largest values."""

    min: Tensor
    max: Tensor


def aminmax(x: Any, *, dim: int | None = None, keepdim: bool = False) -> MinMax:
    """``(min, max)`` over ``dim`` (all elements when None), as PyTorch's ``aminmax``."""
    dim = torch_dim(dim)
    return MinMax(amin(x, dim, keepdims=keepdim), amax(x, dim, keepdims=keepdim))


def _at_least(x: Any, ndim: int) -> Tensor:
    """``x`` with ``ndim`` axes or more: NumPy's and PyTorch's padding, (N,) to (1, N) and
    (1, N, 1), (M, N) to (M, N, 1)."""
    x = as_tensor(x)
    if x.ndim >= ndim:
        return x
    if x.ndim == 0:
        return reshape(x, (1,) * ndim)
    if x.ndim == 1:
        return reshape(x, (1, x.shape[0]) + (1,) * (ndim - 2))
    return reshape(x, x.shape + (1,))


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least 1 axis (a 0-d one becomes shape (1,)); one tensor alone is
    returned as itself, several as a tuple."""
    out = tuple(_at_least(t, 1) for t in tensors)
    return out[0] if len(out) == 1 else out


def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least 2 axes: (N,) becomes (1, N)."""
    out = tuple(_at_least(t, 2) for t in tensors)
    return out[0] if len(out) == 1 else out


def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least 3 axes: (N,) becomes (1, N, 1), (M, N) becomes (M, N, 1)."""
    out = tuple(_at_least(t, 3) for t in tensors)
    return out[0] if len(out) == 1 else out


def column_stack(tensors: Any) -> Tensor:
    """Tensors side by side as columns: 1-D ones become columns, 2-D ones stay."""
    columns = [as_tensor(t) for t in tensors]
    columns = [reshape(t, (t.shape[0] if t.ndim else 1, 1)) if t.ndim < 2 else t for t in columns]
    return concatenate(columns, 1)


def dstack(tensors: Any) -> Tensor:
    """Tensors stacked along a third axis (after ``atleast_3d``)."""
    return concatenate([_at_least(t, 3) for t in tensors], 2)


def unfold(x: Any, dimension: int, size: int, step: int) -> Tensor:
    """The windows of ``size`` elements along ``dimension``, one every ``step``, as
    PyTorch's ``Tensor.unfold``: that axis becomes the windows' count, and a new last axis
    of ``size`` holds each window (a copy here, where PyTorch gives a view). An element in
    several windows gets the sum of their gradients."""
    x = as_tensor(x)
    size, step = operator.index(size), operator.index(step)
    axis = operator.index(dimension) % max(x.ndim, 1)
    length = x.shape[axis] if x.ndim else 1
    if step < 1 or not 0 <= size <= length:
        raise ValueError(
            f"unfold: expected 0 <= size <= {length} (the length of axis {axis}) and step >= "
            f"1, got size={size}, step={step}"
        )
    if x.ndim == 0:
        return reshape(x, (size,))
    count = (length - size) // step + 1
    picks = (np.arange(count)[:, None] * step + np.arange(size)[None, :]).reshape(-1)
    windows = index_select(x, axis, picks)
    windows = reshape(windows, x.shape[:axis] + (count, size) + x.shape[axis + 1 :])
    return movedim(windows, axis + 1, -1)


_QUANTILE_RULES = ("linear", "lower", "higher", "nearest", "midpoint")


def quantile(
    input: Any,
    q: Any,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    interpolation: str = "linear",
) -> Tensor:
    """The ``q``-th quantiles (``q`` a number or a 1-D sequence in [0, 1]) over ``dim`` (all
    elements when None), as PyTorch's: between the sorted values at positions
    ``floor(q (n - 1))`` and the next, by ``interpolation``; NaN where the values hold one.
    A sequence of ``q`` puts its axis first. The gradient goes to the one or two values
    each quantile is made of."""
    if interpolation not in _QUANTILE_RULES:
        raise ValueError(
            f"quantile: interpolation must be one of {_QUANTILE_RULES}, got {interpolation!r}"
        )
    x = as_floating_tensor(input)
    qs = np.asarray(q.data if isinstance(q, Tensor) else q, dtype=np.float64)
    if qs.ndim > 1 or not ((qs >= 0) & (qs <= 1)).all():
        raise ValueError(f"quantile: expected q in [0, 1], a number or a 1-D sequence, got {q!r}")
    kept_shape = tuple(1 for _ in x.shape)  # keepdim's shape without dim: every axis 1
    if dim is None:
        x, axis = reshape(x, (-1,)), 0
    else:
        axis = operator.index(dim) % max(x.ndim, 1)
        kept_shape = tuple(1 if i == axis else n for i, n in enumerate(x.shape))
    n = x.shape[axis] if x.ndim else 1
    if x.ndim == 0:
        x, axis = reshape(x, (1,)), 0
    if n == 0:
        raise ValueError(f"quantile: expected a non-empty axis {axis}, got shape {x.shape}")
    ordered = sort(x, axis).values  # NaN sorts last: a slice holding one ends with it
    # in the input's dtype, as PyTorch computes the ranks, so that the weights round alike
    position = qs.reshape(-1).astype(np.float32 if x.dtype == np.float16 else x.dtype) * (n - 1)
    low, high = np.floor(position).astype(np.int64), np.ceil(position).astype(np.int64)
    weight = position - low
    if interpolation == "higher":  # "lower" takes low as it is
        low = high
    elif interpolation == "nearest":
        low = np.round(position).astype(np.int64)  # halves to even, as PyTorch
    elif interpolation == "midpoint":
        weight = np.where(high > low, 0.5, 0.0)
    below = index_select(ordered, axis, low)
    if interpolation in ("linear", "midpoint"):
        cells = [1] * x.ndim
        cells[axis] = len(position)
        share = weight.reshape(cells).astype(x.dtype)
        # lerp from the nearer end, as PyTorch: -inf and 2 halfway give -inf, not NaN
        result = Lerp.apply(below, index_select(ordered, axis, high), share)
    else:  # one sorted value each
        result = below
    lost = np.isnan(np.take(ordered.data, [n - 1], axis=axis))  # read, not an op
    if lost.any():
        result = where(np.broadcast_to(lost, result.shape), np.asarray(np.nan, x.dtype), result)
    result = movedim(result, axis, 0)  # the quantiles' axis first, as PyTorch puts it
    if keepdim:
        result = reshape(result, (len(position), *kept_shape))
    else:
        rest = tuple(size for i, size in enumerate(x.shape) if i != axis)
        result = reshape(result, (len(position), *rest))
    return result[0] if qs.ndim == 0 else result


def _scaled_sum(input: Any, product: Tensor, beta: Any, alpha: Any) -> Tensor:
    """beta * input + alpha * product; ``input`` left out when beta is 0 (its NaN and inf
    too), with a zero gradient, as PyTorch does."""
    term = as_tensor(input)
    if np.broadcast_shapes(term.shape, product.shape) != product.shape:
        raise ValueError(
            f"expected an input that broadcasts to the product's shape {product.shape}, got "
            f"shape {term.shape}"
        )
    if alpha == 0:  # the product left out, its NaN and inf too, as PyTorch does
        scaled = where(np.zeros(product.shape, dtype=bool), product, 0.0)
    else:
        scaled = product if alpha == 1 else product * alpha
    if beta == 0:
        if not term.requires_grad:
            return scaled
        nowhere = np.zeros(np.broadcast_shapes(term.shape, scaled.shape), dtype=bool)
        return scaled + where(nowhere, term, 0.0)  # in the graph, never read
    return (term if beta == 1 else term * beta) + scaled


def _product(a: Tensor, b: Tensor, alpha: Any) -> Tensor:
    """a @ b; computed silently where ``alpha`` is 0, since its inf and NaN are left out."""
    if alpha != 0:
        return matmul(a, b)
    with np.errstate(invalid="ignore", over="ignore"):
        return matmul(a, b)


def addmm(input: Any, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2), ``input`` broadcast to the product's shape."""
    a, b = as_tensor(mat1), as_tensor(mat2)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"addmm: expected 2-D matrices, got shapes {a.shape} and {b.shape}")
    return _scaled_sum(input, _product(a, b, alpha), beta, alpha)


def addmv(input: Any, mat: Any, vec: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (mat @ vec) for a matrix and a vector."""
    m, v = as_tensor(mat), as_tensor(vec)
    if m.ndim != 2 or v.ndim != 1:
        raise ValueError(
            f"addmv: expected a matrix and a vector, got shapes {m.shape} and {v.shape}"
        )
    return _scaled_sum(input, _product(m, v, alpha), beta, alpha)


def baddbmm(input: Any, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (batch1 @ batch2) for stacks of matrices (b, n, m), (b, m, p)."""
    a, b = as_tensor(batch1), as_tensor(batch2)
    if a.ndim != 3 or b.ndim != 3:
        raise ValueError(
            f"baddbmm: expected 3-D stacks of matrices, got shapes {a.shape} and {b.shape}"
        )
    return _scaled_sum(input, _product(a, b, alpha), beta, alpha)


def fmax(a: Any, b: Any) -> Tensor:
    """Elementwise maximum that ignores NaN: the other value where one is NaN (NaN only where
    both are); the gradient goes to the value chosen."""
    a, b = as_tensor(a), as_tensor(b)
    # a wins ties (its gradient whole, as PyTorch's), and wherever b is NaN
    return where(np.isnan(b.data) | (a.data >= b.data), a, b)


def fmin(a: Any, b: Any) -> Tensor:
    """Elementwise minimum that ignores NaN (see ``fmax``)."""
    a, b = as_tensor(a), as_tensor(b)
    return where(np.isnan(b.data) | (a.data <= b.data), a, b)


def dist(a: Any, b: Any, p: float = 2.0) -> Tensor:
    """The p-norm of ``a - b`` over all elements (broadcast together)."""
    return norm(as_floating_tensor(a) - as_floating_tensor(b), p)


def true_divide(a: Any, b: Any) -> Tensor:
    """``a / b``, true division (PyTorch's older name of ``div``)."""
    return div(a, b)


def rot90(x: Any, k: int = 1, dims: Any = (0, 1)) -> Tensor:
    """``x`` turned by 90 degrees ``k`` times, from the first of ``dims`` toward the second."""
    x = as_tensor(x)
    if len(dims) != 2:
        raise ValueError(f"rot90: expected two dims, got {dims!r}")
    check_axis(tuple(dims), x.ndim, "rot90")
    d0, d1 = (d % x.ndim for d in dims)
    if d0 == d1:
        raise ValueError(f"rot90: expected two different dims, got {dims!r}")
    k %= 4
    if k == 1:
        return transpose(flip(x, d1), d0, d1)
    if k == 2:
        return flip(x, d0, d1)
    if k == 3:
        return flip(transpose(x, d0, d1), d1)
    return x.clone()  # a new tensor, as every other turn gives


def isin(elements: Any, test_elements: Any, *, invert: bool = False) -> Tensor:
    """Whether each of ``elements`` is among ``test_elements`` (a bool tensor, no gradient)."""
    e = elements.data if isinstance(elements, Tensor) else np.asarray(elements)
    t = test_elements.data if isinstance(test_elements, Tensor) else np.asarray(test_elements)
    return Tensor._from_op(np.isin(e, t, invert=invert), None)
