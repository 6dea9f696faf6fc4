"""``chainrule.linalg``: PyTorch's ``torch.linalg`` functions, with gradients.

The matrix functions with derivatives of their own (``inv``, ``det``, ``slogdet``,
``solve``, ``cholesky``, ``eigvalsh``, ``svdvals``, and the decompositions ``eigh``,
``svd``, ``qr``) are in ``chainrule.autograd.ops.matrices``; the norms and products here
are compositions of ops, whose gradients the ops give. Every function takes a matrix or a
stack of them, as PyTorch's do.

>>> import chainrule as cr
>>> a = cr.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=cr.float64, requires_grad=True)
>>> cr.linalg.det(a).backward()
>>> a.grad  # the cofactors: d/da of 4 * 3 - 1 * 1
tensor([[ 3.0000, -1.0000],
        [-1.0000,  4.0000]], dtype=float64)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from chainrule.autograd import ops
from chainrule.autograd.ops._operands import as_floating_tensor, check_axis, torch_dim
from chainrule.autograd.ops.matrices import (
    cholesky,
    det,
    eigh,
    eigvalsh,
    inv,
    qr,
    slogdet,
    solve,
    svd,
    svdvals,
)
from chainrule.autograd.ops.shape import diagonal as _diagonal
from chainrule.backend import np
from chainrule.tensor import Tensor

__all__ = [
    "cholesky",
    "cross",
    "det",
    "diagonal",
    "eigh",
    "eigvalsh",
    "inv",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "norm",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "vecdot",
    "vector_norm",
]

matmul = ops.matmul


def diagonal(a: Any, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """The diagonal of each matrix, over the last two axes by default (``torch.linalg``'s
    defaults, where ``torch.diagonal`` takes the first two)."""
    return _diagonal(a, offset, dim1, dim2)


def vector_norm(
    x: Any, ord: float = 2, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """The vector ``ord``-norm of the elements over ``dim`` (all of them when None or ()):
    (sum |x|^ord)^(1/ord) for any ord but 0 (the number of nonzero elements), inf (the
    largest |x|) and -inf (the smallest)."""
    x = as_floating_tensor(x)
    if dtype is not None:
        x = x.to(dtype)
    if isinstance(ord, str) or ord is None or (isinstance(ord, float) and math.isnan(ord)):
        raise ValueError(f"vector_norm: expected a number or +-inf as ord, got {ord!r}")
    dim = torch_dim(dim)
    axes = tuple(dim) if isinstance(dim, list | tuple) else dim
    if axes is not None:
        check_axis(axes, x.ndim, "vector_norm")
    if ord == -math.inf:
        return x.abs().amin(dim=axes, keepdim=keepdim)
    # Negative ords and 0 too: one node, whose gradient is 0 where x or the norm is 0 (none
    # at all for ord 0), as PyTorch's; composed, |x|**ord at x = 0 would make it NaN.
    return ops.norm(x, ord, axes, keepdim)


def matrix_norm(
    a: Any, ord: Any = "fro", dim: tuple[int, int] = (-2, -1), keepdim: bool = False
) -> Tensor:
    """The matrix norm of each matrix over the two axes ``dim``: ``'fro'`` (Frobenius),
    ``'nuc'`` (sum of singular values), 2 / -2 (largest / smallest singular value), 1 / -1
    (largest / smallest column sum of |a|), inf / -inf (largest / smallest row sum).

    A matrix with no rows or no columns has norm 0, as in PyTorch, except where the smallest
    of no values is asked for (ord -2, and -1 / -inf with no columns / rows), which is
    refused, as PyTorch refuses it."""
    a = as_floating_tensor(a)
    if a.ndim < 2:
        raise ValueError(f"matrix_norm: expected a matrix or a stack of them, got {a.shape}")
    if not (isinstance(dim, tuple | list) and len(dim) == 2):
        raise ValueError(f"matrix_norm: expected dim as two axes, got {dim!r}")
    check_axis(tuple(dim), a.ndim, "matrix_norm")
    rows, cols = (d % a.ndim for d in dim)
    if rows == cols:
        raise ValueError(f"matrix_norm: expected two different axes, got {dim!r}")
    if ord == "fro":
        result = ops.norm(a, 2, (rows, cols), False)
    else:
        m = ops.movedim(a, (rows, cols), (-2, -1))
        if ord == "nuc":
            result = svdvals(m).sum(-1)
        elif ord in (2, -2):
            result = _extreme(svdvals(m), ord, m.shape, "singular value", "row and column")
        elif ord in (1, -1, math.inf, -math.inf):
            sums = m.abs().sum(-2 if ord in (1, -1) else -1)
            what = "column" if ord in (1, -1) else "row"
            result = _extreme(sums, ord, m.shape, f"{what} sum", what)
        else:
            raise ValueError(
                f"matrix_norm: expected ord 'fro', 'nuc', 2, -2, 1, -1, inf or -inf, got {ord!r}"
            )
    if keepdim:
        for axis in sorted((rows, cols)):
            result = result.unsqueeze(axis)
    return result


def _extreme(values: Tensor, ord: Any, shape: tuple[int, ...], taken: str, need: str) -> Tensor:
    """The largest (``ord`` > 0) or the smallest of ``values`` along the last axis, for the
    matrices of ``shape``. With no values (a matrix with no rows or columns), the largest is
    0, as PyTorch's norm of an empty matrix is; the smallest is refused, as PyTorch refuses
    it."""
    if values.shape[-1]:
        return values.amax(-1) if ord > 0 else values.amin(-1)
    if ord > 0:
        return values.sum(-1)  # zeros of the reduced shape
    raise ValueError(
        f"matrix_norm: ord={ord} takes the smallest {taken}; expected matrices with at least "
        f"one {need}, got shape {shape}"
    )


def norm(
    a: Any, ord: Any = None, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """A vector or a matrix norm, as ``torch.linalg.norm`` picks: over an int ``dim`` a
    vector norm, over two axes a matrix norm; without ``dim``, the 2-norm of all elements
    when ``ord`` is None, else the vector norm of a 1-D or the matrix norm of a 2-D input."""
    a = as_floating_tensor(a)
    if dtype is not None:
        a = a.to(dtype)
    if isinstance(dim, int):
        return vector_norm(a, 2 if ord is None else ord, dim, keepdim)
    if dim is not None:
        if len(dim) == 1:
            return vector_norm(a, 2 if ord is None else ord, tuple(dim), keepdim)
        return matrix_norm(a, "fro" if ord is None else ord, tuple(dim), keepdim)
    if ord is None:
        result = vector_norm(a, 2)
        return result.reshape((1,) * a.ndim) if keepdim else result
    if a.ndim == 1:
        return vector_norm(a, ord, None, keepdim)
    if a.ndim == 2:
        return matrix_norm(a, ord, (-2, -1), keepdim)
    raise ValueError(
        f"norm: with ord and without dim, expected a 1-D or 2-D input, got shape {a.shape}"
    )


def matrix_power(a: Any, n: int) -> Tensor:
    """``a`` multiplied by itself ``n`` times (the identity for 0, powers of the inverse for
    a negative ``n``), by repeated squaring."""
    a = as_floating_tensor(a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"matrix_power: expected square matrices (..., n, n), got {a.shape}")
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"matrix_power: expected an integer power, got {n!r}")
    if n == 0:  # the identity, in the graph with a zero gradient, as PyTorch's
        eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape).copy()
        return a * 0 + Tensor._from_op(eye, None)
    base = inv(a) if n < 0 else a
    result = None
    n = abs(int(n))
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    assert result is not None
    return result


def multi_dot(tensors: Sequence[Any]) -> Tensor:
    """The product of a chain of matrices; the first may be a vector (a row), the last a
    vector (a column), as in PyTorch."""
    if len(tensors) < 2:
        raise ValueError(f"multi_dot: expected at least 2 tensors, got {len(tensors)}")
    chain = [as_floating_tensor(t) for t in tensors]
    for i, t in enumerate(chain):
        ends = i in (0, len(chain) - 1)
        if t.ndim != 2 and not (ends and t.ndim == 1):
            raise ValueError(
                f"multi_dot: expected 2-D matrices (1-D only first or last), got shape "
                f"{t.shape} at position {i}"
            )
    result = chain[0]
    for t in chain[1:]:
        result = result @ t
    return result


def cross(a: Any, b: Any, dim: int = -1) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (batch axes broadcast)."""
    a, b = as_floating_tensor(a), as_floating_tensor(b)
    shape = np.broadcast_shapes(a.shape, b.shape)
    check_axis(dim, len(shape), "cross")
    if shape[dim] != 3:
        raise ValueError(f"cross: expected size 3 along dim {dim}, got shapes {a.shape}, {b.shape}")
    a, b = a.expand(*shape), b.expand(*shape)
    x, y, z = (a.select(dim, i) for i in range(3))
    u, v, w = (b.select(dim, i) for i in range(3))
    return ops.stack([y * w - z * v, z * u - x * w, x * v - y * u], dim=dim % len(shape))


def vecdot(x: Any, y: Any, *, dim: int = -1) -> Tensor:
    """The dot product of vectors along ``dim`` (batch axes broadcast)."""
    return (as_floating_tensor(x) * as_floating_tensor(y)).sum(dim)


def matrix_rank(
    a: Any, *, atol: float | None = None, rtol: float | None = None, hermitian: bool = False
) -> Tensor:
    """The number of singular values above max(atol, rtol * the largest), as an int64
    tensor; rtol defaults to the dtype's epsilon times max(m, n) when neither is given."""
    a = as_floating_tensor(a)
    if a.ndim < 2:
        raise ValueError(f"matrix_rank: expected a matrix or a stack of them, got {a.shape}")
    values = (
        np.abs(np.linalg.eigvalsh(a.data)) if hermitian else np.linalg.svd(a.data, False, False)
    )
    largest = values.max(axis=-1, initial=0.0)
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else np.finfo(a.dtype).eps * max(a.shape[-2:])
    tolerance = np.maximum(atol or 0.0, rtol * largest)
    return Tensor._from_op((values > tolerance[..., None]).sum(axis=-1).astype(np.int64), None)
