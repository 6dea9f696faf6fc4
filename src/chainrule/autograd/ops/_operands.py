"""Turning the operands of an op into tensors, the same way for every op."""

from __future__ import annotations

from typing import Any

from chainrule.backend import is_floating, np
from chainrule.tensor import Tensor, _to_array


def as_tensor(x: Any) -> Tensor:
    """``x`` itself if it is a tensor, else a new constant tensor holding it."""
    return x if isinstance(x, Tensor) else Tensor._from_op(_to_array(x), None)


def binary_operands(a: Any, b: Any) -> tuple[Any, Any]:
    """Operands of a binary op: tensors stay, Python scalars stay (NumPy keeps the tensor's
    dtype for them), and arrays or lists take the dtype of the floating tensor beside them,
    so that mixing in a float64 array never silently widens a float32 tensor."""
    return _operand(a, b), _operand(b, a)


def _operand(x: Any, other: Any) -> Any:
    if isinstance(x, Tensor | int | float | bool):
        return x
    array = _to_array(x)
    if isinstance(other, Tensor) and is_floating(other.dtype) and array.dtype.kind in "biuf":
        array = array.astype(other.dtype, copy=False)
    return Tensor._from_op(array, None)


def normalize_axis(axis: Any, dim: Any, where: str) -> Any:
    """The axis argument given either NumPy's way (``axis``) or PyTorch's (``dim``)."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{where}: pass axis or dim, not both")
        return dim
    return axis


def check_axis(axis: Any, ndim: int, where: str) -> None:
    """Raise a clear error for an axis (or tuple of axes) outside ``-ndim..ndim-1``."""
    axes = axis if isinstance(axis, tuple | list) else (axis,)
    for a in axes:
        if a is None:
            continue
        if not isinstance(a, int | np.integer) or not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(
                f"{where}: axis must be an integer in [{-max(ndim, 1)}, {max(ndim, 1) - 1}] "
                f"for a tensor with {ndim} dimensions, got {a!r}"
            )
