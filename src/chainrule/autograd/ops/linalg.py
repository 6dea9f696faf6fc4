"""Linear algebra: matmul (1-D, 2-D and batched, with broadcasting) and the fused linear."""

from __future__ import annotations

import math
from typing import Any

from chainrule import _blas
from chainrule.autograd.function import Context, Function, register, summed, unbroadcast
from chainrule.autograd.ops._operands import as_tensor, binary_operands, write_out
from chainrule.backend import Array, is_sparse, np
from chainrule.tensor import Tensor


@register("matmul")
class MatMul(Function):
    """y = a @ b;  dL/da = g @ b^T, dL/db = a^T @ g (batch axes summed where broadcast).

    A 1-D ``a`` acts as a row (1, n) and a 1-D ``b`` as a column (n, 1); the added axis is
    removed from the result and from the gradients, as in NumPy and PyTorch.
    """

    @staticmethod
    def forward(ctx: Context, a: Array, b: Array) -> Array:
        ctx.save_for_backward(a, b)
        return _blas.matmul(a, b)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        a, b = ctx.saved
        da, db = ctx.needs_input_grad
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        # Column axis first: for 1-D @ 1-D the gradient is 0-d and must become (1, 1).
        if b.ndim == 1:
            grad = np.expand_dims(grad, -1)
        if a.ndim == 1:
            grad = np.expand_dims(grad, -2)
        grad_a = grad_b = None
        if da:
            grad_a = unbroadcast(_blas.matmul(grad, np.swapaxes(b2, -1, -2)), a2.shape)
            grad_a = grad_a.reshape(a.shape)
        if db:
            grad_b = unbroadcast(_blas.matmul(np.swapaxes(a2, -1, -2), grad), b2.shape)
            grad_b = grad_b.reshape(b.shape)
        return grad_a, grad_b


@register("linear")
class Linear(Function):
    """y = x @ w^T + b, x of shape (..., in), w (out, in), b (out,);
    dL/dx = g @ w, dL/dw = g^T @ x (batch axes flattened), dL/db = sum of g over batch axes.

    One op instead of matmul, transpose and add: one graph node, no transposed copy, and the
    bias added in place.
    """

    @staticmethod
    def forward(ctx: Context, x: Array, w: Array, b: Array | None) -> Array:
        ctx.save_for_backward(x, w)
        y = _blas.matmul(x, w.T)  # on the transposed view: BLAS reads w as it is, no copy
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None, Array | None]:
        x, w = ctx.saved
        needs = ctx.needs_input_grad
        flat_grad = _rows(grad)
        grad_x = _blas.matmul(grad, w) if needs[0] else None
        grad_w = None
        if needs[1]:
            flat_x = _rows(x)
            grad_w = _blas.matmul(flat_grad.T, flat_x)
        grad_b = summed(flat_grad, 0) if len(needs) > 2 and needs[2] else None
        return grad_x, grad_w, grad_b


def _rows(a: Array) -> Array:
    """``a`` as a matrix: its leading axes flattened into one. Their size is spelled out, as
    -1 cannot be inferred when the last axis is 0 (a Linear with no outputs or no inputs)."""
    return a if a.ndim == 2 else a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


class SparseLinear(Function):
    """y = x @ w^T + b for a SciPy sparse x (data: it takes no gradient), w of shape
    (out, in), b (out,);  dL/dw = (x^T @ g)^T, dL/db = sum of g over rows.

    scikit-learn's ``safe_sparse_dot``: the products read only the stored entries of x, which
    is never made dense; what is dense is the output and w's gradient, as for a dense x.
    Not in the registry, whose case table draws every input dense: ``linear`` calls it for a
    sparse x, and ``tests/nn/test_linear_sparse_input_round16.py`` checks its values and
    gradients against the dense ``linear`` and PyTorch's ``Linear`` on a sparse tensor.
    """

    name = "sparse_linear"
    on_arrays = True

    @staticmethod
    def forward(ctx: Context, w: Array, b: Array | None, *, x: Any) -> Array:
        ctx.save_for_backward(x)
        y = np.asarray(x @ w.T)  # SciPy's sparse-times-dense product
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        (x,) = ctx.saved
        needs = ctx.needs_input_grad
        grad_w = np.ascontiguousarray((x.T @ grad).T) if needs[0] else None
        grad_b = np.add.reduce(grad, axis=0) if needs[1] else None
        return grad_w, grad_b


def _sparse_linear(x: Any, weight: Any, bias: Any) -> Tensor:
    weight = as_tensor(weight)
    if weight.ndim != 2:
        raise ValueError(f"linear: expected a 2-D weight (out, in), got shape {weight.shape}")
    if x.ndim != 2 or x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"linear: expected a sparse input of shape (n, {weight.shape[1]}), got shape {x.shape}"
        )
    if x.dtype != weight.dtype:
        raise TypeError(
            f"linear: expected operands of the same dtype, got {x.dtype} (sparse input) and "
            f"{weight.dtype}; convert the input with .astype"
        )
    if bias is not None:
        bias = as_tensor(bias)
        _same_dtype("linear", bias, weight)
        if bias.shape != (weight.shape[0],):
            raise ValueError(
                f"linear: expected bias of shape ({weight.shape[0]},), got {bias.shape}"
            )
    return SparseLinear.apply(weight, bias, x=x)


def _same_dtype(where: str, a: Tensor, b: Tensor) -> None:
    """Matrix products take operands of one dtype, as in PyTorch: a float64 input would
    otherwise turn a float32 layer's output, and its cost, into float64 without a word."""
    if a.dtype != b.dtype:
        raise TypeError(
            f"{where}: expected operands of the same dtype, got {a.dtype} and {b.dtype}; "
            f"convert one with .to(dtype)"
        )


def matmul(a: Any, b: Any, *, out: Tensor | None = None) -> Tensor:
    """Matrix product with NumPy's rules: 1-D vectors, 2-D matrices, batched N-D stacks;
    written into ``out`` (and returned) if given, which must then have the product's shape
    and dtype, as in PyTorch."""
    if out is not None:
        return write_out("matmul", matmul(a, b), out, same_dtype=True)
    a, b = binary_operands(a, b)
    a, b = as_tensor(a), as_tensor(b)
    _same_dtype("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: expected tensors with at least 1 dimension, got shapes {a.shape} and "
            f"{b.shape}; use * for scalars"
        )
    inner_a = a.shape[-1]
    inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if inner_a != inner_b:
        raise ValueError(
            f"matmul: inner dimensions must match, got shapes {a.shape} and {b.shape} "
            f"({inner_a} != {inner_b})"
        )
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(
            f"matmul: batch dimensions could not be broadcast together, got shapes {a.shape} "
            f"and {b.shape}"
        ) from None
    return MatMul.apply(a, b)


def linear(input: Any, weight: Any, bias: Any = None) -> Tensor:
    """``input @ weight.T + bias`` in one op; weight of shape (out, in), bias (out,) or None.

    ``input`` may be a 2-D SciPy sparse matrix or array (of the weight's dtype): the product
    then reads its stored entries only, and it is never made dense (``SparseLinear``).
    """
    if isinstance(input, Tensor) and isinstance(weight, Tensor):
        # The checks below in a few comparisons, for what every layer passes on every step.
        xd, wd = input.data, weight.data
        if wd.ndim == 2 and xd.ndim and xd.shape[-1] == wd.shape[1] and xd.dtype == wd.dtype:
            if bias is None:
                return Linear.apply(input, weight, None)
            if (
                isinstance(bias, Tensor)
                and bias.data.dtype == wd.dtype
                and bias.data.shape == (wd.shape[0],)
            ):
                return Linear.apply(input, weight, bias)
    if is_sparse(input):
        return _sparse_linear(input, weight, bias)
    x, weight = as_tensor(input), as_tensor(weight)
    if weight.ndim != 2:
        raise ValueError(f"linear: expected a 2-D weight (out, in), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: expected input with last axis {weight.shape[1]}, got shape {x.shape}"
        )
    _same_dtype("linear", x, weight)
    if bias is None:
        return Linear.apply(x, weight, None)
    bias = as_tensor(bias)
    _same_dtype("linear", bias, weight)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: expected bias of shape ({weight.shape[0]},), got {bias.shape}")
    return Linear.apply(x, weight, bias)
