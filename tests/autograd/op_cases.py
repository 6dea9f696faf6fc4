"""One table of cases that proves every registered differentiable op.

Each ``OpCase`` names the op it exercises (its key in ``chainrule.autograd.REGISTRY``), a
chainrule callable, the PyTorch callable that computes the same thing, and how to draw its
inputs. Every input the callable takes is a floating tensor that receives a gradient;
anything else (index arrays, conditions, bounds, axes) is fixed inside the callables.

The same table feeds the finite-difference tests (float64), the PyTorch oracle tests
(float64 and float32) and the registry meta-tests, which fail when a registered op has no
case here.

Inputs are drawn away from kinks and ties, so that central differences see a smooth
function: ``spread`` gives values whose magnitudes are distinct (gaps >= 0.1) and stay at
least 0.05 away from every multiple of 0.2, so any kink placed on a multiple of 0.2 (0,
+-0.4, 1, ...) is safe. The conventions at the kinks themselves are tested against PyTorch
in ``test_ops_torch.py``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.autograd import REGISTRY, ops

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # only the PyTorch oracle tests call the torch side, and they skip
    torch = None
    F = None

Maker = Callable[[np.random.Generator], list[np.ndarray]]
SAME: Any = object()
"""Marks a case whose chainrule callable also works on torch tensors (operators only)."""


@dataclass(frozen=True)
class OpCase:
    """One way of calling one op, with its PyTorch twin and its inputs."""

    op: str
    name: str
    fn: Callable[..., cr.Tensor]
    torch_fn: Callable[..., Any] | None
    make: Maker
    gradcheck_options: dict[str, float] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.op}-{self.name}"

    def arrays(self, dtype: Any = np.float64) -> list[np.ndarray]:
        """The inputs, drawn from a generator seeded by the case's id (same every run)."""
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        return [np.asarray(a, dtype=dtype) for a in self.make(rng)]

    def __repr__(self) -> str:
        return f"OpCase({self.id})"


CASES: list[OpCase] = []


def case(
    op: str,
    name: str,
    fn: Callable[..., cr.Tensor],
    torch_fn: Callable[..., Any] | None,
    make: Maker,
    **gradcheck_options: float,
) -> None:
    CASES.append(
        OpCase(op, name, fn, fn if torch_fn is SAME else torch_fn, make, gradcheck_options)
    )


# --------------------------------------------------------------------- input makers
def normal(*shapes: tuple[int, ...]) -> Maker:
    """Standard normal values."""
    return lambda rng: [rng.standard_normal(s) for s in shapes]


def uniform(low: float, high: float, *shapes: tuple[int, ...]) -> Maker:
    """Uniform values in [low, high)."""
    return lambda rng: [rng.uniform(low, high, s) for s in shapes]


def positive(*shapes: tuple[int, ...]) -> Maker:
    """Values in [0.5, 2): safe for log, sqrt, division and fractional powers."""
    return uniform(0.5, 2.0, *shapes)


def spread(*shapes: tuple[int, ...], step: float = 0.2) -> Maker:
    """Values of random sign whose magnitudes, over all ``shapes`` together, are distinct by
    at least ``step / 2`` and lie at least ``step / 4`` from every multiple of ``step``."""

    def make(rng: np.random.Generator) -> list[np.ndarray]:
        sizes = [math.prod(s) for s in shapes]
        n = sum(sizes)
        magnitude = (rng.permutation(n) + 0.5) * step + rng.uniform(-step / 4, step / 4, n)
        values = magnitude * rng.choice([-1.0, 1.0], n)
        bounds = np.cumsum(sizes)[:-1]
        return [part.reshape(s) for part, s in zip(np.split(values, bounds), shapes, strict=True)]

    return make


def fixed(*arrays: Any) -> Maker:
    """Exactly these values."""
    return lambda rng: [np.array(a, dtype=np.float64) for a in arrays]


def join(*makers: Maker) -> Maker:
    """The inputs of several makers, in order."""
    return lambda rng: [a for m in makers for a in m(rng)]


def as_torch(array: Any) -> Any:
    """A constant (index array, condition) for the torch side."""
    return torch.as_tensor(np.asarray(array))


def torch_dims(axis: Any, ndim: int) -> tuple[int, ...]:
    """PyTorch's ``dim`` for a NumPy ``axis`` (None means every axis)."""
    if axis is None:
        return tuple(range(ndim))
    return axis if isinstance(axis, tuple) else (axis,)


def torch_prod(x: Any, axis: Any, keepdims: bool) -> Any:
    """``x.prod`` over several axes (PyTorch's prod takes one dim at a time)."""
    axes = [a % x.ndim for a in torch_dims(axis, x.ndim)]
    kept = [i for i in range(x.ndim) if i not in axes]
    y = x.permute(*kept, *axes).reshape(*[x.shape[i] for i in kept], -1).prod(-1)
    if keepdims:
        y = y.reshape([1 if i in axes else n for i, n in enumerate(x.shape)])
    return y


def torch_pad(x: Any, widths: Sequence[tuple[int, int]], value: float = 0.0) -> Any:
    """NumPy-style ``pad`` (one pair per axis, first axis first) in PyTorch's form."""
    flat = [n for pair in reversed(widths) for n in pair]
    return F.pad(x, flat, value=value)


def other_float(dtype: Any) -> Any:
    return np.float32 if np.dtype(dtype) == np.float64 else np.float64


# --------------------------------------------------------------------- arithmetic
BROADCAST_PAIRS = {
    "same": ((3, 4), (3, 4)),
    "bcast_3d_2d": ((3, 1, 4), (2, 4)),
    "bcast_both": ((2, 1), (1, 3)),
    "bcast_0d": ((), (2, 3)),
    "bcast_row": ((2, 3), (3,)),
}
for label, (sa, sb) in BROADCAST_PAIRS.items():
    case("add", label, lambda a, b: a + b, SAME, normal(sa, sb))
    case("sub", label, lambda a, b: a - b, SAME, normal(sa, sb))
    case("mul", label, lambda a, b: a * b, SAME, normal(sa, sb))
    case("div", label, lambda a, b: a / b, SAME, join(normal(sa), spread(sb)))
    case("pow", f"tensor_tensor_{label}", lambda a, b: a**b, SAME, join(positive(sa), normal(sb)))
    case("maximum", label, cr.maximum, torch.maximum if torch else None, spread(sa, sb))
    case("minimum", label, cr.minimum, torch.minimum if torch else None, spread(sa, sb))

case("add", "functional", cr.add, torch.add if torch else None, normal((2, 3), (3,)))
case("add", "scalar", lambda x: x + 2.5, SAME, normal((3, 4)))
case("add", "scalar_left", lambda x: 2.5 + x, SAME, normal((3, 4)))
case("add", "same_tensor_twice", lambda x: x + x, SAME, normal((3,)))
case("rsub", "scalar_left", lambda x: 1.5 - x, SAME, normal((3, 4)))
case("rsub", "int_left", lambda x: 2 - x, SAME, normal((2, 3)))
case("sub", "functional", cr.sub, torch.sub if torch else None, normal((3, 1), (4,)))
case("mul", "scalar", lambda x: x * -3.0, SAME, normal((3, 4)))
case("mul", "square", lambda x: x * x, SAME, normal((5,)))
case("div", "scalar_left", lambda x: 3.0 / x, SAME, spread((3, 4)))
case("div", "by_scalar", lambda x: x / 4.0, SAME, normal((3, 4)))
# a / b kept away from whole numbers, where the remainder jumps
case(
    "remainder",
    "matrix",
    lambda a, b: a % b,
    SAME,
    join(uniform(2.2, 2.8, (3, 4)), uniform(1.5, 2.0, (3, 4))),
)
case(
    "remainder",
    "negative_broadcast",
    cr.remainder,
    torch.remainder if torch else None,
    join(uniform(-2.8, -2.2, (3, 4)), uniform(1.5, 2.0, (4,))),
)
case("remainder", "by_scalar", lambda x: x % 1.7, SAME, uniform(2.2, 2.8, (3, 4)))
case("neg", "matrix", lambda x: -x, SAME, normal((3, 4)))
case("neg", "functional", cr.neg, torch.neg if torch else None, normal((2, 3, 2)))
case("pow", "square", lambda x: x**2, SAME, normal((3, 4)))
case("pow", "cube_int", lambda x: x**3, SAME, normal((3, 4)))
case("pow", "fractional", lambda x: x**2.5, SAME, positive((3, 4)))
case("pow", "negative_exponent", lambda x: x**-1.5, SAME, positive((3, 4)))
case("pow", "scalar_base", lambda x: 2.0**x, SAME, normal((3, 4)))
case("pow", "functional", cr.pow, torch.pow if torch else None, join(positive((2, 3)), normal(())))

# --------------------------------------------------------------------- elementwise
case("exp", "matrix", cr.exp, torch.exp if torch else None, normal((3, 4)))
case("exp", "method", lambda x: x.exp(), SAME, normal((2, 3, 2)))
case("log", "matrix", cr.log, torch.log if torch else None, positive((3, 4)))
case("log1p", "matrix", cr.log1p, torch.log1p if torch else None, uniform(-0.5, 2.0, (3, 4)))
case("sqrt", "matrix", cr.sqrt, torch.sqrt if torch else None, positive((3, 4)))
case("abs", "matrix", cr.abs, torch.abs if torch else None, spread((3, 4)))
case("abs", "operator", lambda x: abs(x), SAME, spread((2, 3)))
case("sin", "matrix", cr.sin, torch.sin if torch else None, normal((3, 4)))
case("tan", "matrix", cr.tan, torch.tan if torch else None, uniform(-1.2, 1.2, (3, 4)))
case("tan", "method", lambda x: x.tan(), SAME, uniform(-1.2, 1.2, (2, 3)))
case("asin", "matrix", cr.asin, torch.asin if torch else None, uniform(-0.9, 0.9, (3, 4)))
case("acos", "matrix", cr.acos, torch.acos if torch else None, uniform(-0.9, 0.9, (3, 4)))
case("atan", "matrix", cr.atan, torch.atan if torch else None, normal((3, 4)))
case("atan", "method", lambda x: x.arctan(), SAME, normal((2, 3)))
case("sinh", "matrix", cr.sinh, torch.sinh if torch else None, normal((3, 4)))
case("cosh", "matrix", cr.cosh, torch.cosh if torch else None, normal((3, 4)))
case("asinh", "matrix", cr.asinh, torch.asinh if torch else None, normal((3, 4)))
case("acosh", "matrix", cr.acosh, torch.acosh if torch else None, uniform(1.2, 3.0, (3, 4)))
case("atanh", "matrix", cr.atanh, torch.atanh if torch else None, uniform(-0.9, 0.9, (3, 4)))
case("atan2", "matrix", cr.atan2, torch.atan2 if torch else None, normal((3, 4), (3, 4)))
case("atan2", "broadcast", cr.atan2, torch.atan2 if torch else None, normal((3, 4), (4,)))
case("atan2", "method", lambda y, x: y.atan2(x), SAME, normal((2, 3), (2, 1)))
case("hypot", "matrix", cr.hypot, torch.hypot if torch else None, normal((3, 4), (3, 4)))
case("hypot", "broadcast", lambda a, b: a.hypot(b), SAME, normal((3, 4), (4,)))
# fmod's jumps sit where a / b is a whole number: a drawn in (0.1, 0.9) times b stays clear.
case(
    "fmod", "matrix", lambda a, b: cr.fmod(a * b + 3 * b, b),
    lambda a, b: torch.fmod(a * b + 3 * b, b),
    join(uniform(0.1, 0.9, (3, 4)), uniform(0.5, 2.0, (3, 4))),
)  # fmt: skip
case(
    "fmod",
    "scalar",
    lambda a: cr.fmod(a, 0.7),
    lambda a: torch.fmod(a, 0.7),
    uniform(0.05, 0.65, (3, 4)),
)
case("cos", "matrix", cr.cos, torch.cos if torch else None, normal((3, 4)))
case("expm1", "matrix", cr.expm1, torch.expm1 if torch else None, normal((3, 4)))
case("expm1", "method_near_zero", lambda x: (x * 1e-4).expm1(), SAME, normal((2, 3)))
case("erf", "matrix", cr.erf, torch.erf if torch else None, normal((3, 4)))
case("erf", "method", lambda x: x.erf(), SAME, normal((2, 3)))
# Step functions: the inputs stay away from their jumps (multiples of 0.2, scaled to whole
# numbers and, for round, to halves), where the derivative is 0.
case("floor", "scaled", lambda x: cr.floor(x * 5), lambda x: torch.floor(x * 5), spread((3, 4)))
case("ceil", "scaled", lambda x: (x * 5).ceil(), SAME, spread((3, 4)))
case("trunc", "scaled", lambda x: cr.trunc(x * 5), lambda x: torch.trunc(x * 5), spread((3, 4)))
case("round", "scaled", lambda x: (x * 5 + 0.5).round(), SAME, spread((3, 4)))
case("sign", "matrix", cr.sign, torch.sign if torch else None, spread((3, 4)))
case("sign", "method_times_x", lambda x: x.sign() * x, SAME, spread((2, 3)))
case(
    "scatter_add",
    "repeated_positions",
    lambda x, src: cr.scatter_add(x, 1, np.array([[0, 2, 0], [3, 3, 1]]), src),
    lambda x, src: torch.scatter_add(x, 1, as_torch(np.array([[0, 2, 0], [3, 3, 1]])), src),
    normal((2, 4), (2, 3)),
)
case(
    "scatter_add",
    "index_add_method",
    lambda x, s: x.index_add(0, np.array([2, 0, 2]), s, alpha=0.5),
    lambda x, s: x.index_add(0, as_torch(np.array([2, 0, 2])), s, alpha=0.5),
    normal((3, 2), (3, 2)),
)
case(
    "einsum",
    "matrix_product",
    lambda a, b: cr.einsum("ij,jk->ik", a, b),
    lambda a, b: torch.einsum("ij,jk->ik", a, b),
    normal((2, 3), (3, 4)),
)
case(
    "einsum",
    "attention_scores",
    lambda q, k: cr.einsum("bhqd,bhkd->bhqk", q, k),
    lambda q, k: torch.einsum("bhqd,bhkd->bhqk", q, k),
    normal((2, 2, 3, 4), (2, 2, 5, 4)),
)
case(
    "einsum",
    "broadcast_ellipsis_and_a_summed_axis",
    lambda a, b: cr.einsum("...ij,...jk->...i", a, b),
    lambda a, b: torch.einsum("...ij,...jk->...i", a, b),
    normal((1, 2, 3), (4, 3, 2)),
)
case(
    "einsum",
    "implicit_output_three_operands",
    lambda a, b, c: cr.einsum("i,ij,jk", a, b, c),
    lambda a, b, c: torch.einsum("i,ij,jk", a, b, c),
    normal((2,), (2, 3), (3, 4)),
)
case("cumsum", "rows", lambda x: cr.cumsum(x, 1), lambda x: torch.cumsum(x, 1), normal((3, 4)))
case("cumsum", "method_first_axis", lambda x: x.cumsum(0), SAME, normal((3, 2, 2)))
case("cumsum", "negative_dim", lambda x: x.cumsum(dim=-1), SAME, normal((5,)))
case(
    "clip",
    "both_bounds",
    lambda x: cr.clip(x, -0.4, 0.6),
    lambda x: torch.clamp(x, -0.4, 0.6),
    spread((3, 4)),
)
case(
    "clip", "min_only", lambda x: cr.clip(x, min=-0.4), lambda x: x.clamp(min=-0.4), spread((3, 4))
)
case("clip", "max_only", lambda x: cr.clip(x, max=0.2), lambda x: x.clamp(max=0.2), spread((3, 4)))
case("clip", "clamp_method", lambda x: x.clamp(0.0, 1.0), SAME, spread((2, 5)))
# Tensor bounds: spread's distinct magnitudes keep x, low and high apart (no ties).
case(
    "clamp",
    "tensor_bounds",
    lambda x, low, high: cr.clamp(x, low, high),
    lambda x, low, high: torch.clamp(x, low, high),
    spread((3, 4), (3, 4), (3, 4)),
)
case(
    "clamp",
    "broadcast_min_only",
    lambda x, low: x.clamp(min=low),
    SAME,
    spread((3, 4), (4,)),
)
case(
    "clamp",
    "broadcast_max_only",
    lambda x, high: cr.clamp(x, max=high),
    lambda x, high: torch.clamp(x, max=high),
    spread((2, 3), (2, 1)),
)
case(
    "maximum",
    "scalar",
    lambda x: cr.maximum(x, 0.2),
    lambda x: torch.maximum(x, torch.tensor(0.2, dtype=x.dtype)),
    spread((3, 4)),
)
case(
    "minimum",
    "scalar_left",
    lambda x: cr.minimum(-0.4, x),
    lambda x: torch.minimum(torch.tensor(-0.4, dtype=x.dtype), x),
    spread((3, 4)),
)

case(
    "lerp",
    "tensor_weight_broadcast",
    cr.lerp,
    torch.lerp if torch else None,
    normal((2, 3, 4), (3, 4), (2, 1, 4)),
)
case("lerp", "small_weight", lambda a, b: a.lerp(b, 0.3), SAME, normal((3, 4), (3, 4)))
case(
    "lerp",
    "large_weight",
    lambda a, b: cr.lerp(a, b, 0.8),
    lambda a, b: torch.lerp(a, b, 0.8),
    normal((3, 4), (4,)),
)

WHERE_CONDITION = np.array([[True, False, True, True], [False, False, True, False]])
case(
    "where",
    "same_shape",
    lambda a, b: cr.where(WHERE_CONDITION, a, b),
    lambda a, b: torch.where(as_torch(WHERE_CONDITION), a, b),
    normal((2, 4), (2, 4)),
)
case(
    "where",
    "broadcast",
    lambda a, b: cr.where(WHERE_CONDITION, a, b),
    lambda a, b: torch.where(as_torch(WHERE_CONDITION), a, b),
    normal((3, 1, 4), (1, 4)),
)
case(
    "where",
    "scalar_other",
    lambda a: cr.where(WHERE_CONDITION, a, 0.5),
    lambda a: torch.where(as_torch(WHERE_CONDITION), a, 0.5),
    normal((2, 4)),
)
case(
    "where",
    "tensor_condition",
    lambda a: cr.where(a > 0, a, a * 0.1),
    lambda a: torch.where(a > 0, a, a * 0.1),
    spread((3, 4)),
)
# float64 -> float32 -> float64 and back the other way: the rounding to float32 is far below
# the step that finite differences take here.
case(
    "cast",
    "to_other_float_and_back",
    lambda x: ops.cast(ops.cast(x, other_float(x.dtype)), x.dtype),
    lambda x: x.to(torch.float32 if x.dtype == torch.float64 else torch.float64).to(x.dtype),
    normal((3, 4)),
    eps=1e-2,
)
case(
    "cast",
    "methods",
    lambda x: x.float().double() * 2.0 if x.dtype == np.float64 else x.double().float() * 2.0,
    lambda x: (x.float().double() if x.dtype == torch.float64 else x.double().float()) * 2.0,
    normal((2, 3)),
    eps=1e-2,
)
case("clone", "matrix", ops.clone, torch.clone if torch else None, normal((3, 4)))
case("clone", "method", lambda x: x.clone() * x, SAME, normal((3,)))

# --------------------------------------------------------------------- linear algebra
MATMUL_SHAPES = {
    "2d_2d": ((3, 4), (4, 5)),
    "1d_2d": ((4,), (4, 3)),
    "2d_1d": ((3, 4), (4,)),
    "1d_1d": ((4,), (4,)),
    "batched": ((2, 3, 4), (2, 4, 5)),
    "batched_broadcast": ((2, 1, 3, 4), (5, 4, 2)),
    "batched_2d": ((2, 3, 4), (4, 2)),
    "1d_batched": ((4,), (2, 4, 3)),
    "batched_1d": ((2, 3, 4), (4,)),
}
for label, (sa, sb) in MATMUL_SHAPES.items():
    case("matmul", label, lambda a, b: a @ b, SAME, normal(sa, sb))
case("matmul", "functional", cr.matmul, torch.matmul if torch else None, normal((2, 3), (3, 2)))

case("linear", "bias", cr.linear, F.linear if F else None, normal((5, 4), (3, 4), (3,)))
case("linear", "no_bias", cr.linear, F.linear if F else None, normal((5, 4), (3, 4)))
case("linear", "3d_input", cr.linear, F.linear if F else None, normal((2, 5, 4), (3, 4), (3,)))
case("linear", "1d_input", cr.linear, F.linear if F else None, normal((4,), (3, 4), (3,)))

# --------------------------------------------------------------------- reductions
AXIS_VARIANTS = [
    (None, False),
    (None, True),
    (1, False),
    (-1, False),
    (1, True),
    ((0, 2), False),
    ((2, 0), True),
    ((-1, -3), False),
]


def _axis_label(axis: Any, keepdims: bool) -> str:
    text = "all" if axis is None else str(axis).replace(" ", "")
    return f"axis={text}" + (",keepdims" if keepdims else "")


def _reduction_cases(
    op: str,
    fn: Callable[..., cr.Tensor],
    torch_fn: Callable[..., Any],
    make: Maker,
    variants: Sequence[tuple[Any, bool]] = AXIS_VARIANTS,
    prefix: str = "",
    ndim: int = 3,
) -> None:
    for axis, keepdims in variants:
        case(
            op,
            prefix + _axis_label(axis, keepdims),
            lambda x, axis=axis, keepdims=keepdims: fn(x, axis, keepdims),
            lambda x, axis=axis, keepdims=keepdims: torch_fn(x, torch_dims(axis, ndim), keepdims),
            make,
        )


_reduction_cases("sum", cr.sum, lambda x, d, k: x.sum(dim=d, keepdim=k), normal((2, 3, 4)))
_reduction_cases("mean", cr.mean, lambda x, d, k: x.mean(dim=d, keepdim=k), normal((2, 3, 4)))
_reduction_cases("max", cr.amax, lambda x, d, k: x.amax(dim=d, keepdim=k), spread((2, 3, 4)))
_reduction_cases("min", cr.amin, lambda x, d, k: x.amin(dim=d, keepdim=k), spread((2, 3, 4)))
_reduction_cases("prod", cr.prod, lambda x, d, k: torch_prod(x, d, k), uniform(0.5, 1.5, (2, 3, 4)))
_reduction_cases(
    "logsumexp", cr.logsumexp, lambda x, d, k: x.logsumexp(dim=d, keepdim=k), normal((2, 3, 4))
)
case("sum", "scalar_input", cr.sum, torch.sum if torch else None, normal(()))
case("sum", "torch_names", lambda x: x.sum(dim=0, keepdim=True), SAME, normal((3, 2)))
case("sum", "method", lambda x: x.sum(), SAME, normal((3, 2)))
case("sum", "empty_axes", lambda x: cr.sum(x, ()), lambda x: x * 1, normal((2, 3)))
case("mean", "torch_names", lambda x: x.mean(dim=(0, 1)), SAME, normal((3, 2, 2)))
case("index", "max_method_dim", lambda x: x.max(dim=1).values, SAME, spread((3, 4)))
case("max", "all", lambda x: cr.max(x), lambda x: x.max(), spread((3, 4)))
case(
    "index",
    "max_dim_keepdim",
    lambda x: cr.max(x, -1, keepdims=True)[0],
    lambda x: x.max(-1, keepdim=True)[0],
    spread((2, 3, 4)),
)
case("index", "min_dim", lambda x: x.min(0).values, lambda x: x.min(0).values, spread((3, 4)))
case("min", "1d", lambda x: cr.min(x), lambda x: x.amin(), spread((5,)))
case(
    "prod",
    "one_zero",
    lambda x: cr.prod(x, 1),
    lambda x: x.prod(1),
    fixed([[1.5, 0.0, -2.0], [0.5, 3.0, 2.0]]),
)
case(
    "prod",
    "two_zeros",
    lambda x: cr.prod(x, -1),
    lambda x: x.prod(-1),
    fixed([[0.0, 2.0, 0.0, 1.5], [0.0, 3.0, 2.0, -1.0]]),
)
case(
    "prod",
    "zero_all_axes",
    cr.prod,
    torch.prod if torch else None,
    fixed([[0.0, 2.0], [0.5, -1.5]]),
)
case("prod", "1d", lambda x: cr.prod(x), lambda x: x.prod(), normal((5,)))
case(
    "logsumexp", "2d_axis_0", lambda x: cr.logsumexp(x, 0), lambda x: x.logsumexp(0), normal((3, 4))
)
case(
    "logsumexp",
    "large_values",
    lambda x: cr.logsumexp(x * 100, -1),
    lambda x: (x * 100).logsumexp(-1),
    normal((3, 4)),
)

VAR_VARIANTS = [(None, False), (1, False), ((0, 2), True), (-1, True)]
for correction in (0, 1):
    _reduction_cases(
        "var",
        lambda x, a, k, c=correction: cr.var(x, a, keepdims=k, correction=c),
        lambda x, d, k, c=correction: torch.var(x, dim=d, keepdim=k, correction=c),
        normal((2, 3, 4)),
        variants=VAR_VARIANTS,
        prefix=f"correction={correction},",
    )
    # std = sqrt(var): its cases run the var op too.
    for axis, keepdims in VAR_VARIANTS:
        case(
            "var",
            f"std,correction={correction}," + _axis_label(axis, keepdims),
            lambda x, a=axis, k=keepdims, c=correction: cr.std(x, a, keepdims=k, correction=c),
            lambda x, a=axis, k=keepdims, c=correction: torch.std(
                x, dim=torch_dims(a, 3), keepdim=k, correction=c
            ),
            normal((2, 3, 4)),
        )
case(
    "var",
    "unbiased_false",
    lambda x: x.var(1, unbiased=False),
    lambda x: x.var(1, unbiased=False),
    normal((3, 4)),
)
case(
    "var", "ddof", lambda x: cr.var(x, 0, ddof=1), lambda x: x.var(0, correction=1), normal((3, 4))
)
case(
    "var",
    "std_method",
    lambda x: x.std(axis=1, correction=0),
    lambda x: x.std(1, correction=0),
    normal((3, 4)),
)

for p in (1, 2, 3, math.inf):
    for axis, keepdims in [(None, False), (1, True), ((0, 2), False), (-1, False)]:
        case(
            "norm",
            f"p={p}," + _axis_label(axis, keepdims),
            lambda x, p=p, a=axis, k=keepdims: cr.norm(x, p, a, k),
            lambda x, p=p, a=axis, k=keepdims: torch.linalg.vector_norm(x, p, a, k),
            spread((2, 3, 4)),
        )
case(
    "norm",
    "method_fro",
    lambda x: x.norm("fro"),
    lambda x: torch.linalg.vector_norm(x),
    normal((3, 4)),
)
case(
    "norm",
    "torch_p",
    lambda x: cr.norm(x, p=3, dim=0),
    lambda x: torch.linalg.vector_norm(x, 3, 0),
    spread((3, 4)),
)

# --------------------------------------------------------------------- activations
case("relu", "matrix", cr.relu, torch.relu if torch else None, spread((3, 4)))
case("relu", "method", lambda x: x.relu(), SAME, spread((2, 3, 2)))
case("leaky_relu", "default", cr.leaky_relu, F.leaky_relu if F else None, spread((3, 4)))
case(
    "leaky_relu",
    "slope=0.2",
    lambda x: cr.leaky_relu(x, 0.2),
    lambda x: F.leaky_relu(x, 0.2),
    spread((3, 4)),
)
case("elu", "default", cr.elu, F.elu if F else None, spread((3, 4)))
case("elu", "alpha=0.5", lambda x: cr.elu(x, 0.5), lambda x: F.elu(x, 0.5), spread((3, 4)))
case("selu", "matrix", cr.selu, F.selu if F else None, spread((3, 4)))
case("gelu", "exact", cr.gelu, F.gelu if F else None, normal((3, 4)))
case(
    "gelu",
    "tanh",
    lambda x: cr.gelu(x, approximate="tanh"),
    lambda x: F.gelu(x, approximate="tanh"),
    normal((3, 4)),
)
case("gelu", "wide_range", cr.gelu, F.gelu if F else None, uniform(-6.0, 6.0, (4, 5)))
case("silu", "matrix", cr.silu, F.silu if F else None, normal((3, 4)))
case("softplus", "default", cr.softplus, F.softplus if F else None, normal((3, 4)))
# beta * x crosses the threshold at x = 1.2 and x = 2.0: multiples of 0.2 that spread avoids.
case(
    "softplus",
    "beta=2,threshold=2.4",
    lambda x: cr.softplus(x, beta=2.0, threshold=2.4),
    lambda x: F.softplus(x, beta=2.0, threshold=2.4),
    spread((3, 4)),
)
case(
    "softplus",
    "beta=10,threshold=20",
    lambda x: cr.softplus(x, 10.0, 20.0),
    lambda x: F.softplus(x, 10.0, 20.0),
    spread((3, 4)),
)
case("sigmoid", "matrix", cr.sigmoid, torch.sigmoid if torch else None, normal((3, 4)))
case("sigmoid", "method", lambda x: x.sigmoid(), SAME, uniform(-8.0, 8.0, (2, 5)))
case("tanh", "matrix", cr.tanh, torch.tanh if torch else None, normal((3, 4)))
case("tanh", "method", lambda x: x.tanh(), SAME, normal((2, 3, 2)))
case("hardtanh", "default", cr.hardtanh, F.hardtanh if F else None, spread((3, 4)))
case(
    "hardtanh",
    "bounds=(-0.6,0.4)",
    lambda x: cr.hardtanh(x, -0.6, 0.4),
    lambda x: F.hardtanh(x, -0.6, 0.4),
    spread((3, 4)),
)
case("hardsigmoid", "wide", ops.hardsigmoid, F.hardsigmoid if F else None, spread((4, 5)))
case("hardswish", "wide", ops.hardswish, F.hardswish if F else None, spread((4, 5)))
case("mish", "matrix", ops.mish, F.mish if F else None, normal((3, 4)))
case("mish", "wide_range", ops.mish, F.mish if F else None, uniform(-25.0, 25.0, (4, 5)))
case("celu", "default", ops.celu, F.celu if F else None, spread((3, 4)))
case("celu", "alpha=0.5", lambda x: ops.celu(x, 0.5), lambda x: F.celu(x, 0.5), spread((3, 4)))

for axis in (0, 1, -1):
    case(
        "softmax",
        f"axis={axis}",
        lambda x, a=axis: cr.softmax(x, a),
        lambda x, a=axis: torch.softmax(x, a),
        normal((2, 3, 4)),
    )
    case(
        "log_softmax",
        f"axis={axis}",
        lambda x, a=axis: cr.log_softmax(x, a),
        lambda x, a=axis: torch.log_softmax(x, a),
        normal((2, 3, 4)),
    )
case(
    "softmax", "last_1d", lambda x: cr.softmax(x, -1), lambda x: torch.softmax(x, -1), normal((5,))
)
case("softmax", "dim", lambda x: x.softmax(dim=0), SAME, normal((3, 4)))
case(
    "log_softmax",
    "last_2d",
    lambda x: cr.log_softmax(x, -1),
    lambda x: torch.log_softmax(x, -1),
    normal((3, 4)),
)
case("log_softmax", "dim", lambda x: x.log_softmax(dim=0), SAME, normal((3, 4)))

# --------------------------------------------------------------------- shape
case("reshape", "to_2d", lambda x: x.reshape(6, 4), SAME, normal((2, 3, 4)))
case(
    "reshape",
    "inferred",
    lambda x: cr.reshape(x, (4, -1)),
    lambda x: x.reshape(4, -1),
    normal((2, 3, 4)),
)
case("reshape", "view", lambda x: x.view(-1), SAME, normal((2, 3)))
case("reshape", "flatten", lambda x: cr.flatten(x, 1), lambda x: x.flatten(1), normal((2, 3, 4)))
case("reshape", "squeeze_all", cr.squeeze, torch.squeeze if torch else None, normal((2, 1, 3, 1)))
case("reshape", "squeeze_axis", lambda x: x.squeeze(1), SAME, normal((2, 1, 3, 1)))
case(
    "reshape",
    "squeeze_negative",
    lambda x: cr.squeeze(x, -1),
    lambda x: x.squeeze(-1),
    normal((2, 1, 3, 1)),
)
case("reshape", "unsqueeze_0", lambda x: x.unsqueeze(0), SAME, normal((2, 3)))
case(
    "reshape",
    "unsqueeze_negative",
    lambda x: cr.unsqueeze(x, -1),
    lambda x: x.unsqueeze(-1),
    normal((2, 3)),
)
case("reshape", "to_scalar", lambda x: x.reshape(()), SAME, normal((1, 1)))

case("permute", "3d", lambda x: x.permute(2, 0, 1), SAME, normal((2, 3, 4)))
case(
    "permute",
    "tuple",
    lambda x: cr.permute(x, (1, 0, 2)),
    lambda x: x.permute(1, 0, 2),
    normal((2, 3, 4)),
)
case(
    "permute",
    "negative_axes",
    lambda x: cr.permute(x, (-1, 0, -2)),
    lambda x: x.permute(-1, 0, -2),
    normal((2, 3, 4)),
)
case("permute", "T", lambda x: x.T, lambda x: x.t(), normal((3, 4)))
case("permute", "transpose_pair", lambda x: x.transpose(0, 2), SAME, normal((2, 3, 4)))
case(
    "permute",
    "transpose_reverse",
    lambda x: cr.transpose(x),
    lambda x: x.permute(2, 1, 0),
    normal((2, 3, 4)),
)
case(
    "permute",
    "swapaxes",
    lambda x: cr.swapaxes(x, -1, 0),
    lambda x: x.swapaxes(-1, 0),
    normal((2, 3, 4)),
)

case("expand", "expand", lambda x: x.expand(2, 3, 4), SAME, normal((3, 1)))
case("expand", "expand_keep", lambda x: x.expand(-1, 4), SAME, normal((3, 1)))
case(
    "expand",
    "broadcast_to",
    lambda x: cr.broadcast_to(x, (3, 2, 4)),
    lambda x: torch.broadcast_to(x, (3, 2, 4)),
    normal((1, 4)),
)
case("expand", "broadcast_scalar", lambda x: x.broadcast_to((2, 3)), SAME, normal(()))

INDEX_KEYS: dict[str, Any] = {
    "int": 1,
    "negative_ints": (-1, 2),
    "slices": (slice(1, None), slice(None, None, 2)),
    "none": (None, slice(None), 1),
    "ellipsis": (Ellipsis, 1),
    "ellipsis_none": (0, Ellipsis, None),
    "int_array_repeats": [0, 2, 0, 0],
    "two_int_arrays": ([0, 1, 1, 1], [2, 0, 2, 2]),
    "slice_and_array": (slice(None), [1, 1, 3]),
    "array_2d": np.array([[0, 1], [1, 1]]),
    "full_mask": np.array([[True, False, True, False], [False, False, True, True], [True] * 4]),
    "row_mask": (np.array([True, False, True]), slice(1, 3)),
}


def _torch_key(key: Any) -> Any:
    parts = key if isinstance(key, tuple) else (key,)
    return tuple(as_torch(p) if isinstance(p, list | np.ndarray) else p for p in parts)


for label, key in INDEX_KEYS.items():
    case(
        "index",
        label,
        lambda x, key=key: x[key],
        lambda x, key=key: x[_torch_key(key)],
        normal((3, 4)),
    )
case(
    "index",
    "tensor_indices",
    lambda x: x[cr.tensor([2, 0, 2])],
    lambda x: x[torch.tensor([2, 0, 2])],
    normal((3, 2)),
)
case("index", "reversed", lambda x: x[::-1], lambda x: x.flip(0), normal((4, 2)))
case(
    "index",
    "3d_mixed",
    lambda x: x[1:, [0, 2, 2], None, ..., -1:],
    lambda x: x[1:, [0, 2, 2], None, ..., -1:],
    normal((3, 3, 2)),
)


def written(x: Any, key: Any, v: Any) -> Any:
    """``y = x * 1; y[key] = v``: a write recorded in the graph (chainrule and PyTorch)."""
    y = x * 1
    y[key] = v
    return y


case("index_put", "row", lambda x, v: written(x, 1, v), SAME, normal((3, 4), (4,)))
case(
    "index_put",
    "slices_broadcast_value",
    lambda x, v: written(x, (slice(None), slice(1, 3)), v),
    SAME,
    normal((3, 4), (3, 1)),
)
case(
    "index_put",
    "int_then_array",  # PyTorch's reading of x[0, :, [2, 0]]: shape (3, 2)
    lambda x, v: written(x, (0, slice(None), [2, 0]), v),
    SAME,
    normal((2, 3, 4), (3, 2)),
)
case(
    "index_put",
    "mask",
    lambda x, v: written(x, cr.tensor([True, False, True]), v),
    lambda x, v: written(x, torch.tensor([True, False, True]), v),
    normal((3, 2), (2, 2)),
)
case(
    "index_put",
    "scatter",
    lambda x, s: cr.scatter(x, 1, np.array([[2, 0], [1, 3]]), s),
    lambda x, s: torch.scatter(x, 1, as_torch(np.array([[2, 0], [1, 3]])), s),
    normal((2, 4), (2, 2)),
)
case(
    "split",
    "split_sections",
    lambda x: cr.cat(
        [2.0 * p if i == 0 else p for i, p in enumerate(cr.split(x, [1, 3, 2], 1)) if i != 1], 1
    ),
    lambda x: torch.cat(
        [2.0 * p if i == 0 else p for i, p in enumerate(torch.split(x, [1, 3, 2], 1)) if i != 1], 1
    ),
    normal((2, 6)),
)
case(
    "split",
    "split_size",
    lambda x: cr.stack([p.sum() for p in x.split(2, axis=-1)]),
    lambda x: torch.stack([p.sum() for p in x.split(2, dim=-1)]),
    normal((2, 5)),
)
case(
    "split",
    "unbind_some_unused",
    lambda x: cr.stack([(k + 1.0) * p for k, p in enumerate(x.unbind(1)) if k != 1], 1),
    lambda x: torch.stack([(k + 1.0) * p for k, p in enumerate(x.unbind(1)) if k != 1], 1),
    normal((3, 4)),
)
case(
    "split",
    "chunk_used_twice",
    lambda x: (lambda a, b: a * b + a)(*x.chunk(2)),
    lambda x: (lambda a, b: a * b + a)(*x.chunk(2)),
    normal((4, 3)),
)
case(
    "split",
    "tensor_split",
    lambda x: cr.cat([p * p for p in x.tensor_split(3, 1)], 1),
    lambda x: torch.cat([p * p for p in x.tensor_split(3, 1)], 1),
    normal((2, 7)),
)

case(
    "concatenate",
    "axis_0",
    lambda a, b: cr.concatenate([a, b]),
    lambda a, b: torch.cat([a, b]),
    normal((2, 3), (1, 3)),
)
case(
    "concatenate",
    "three_axis_-1",
    lambda a, b, c: cr.cat([a, b, c], axis=-1),
    lambda a, b, c: torch.cat([a, b, c], -1),
    normal((2, 2, 1), (2, 2, 3), (2, 2, 2)),
)
case(
    "concatenate",
    "dim",
    lambda a, b: cr.cat((a, b), dim=1),
    lambda a, b: torch.cat((a, b), 1),
    normal((2, 1), (2, 3)),
)
case(
    "concatenate",
    "same_tensor",
    lambda a: cr.cat([a, a * 2.0]),
    lambda a: torch.cat([a, a * 2.0]),
    normal((3,)),
)

case(
    "stack",
    "axis_0",
    lambda a, b: cr.stack([a, b]),
    lambda a, b: torch.stack([a, b]),
    normal((2, 3), (2, 3)),
)
case(
    "stack",
    "three_axis_-1",
    lambda a, b, c: cr.stack([a, b, c], axis=-1),
    lambda a, b, c: torch.stack([a, b, c], -1),
    normal((2, 3), (2, 3), (2, 3)),
)
case(
    "stack",
    "dim_1",
    lambda a, b: cr.stack((a, b), dim=1),
    lambda a, b: torch.stack((a, b), 1),
    normal((2, 3), (2, 3)),
)
case(
    "stack",
    "scalars",
    lambda a, b: cr.stack([a, b]),
    lambda a, b: torch.stack([a, b]),
    normal((), ()),
)

case("pad", "int", lambda x: cr.pad(x, 1), lambda x: torch_pad(x, [(1, 1), (1, 1)]), normal((2, 3)))
case(
    "pad",
    "pairs_value",
    lambda x: cr.pad(x, ((1, 2), (0, 3)), value=0.5),
    lambda x: torch_pad(x, [(1, 2), (0, 3)], value=0.5),
    normal((2, 3)),
)
case(
    "pad",
    "3d",
    lambda x: cr.pad(x, ((0, 0), (1, 1), (2, 0))),
    lambda x: torch_pad(x, [(0, 0), (1, 1), (2, 0)]),
    normal((2, 2, 3)),
)
case("pad", "one_pair", lambda x: cr.pad(x, (2, 1)), lambda x: torch_pad(x, [(2, 1)]), normal((3,)))

# --------------------------------------------------------------------- losses
# The fused op takes, per sample, the weight of each class's log-probability: one-hot rows
# (class labels), a scaled row (a class weight), probabilities (soft targets, label
# smoothing) and a zero row (an ignored sample). The weights carry no gradient.
CROSS_ENTROPY_WEIGHTS = np.array(
    [
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 2.5],
        [0.1, 0.6, 0.2, 0.1],
        [0.0, 0.0, 0.0, 0.0],
        [0.925, 0.025, 0.025, 0.025],
    ]
)


def softmax_cross_entropy(logits: cr.Tensor) -> cr.Tensor:
    op = REGISTRY["softmax_cross_entropy"]
    return op.apply(logits, CROSS_ENTROPY_WEIGHTS.astype(logits.dtype))


def torch_softmax_cross_entropy(logits: Any) -> Any:
    weights = torch.as_tensor(CROSS_ENTROPY_WEIGHTS, dtype=logits.dtype)
    return -(weights * torch.log_softmax(logits, -1)).sum(-1)


if "softmax_cross_entropy" in REGISTRY:
    case(
        "softmax_cross_entropy",
        "weight_rows",
        softmax_cross_entropy,
        torch_softmax_cross_entropy,
        normal((5, 4)),
    )
    case(
        "softmax_cross_entropy",
        "large_logits",
        lambda x: softmax_cross_entropy(x * 50.0),
        lambda x: torch_softmax_cross_entropy(x * 50.0),
        normal((5, 4)),
    )

CROSS_ENTROPY_LABELS = np.array([2, 0, 3, 3, 1])


def cross_entropy_labels(logits: cr.Tensor, mean: bool) -> cr.Tensor:
    op = REGISTRY["softmax_cross_entropy_labels"]
    return op.apply(logits, CROSS_ENTROPY_LABELS, mean)


def torch_cross_entropy_labels(logits: Any, mean: bool) -> Any:
    labels = torch.as_tensor(CROSS_ENTROPY_LABELS)
    return F.cross_entropy(logits, labels, reduction="mean" if mean else "sum")


if "softmax_cross_entropy_labels" in REGISTRY:
    case(
        "softmax_cross_entropy_labels",
        "mean",
        lambda x: cross_entropy_labels(x, True),
        lambda x: torch_cross_entropy_labels(x, True),
        normal((5, 4)),
    )
    case(
        "softmax_cross_entropy_labels",
        "sum_large_logits",
        lambda x: cross_entropy_labels(x * 50.0, False),
        lambda x: torch_cross_entropy_labels(x * 50.0, False),
        normal((5, 4)),
    )

if "mse_loss" in REGISTRY:
    case(
        "mse_loss",
        "mean",
        lambda a, b: REGISTRY["mse_loss"].apply(a, b, True),
        lambda a, b: F.mse_loss(a, b),
        normal((4, 3), (4, 3)),
    )
    case(
        "mse_loss",
        "sum",
        lambda a, b: REGISTRY["mse_loss"].apply(a, b, False),
        lambda a, b: F.mse_loss(a, b, reduction="sum"),
        normal((2, 3, 2), (2, 3, 2)),
    )

if "binary_cross_entropy" in REGISTRY:
    case(
        "binary_cross_entropy",
        "elementwise",
        lambda p, y: REGISTRY["binary_cross_entropy"].apply(p, y),
        lambda p, y: F.binary_cross_entropy(p, y, reduction="none"),
        uniform(0.05, 0.95, (3, 4), (3, 4)),
    )


BCE_WEIGHT = np.array([[0.5], [2.0], [1.0], [1.5]])
BCE_POS_WEIGHT = np.array([3.0, 0.5, 1.0])


def logits_and_probabilities(rng: np.random.Generator) -> list[np.ndarray]:
    """Logits of both signs, several units large, and targets in (0, 1)."""
    return [rng.standard_normal((4, 3)) * 3, rng.uniform(0.05, 0.95, (4, 3))]


def bce_with_logits(x: cr.Tensor, y: cr.Tensor, weighted: bool, mean: bool) -> cr.Tensor:
    weight, pos_weight = (BCE_WEIGHT, BCE_POS_WEIGHT) if weighted else (None, None)
    if weighted:
        weight, pos_weight = weight.astype(x.dtype), pos_weight.astype(x.dtype)
    op = REGISTRY["binary_cross_entropy_with_logits"]
    return op.apply(x, y, weight, pos_weight, mean)


def torch_bce_with_logits(x: Any, y: Any, weighted: bool, mean: bool) -> Any:
    options = {"reduction": "mean" if mean else "sum"}
    if weighted:
        options["weight"] = torch.as_tensor(BCE_WEIGHT, dtype=x.dtype)
        options["pos_weight"] = torch.as_tensor(BCE_POS_WEIGHT, dtype=x.dtype)
    return F.binary_cross_entropy_with_logits(x, y, **options)


if "binary_cross_entropy_with_logits" in REGISTRY:
    case(
        "binary_cross_entropy_with_logits",
        "mean",
        lambda x, y: bce_with_logits(x, y, False, True),
        lambda x, y: torch_bce_with_logits(x, y, False, True),
        logits_and_probabilities,
    )
    case(
        "binary_cross_entropy_with_logits",
        "sum_weight_pos_weight",
        lambda x, y: bce_with_logits(x * 5.0, y, True, False),
        lambda x, y: torch_bce_with_logits(x * 5.0, y, True, False),
        logits_and_probabilities,
    )


if "diagonal" in REGISTRY:
    case("diagonal", "main", lambda x: x.diagonal(), SAME, normal((3, 4)))
    case("diagonal", "offset stack", lambda x: x.diagonal(1, 1, 2), SAME, normal((2, 3, 4)))
    case("diagonal", "below, swapped", lambda x: x.diagonal(-1, 2, 0), SAME, normal((4, 2, 3)))


# --------------------------------------------------------------------- matrices (ops/matrices.py)
def well_conditioned(*shapes: tuple[int, ...]) -> Maker:
    """Square matrices with a dominant diagonal: invertible, far from singular."""
    return lambda rng: [rng.standard_normal(s) + 3 * np.eye(s[-1]) for s in shapes]


def symmetrized(x: Any) -> Any:
    """(x + x^T) / 2: ops that read one triangle of a symmetric matrix (Cholesky, eigvalsh)
    see every entry's perturbation through it, so finite differences match."""
    return (x + x.mT) / 2


if "inv" in REGISTRY:
    case(
        "inv",
        "matrix",
        cr.linalg.inv,
        torch.linalg.inv if torch else None,
        well_conditioned((3, 3)),
    )
    case("inv", "stack", lambda a: a.inverse(), SAME, well_conditioned((2, 4, 4)))
    case("det", "matrix", cr.linalg.det, torch.linalg.det if torch else None, normal((3, 3)))
    case("det", "stack", lambda a: a.det(), SAME, normal((2, 4, 4)))
    case(
        "logabsdet",
        "stack",
        lambda a: cr.linalg.slogdet(a)[1],
        (lambda a: torch.linalg.slogdet(a)[1]) if torch else None,
        well_conditioned((2, 3, 3)),
    )
    case("logabsdet", "logdet", lambda a: a.logdet(), SAME, well_conditioned((3, 3)))
    case(
        "solve",
        "matrix",
        cr.linalg.solve,
        torch.linalg.solve if torch else None,
        join(well_conditioned((3, 3)), normal((3, 2))),
    )
    case(
        "solve",
        "stack of vectors",
        cr.linalg.solve,
        torch.linalg.solve if torch else None,
        join(well_conditioned((2, 3, 3)), normal((2, 3))),
    )
    case(
        "solve",
        "broadcast",
        cr.linalg.solve,
        torch.linalg.solve if torch else None,
        join(well_conditioned((3, 3)), normal((2, 3, 2))),
    )
    case(
        "cholesky",
        "symmetric",
        lambda a: cr.linalg.cholesky(symmetrized(a @ a.mT) + 3 * cr.eye(3, dtype=a.dtype)),
        (lambda a: torch.linalg.cholesky(symmetrized(a @ a.mT) + 3 * torch.eye(3, dtype=a.dtype)))
        if torch
        else None,
        normal((3, 3)),
    )
    case(
        "eigvalsh",
        "symmetric",
        lambda a: cr.linalg.eigvalsh(symmetrized(a)),
        (lambda a: torch.linalg.eigvalsh(symmetrized(a))) if torch else None,
        normal((2, 3, 3)),
    )
    case(
        "svdvals",
        "tall",
        cr.linalg.svdvals,
        torch.linalg.svdvals if torch else None,
        normal((4, 3)),
    )
    case(
        "svdvals",
        "wide stack",
        cr.linalg.svdvals,
        torch.linalg.svdvals if torch else None,
        normal((2, 2, 5)),
    )

TORCH_CASES = [c for c in CASES if c.torch_fn is not None]
"""The cases with a PyTorch twin (every op must have at least one)."""

# --------------------------------------------------------------------- images (ops/conv.py)
# Appended after TORCH_CASES was built, so these add their own PyTorch cases to it below.
_FIRST_IMAGE_CASE = len(CASES)

case(
    "conv2d",
    "basic_bias",
    lambda x, w, b: ops.conv2d(x, w, b),
    lambda x, w, b: F.conv2d(x, w, b),
    normal((2, 3, 5, 6), (4, 3, 3, 3), (4,)),
)
case(
    "conv2d",
    "stride_padding_no_bias",
    lambda x, w: ops.conv2d(x, w, stride=2, padding=(1, 2)),
    lambda x, w: F.conv2d(x, w, stride=2, padding=(1, 2)),
    normal((2, 2, 7, 6), (3, 2, 3, 2)),
)
case(
    "conv2d",
    "dilation_groups_same",
    lambda x, w, b: ops.conv2d(x, w, b, padding="same", dilation=2, groups=2),
    lambda x, w, b: F.conv2d(x, w, b, padding="same", dilation=2, groups=2),
    normal((2, 4, 6, 7), (6, 2, 3, 2), (6,)),
)
case(
    "conv2d",
    "depthwise_stride_padding_dilation",
    lambda x, w, b: ops.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=3),
    lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=3),
    normal((2, 3, 7, 6), (3, 1, 3, 2), (3,)),
)
case(
    "conv2d",
    "depthwise_multiplier_stride3",
    lambda x, w: ops.conv2d(x, w, stride=3, padding=1, groups=2),
    lambda x, w: F.conv2d(x, w, stride=3, padding=1, groups=2),
    normal((2, 2, 8, 7), (4, 1, 2, 3)),
)
case(
    "conv2d",
    "row_stride_unbatched",
    lambda x, w: ops.conv2d(x, w, stride=(2, 1), padding=1),
    lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=1),
    normal((2, 5, 5), (3, 2, 2, 3)),
)

case(
    "conv_transpose2d",
    "basic_bias",
    lambda x, w, b: ops.conv_transpose2d(x, w, b),
    lambda x, w, b: F.conv_transpose2d(x, w, b),
    normal((2, 3, 4, 5), (3, 2, 3, 2), (2,)),
)
case(
    "conv_transpose2d",
    "stride_padding_output_padding",
    lambda x, w: ops.conv_transpose2d(x, w, stride=(2, 3), padding=1, output_padding=(1, 2)),
    lambda x, w: F.conv_transpose2d(x, w, stride=(2, 3), padding=1, output_padding=(1, 2)),
    normal((2, 2, 4, 3), (2, 3, 3, 3)),
)
case(
    "conv_transpose2d",
    "dilation_groups_unbatched",
    lambda x, w, b: ops.conv_transpose2d(x, w, b, output_padding=1, groups=2, dilation=2),
    lambda x, w, b: F.conv_transpose2d(x, w, b, output_padding=1, groups=2, dilation=2),
    normal((4, 3, 4), (4, 3, 2, 3), (6,)),
)

case(
    "unfold2d",
    "dilation_padding_stride",
    lambda x: cr.nn.functional.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
    lambda x: F.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
    normal((2, 2, 5, 6)),
)
case(
    "unfold2d",
    "stride_unbatched",
    lambda x: cr.nn.functional.unfold(x, 3, stride=2),
    lambda x: F.unfold(x.unsqueeze(0), 3, stride=2).squeeze(0),
    normal((3, 7, 7)),
)
case(
    "fold2d",
    "dilation_padding_stride",
    lambda x: cr.nn.functional.fold(x, (5, 6), (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
    lambda x: F.fold(x, (5, 6), (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
    normal((2, 12, 15)),
)
case(
    "fold2d",
    "overlap_unbatched",
    lambda x: cr.nn.functional.fold(x, (5, 5), 2),
    lambda x: F.fold(x, (5, 5), 2),
    normal((12, 16)),
)

case(
    "max_pool2d",
    "2x2",
    lambda x: ops.max_pool2d(x, 2),
    lambda x: F.max_pool2d(x, 2),
    spread((2, 3, 4, 5)),
)
case(
    "max_pool2d",
    "3x3_stride_2_padding_1",
    lambda x: ops.max_pool2d(x, 3, stride=2, padding=1),
    lambda x: F.max_pool2d(x, 3, stride=2, padding=1),
    spread((2, 2, 5, 6)),
)
case(
    "max_pool2d",
    "dilation_ceil_mode",
    lambda x: ops.max_pool2d(x, (2, 3), stride=(2, 1), dilation=2, ceil_mode=True),
    lambda x: F.max_pool2d(x, (2, 3), stride=(2, 1), dilation=2, ceil_mode=True),
    spread((1, 2, 7, 8)),
)

case(
    "avg_pool2d",
    "2x2",
    lambda x: ops.avg_pool2d(x, 2),
    lambda x: F.avg_pool2d(x, 2),
    normal((2, 3, 4, 5)),
)
case(
    "avg_pool2d",
    "3x3_padding_exclude_pad",
    lambda x: ops.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
    lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
    normal((2, 2, 5, 6)),
)
case(
    "avg_pool2d",
    "ceil_mode_divisor_override",
    lambda x: ops.avg_pool2d(x, (3, 2), stride=2, ceil_mode=True, divisor_override=5),
    lambda x: F.avg_pool2d(x, (3, 2), stride=2, ceil_mode=True, divisor_override=5),
    normal((1, 2, 6, 7)),
)

case(
    "adaptive_avg_pool2d",
    "overlapping_bins",
    lambda x: cr.nn.functional.adaptive_avg_pool2d(x, (3, 4)),
    lambda x: F.adaptive_avg_pool2d(x, (3, 4)),
    normal((2, 3, 5, 7)),
)
case(
    "adaptive_avg_pool2d",
    "one_axis_kept_3d",
    lambda x: cr.nn.functional.adaptive_avg_pool2d(x, (None, 2)),
    lambda x: F.adaptive_avg_pool2d(x, (None, 2)),
    normal((2, 4, 5)),
)

case(
    "adaptive_max_pool2d",
    "overlapping_bins",
    lambda x: cr.nn.functional.adaptive_max_pool2d(x, (3, 4)),
    lambda x: F.adaptive_max_pool2d(x, (3, 4)),
    spread((2, 3, 5, 7)),
)
case(
    "adaptive_max_pool2d",
    "larger_than_input_3d",  # bins of one or two elements, an element in up to four
    lambda x: cr.nn.functional.adaptive_max_pool2d(x, (5, 7)),
    lambda x: F.adaptive_max_pool2d(x, (5, 7)),
    spread((2, 3, 4)),
)
case(
    "adaptive_max_pool2d",
    "divisible_one_axis_kept",
    lambda x: cr.nn.functional.adaptive_max_pool2d(x, (2, None)),
    lambda x: F.adaptive_max_pool2d(x, (2, None)),
    spread((1, 2, 6, 5)),
)
case(
    "adaptive_max_pool2d",
    "1d",
    lambda x: cr.nn.functional.adaptive_max_pool1d(x, 4),
    lambda x: F.adaptive_max_pool1d(x, 4),
    spread((2, 3, 9)),
)

for _mode in ("reflect", "replicate", "circular"):
    case(
        "edge_pad",
        _mode,
        lambda x, mode=_mode: ops.edge_pad(x, (2, 1, 0, 3), mode),
        lambda x, mode=_mode: F.pad(x, (2, 1, 0, 3), mode=mode),
        normal((2, 3, 4, 5)),
    )

# A fixed map of 4 rows onto 5, each output reading 3 of them (a row twice, as a clamped
# border reads it), weighted as bicubic and antialiased resizes weight them.
_RESAMPLE_INDEX = np.array([[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 3], [3, 3, 3]])
_RESAMPLE_WEIGHT = np.array(
    [[0.6, 0.5, -0.1], [-0.2, 0.9, 0.3], [0.25, 0.5, 0.25], [-0.07, 1.1, -0.03], [1.0, 0, 0.4]]
)


def _torch_resample(x: Any, dim: int) -> Any:
    picked = x.index_select(dim, torch.tensor(_RESAMPLE_INDEX.ravel()))
    shape = list(x.shape)
    shape[dim : dim + 1] = list(_RESAMPLE_INDEX.shape)
    weight_shape = [1] * len(shape)
    weight_shape[dim : dim + 2] = list(_RESAMPLE_INDEX.shape)
    weight = torch.tensor(_RESAMPLE_WEIGHT, dtype=x.dtype).reshape(weight_shape)
    return (picked.reshape(shape) * weight).sum(dim + 1)


for _dim in (1, 2, 3):
    case(
        "resample",
        f"dim{_dim}",
        lambda x, dim=_dim: ops.resample(x, dim, _RESAMPLE_INDEX, _RESAMPLE_WEIGHT),
        lambda x, dim=_dim: _torch_resample(x, dim),
        normal(tuple(4 if axis == _dim else 2 + axis for axis in range(4))),
    )

TORCH_CASES += [c for c in CASES[_FIRST_IMAGE_CASE:] if c.torch_fn is not None]

# Rounded division: a / b kept away from whole numbers, where the quotient jumps.
_FIRST_ROUND9_CASE = len(CASES)
case(
    "div_rounded",
    "floor_negative_broadcast",
    lambda a, b: cr.div(a, b, rounding_mode="floor"),
    lambda a, b: torch.div(a, b, rounding_mode="floor"),
    join(uniform(-2.8, -2.2, (3, 4)), uniform(1.5, 2.0, (4,))),
)
case(
    "div_rounded",
    "trunc_method",
    lambda a, b: a.div(b, rounding_mode="trunc"),
    SAME,
    join(uniform(-2.8, -2.2, (3, 4)), uniform(1.5, 2.0, (3, 4))),
)
case(
    "div_rounded",
    "floor_by_scalar",
    lambda x: x.div(0.7, rounding_mode="floor"),
    SAME,
    uniform(2.2, 2.6, (2, 3)),
)

TORCH_CASES += [c for c in CASES[_FIRST_ROUND9_CASE:] if c.torch_fn is not None]

# Round 16: special functions (values from SciPy), logcumsumexp and scatter_reduce.
_FIRST_ROUND16_CASE = len(CASES)
case("erfinv", "matrix", cr.erfinv, torch.erfinv if torch else None, uniform(-0.9, 0.9, (3, 4)))
case("erfinv", "method", lambda x: x.erfinv(), SAME, uniform(-0.99, 0.99, (5,)))
case("erfc", "matrix", cr.erfc, torch.erfc if torch else None, normal((3, 4)))
case("erfc", "tail_method", lambda x: (x + 4).erfc(), SAME, uniform(0.0, 1.0, (4,)))
case("lgamma", "positive", cr.lgamma, torch.lgamma if torch else None, uniform(0.5, 6.0, (3, 4)))
case("lgamma", "negative_method", lambda x: x.lgamma(), SAME, uniform(-2.8, -2.2, (4,)))
# PyTorch's polygamma(1, x) is accurate to float64 only for large |x| (its series stops
# early): the digamma and trigamma cases stay there, or on the negative side, where the
# reflection term dominates.
case("polygamma", "digamma", cr.digamma, torch.digamma if torch else None, uniform(8, 15, (3, 4)))
case("polygamma", "digamma_negative_method", lambda x: x.digamma(), SAME, uniform(-3.8, -3.2, (4,)))
case(
    "polygamma",
    "trigamma",
    lambda x: cr.polygamma(1, x),
    lambda x: torch.polygamma(1, x),
    uniform(8, 15, (2, 3)),
)
case("polygamma", "order_3_method", lambda x: x.polygamma(3), SAME, uniform(0.5, 3.0, (2, 3)))
case("i0", "matrix", cr.i0, torch.i0 if torch else None, normal((3, 4)))
case("i0", "method", lambda x: (x * 5).i0(), SAME, normal((4,)))
case(
    "i0e",
    "matrix",
    cr.special.i0e,
    torch.special.i0e if torch else None,
    spread((3, 4)),  # a kink at 0
)
case("ndtr", "matrix", cr.special.ndtr, torch.special.ndtr if torch else None, normal((3, 4)))
case(
    "log_ndtr",
    "tails",
    lambda x: cr.special.log_ndtr(x * 10),
    lambda x: torch.special.log_ndtr(x * 10),
    normal((3, 4)),
)
case(
    "ndtri",
    "matrix",
    cr.special.ndtri,
    torch.special.ndtri if torch else None,
    uniform(0.05, 0.95, (3, 4)),
)
case("entr", "matrix", cr.special.entr, torch.special.entr if torch else None, positive((3, 4)))
case(
    "logcumsumexp",
    "rows",
    lambda x: cr.logcumsumexp(x, 1),
    lambda x: torch.logcumsumexp(x, 1),
    normal((3, 4)),
)
case(
    "logcumsumexp",
    "method_first_axis_large",
    lambda x: (x * 300).logcumsumexp(0),
    SAME,
    normal((4, 2)),
)
case(
    "logcumsumexp",
    "negative_dim",
    lambda x: cr.logcumsumexp(x, -1),
    lambda x: torch.logcumsumexp(x, -1),
    normal((2, 3, 5)),
)
_SCATTER_INDEX = np.array([[0, 2, 0], [3, 3, 1]])
for _reduce in ("sum", "prod", "mean", "amax", "amin"):
    for _include in (True, False):
        case(
            "scatter_reduce",
            f"{_reduce}_{'with' if _include else 'without'}_self",
            lambda x, src, r=_reduce, inc=_include: cr.scatter_reduce(
                x, 1, _SCATTER_INDEX, src, r, include_self=inc
            ),
            lambda x, src, r=_reduce, inc=_include: torch.scatter_reduce(
                x, 1, as_torch(_SCATTER_INDEX), src, r, include_self=inc
            ),
            spread((2, 4), (2, 3)),  # distinct values: no ties for amax and amin
        )
case(
    "scatter_reduce",
    "prod_method_first_axis",
    lambda x, src: x.scatter_reduce(0, np.array([[1, 0], [1, 1]]), src, "prod"),
    lambda x, src: x.scatter_reduce(0, as_torch(np.array([[1, 0], [1, 1]])), src, "prod"),
    spread((2, 2), (2, 2)),
)

TORCH_CASES += [c for c in CASES[_FIRST_ROUND16_CASE:] if c.torch_fn is not None]

# Max unpooling: indices fixed here, as a max pool of a fixed image gives them. The image
# grows along rows and columns, so that each window's maximum is its last element and
# overlapping windows still name distinct positions: the gather of the gradient is then the
# derivative that finite differences see.
_FIRST_ROUND17_CASE = len(CASES)


def _pool_indices(shape: tuple[int, ...], *pool: Any, **options: Any) -> np.ndarray:
    image = np.arange(math.prod(shape)).reshape(shape)
    _, picks = ops.max_pool2d(image.astype(np.float64), *pool, **options, return_indices=True)
    return picks.numpy()


_UNPOOL_2X2 = _pool_indices((2, 3, 4, 6), 2)
_UNPOOL_PADDED = _pool_indices((1, 2, 5, 7), 3, stride=2, padding=1, ceil_mode=True)
_UNPOOL_1D = _pool_indices((2, 3, 1, 9), (1, 3), stride=(1, 2), padding=(0, 1))[:, :, 0]
case(
    "max_unpool2d",
    "2x2",
    lambda x: ops.max_unpool2d(x, _UNPOOL_2X2, 2),
    lambda x: F.max_unpool2d(x, as_torch(_UNPOOL_2X2), 2),
    normal((2, 3, 2, 3)),
)
case(
    "max_unpool2d",
    "3x3_stride_2_padding_1_output_size",
    lambda x: ops.max_unpool2d(x, _UNPOOL_PADDED, 3, 2, 1, output_size=(1, 2, 6, 8)),
    lambda x: F.max_unpool2d(x, as_torch(_UNPOOL_PADDED), 3, 2, 1, output_size=(1, 2, 6, 8)),
    normal((1, 2, 3, 4)),
)
case(
    "max_unpool2d",
    "unbatched",
    lambda x: ops.max_unpool2d(x, _UNPOOL_2X2[1], (2, 2)),
    lambda x: F.max_unpool2d(x, as_torch(_UNPOOL_2X2[1]), (2, 2)),
    normal((3, 2, 3)),
)
case(
    "max_unpool2d",
    "1d_padding_1",
    lambda x: cr.nn.functional.max_unpool1d(x, _UNPOOL_1D, 3, 2, 1, output_size=[9]),
    lambda x: F.max_unpool1d(x, as_torch(_UNPOOL_1D), 3, 2, 1, output_size=[9]),
    normal((2, 3, 5)),
)

TORCH_CASES += [c for c in CASES[_FIRST_ROUND17_CASE:] if c.torch_fn is not None]

# Bags of embedding rows: an empty bag, a repeated row and the padding row 2 in the indices.
_FIRST_BAG_CASE = len(CASES)
_BAG_INDICES = np.array([1, 2, 3, 3, 0, 4, 2])
_BAG_OFFSETS = np.array([0, 3, 3, 5])
for _mode in ("sum", "mean", "max"):
    case(
        "embedding_bag",
        f"{_mode}_padding",
        lambda w, m=_mode: cr.nn.functional.embedding_bag(
            _BAG_INDICES, w, _BAG_OFFSETS, mode=m, padding_idx=2
        ),
        lambda w, m=_mode: F.embedding_bag(
            as_torch(_BAG_INDICES), w, as_torch(_BAG_OFFSETS), mode=m, padding_idx=2
        ),
        spread((5, 3)),  # distinct values: no ties for max
    )
case(
    "embedding_bag",
    "per_sample_weights_2d",
    lambda w, s: cr.nn.functional.embedding_bag(
        np.array([[0, 2], [3, 3]]), w, mode="sum", per_sample_weights=s
    ),
    lambda w, s: F.embedding_bag(
        as_torch(np.array([[0, 2], [3, 3]])), w, mode="sum", per_sample_weights=s
    ),
    normal((4, 3), (2, 2)),
)

TORCH_CASES += [c for c in CASES[_FIRST_BAG_CASE:] if c.torch_fn is not None]

# Round 19: the Bessel function of order 1 and the scaled complementary error function.
_FIRST_ROUND19_CASE = len(CASES)
case("i1", "matrix", cr.special.i1, torch.special.i1 if torch else None, normal((3, 4)))
case(
    "i1",
    "large",
    lambda x: cr.special.i1(x * 8),
    lambda x: torch.special.i1(x * 8),
    normal((2, 3)),
)
case(
    "i1e",
    "matrix",
    cr.special.i1e,
    torch.special.i1e if torch else None,
    spread((3, 4)),  # |x| in exp(-|x|): a kink of the second derivative at 0
)
case(
    "i1e",
    "large",
    lambda x: cr.special.i1e(x * 40),
    lambda x: torch.special.i1e(x * 40),
    spread((4,)),
)
case("erfcx", "matrix", cr.special.erfcx, torch.special.erfcx if torch else None, normal((3, 4)))
case(
    "erfcx",
    "tails",
    lambda x: cr.special.erfcx(x * 10),
    lambda x: torch.special.erfcx(x * 10),
    spread((2, 3)),
)

TORCH_CASES += [c for c in CASES[_FIRST_ROUND19_CASE:] if c.torch_fn is not None]

# Images sampled at the points of a grid, every mode and padding: the points lie at least
# 0.05 from every multiple of 0.2, where the kinks of 5 x 5 images are (pixel centres, the
# halfway points that nearest rounds, and the borders that padding clips or reflects at).
_FIRST_GRID_CASE = len(CASES)


def _off_lattice(*shapes: tuple[int, ...], reach: int = 7) -> Maker:
    """Values k * 0.2 + d, |k| <= reach, d in [0.05, 0.15]: off the multiples of 0.2."""

    def make(rng: np.random.Generator) -> list[np.ndarray]:
        return [rng.integers(-reach, reach, s) * 0.2 + rng.uniform(0.05, 0.15, s) for s in shapes]

    return make


for _mode, _padding, _corners in (
    ("bilinear", "zeros", False),
    ("bilinear", "border", True),
    ("bilinear", "reflection", False),
    ("nearest", "zeros", True),
    ("nearest", "reflection", False),
    ("bicubic", "zeros", False),
    ("bicubic", "border", False),
    ("bicubic", "reflection", True),
):
    case(
        "grid_sample2d",
        f"{_mode}_{_padding}_{'align_corners' if _corners else 'edges'}",
        lambda x, g, m=_mode, p=_padding, a=_corners: cr.nn.functional.grid_sample(x, g, m, p, a),
        lambda x, g, m=_mode, p=_padding, a=_corners: F.grid_sample(x, g, m, p, a),
        join(normal((2, 3, 5, 5)), _off_lattice((2, 3, 4, 2))),
    )

TORCH_CASES += [c for c in CASES[_FIRST_GRID_CASE:] if c.torch_fn is not None]
