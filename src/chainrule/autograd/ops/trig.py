"""Trigonometric and hyperbolic functions beyond sin and cos (tan, the inverses, sinh, cosh
and theirs), ``atan2``, ``fmod`` and ``hypot``; and functions PyTorch has that are
compositions of ops (``logaddexp``, ``logit``, ``xlogy``, ``sinc``, ``deg2rad``...), whose
gradients the composed ops give."""

from __future__ import annotations

import math
from typing import Any

from chainrule.autograd.function import Context, Function, register, unbroadcast
from chainrule.autograd.ops._operands import (
    as_floating_tensor,
    as_tensor,
    binary_operands,
    quietly,
)
from chainrule.autograd.ops.arithmetic import _broadcast_error
from chainrule.autograd.ops.elementwise import abs as _abs
from chainrule.autograd.ops.elementwise import cast, clip, exp, log, log1p, maximum, sin
from chainrule.autograd.ops.elementwise import where as _where
from chainrule.backend import Array, np
from chainrule.tensor import Tensor


class _Unary(Function):
    """y = value(x) elementwise, dy/dx = slope(x, y): what the functions below have in
    common. Subclasses give both as NumPy expressions."""

    value: Any  # the NumPy function, as a staticmethod

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        raise NotImplementedError

    @classmethod
    @quietly
    def forward(cls, ctx: Context, x: Array) -> Array:
        y = cls.value(x)
        ctx.save_for_backward(x, y)
        return y

    @classmethod
    @quietly
    def backward(cls, ctx: Context, grad: Array) -> tuple[Array]:
        x, y = ctx.saved
        return (grad * cls.slope(x, y),)


@register("tan")
class Tan(_Unary):
    """y = tan(x);  dy/dx = 1 + y**2."""

    value = staticmethod(np.tan)

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return 1 + y * y


@register("asin")
class Asin(_Unary):
    """y = asin(x);  dy/dx = 1 / sqrt(1 - x**2)."""

    value = staticmethod(np.arcsin)

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return 1 / np.sqrt(1 - x * x)


@register("acos")
class Acos(_Unary):
    """y = acos(x);  dy/dx = -1 / sqrt(1 - x**2)."""

    value = staticmethod(np.arccos)

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return -1 / np.sqrt(1 - x * x)


@register("atan")
class Atan(_Unary):
    """y = atan(x);  dy/dx = 1 / (1 + x**2)."""

    value = staticmethod(np.arctan)

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return 1 / (1 + x * x)


@register("sinh")
class Sinh(_Unary):
    """y = sinh(x);  dy/dx = cosh(x)."""

    value = staticmethod(np.sinh)

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return np.cosh(x)


@register("cosh")
class Cosh(_Unary):
    """y = cosh(x);  dy/dx = sinh(x)."""

    value = staticmethod(np.cosh)

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return np.sinh(x)


@register("asinh")
class Asinh(_Unary):
    """y = asinh(x);  dy/dx = 1 / sqrt(x**2 + 1)."""

    value = staticmethod(np.arcsinh)

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return 1 / np.sqrt(x * x + 1)


@register("acosh")
class Acosh(_Unary):
    """y = acosh(x);  dy/dx = 1 / sqrt(x**2 - 1)."""

    value = staticmethod(np.arccosh)

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return 1 / np.sqrt(x * x - 1)


@register("atanh")
class Atanh(_Unary):
    """y = atanh(x);  dy/dx = 1 / (1 - x**2)."""

    value = staticmethod(np.arctanh)

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return 1 / (1 - x * x)


class _Binary(Function):
    """y = value(a, b) elementwise, broadcasting: the forward of ``atan2``, ``fmod`` and
    ``hypot``, which keep both operands for their backwards."""

    value: Any  # the NumPy function, as a staticmethod

    @classmethod
    @quietly
    def forward(cls, ctx: Context, a: Array, b: Array) -> Array:
        ctx.a_shape, ctx.b_shape = np.shape(a), np.shape(b)
        try:
            y = cls.value(a, b)
        except ValueError:
            raise _broadcast_error(cls.name, a, b) from None
        ctx.save_for_backward(a, b)
        return y


@register("atan2")
class Atan2(_Binary):
    """y = atan2(a, b), the angle of the point (b, a);  dy/da = b / (a**2 + b**2),
    dy/db = -a / (a**2 + b**2)."""

    value = staticmethod(np.arctan2)

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        a, b = ctx.saved
        da, db = ctx.needs_input_grad
        radius = a * a + b * b
        # At the origin the gradient is taken as 0, as PyTorch takes it (not 0 / 0).
        scale = np.where(radius == 0, 0, grad / np.where(radius == 0, 1, radius))
        return (
            unbroadcast(scale * b, ctx.a_shape) if da else None,
            unbroadcast(-scale * a, ctx.b_shape) if db else None,
        )


@register("fmod")
class Fmod(_Binary):
    """y = a - b * trunc(a / b), the remainder with the sign of ``a`` (C's fmod);
    dy/da = 1, dy/db = -trunc(a / b)."""

    value = staticmethod(np.fmod)

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        a, b = ctx.saved
        da, db = ctx.needs_input_grad
        return (
            unbroadcast(grad, ctx.a_shape) if da else None,
            unbroadcast(-grad * np.trunc(a / b), ctx.b_shape) if db else None,
        )


@register("hypot")
class Hypot(_Binary):
    """y = sqrt(a**2 + b**2), without overflow or underflow in the squares (``np.hypot``);
    dy/da = a / y, dy/db = b / y.

    NOTE: at a = b = 0 the gradient is 0 / 0 = NaN, as PyTorch's.
    """

    value = staticmethod(np.hypot)

    @classmethod
    def forward(cls, ctx: Context, a: Array, b: Array) -> Array:
        y = super().forward(ctx, a, b)
        ctx.save_for_backward(a, b, y)  # the result too, as PyTorch keeps it
        return y

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        a, b, y = ctx.saved
        da, db = ctx.needs_input_grad
        return (  # g * a / y in PyTorch's order, to its bits
            unbroadcast(grad * a / y, ctx.a_shape) if da else None,
            unbroadcast(grad * b / y, ctx.b_shape) if db else None,
        )


# --------------------------------------------------------------------- front doors
def tan(x: Any) -> Tensor:
    """Elementwise tangent."""
    return Tan.apply(as_floating_tensor(x))


def asin(x: Any) -> Tensor:
    """Elementwise inverse sine (``arcsin``), in [-pi/2, pi/2]; NaN outside [-1, 1]."""
    return Asin.apply(as_floating_tensor(x))


def acos(x: Any) -> Tensor:
    """Elementwise inverse cosine (``arccos``), in [0, pi]; NaN outside [-1, 1]."""
    return Acos.apply(as_floating_tensor(x))


def atan(x: Any) -> Tensor:
    """Elementwise inverse tangent (``arctan``), in (-pi/2, pi/2)."""
    return Atan.apply(as_floating_tensor(x))


def sinh(x: Any) -> Tensor:
    """Elementwise hyperbolic sine."""
    return Sinh.apply(as_floating_tensor(x))


def cosh(x: Any) -> Tensor:
    """Elementwise hyperbolic cosine."""
    return Cosh.apply(as_floating_tensor(x))


def asinh(x: Any) -> Tensor:
    """Elementwise inverse hyperbolic sine (``arcsinh``)."""
    return Asinh.apply(as_floating_tensor(x))


def acosh(x: Any) -> Tensor:
    """Elementwise inverse hyperbolic cosine (``arccosh``); NaN below 1."""
    return Acosh.apply(as_floating_tensor(x))


def atanh(x: Any) -> Tensor:
    """Elementwise inverse hyperbolic tangent (``arctanh``); NaN outside [-1, 1]."""
    return Atanh.apply(as_floating_tensor(x))


def _floating_pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    a, b = binary_operands(a, b)
    a, b = as_floating_tensor(a), as_floating_tensor(b)
    if a.dtype != b.dtype:  # two tensors of two float dtypes: the wider, as in PyTorch
        wider = np.promote_types(a.dtype, b.dtype)
        a, b = cast(a, wider), cast(b, wider)
    return a, b


def atan2(input: Any, other: Any) -> Tensor:
    """The angle, in (-pi, pi], of the point (``other``, ``input``): atan(input / other)
    placed in the right quadrant (PyTorch's and NumPy's argument order: y, then x)."""
    return Atan2.apply(*_floating_pair(input, other))


def fmod(input: Any, other: Any) -> Tensor:
    """The remainder of ``input / other`` with the sign of ``input`` (C's ``fmod``; see
    ``remainder`` for the sign of ``other``). Integers stay integers, of the tensor's dtype
    beside a Python int (int8 stays int8), which wraps around into it as in PyTorch; no
    gradient for them."""
    a, b = binary_operands(input, other, wrap=True)
    # A Python number stays one, so that NumPy keeps the tensor's dtype (as remainder).
    a_data = a.data if isinstance(a, Tensor) else a
    b_data = b.data if isinstance(b, Tensor) else b
    if np.result_type(a_data, b_data).kind in "iub":
        if np.any(np.equal(b_data, 0)):
            raise ZeroDivisionError("fmod: integer division by zero")
        return Tensor._from_op(np.fmod(a_data, b_data), None)
    return Fmod.apply(*_floating_pair(a, b))


def hypot(input: Any, other: Any) -> Tensor:
    """sqrt(input**2 + other**2) elementwise, exact where the squares would overflow or
    underflow (``hypot(3e20, 4e20)`` is 5e20 in float32)."""
    return Hypot.apply(*_floating_pair(input, other))


def logaddexp(input: Any, other: Any) -> Tensor:
    """log(exp(input) + exp(other)) elementwise, without overflow."""
    a, b = _floating_pair(input, other)
    with np.errstate(invalid="ignore"):  # inf - inf, replaced below
        gap = a - b
    same = a.data == b.data  # equal infinities too: their gap counts as 0, not NaN
    if np.any(same):
        gap = _where(same, 0.0, gap)
    return maximum(a, b) + log1p(exp(-_abs(gap)))


def logit(input: Any, eps: float | None = None) -> Tensor:
    """log(p / (1 - p)), the inverse of the sigmoid; with ``eps``, p is first clamped to
    [eps, 1 - eps] (so that 0 and 1 give finite values)."""
    p = as_floating_tensor(input)
    if eps is not None:
        p = clip(p, eps, 1 - eps)
    # log p - log(1 - p): its gradient 1/p + 1/(1 - p) is inf at 0 and 1, as PyTorch's;
    # log(p / (1 - p)) gave 0 * inf = NaN there.
    return log(p) - log1p(-p)


def xlogy(input: Any, other: Any) -> Tensor:
    """input * log(other) elementwise, 0 where input is 0 and other is not NaN (as PyTorch's:
    0 * log(0) counts as 0, the convention of entropies)."""
    a, b = _floating_pair(input, other)
    # Where x is 0, a y whose log is not finite (0, negative, inf) gives 0 too: log(1) there.
    # Elsewhere log(y) stays, so that x's gradient is log(y) at x = 0, as PyTorch's is.
    b_data = b.data
    lost = (a.data == 0) & ~(np.isfinite(b_data) & (b_data > 0)) & ~np.isnan(b_data)
    return a * log(_where(lost, 1.0, b) if lost.any() else b)


def sinc(input: Any) -> Tensor:
    """sin(pi x) / (pi x) elementwise, 1 at 0 (the normalized sinc)."""
    x = as_floating_tensor(input)
    zero = x.data == 0
    scaled = _where(zero, 1.0, x) * math.pi  # no 0 / 0 where x is 0
    return _where(zero, 1.0, sin(scaled) / scaled)


def deg2rad(input: Any) -> Tensor:
    """Degrees to radians: x * pi / 180."""
    return as_floating_tensor(input) * (math.pi / 180)


def rad2deg(input: Any) -> Tensor:
    """Radians to degrees: x * 180 / pi."""
    return as_floating_tensor(input) * (180 / math.pi)


def exp2(input: Any) -> Tensor:
    """2 ** x elementwise."""
    return 2.0 ** as_floating_tensor(input)


def square(input: Any) -> Tensor:
    """x * x elementwise (integers stay integers; bools give int64, as in PyTorch)."""
    x = as_tensor(input)
    if x.data.dtype.kind == "b":  # True * True is True: its square is itself, as an int
        return Tensor._from_op(x.data.astype(np.int64), None)
    return x * x


def copysign(input: Any, other: Any) -> Tensor:
    """|input| with the sign of ``other`` (-0.0 counts as negative, as in C)."""
    a, b = _floating_pair(input, other)
    negative = np.signbit(np.broadcast_to(b.data, np.broadcast_shapes(a.shape, b.shape)))
    return _where(negative, -_abs(a), _abs(a))


def float_power(input: Any, exponent: Any) -> Tensor:
    """input ** exponent computed in float64, as PyTorch's ``float_power``."""
    base = cast(as_floating_tensor(input), np.float64)
    if isinstance(exponent, Tensor | np.ndarray | list):
        exponent = cast(as_floating_tensor(exponent), np.float64)
    return base**exponent


def heaviside(input: Any, values: Any) -> Tensor:
    """0 where input < 0, 1 where input > 0, ``values`` where input is 0 (a step; no
    gradient)."""
    x = input.data if isinstance(input, Tensor) else np.asarray(input)
    v = values.data if isinstance(values, Tensor) else np.asarray(values)
    return Tensor._from_op(np.heaviside(x, v).astype(np.result_type(x, v)), None)


arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
arcsinh, arccosh, arctanh = asinh, acosh, atanh
"""NumPy's names, which PyTorch takes too."""
