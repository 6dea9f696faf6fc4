"""Elementwise math: exp, log, log1p, sqrt, abs, sin, cos, clip, maximum, minimum, where, cast."""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Context, Function, masked, register, unbroadcast
from chainrule.autograd.ops._operands import (
    as_floating_tensor,
    as_tensor,
    binary_operands,
    quietly,
)
from chainrule.autograd.ops.arithmetic import _broadcast_error
from chainrule.backend import Array, is_floating, np
from chainrule.tensor import (
    Tensor,
    _check_memory_format,
    _element_of,
    _read_in_python,
    memory_format,
    preserve_format,
)


@register("exp")
class Exp(Function):
    """y = exp(x);  dy/dx = y."""

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array) -> Array:
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (y,) = ctx.saved
        return (grad * y,)


@register("log")
class Log(Function):
    """y = log(x);  dy/dx = 1 / x."""

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array) -> Array:
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (x,) = ctx.saved
        return (grad / x,)


@register("log1p")
class Log1p(Function):
    """y = log(1 + x);  dy/dx = 1 / (1 + x)."""

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array) -> Array:
        ctx.save_for_backward(x)
        return np.log1p(x)

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (x,) = ctx.saved
        return (grad / (1 + x),)


@register("sqrt")
class Sqrt(Function):
    """y = sqrt(x);  dy/dx = 1 / (2 y)."""

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array) -> Array:
        y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (y,) = ctx.saved
        return (grad / (2 * y),)


@register("abs")
class Abs(Function):
    """y = |x|;  dy/dx = sign(x).

    NOTE: at x = 0 the subgradient 0 is used, and at NaN the derivative is 0, as in PyTorch:
    the gradient is ``grad * sgn(x)``, so an infinite or NaN ``grad`` there gives NaN.
    """

    @staticmethod
    def forward(ctx: Context, x: Array) -> Array:
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    @quietly  # 0 * inf is NaN, as in PyTorch
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (x,) = ctx.saved
        sign = np.sign(x)
        if x.dtype.kind == "f":
            sign = np.where(x == x, sign, 0)  # sign(NaN) = 0, PyTorch's sgn
        return (grad * sign,)


@register("sin")
class Sin(Function):
    """y = sin(x);  dy/dx = cos(x)."""

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array) -> Array:
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (x,) = ctx.saved
        return (grad * np.cos(x),)


@register("cos")
class Cos(Function):
    """y = cos(x);  dy/dx = -sin(x)."""

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array) -> Array:
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        (x,) = ctx.saved
        return (-grad * np.sin(x),)


@register("clip")
class Clip(Function):
    """y = min(max(x, low), high);  dy/dx = 1 where low <= x <= high, else 0.

    NOTE: at the bounds themselves the gradient passes (1), as in PyTorch's clamp.
    """

    @staticmethod
    def forward(ctx: Context, x: Array, low: Any, high: Any) -> Array:
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        ctx.save_for_backward(inside)
        return np.clip(x, low, high)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None, None]:
        (inside,) = ctx.saved
        return masked(grad, inside), None, None


@register("clamp")
class Clamp(Function):
    """y = min(max(x, low), high) with tensor bounds (either may be None), broadcasting;
    dL/dx = g where low <= x <= high, dL/dlow = g where x < low < high,
    dL/dhigh = g where x > high or high < low (with one bound: x < low, x > high).

    NOTE: PyTorch's masks (its ``clamp_backward`` and ``clamp_backward_min_max``): at a
    bound the gradient goes to x; where low = high and x lies outside them, to no one;
    where low > high (y = high), to high; where anything is NaN, to no one.
    """

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array, low: Any, high: Any) -> Array:
        ctx.shapes = (np.shape(x), np.shape(low), np.shape(high))
        y = x
        try:
            if low is not None:
                y = np.maximum(y, low)
            if high is not None:
                y = np.minimum(y, high)
        except ValueError:
            raise ValueError(
                f"clamp: the input and its bounds could not be broadcast together, got shapes "
                f"{np.shape(x)}, {np.shape(low)} and {np.shape(high)}"
            ) from None
        ctx.save_for_backward(x, low, high)
        return y

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, ...]:
        x, low, high = ctx.saved
        if low is None:
            to_x, to_low, to_high = x <= high, None, x > high
        elif high is None:
            to_x, to_low, to_high = x >= low, x < low, None
        else:
            to_x = (x >= low) & (x <= high)
            to_low = (x < low) & (low < high)
            to_high = (x > high) | (high < low)
        grads: list[Array | None] = []
        for mask, shape, needed in zip(
            (to_x, to_low, to_high), ctx.shapes, ctx.needs_input_grad, strict=True
        ):
            # where, not a product: an inf or NaN in g stays off the other inputs
            grads.append(unbroadcast(np.where(mask, grad, 0), shape) if needed else None)
        return tuple(grads)


@register("maximum")
class Maximum(Function):
    """y = max(a, b) elementwise;  the gradient goes to the larger input.

    NOTE: where a == b the gradient is split evenly (half to each), and where either is NaN
    (so is y) it goes whole to both, as in PyTorch.
    """

    @staticmethod
    def forward(ctx: Context, a: Array, b: Array) -> Array:
        ctx.a_shape, ctx.b_shape = np.shape(a), np.shape(b)
        try:
            y = np.maximum(a, b)
        except ValueError:
            raise _broadcast_error("maximum", a, b) from None
        _save_shares(ctx, a, b, y, a_loses=np.less)
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, Array | None]:
        share_a, share_b = ctx.saved
        da, db = ctx.needs_input_grad
        return (
            unbroadcast(masked(grad, share_a != 0) * share_a, ctx.a_shape) if da else None,
            unbroadcast(masked(grad, share_b != 0) * share_b, ctx.b_shape) if db else None,
        )


def _save_shares(ctx: Context, a: Array, b: Array, y: Array, a_loses: Any) -> None:
    """Save each input's share of the gradient of max(a, b) or min(a, b): 1 to the winner,
    0 to the loser (``a_loses(a, b)``, or the reverse), half each on a tie. Where either is
    NaN neither loses nor ties, and both get it whole, as PyTorch's rule reads there."""
    if not ctx.needs_input_grad or y.dtype.kind != "f":
        return  # nothing to differentiate (not recorded, or integers)
    keep = 1 - np.multiply(a == b, y.dtype.type(0.5))
    share_a = keep - a_loses(a, b)
    keep -= a_loses(b, a)
    ctx.save_for_backward(share_a, keep)


@register("minimum")
class Minimum(Function):
    """y = min(a, b) elementwise;  the gradient goes to the smaller input (split on ties,
    whole to both at NaN)."""

    @staticmethod
    def forward(ctx: Context, a: Array, b: Array) -> Array:
        ctx.a_shape, ctx.b_shape = np.shape(a), np.shape(b)
        try:
            y = np.minimum(a, b)
        except ValueError:
            raise _broadcast_error("minimum", a, b) from None
        _save_shares(ctx, a, b, y, a_loses=np.greater)
        return y

    backward = Maximum.backward


@register("where")
class Where(Function):
    """y = a where condition else b;  dy/da = condition, dy/db = not condition."""

    @staticmethod
    def forward(ctx: Context, condition: Array, a: Array, b: Array) -> Array:
        ctx.a_shape, ctx.b_shape = np.shape(a), np.shape(b)
        condition = np.asarray(condition, dtype=bool)
        ctx.save_for_backward(condition)
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[None, Array | None, Array | None]:
        (condition,) = ctx.saved
        _, da, db = ctx.needs_input_grad
        zero = np.zeros((), dtype=grad.dtype)
        return (
            None,
            unbroadcast(np.where(condition, grad, zero), ctx.a_shape) if da else None,
            unbroadcast(np.where(condition, zero, grad), ctx.b_shape) if db else None,
        )


@register("cast")
class Cast(Function):
    """y = x converted to another dtype;  dy/dx = 1 (the gradient converted back)."""

    @staticmethod
    def forward(ctx: Context, x: Array, dtype: Any) -> Array:
        ctx.source_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        return grad.astype(ctx.source_dtype), None


@register("clone")
class Clone(Function):
    """y = a copy of x;  dy/dx = 1."""

    @staticmethod
    def forward(ctx: Context, x: Array) -> Array:
        return x.copy()

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        return (grad,)


_floating = as_floating_tensor


def exp(x: Any) -> Tensor:
    """Elementwise e ** x."""
    return Exp.apply(_floating(x))


def log(x: Any) -> Tensor:
    """Elementwise natural logarithm."""
    return Log.apply(_floating(x))


def log1p(x: Any) -> Tensor:
    """Elementwise log(1 + x), accurate for small x."""
    return Log1p.apply(_floating(x))


def sqrt(x: Any) -> Tensor:
    """Elementwise square root."""
    return Sqrt.apply(_floating(x))


def abs(x: Any) -> Tensor:
    """Elementwise absolute value."""
    return Abs.apply(as_tensor(x))


def sin(x: Any) -> Tensor:
    """Elementwise sine."""
    return Sin.apply(_floating(x))


def cos(x: Any) -> Tensor:
    """Elementwise cosine."""
    return Cos.apply(_floating(x))


def clip(x: Any, min: Any = None, max: Any = None) -> Tensor:
    """Limit values to [min, max]; either bound may be None (but not both)."""
    if min is None and max is None:
        raise ValueError("clip: expected at least one of min and max, got neither")
    if _is_bound_tensor(min) or _is_bound_tensor(max):
        # Elementwise bounds, or bounds that want a gradient: PyTorch's clamp with tensors,
        # which broadcasts x and the bounds together (the result may outgrow x).
        y = as_tensor(x)
        for name, bound in (("min", min), ("max", max)):
            if isinstance(bound, Tensor) and not _broadcastable(y.shape, bound.shape):
                raise ValueError(
                    f"clip: expected {name} as a number or a one-element tensor, got a tensor "
                    f"of shape {bound.shape} that does not broadcast with the input's shape "
                    f"{y.shape}"
                )
        # PyTorch's dtypes, not NumPy's: an integer x beside floating bounds becomes
        # floating, and an integer bound beside a floating x takes x's dtype.
        low = high = None
        if min is not None:
            y, low = binary_operands(y, min)
        if max is not None:
            y, high = binary_operands(y, max)
            if low is not None:
                low, _ = binary_operands(low, y)
        return Clamp.apply(y, low, high)
    low, high = _bound(min), _bound(max)
    x = as_tensor(x)
    if x.data.dtype.kind in "biu" and (isinstance(low, float) or isinstance(high, float)):
        x = _floating(x)  # an integer tensor clamped at 2.5 is float32, as in PyTorch
    return Clip.apply(x, low, high)


def _is_bound_tensor(value: Any) -> bool:
    # Only a 0-d tensor counts as a number; a tensor of shape (1,) promotes x's dtype and
    # broadcasts with it, as in PyTorch (float16 x clamped at tensor([2.0]) is float32).
    return isinstance(value, Tensor) and (value.data.ndim != 0 or value.requires_grad)


def _broadcastable(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def _bound(value: Any) -> Any:
    """A one-element bound as a Python number: NumPy lets a NumPy scalar or 0-d array widen
    the result (float32 clipped at np.float64(1) is float64), never a Python number."""
    if isinstance(value, Tensor):
        return value.item()
    if isinstance(value, np.ndarray | np.generic) and np.size(value) == 1:
        return value.item()
    return value


clamp = clip


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum of two tensors, with broadcasting."""
    return Maximum.apply(*binary_operands(a, b))


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum of two tensors, with broadcasting."""
    return Minimum.apply(*binary_operands(a, b))


_NOT_GIVEN: Any = object()


def where(condition: Any, a: Any = _NOT_GIVEN, b: Any = _NOT_GIVEN) -> Any:
    """Pick from ``a`` where ``condition`` holds and from ``b`` elsewhere (broadcasting).

    ``where(condition)`` alone gives the indices where it holds, one tensor per axis, as
    ``nonzero(condition, as_tuple=True)`` (PyTorch's and NumPy's one-argument form).
    """
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if a is _NOT_GIVEN and b is _NOT_GIVEN:
        _read_in_python()  # the shapes tell Python how many entries are true
        return tuple(Tensor._from_op(i.astype(np.int64), None) for i in np.nonzero(cond))
    if a is _NOT_GIVEN or b is _NOT_GIVEN:
        raise TypeError("where: expected both a and b, or neither (the indices where it holds)")
    if cond.dtype != np.bool_:
        raise TypeError(
            f"where: expected a boolean condition, got dtype {cond.dtype}; compare it first "
            f"(condition != 0)"
        )
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        # Two numbers: as tensors, so that where(c, 1.0, 0.0) is float32, as in PyTorch.
        a, b = as_tensor(a), as_tensor(b)
    # An int beside an integer tensor is refused beyond its range, as in PyTorch (NumPy
    # would wrap it around: int8 300 would be 44).
    if isinstance(b, Tensor) and isinstance(a, int | np.integer):
        a = _element_of("where", a, b.data.dtype)
    elif isinstance(a, Tensor) and isinstance(b, int | np.integer):
        b = _element_of("where", b, a.data.dtype)
    a, b = binary_operands(a, b)
    try:
        return Where.apply(cond, a, b)
    except ValueError:
        raise ValueError(
            f"where: condition, a and b could not be broadcast together, got shapes "
            f"{np.shape(cond)}, {np.shape(a)} and {np.shape(b)}"
        ) from None


def cast(x: Tensor, dtype: Any) -> Tensor:
    """``x`` converted to ``dtype``; x itself when it already has that dtype."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"cast: expected a NumPy dtype, got {dtype!r}") from None
    if x.dtype == dtype:
        return x
    if x.requires_grad and not is_floating(dtype):
        # The result cannot carry a gradient: it leaves the graph, as in PyTorch.
        return Tensor._from_op(x.data.astype(dtype), None)
    return Cast.apply(x, dtype)


def clone(x: Tensor, *, memory_format: memory_format = preserve_format) -> Tensor:
    """A copy of ``x`` that stays in the graph; ``memory_format`` is PyTorch's keyword
    (see ``chainrule.memory_format``), row-major either way here."""
    _check_memory_format("clone", memory_format)
    return Clone.apply(x)


def _compared(fn: Any, a: Any, b: Any, where: str) -> Tensor:
    """``fn(a, b)`` (a comparison, a logical or bitwise ufunc), which has no gradient."""
    a_data = a.data if isinstance(a, Tensor) else a
    b_data = b.data if isinstance(b, Tensor) else b
    try:
        return Tensor._from_op(fn(a_data, b_data), None)
    except ValueError:
        raise _broadcast_error(where, a_data, b_data) from None


def eq(a: Any, b: Any) -> Tensor:
    """Elementwise ``a == b``; a bool tensor, no gradient."""
    return _compared(np.equal, a, b, "eq")


def ne(a: Any, b: Any) -> Tensor:
    """Elementwise ``a != b``; a bool tensor, no gradient."""
    return _compared(np.not_equal, a, b, "ne")


def lt(a: Any, b: Any) -> Tensor:
    """Elementwise ``a < b``; a bool tensor, no gradient."""
    return _compared(np.less, a, b, "lt")


def le(a: Any, b: Any) -> Tensor:
    """Elementwise ``a <= b``; a bool tensor, no gradient."""
    return _compared(np.less_equal, a, b, "le")


def gt(a: Any, b: Any) -> Tensor:
    """Elementwise ``a > b``; a bool tensor, no gradient."""
    return _compared(np.greater, a, b, "gt")


def ge(a: Any, b: Any) -> Tensor:
    """Elementwise ``a >= b``; a bool tensor, no gradient."""
    return _compared(np.greater_equal, a, b, "ge")


def logical_and(a: Any, b: Any) -> Tensor:
    """Elementwise logical and of the truth values; a bool tensor, no gradient."""
    return _compared(np.logical_and, a, b, "logical_and")


def logical_or(a: Any, b: Any) -> Tensor:
    """Elementwise logical or of the truth values; a bool tensor, no gradient."""
    return _compared(np.logical_or, a, b, "logical_or")


def logical_not(x: Any) -> Tensor:
    """Elementwise logical not; a bool tensor, no gradient."""
    return Tensor._from_op(np.logical_not(as_tensor(x).data), None)


def _integer_data(x: Any, where: str) -> Any:
    data = x.data if isinstance(x, Tensor) else x
    dtype = data.dtype if isinstance(data, np.ndarray | np.generic) else np.asarray(data).dtype
    if dtype.kind not in "biu":
        raise TypeError(
            f"{where}: expected integer or bool operands, got dtype {dtype}; compare first "
            "(e.g. x > 0) for a mask"
        )
    return data


def _integer_operands(a: Any, b: Any, where: str) -> tuple[Any, Any]:
    """The arrays (or Python numbers) that a bitwise op or shift works on, with the dtype
    rules of every binary op: a 0-d tensor or a Python int beside an integer tensor takes its
    dtype, wrapping around (int8 & tensor(255) is int8 & -1), as in PyTorch."""
    _integer_data(a, where)
    _integer_data(b, where)
    a, b = binary_operands(a, b, wrap=True)
    return (a.data if isinstance(a, Tensor) else a), (b.data if isinstance(b, Tensor) else b)


def _bitwise(fn: Any, a: Any, b: Any, where: str) -> Tensor:
    return _compared(fn, *_integer_operands(a, b, where), where)


def bitwise_and(a: Any, b: Any) -> Tensor:
    """Elementwise ``a & b``: bitwise on integers, logical on bools; no gradient."""
    return _bitwise(np.bitwise_and, a, b, "bitwise_and")


def bitwise_or(a: Any, b: Any) -> Tensor:
    """Elementwise ``a | b``: bitwise on integers, logical on bools; no gradient."""
    return _bitwise(np.bitwise_or, a, b, "bitwise_or")


def bitwise_xor(a: Any, b: Any) -> Tensor:
    """Elementwise ``a ^ b``: bitwise on integers, logical on bools; no gradient."""
    return _bitwise(np.bitwise_xor, a, b, "bitwise_xor")


def bitwise_left_shift(a: Any, b: Any) -> Tensor:
    """Elementwise ``a << b`` on integers, as PyTorch's: a shift by a negative count or by
    the width of the dtype or more gives 0 (NumPy leaves it to the machine); no gradient."""
    return _shift(a, b, left=True)


def bitwise_right_shift(a: Any, b: Any) -> Tensor:
    """Elementwise ``a >> b`` on integers, arithmetic (the sign bit repeats), as PyTorch's: a
    shift by a negative count or by the width of the dtype or more gives 0, or -1 for a
    negative ``a``; no gradient."""
    return _shift(a, b, left=False)


def _shift(a: Any, b: Any, *, left: bool) -> Tensor:
    where = "bitwise_left_shift" if left else "bitwise_right_shift"
    for operand in (a, b):
        data = operand.data if isinstance(operand, Tensor) else np.asarray(operand)
        if data.dtype.kind not in "biu":
            raise TypeError(f"{where}: expected integer operands, got dtype {data.dtype}")
    a, b = _integer_operands(a, b, where)
    if np.result_type(a, b).kind == "b":  # a bool operand beside an integer one is fine
        raise TypeError(f"{where}: expected integer operands, got dtype bool")
    rule = np.left_shift if left else np.right_shift

    def shifted(x: Any, counts: Any) -> Array:
        # The width of the result's dtype bounds the count (a Python int or bool, or a 0-d
        # tensor, beside a tensor takes the tensor's dtype).
        dtype = np.result_type(x, counts)
        bits = dtype.itemsize * 8
        inside = (np.asarray(counts) >= 0) & (np.asarray(counts) < bits)
        if isinstance(counts, int):
            counts = counts if inside else 0  # a Python int, so that it stays weak
        else:
            counts = np.where(inside, counts, 0)
        kept = rule(x, counts)
        spilled = 0 if left else np.where(np.asarray(x) < 0, -1, 0)
        return np.asarray(np.where(inside, kept, spilled), dtype=dtype)

    return _compared(shifted, a, b, where)


def bitwise_not(x: Any) -> Tensor:
    """Elementwise ``~x``: bitwise on integers (``~2 == -3``), logical on bools; no gradient."""
    return Tensor._from_op(np.invert(_integer_data(as_tensor(x), "bitwise_not")), None)


@register("sign")
class Sign(Function):
    """y = sign(x);  dy/dx = 0 (a step function).

    NOTE: sign'(0) = 0 too, as PyTorch takes it. The op stays in the graph, so that, as in
    PyTorch, an input reached only through ``sign`` gets a zero gradient, not none.
    """

    @staticmethod
    def forward(ctx: Context, x: Array) -> Array:
        y = np.asarray(np.sign(x))  # a 0-d x gives a NumPy scalar, which copyto cannot fill
        np.copyto(y, 0, where=np.isnan(y))  # PyTorch's sign of NaN is 0
        y += 0  # and of -0.0 is +0.0
        return y

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array]:
        return (np.zeros_like(grad),)


def sign(x: Any) -> Tensor:
    """Elementwise sign (-1, 0 or 1; a bool tensor is its own sign), with a zero gradient."""
    x = as_tensor(x)
    if x.data.dtype.kind != "f":
        data = x.data
        return Tensor._from_op(data.copy() if data.dtype.kind == "b" else np.sign(data), None)
    return Sign.apply(x)
