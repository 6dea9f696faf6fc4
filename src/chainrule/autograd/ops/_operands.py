"""Turning the operands of an op into tensors, the same way for every op."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from chainrule.backend import default_float, is_floating, np
from chainrule.tensor import Tensor, _to_array

F = TypeVar("F", bound=Callable[..., Any])


def as_tensor(x: Any) -> Tensor:
    """``x`` itself if it is a tensor, else a new constant tensor holding it."""
    return x if isinstance(x, Tensor) else Tensor._from_op(_to_array(x), None)


def in_place(where: str, x: Any, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """``x`` changed to ``compute(x)`` and returned: what PyTorch's ``inplace=True`` does.

    Recorded under grad mode like ``Tensor.relu_`` (refused for a leaf that requires grad),
    written into ``x``'s array otherwise. Input that is not a Tensor (a NumPy array, which
    layers take as well) is converted into a new tensor, as every op converts it, and never
    changed."""
    if not isinstance(x, Tensor):
        return compute(as_tensor(x))
    return x._inplace(f"{where}(inplace=True)", compute)


def as_floating_tensor(x: Any) -> Tensor:
    """``x`` as a tensor, with integers and bools as float32: PyTorch's exp, log, sigmoid,
    tanh, logsumexp... of an integer tensor are float32 (NumPy's would be float64, or
    float16 for bool and uint8)."""
    x = as_tensor(x)
    if x.data.dtype.kind in "biu":
        # Integer tensors never require grad: a constant is all there is to convert.
        return Tensor._from_op(x.data.astype(default_float()), None)
    return x


class DtypeNotSupportedError(TypeError, NotImplementedError):
    """An op that takes floating-point tensors only was given integers or bools.

    Both a TypeError and the NotImplementedError (a RuntimeError) that PyTorch raises there,
    so that either ``except`` catches it.
    """


def floating_only(x: Any, where: str) -> Tensor:
    """``x`` as a tensor, refused unless floating-point, as PyTorch refuses integer input to
    softmax, gelu, elu, softplus... (NumPy would give truncated integers, or NaN for uint8)."""
    x = as_tensor(x)
    if x.data.dtype.kind != "f":
        raise DtypeNotSupportedError(
            f"{where}: expected a floating-point tensor, got dtype {x.dtype}; convert first, "
            "e.g. t.float()"
        )
    return x


def binary_operands(a: Any, b: Any, *, wrap: bool = False) -> tuple[Any, Any]:
    """Operands of a binary op, with PyTorch's dtype rules rather than NumPy's.

    Tensors and Python numbers stay (NumPy keeps the tensor's dtype for a Python number).
    NumPy scalars count as the Python numbers they hold. Arrays and lists become constant
    tensors that take the dtype of a floating tensor beside them, so that mixing in a
    float64 array never silently widens a float32 tensor. An integer or bool operand beside
    a floating tensor takes its dtype, and beside a Python float becomes float32 (NumPy
    would give float64 in both cases). A 0-d tensor beside a tensor with dimensions of the
    same kind (both floating or both integer) takes that tensor's dtype, as a number would:
    float32 [n] with float64 [] is float32, as in PyTorch.

    With ``wrap`` (addition, subtraction, multiplication: results of the integer dtype), a
    Python int beside an integer tensor wraps around into that dtype's range, as PyTorch's
    integer arithmetic does (uint8 + 300 adds 44); NumPy would refuse it.
    """
    # The common cases first, which the rules leave as they are: two floating tensors, and
    # a floating tensor with a Python int or float on either side.
    if isinstance(a, Tensor):
        if a.data.dtype.kind == "f":
            if isinstance(b, Tensor):
                if b.data.dtype.kind == "f" and (
                    a.data.dtype is b.data.dtype or (a.data.ndim == 0) is (b.data.ndim == 0)
                ):
                    return a, b
            elif type(b) is float or type(b) is int:
                return a, b
    elif (
        (type(a) is float or type(a) is int) and isinstance(b, Tensor) and b.data.dtype.kind == "f"
    ):
        return a, b
    return _operand(a, b, wrap), _operand(b, a, wrap)


def _is_python_number(x: Any) -> bool:
    # np.float64 subclasses float, but NumPy lets it widen a float32 array, unlike a Python
    # float: it must go the way of arrays.
    return isinstance(x, int | float | bool) and not isinstance(x, np.generic)


def _operand(x: Any, other: Any, wrap: bool) -> Any:
    # A NumPy scalar beside a tensor counts as the Python number it holds, as in PyTorch: an
    # integer tensor times np.float64(0.5) is float32, and int32 plus np.int64(1) stays int32.
    if isinstance(x, np.generic) and isinstance(other, Tensor):
        return x.item()
    if isinstance(other, np.generic) and isinstance(x, Tensor):
        other = other.item()
    if _is_python_number(x):
        if wrap and type(x) is int and isinstance(other, Tensor) and other.dtype.kind in "iu":
            return _wrapped(x, other.dtype)
        return x
    given = isinstance(x, Tensor)
    t = x if given else Tensor._from_op(_to_array(x), None)
    kind = t.dtype.kind
    target = None
    if given and isinstance(other, Tensor) and t.ndim == 0 and other.ndim > 0:
        other_kind = other.dtype.kind
        if (kind == "f" and other_kind == "f") or (kind in "iu" and other_kind in "iu"):
            # It may require grad, unlike the constants below: a differentiable cast.
            return t.to(other.dtype)
    if isinstance(other, Tensor) and is_floating(other.dtype):
        if kind in "biu" or (kind == "f" and not given):
            target = other.dtype
    elif isinstance(other, float) and _is_python_number(other) and kind in "biu":
        target = default_float()
    if target is not None and t.dtype != target:
        # Only constants get here: integer tensors cannot require a gradient.
        return Tensor._from_op(t.data.astype(target), None)
    return t


def _wrapped(n: int, dtype: np.dtype[Any]) -> int:
    """``n`` as an integer of ``dtype`` holds it, wrapping around beyond its range as
    PyTorch's integer arithmetic does (uint8 300 is 44); NumPy refuses such a Python int."""
    bits = dtype.itemsize * 8
    low = -(1 << (bits - 1)) if dtype.kind == "i" else 0
    if low <= n < low + (1 << bits):
        return n
    return (n - low) % (1 << bits) + low


def true_division_operands(a: Any, b: Any) -> tuple[Any, Any]:
    """``binary_operands``, and float32 for two integer operands: true division of integers
    gives floats, float32 as in PyTorch rather than NumPy's float64."""
    a, b = binary_operands(a, b)
    if not (_floating(a) or _floating(b)):
        dtype = default_float()
        a, b = (Tensor._from_op(np.asarray(as_tensor(v).data, dtype), None) for v in (a, b))
    return a, b


def _floating(x: Any) -> bool:
    return is_floating(x.dtype) if isinstance(x, Tensor) else isinstance(x, float)


def normalize_axis(axis: Any, dim: Any, where: str) -> Any:
    """The axis argument given either NumPy's way (``axis``) or PyTorch's (``dim``)."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{where}: pass axis or dim, not both")
        return dim
    return axis


def torch_dim(dim: Any) -> Any:
    """PyTorch's ``dim`` as an axis argument: ``dim=()`` (or ``[]``) reduces every axis, as
    None does, where NumPy's ``axis=()`` reduces none."""
    return None if isinstance(dim, tuple | list) and not dim else dim


def check_axis(axis: Any, ndim: int, where: str) -> None:
    """Raise a clear error for an axis (or tuple of axes) outside ``-ndim..ndim-1``."""
    axes = axis if isinstance(axis, tuple | list) else (axis,)
    for a in axes:
        if a is None:
            continue
        if (
            isinstance(a, bool | np.bool_)  # True is 1 to Python, never an axis to PyTorch
            or not isinstance(a, int | np.integer)
            or not -max(ndim, 1) <= a < max(ndim, 1)
        ):
            raise ValueError(
                f"{where}: axis must be an integer in [{-max(ndim, 1)}, {max(ndim, 1) - 1}] "
                f"for a tensor with {ndim} dimensions, got {a!r}"
            )


def _quiet_switch() -> tuple[Any, Any]:
    """Two functions, ``quiet()`` and ``restore(token)``, that turn NumPy's floating-point
    warnings off and back on around one op.

    PyTorch computes log(0) = -inf, 1 / 0 = inf and exp(1e4) = inf silently; NumPy warns
    (RuntimeWarning), which a test run with warnings as errors turns into a failure. The
    public ``np.errstate`` costs about 2.5 us a use, more than the op itself on a small
    tensor, so NumPy's own context variable is set directly where it exists (about 0.1 us).
    """
    try:
        from numpy._core import umath

        var: Any = umath._extobj_contextvar
        state: Any = umath._make_extobj(all="ignore")
    except Exception:  # pragma: no cover - another NumPy version: its public switch

        def quiet_slow() -> Any:
            manager = np.errstate(all="ignore")
            manager.__enter__()
            return manager

        def restore_slow(token: Any) -> None:
            token.__exit__(None, None, None)

        return quiet_slow, restore_slow

    def quiet() -> Any:
        return var.set(state)

    return quiet, var.reset


quiet, restore = _quiet_switch()


def quietly(fn: F) -> F:
    """``fn`` (an op's forward or backward) with NumPy's floating-point warnings off: inf
    and NaN come out silently, as from PyTorch (see ``_quiet_switch``)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        token = quiet()
        try:
            return fn(*args, **kwargs)
        finally:
            restore(token)

    return cast(F, run)


def write_out(where: str, result: Tensor, out: Any, *, same_dtype: bool = False) -> Tensor:
    """``result`` copied into ``out``, for PyTorch's ``out=`` argument; returns ``out``.

    As in PyTorch, such a write is not differentiable: it is refused when an input requires
    grad under grad mode (then ``result`` has a graph node) or ``out`` does. Elementwise ops
    write into an ``out`` of a wider dtype of the same kind; with ``same_dtype`` (matrix
    products, as PyTorch's), ``out`` must have the result's dtype.

    Raises
    ------
    TypeError
        If ``out`` is not a tensor, or cannot hold the result's dtype (float into int).
    ValueError
        If ``out`` does not have the result's shape.
    RuntimeError
        If the result would need a gradient, or ``same_dtype`` and the dtypes differ.
    """
    from chainrule.autograd.grad_mode import _state

    if not isinstance(out, Tensor):
        raise TypeError(f"{where}: expected out to be a Tensor, got {type(out).__name__}")
    if result._ctx is not None or (out._requires_grad and _state.enabled):
        raise RuntimeError(
            f"{where}: a result written with out= is not differentiable, but a tensor involved "
            f"requires grad; compute it without out= (y = {where}(a, b)), or under no_grad()"
        )
    if out.data.shape != result.data.shape:
        raise ValueError(
            f"{where}: expected out of the result's shape {result.data.shape}, "
            f"got shape {out.data.shape}"
        )
    if same_dtype and out.data.dtype != result.data.dtype:
        raise RuntimeError(
            f"{where}: expected out of the result's dtype {result.data.dtype}, got {out.data.dtype}"
        )
    try:
        np.copyto(out.data, result.data, casting="same_kind")
    except TypeError:
        raise TypeError(
            f"{where}: a result of dtype {result.data.dtype} cannot be written to out of "
            f"dtype {out.data.dtype}"
        ) from None
    return out
