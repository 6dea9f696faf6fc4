"""Arithmetic ops with NumPy broadcasting: add, sub, mul, div, neg, pow."""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Context, Function, register, unbroadcast
from chainrule.autograd.ops._operands import (
    DtypeNotSupportedError,
    _wrapped,
    as_tensor,
    binary_operands,
    quiet,
    quietly,
    restore,
    true_division_operands,
    write_out,
)
from chainrule.backend import Array, np
from chainrule.tensor import Tensor, _element_of


def _broadcast_error(where: str, a: Any, b: Any) -> ValueError:
    return ValueError(
        f"{where}: operands could not be broadcast together, got shapes {np.shape(a)} and "
        f"{np.shape(b)}"
    )


def _broadcastable(a: Any, b: Any) -> bool:
    try:
        np.broadcast_shapes(np.shape(a), np.shape(b))
    except ValueError:
        return False
    return True


def _save_shapes(ctx: Context, a: Any, b: Any) -> None:
    # .shape where there is one: np.shape is a Python-level function, ~1 us a call.
    ctx.a_shape = a.shape if type(a) is np.ndarray else np.shape(a)
    ctx.b_shape = b.shape if type(b) is np.ndarray else np.shape(b)


@register("add")
class Add(Function):
    """y = a + b;  dy/da = 1, dy/db = 1 (summed over broadcast axes)."""

    @staticmethod
    def forward(ctx: Context, a: Array, b: Array) -> Array:
        _save_shapes(ctx, a, b)
        try:
            return a + b
        except ValueError:
            raise _broadcast_error("add", a, b) from None

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        da, db = ctx.needs_input_grad
        return (
            unbroadcast(grad, ctx.a_shape) if da else None,
            unbroadcast(grad, ctx.b_shape) if db else None,
        )


@register("sub")
class Sub(Function):
    """y = a - b;  dy/da = 1, dy/db = -1."""

    @staticmethod
    def forward(ctx: Context, a: Array, b: Array) -> Array:
        _save_shapes(ctx, a, b)
        try:
            return a - b
        except ValueError:
            raise _broadcast_error("sub", a, b) from None

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        da, db = ctx.needs_input_grad
        return (
            unbroadcast(grad, ctx.a_shape) if da else None,
            unbroadcast(-grad, ctx.b_shape) if db else None,
        )


@register("rsub")
class Rsub(Function):
    """y = other - x, ``other`` a number (``number - tensor``);  dy/dx = -1.

    The number is an option, not an input, so that the node has the tensor as its one
    input, as PyTorch's ``RsubBackward1`` has.
    """

    @staticmethod
    def forward(ctx: Context, x: Array, *, other: Any) -> Array:
        return other - x

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        return (-grad,)


@register("mul")
class Mul(Function):
    """y = a * b;  dy/da = b, dy/db = a."""

    @staticmethod
    def forward(ctx: Context, a: Array, b: Array) -> Array:
        _save_shapes(ctx, a, b)
        ctx.save_for_backward(a, b)
        try:
            return a * b
        except ValueError:
            raise _broadcast_error("mul", a, b) from None

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        a, b = ctx.saved
        da, db = ctx.needs_input_grad
        return (
            unbroadcast(grad * b, ctx.a_shape) if da else None,
            unbroadcast(grad * a, ctx.b_shape) if db else None,
        )


@register("div")
class Div(Function):
    """y = a / b;  dy/da = 1 / b, dy/db = -a / b**2 = -y / b."""

    @staticmethod
    @quietly
    def forward(ctx: Context, a: Array, b: Array) -> Array:
        _save_shapes(ctx, a, b)
        try:
            y = a / b
        except ValueError:
            raise _broadcast_error("div", a, b) from None
        ctx.save_for_backward(b, y)
        return y

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        b, y = ctx.saved
        da, db = ctx.needs_input_grad
        grad_a = grad / b
        return (
            unbroadcast(grad_a, ctx.a_shape) if da else None,
            unbroadcast(-grad_a * y, ctx.b_shape) if db else None,
        )


@register("div_rounded")
class DivRounded(Function):
    """y = a / b rounded toward minus infinity (``mode`` "floor") or toward 0 ("trunc");
    dy/da = 0, dy/db = 0 (a step function, as in PyTorch)."""

    @staticmethod
    @quietly
    def forward(ctx: Context, a: Array, b: Array, mode: str) -> Array:
        _save_shapes(ctx, a, b)
        try:
            # floor_divide as Python's // (exact where a / b rounds to a whole number)
            return np.floor_divide(a, b) if mode == "floor" else np.trunc(a / b)
        except ValueError:
            raise _broadcast_error("div", a, b) from None

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None, None]:
        da, db = ctx.needs_input_grad[:2]
        zero = np.zeros_like(grad)
        return (
            unbroadcast(zero, ctx.a_shape) if da else None,
            unbroadcast(zero, ctx.b_shape) if db else None,
            None,
        )


@register("remainder")
class Remainder(Function):
    """y = a mod b, with the sign of b (a - b * floor(a / b), Python's ``%``);
    dy/da = 1, dy/db = -floor(a / b).

    NOTE: where a / b is a whole number y jumps; the derivative there is the one on the
    side floor(a / b) gives, as in PyTorch.
    """

    @staticmethod
    @quietly
    def forward(ctx: Context, a: Array, b: Array) -> Array:
        _save_shapes(ctx, a, b)
        try:
            y = np.remainder(a, b)
        except ValueError:
            raise _broadcast_error("remainder", a, b) from None
        needs = ctx.needs_input_grad
        if len(needs) > 1 and needs[1]:
            ctx.save_for_backward(np.floor_divide(a, b))
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        da, db = ctx.needs_input_grad
        return (
            unbroadcast(grad, ctx.a_shape) if da else None,
            unbroadcast(-grad * ctx.saved[0], ctx.b_shape) if db else None,
        )


@register("neg")
class Neg(Function):
    """y = -x;  dy/dx = -1."""

    @staticmethod
    def forward(ctx: Context, x: Array) -> Array:
        try:
            return -x
        except TypeError:  # NumPy's bool negative
            raise TypeError(
                f"neg: expected a non-bool tensor, got dtype {x.dtype}; use ~x or "
                "x.logical_not() to invert a mask"
            ) from None

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        return (-grad,)


@register("pow")
class Pow(Function):
    """y = a ** b;  dy/da = b * a**(b - 1), dy/db = y * log(a).

    NOTE: where a == 0 and b >= 0, dy/db is taken as 0 (the limit of y * log(a) for b > 0),
    as PyTorch does, instead of the NaN that 0 * log(0) gives (-inf where b < 0). Where
    b == 0, dy/da is 0 (y = 1 for every a), as in PyTorch, instead of the NaN that
    0 * 0**-1 gives at a == 0.
    """

    @staticmethod
    @quietly
    def forward(ctx: Context, a: Array, b: Array) -> Array:
        _save_shapes(ctx, a, b)
        try:
            if type(b) is np.ndarray and b.dtype.kind == "i" and np.result_type(a, b).kind in "iu":
                y = _integer_power(a, b)
            else:
                y = a**b
        except ValueError as error:
            if not _broadcastable(a, b):
                raise _broadcast_error("pow", a, b) from None
            # e.g. NumPy's "Integers to negative integer powers are not allowed."
            raise ValueError(f"pow: {error}") from None
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        a, b, y = ctx.saved
        da, db = ctx.needs_input_grad
        grad_a = grad_b = None
        if da:
            zero_exponent = (b == 0).any() if isinstance(b, np.ndarray) else b == 0
            if zero_exponent:
                with np.errstate(divide="ignore", invalid="ignore"):
                    local = np.where(b == 0, 0, b * a ** (b - 1))
                grad_a = unbroadcast(grad * local, ctx.a_shape)
            else:
                grad_a = unbroadcast(grad * b * a ** (b - 1), ctx.a_shape)
        if db:
            a_array = np.asarray(a, dtype=y.dtype)
            # 0 ** b with b >= 0 is 0 or 1 for b near it: the limit, 0. With b < 0 it is inf,
            # and inf * log(0) = -inf, as PyTorch gives.
            log_a = np.log(np.where((a_array == 0) & (np.asarray(b) >= 0), 1, a_array))
            grad_b = unbroadcast(grad * y * log_a, ctx.b_shape)
        return grad_a, grad_b


def _integer_power(a: Any, b: Array) -> Array:
    """``a ** b`` of integers, negative exponents included, as PyTorch computes it: the
    integer part of 1 / a**-b, so 1 for a base of 1, +-1 for -1 and 0 for any other
    (NumPy refuses a negative integer exponent)."""
    negative = b < 0
    if not negative.any():
        return np.asarray(a**b)
    y = np.asarray(a ** np.where(negative, 0, b).astype(b.dtype))
    odd = np.remainder(b, 2) == 1
    inverse = np.where(np.equal(a, 1), 1, np.where(np.equal(a, -1), np.where(odd, -1, 1), 0))
    return np.where(negative, inverse, y).astype(y.dtype)


def add(a: Any, b: Any, *, alpha: Any = 1) -> Tensor:
    """Elementwise ``a + alpha * b`` with broadcasting; an ``alpha`` beyond an integer
    result's dtype is refused (ElementOverflowError), as in PyTorch."""
    if alpha != 1:
        b = _scaled("add", a, b, alpha)
    return Add.apply(*binary_operands(a, b, wrap=True))


def sub(a: Any, b: Any, *, alpha: Any = 1) -> Tensor:
    """Elementwise ``a - alpha * b`` with broadcasting; refused for bools, as in PyTorch."""
    # check_not_bool written out: this runs on every subtraction.
    if (a.data.dtype.kind == "b" if isinstance(a, Tensor) else type(a) is bool) or (
        b.data.dtype.kind == "b" if isinstance(b, Tensor) else type(b) is bool
    ):
        check_not_bool("sub", a, b)
    if alpha != 1:
        b = _scaled("sub", a, b, alpha)
    return Sub.apply(*binary_operands(a, b, wrap=True))


def rsub(x: Any, other: Any) -> Tensor:
    """Elementwise ``other - x``, as ``Tensor.__rsub__`` computes it, with broadcasting;
    refused for bools. A number ``other`` gives a node with ``x`` as its one input."""
    if _is_bool(x) or _is_bool(other):
        check_not_bool("sub", other, x)
    a, b = binary_operands(other, x, wrap=True)
    if isinstance(b, Tensor) and not isinstance(a, Tensor):
        return Rsub.apply(b, other=a)
    return Sub.apply(a, b)


def _is_bool(x: Any) -> bool:
    return x.data.dtype.kind == "b" if isinstance(x, Tensor) else type(x) is bool


def check_not_bool(where: str, a: Any, b: Any) -> None:
    """Refuse a subtraction with a bool operand, as PyTorch does (``~x`` inverts a mask)."""
    if _is_bool(a) or _is_bool(b):
        raise TypeError(
            f"{where}: expected non-bool operands, got a bool one (as in PyTorch); use ~x or "
            "x.logical_not() to invert a mask, or convert first, e.g. x.float()"
        )


def _scaled(where: str, a: Any, b: Any, alpha: Any) -> Any:
    """``alpha * b``, with ``alpha`` refused beyond the dtype of an integer result of ``a``
    and ``b``, as PyTorch refuses it (it would wrap around silently)."""
    dtypes = [x.data.dtype for x in (a, b) if isinstance(x, Tensor)]
    if dtypes and not any(isinstance(x, float) for x in (a, b)):
        _element_of(where, alpha, np.result_type(*dtypes))
    return b * alpha if type(b) is int or type(b) is float else mul(b, alpha)


def mul(a: Any, b: Any, *, out: Tensor | None = None) -> Tensor:
    """Elementwise ``a * b`` with broadcasting; written into ``out`` (and returned) if given."""
    result = Mul.apply(*binary_operands(a, b, wrap=True))
    return result if out is None else write_out("mul", result, out)


def div(a: Any, b: Any, *, rounding_mode: str | None = None) -> Tensor:
    """Elementwise ``a / b`` with broadcasting (true division; float32 for integers), or
    rounded toward minus infinity (``rounding_mode="floor"``) or toward 0 (``"trunc"``),
    which keeps integers integers and has a gradient of 0, as in PyTorch."""
    if rounding_mode is None:
        return Div.apply(*true_division_operands(a, b))
    return _rounded_division(a, b, rounding_mode)


def _rounded_division(a: Any, b: Any, mode: Any) -> Tensor:
    if mode not in ("floor", "trunc"):
        raise ValueError(f"div: expected rounding_mode None, 'floor' or 'trunc', got {mode!r}")
    a, b, a_data, b_data, integer = _division_operands("div", a, b)
    if not integer:
        return DivRounded.apply(a, b, mode)
    q = _floor_quotient("div", a_data, b_data)
    if mode == "trunc":  # floor, moved up by one where the exact quotient is negative
        q = q + ((np.remainder(a_data, b_data) != 0) & ((a_data < 0) != (b_data < 0)))
    return Tensor._from_op(q, None)


def _division_operands(where: str, a: Any, b: Any) -> tuple[Any, Any, Any, Any, bool]:
    """``a`` and ``b`` as ``binary_operands`` gives them, their arrays, and whether the
    division is of integers. Two bools are refused, and so is an integer divisor of 0, as
    in PyTorch (NumPy would give 0 with a warning)."""
    if _is_bool(a) and _is_bool(b):
        raise TypeError(f"{where}: expected a non-bool operand beside a bool, got two bools")
    # A Python int beyond an integer tensor's dtype wraps around into it, as in PyTorch
    # (uint8 // -1 divides by 255); NumPy would refuse it.
    a, b = binary_operands(a, b, wrap=True)
    a_data = a.data if isinstance(a, Tensor) else a
    b_data = b.data if isinstance(b, Tensor) else b
    integer = np.result_type(a_data, b_data).kind in "biu"
    # An empty result has nothing divided.
    if integer and np.size(a_data) and np.any(np.equal(b_data, 0)):
        raise RuntimeError(f"{where}: expected a nonzero integer divisor, got 0")
    return a, b, a_data, b_data, integer


def _floor_quotient(where: str, a: Any, b: Any) -> Array:
    """``a // b`` on arrays, rounded toward minus infinity, inf and NaN without warnings."""
    token = quiet()
    try:
        return np.asarray(np.floor_divide(a, b))
    except ValueError:
        raise _broadcast_error(where, a, b) from None
    finally:
        restore(token)


def floor_divide(a: Any, b: Any) -> Tensor:
    """Elementwise ``a // b``, rounded toward minus infinity as Python's ``//`` (PyTorch's
    ``floor_divide``; integers stay integers); no gradient, as PyTorch has none."""
    _, _, a_data, b_data, _ = _division_operands("floor_divide", a, b)
    return Tensor._from_op(_floor_quotient("floor_divide", a_data, b_data), None)


def remainder(a: Any, b: Any) -> Tensor:
    """Elementwise ``a % b``, with the sign of ``b`` as Python's ``%`` (PyTorch's
    ``remainder``), with broadcasting; an integer divisor of 0 is refused."""
    a, b, _, _, _ = _division_operands("remainder", a, b)
    return Remainder.apply(a, b)


def neg(x: Any) -> Tensor:
    """Elementwise ``-x``."""
    return Neg.apply(as_tensor(x))


def pow(a: Any, b: Any) -> Tensor:
    """Elementwise ``a ** b`` with broadcasting; either side may be a tensor.

    Dtypes as in PyTorch: a bool tensor to a Python bool stays bool (``x ** True`` is x,
    ``x ** False`` all True); a bool base takes an integer exponent tensor's dtype, int64
    beside a Python int. A Python int base wraps around into an integer exponent's dtype
    (``300 ** t`` of int8 t is ``44 ** t``). Integers to negative integer exponent tensors
    give the integer part of the result (``2 ** t`` is 0 where t is -1).

    Raises
    ------
    ValueError
        For an integer or bool tensor to a negative Python int (``t ** -1``), as PyTorch
        refuses it.
    ElementOverflowError
        For an integer tensor to a Python int beyond its dtype (int8 ``t ** 300``).
    DtypeNotSupportedError
        For two bool tensors (or a Python bool to a bool tensor), as PyTorch refuses them.
    """
    if _is_bool(a) and _is_bool(b):
        if not isinstance(a, Tensor) or isinstance(b, Tensor):
            raise DtypeNotSupportedError(
                "pow: expected at most one bool tensor, got a bool base and a bool exponent "
                "tensor (as PyTorch refuses them); convert one first, e.g. x.long()"
            )
        return Tensor._from_op(a.data.copy() if b else np.ones_like(a.data), None)
    if type(b) is int and isinstance(a, Tensor) and a.data.dtype.kind in "biu":
        if b < 0:
            raise ValueError(
                f"pow: Integers to negative integer powers are not allowed: expected an "
                f"exponent >= 0 for a tensor of dtype {a.data.dtype}, got {b}; use a float "
                f"base, e.g. x.float() ** {b}"
            )
        b = _element_of("pow", b, a.data.dtype)
    elif type(a) is int and isinstance(b, Tensor) and b.data.dtype.kind in "iu":
        a = _wrapped(a, b.data.dtype)
    a, b = binary_operands(a, b)
    if isinstance(a, Tensor) and a.data.dtype.kind == "b":
        # An integer exponent tensor's dtype, else int64, as in PyTorch (NumPy's would be
        # int8); bools never require grad.
        integer = isinstance(b, Tensor) and b.data.dtype.kind in "iu"
        a = Tensor._from_op(a.data.astype(b.data.dtype if integer else np.int64), None)
    return Pow.apply(a, b)
