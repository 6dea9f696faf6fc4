"""Special functions with derivatives of their own: the inverse error function ``erfinv``,
the complementary ``erfc`` and its scaled ``erfcx``, the log-gamma function ``lgamma``,
``digamma`` and ``polygamma``, the modified Bessel functions ``i0`` and ``i1`` (and their
scaled ``i0e`` and ``i1e``), the standard normal distribution's ``ndtr``, ``log_ndtr`` and
``ndtri``, and the entropy term ``entr``.

Values come from ``scipy.special`` (SciPy comes with scikit-learn, a dependency), computed in
float64 and rounded to the input's dtype; derivatives are PyTorch's. ``chainrule.special``
gathers these and the special functions defined elsewhere under ``torch.special``'s names.
"""

from __future__ import annotations

import math
import operator
from typing import Any, ClassVar

from chainrule.autograd.function import Context, Function, register
from chainrule.autograd.ops._operands import as_floating_tensor, quietly
from chainrule.backend import Array, np
from chainrule.tensor import Tensor

_SQRT_2PI = math.sqrt(2 * math.pi)


def _scipy_special() -> Any:
    """``scipy.special``, imported on first use: importing it costs a few tenths of a second,
    which a program that never calls a special function should not pay."""
    import scipy.special

    return scipy.special


def _widened(x: Array) -> Array:
    """``x`` in float64: SciPy's float32 loops are its float64 ones rounded, and the
    derivatives below are computed from the float64 values too."""
    return x if x.dtype == np.float64 else x.astype(np.float64)


class _Special(Function):
    """y = value(x) elementwise, by SciPy in float64; dy/dx = slope(x, y). Subclasses name
    the SciPy function and give the slope as a NumPy expression."""

    scipy_name: ClassVar[str]

    @classmethod
    def value(cls, x: Array) -> Array:
        return np.asarray(getattr(_scipy_special(), cls.scipy_name)(x))

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        raise NotImplementedError

    @classmethod
    @quietly
    def forward(cls, ctx: Context, x: Array) -> Array:
        wide = _widened(x)
        y = cls.value(wide)
        ctx.save_for_backward(wide, y)
        return y.astype(x.dtype, copy=False)

    @classmethod
    @quietly
    def backward(cls, ctx: Context, grad: Array) -> tuple[Array]:
        x, y = ctx.saved
        return (grad * cls.slope(x, y).astype(grad.dtype, copy=False),)


@register("erfinv")
class Erfinv(_Special):
    """y = erfinv(x), the inverse of erf on (-1, 1);  dy/dx = sqrt(pi) / 2 * exp(y**2)."""

    scipy_name = "erfinv"

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return (math.sqrt(math.pi) / 2) * np.exp(y * y)


@register("erfc")
class Erfc(_Special):
    """y = erfc(x) = 1 - erf(x), without the cancellation for large x;
    dy/dx = -2 / sqrt(pi) * exp(-x**2)."""

    scipy_name = "erfc"

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return (-2 / math.sqrt(math.pi)) * np.exp(-x * x)


@register("lgamma")
class Lgamma(_Special):
    """y = log|Gamma(x)|;  dy/dx = digamma(x)."""

    scipy_name = "gammaln"

    @classmethod
    def value(cls, x: Array) -> Array:
        y = np.asarray(_scipy_special().gammaln(x))
        # C's lgamma(-inf) is +inf, and PyTorch's with it; SciPy's is -inf.
        return np.where(x == -np.inf, np.inf, y)

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return np.asarray(_scipy_special().psi(x))


@register("i0")
class I0(_Special):
    """y = I0(x), the modified Bessel function of the first kind of order 0;
    dy/dx = I1(x)."""

    scipy_name = "i0"

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return np.asarray(_scipy_special().i1(x))


@register("i0e")
class I0e(_Special):
    """y = exp(-|x|) I0(x), I0 scaled to stay finite;  dy/dx = I1e(x) - sign(x) y.

    NOTE: at the kink x = 0 the derivative is taken as 0 (sign(0) = 0), as in PyTorch.
    """

    scipy_name = "i0e"

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return np.asarray(_scipy_special().i1e(x)) - np.sign(x) * y


@register("i1")
class I1(_Special):
    """y = I1(x), the modified Bessel function of the first kind of order 1;
    dy/dx = I0(x) - I1(x) / x, 1/2 at x = 0."""

    scipy_name = "i1"

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        at_zero = x == 0
        return np.where(at_zero, 0.5, _scipy_special().i0(x) - y / np.where(at_zero, 1.0, x))


@register("i1e")
class I1e(_Special):
    """y = exp(-|x|) I1(x), I1 scaled to stay finite;
    dy/dx = I0e(x) - y (sign(x) + 1 / x), 1/2 at x = 0."""

    scipy_name = "i1e"

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        at_zero = x == 0
        tail = y * (np.sign(x) + 1 / np.where(at_zero, 1.0, x))
        return np.where(at_zero, 0.5, _scipy_special().i0e(x) - tail)


@register("erfcx")
class Erfcx(_Special):
    """y = erfcx(x) = exp(x**2) erfc(x), without the overflow and underflow of the product;
    dy/dx = 2 x y - 2 / sqrt(pi)."""

    scipy_name = "erfcx"

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return 2 * x * y - 2 / math.sqrt(math.pi)


@register("ndtr")
class Ndtr(_Special):
    """y = Phi(x), the standard normal distribution function;
    dy/dx = exp(-x**2 / 2) / sqrt(2 pi)."""

    scipy_name = "ndtr"

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return np.exp(-0.5 * x * x) / _SQRT_2PI


@register("log_ndtr")
class LogNdtr(_Special):
    """y = log Phi(x), accurate far into the left tail;
    dy/dx = exp(-x**2 / 2) / (sqrt(2 pi) Phi(x)) = exp(-(y + x**2 / 2)) / sqrt(2 pi)."""

    scipy_name = "log_ndtr"

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return np.exp(-(y + 0.5 * x * x)) / _SQRT_2PI


@register("ndtri")
class Ndtri(_Special):
    """y = Phi^-1(p), the standard normal quantile of p in [0, 1];
    dy/dp = sqrt(2 pi) exp(y**2 / 2)."""

    scipy_name = "ndtri"

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return _SQRT_2PI * np.exp(0.5 * y * y)


@register("entr")
class Entr(_Special):
    """y = -x log(x) for x > 0, 0 at 0, -inf for x < 0;  dy/dx = -(1 + log(x))."""

    scipy_name = "entr"

    @staticmethod
    def slope(x: Array, y: Array) -> Array:
        return -(1 + np.log(x))


@register("polygamma")
class Polygamma(Function):
    """y = psi^(n)(x), the n-th derivative of digamma (n = 0: digamma itself);
    dy/dx = psi^(n+1)(x)."""

    @staticmethod
    def value(n: int, x: Array) -> Array:
        special = _scipy_special()
        return np.asarray(special.psi(x) if n == 0 else special.polygamma(n, x))

    @staticmethod
    @quietly
    def forward(ctx: Context, x: Array, n: int) -> Array:
        wide = _widened(x)
        ctx.save_for_backward(wide)
        ctx.n = n
        return Polygamma.value(n, wide).astype(x.dtype, copy=False)

    @staticmethod
    @quietly
    def backward(ctx: Context, grad: Array) -> tuple[Array, None]:
        (x,) = ctx.saved
        return grad * Polygamma.value(ctx.n + 1, x).astype(grad.dtype, copy=False), None


# --------------------------------------------------------------------- front doors
def erfinv(input: Any) -> Tensor:
    """The inverse error function, elementwise.

    Parameters
    ----------
    input : Tensor or array_like
        Values in [-1, 1]; integers become float32.

    Returns
    -------
    Tensor
        y with erf(y) = x: -inf at -1, inf at 1, NaN outside [-1, 1].

    Notes
    -----
    d/dx erfinv(x) = sqrt(pi) / 2 * exp(erfinv(x)**2): inf at -1 and 1, as PyTorch's.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([0.0, 0.5], dtype=cr.float64, requires_grad=True)
    >>> y = cr.erfinv(x)
    >>> y
    tensor([0.0000, 0.4769], dtype=float64, grad_fn=<ErfinvBackward>)
    >>> y.sum().backward()
    >>> x.grad
    tensor([0.8862, 1.1126], dtype=float64)
    """
    return Erfinv.apply(as_floating_tensor(input))


def erfc(input: Any) -> Tensor:
    """The complementary error function, 1 - erf(x), elementwise, accurate where erf(x) is
    close to 1.

    Parameters
    ----------
    input : Tensor or array_like
        Integers become float32.

    Returns
    -------
    Tensor
        erfc(x), in [0, 2].

    Notes
    -----
    erfc(x) = 2 / sqrt(pi) * integral from x to inf of exp(-t**2) dt;
    d/dx erfc(x) = -2 / sqrt(pi) * exp(-x**2).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.erfc(cr.tensor([0.0, 10.0], dtype=cr.float64))
    tensor([1.0000e+00, 2.0885e-45], dtype=float64)
    """
    return Erfc.apply(as_floating_tensor(input))


def lgamma(input: Any) -> Tensor:
    """The logarithm of the absolute value of the gamma function, elementwise.

    Parameters
    ----------
    input : Tensor or array_like
        Integers become float32.

    Returns
    -------
    Tensor
        log|Gamma(x)|: inf at 0, at the negative integers and at +-inf.

    Notes
    -----
    d/dx log|Gamma(x)| = digamma(x): NaN at the negative integers, as PyTorch's.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 4.0], dtype=cr.float64, requires_grad=True)
    >>> cr.lgamma(x)  # log 0! and log 3!
    tensor([0.0000, 1.7918], dtype=float64, grad_fn=<LgammaBackward>)
    """
    return Lgamma.apply(as_floating_tensor(input))


def digamma(input: Any) -> Tensor:
    """The digamma function psi(x) = d/dx log Gamma(x), elementwise.

    Parameters
    ----------
    input : Tensor or array_like
        Integers become float32.

    Returns
    -------
    Tensor
        psi(x): -inf at 0 (+inf at -0.0), NaN at the negative integers, as PyTorch's.

    Notes
    -----
    psi(x) = Gamma'(x) / Gamma(x);  d psi/dx = polygamma(1, x) = sum over k >= 0 of
    1 / (x + k)**2.

    The derivative (``polygamma(1, x)``) is SciPy's, exact to float64 rounding; PyTorch's
    own differs from it by up to about 5e-10 relatively, and at the poles is a large finite
    number where this one is inf.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.digamma(cr.tensor([1.0], dtype=cr.float64))  # minus Euler's constant
    tensor([-0.5772], dtype=float64)
    """
    return Polygamma.apply(as_floating_tensor(input), 0)


def polygamma(n: int, input: Any) -> Tensor:
    """The n-th derivative of the digamma function, elementwise (PyTorch's argument order:
    the order first).

    Parameters
    ----------
    n : int
        The order, >= 0 (0 is digamma itself).
    input : Tensor or array_like
        Integers become float32.

    Returns
    -------
    Tensor
        psi^(n)(x).

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n`` is negative.

    Notes
    -----
    polygamma(n, x) = d^(n+1)/dx^(n+1) log Gamma(x) = (-1)**(n+1) n! * sum over k >= 0 of
    1 / (x + k)**(n+1) for n >= 1;  d/dx polygamma(n, x) = polygamma(n + 1, x).

    Values are SciPy's: 0 at +inf and inf at the poles for n >= 1, where PyTorch's give NaN
    and (for n = 1) a large finite number; and exact where PyTorch's ``polygamma(1, x)``
    differs by up to about 5e-10 relatively.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.polygamma(1, cr.tensor([1.0], dtype=cr.float64))  # pi**2 / 6
    tensor([1.6449], dtype=float64)
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"polygamma: expected an integer order n, got {n!r}")
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"polygamma: expected an order n >= 0, got {n}")
    return Polygamma.apply(as_floating_tensor(input), n)


def i0(input: Any) -> Tensor:
    """The modified Bessel function of the first kind of order 0, elementwise.

    Parameters
    ----------
    input : Tensor or array_like
        Integers become float32.

    Returns
    -------
    Tensor
        I0(x) >= 1 (inf for large |x|: see ``chainrule.special.i0e``).

    Notes
    -----
    I0(x) = sum over k >= 0 of (x**2 / 4)**k / (k!)**2;  d/dx I0(x) = I1(x), the
    modified Bessel function of order 1.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.i0(cr.tensor([0.0, 1.0], dtype=cr.float64))
    tensor([1.0000, 1.2661], dtype=float64)
    """
    return I0.apply(as_floating_tensor(input))


def i0e(input: Any) -> Tensor:
    """The exponentially scaled modified Bessel function exp(-|x|) I0(x), elementwise:
    finite where I0 overflows.

    Parameters
    ----------
    input : Tensor or array_like
        Integers become float32.

    Returns
    -------
    Tensor
        exp(-|x|) I0(x), in (0, 1].

    Notes
    -----
    d/dx exp(-|x|) I0(x) = exp(-|x|) I1(x) - sign(x) exp(-|x|) I0(x)
    = i1e(x) - sign(x) i0e(x).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.i0e(cr.tensor([0.0, 1000.0], dtype=cr.float64))
    tensor([1.0000, 0.0126], dtype=float64)
    """
    return I0e.apply(as_floating_tensor(input))


def i1(input: Any) -> Tensor:
    """The modified Bessel function of the first kind of order 1, elementwise
    (``torch.special.i1``).

    Parameters
    ----------
    input : Tensor or array_like
        Integers become float32.

    Returns
    -------
    Tensor
        I1(x), odd in x (inf for large |x|: see ``chainrule.special.i1e``).

    Notes
    -----
    I1(x) = sum over k >= 0 of (x / 2)**(2k + 1) / (k! (k + 1)!);
    d/dx I1(x) = I0(x) - I1(x) / x, which is 1/2 at x = 0. At -inf and inf the value is
    NaN, as SciPy's and PyTorch's are.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([0.0, 1.0], dtype=cr.float64, requires_grad=True)
    >>> y = cr.special.i1(x)
    >>> y
    tensor([0.0000, 0.5652], dtype=float64, grad_fn=<I1Backward>)
    >>> y.sum().backward()
    >>> x.grad
    tensor([0.5000, 0.7009], dtype=float64)
    """
    return I1.apply(as_floating_tensor(input))


def i1e(input: Any) -> Tensor:
    """The exponentially scaled modified Bessel function exp(-|x|) I1(x), elementwise:
    finite where I1 overflows (``torch.special.i1e``).

    Parameters
    ----------
    input : Tensor or array_like
        Integers become float32.

    Returns
    -------
    Tensor
        exp(-|x|) I1(x), in (-1/2, 1/2).

    Notes
    -----
    d/dx exp(-|x|) I1(x) = i0e(x) - i1e(x) (sign(x) + 1 / x), which is 1/2 at x = 0.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.i1e(cr.tensor([0.0, 1.0, 1000.0], dtype=cr.float64))
    tensor([0.0000, 0.2079, 0.0126], dtype=float64)
    """
    return I1e.apply(as_floating_tensor(input))


def erfcx(input: Any) -> Tensor:
    """The scaled complementary error function exp(x**2) erfc(x), elementwise, finite where
    exp(x**2) overflows and erfc(x) underflows (``torch.special.erfcx``).

    Parameters
    ----------
    input : Tensor or array_like
        Integers become float32.

    Returns
    -------
    Tensor
        erfcx(x) > 0: about 1 / (x sqrt(pi)) for large x, inf at -inf, 0 at inf.

    Notes
    -----
    erfcx(x) = exp(x**2) * 2 / sqrt(pi) * integral from x to inf of exp(-t**2) dt;
    d/dx erfcx(x) = 2 x erfcx(x) - 2 / sqrt(pi).

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([0.0, 30.0], dtype=cr.float64, requires_grad=True)
    >>> y = cr.special.erfcx(x)
    >>> y
    tensor([1.0000, 0.0188], dtype=float64, grad_fn=<ErfcxBackward>)
    >>> y.sum().backward()
    >>> x.grad
    tensor([-1.1284e+00, -6.2584e-04], dtype=float64)
    """
    return Erfcx.apply(as_floating_tensor(input))


def ndtr(input: Any) -> Tensor:
    """The standard normal distribution function Phi(x) = P(Z <= x), elementwise.

    Parameters
    ----------
    input : Tensor or array_like
        Integers become float32.

    Returns
    -------
    Tensor
        Phi(x), in [0, 1].

    Notes
    -----
    Phi(x) = erfc(-x / sqrt(2)) / 2;  d Phi/dx = exp(-x**2 / 2) / sqrt(2 pi), the normal
    density.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.ndtr(cr.tensor([0.0, 1.0], dtype=cr.float64))
    tensor([0.5000, 0.8413], dtype=float64)
    """
    return Ndtr.apply(as_floating_tensor(input))


def log_ndtr(input: Any) -> Tensor:
    """The logarithm of the standard normal distribution function, log Phi(x), elementwise,
    accurate far into the left tail (where Phi(x) underflows).

    Parameters
    ----------
    input : Tensor or array_like
        Integers become float32.

    Returns
    -------
    Tensor
        log Phi(x) <= 0.

    Notes
    -----
    d/dx log Phi(x) = exp(-x**2 / 2) / (sqrt(2 pi) Phi(x)), computed as PyTorch's as
    exp(-(log Phi(x) + x**2 / 2)) / sqrt(2 pi): about -x far to the left, NaN at -inf.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.log_ndtr(cr.tensor([-40.0, 0.0], dtype=cr.float64))  # ndtr(-40) is 0
    tensor([-8.0461e+02, -6.9315e-01], dtype=float64)
    """
    return LogNdtr.apply(as_floating_tensor(input))


def ndtri(input: Any) -> Tensor:
    """The standard normal quantile function Phi^-1(p), the inverse of ``ndtr``,
    elementwise.

    Parameters
    ----------
    input : Tensor or array_like
        Probabilities in [0, 1]; integers become float32.

    Returns
    -------
    Tensor
        x with Phi(x) = p: -inf at 0, inf at 1, NaN outside [0, 1].

    Notes
    -----
    d/dp ndtri(p) = sqrt(2 pi) * exp(ndtri(p)**2 / 2): inf at 0 and 1.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.ndtri(cr.tensor([0.5, 0.975], dtype=cr.float64))
    tensor([0.0000, 1.9600], dtype=float64)
    """
    return Ndtri.apply(as_floating_tensor(input))


def entr(input: Any) -> Tensor:
    """The entropy term -x log(x), elementwise: 0 at 0 and -inf below 0, as PyTorch's and
    SciPy's.

    Parameters
    ----------
    input : Tensor or array_like
        Integers become float32.

    Returns
    -------
    Tensor
        -x log(x) for x > 0, 0 for x = 0, -inf for x < 0 (NaN stays NaN).

    Notes
    -----
    d/dx (-x log x) = -(1 + log x): inf at 0 and NaN below, as PyTorch's.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.entr(cr.tensor([0.0, 0.5, -1.0], dtype=cr.float64))
    tensor([0.0000, 0.3466,   -inf], dtype=float64)
    """
    return Entr.apply(as_floating_tensor(input))


# --------------------------------------------------------------------- compositions
def xlog1py(input: Any, other: Any) -> Tensor:
    """input * log1p(other) elementwise, 0 where input is 0 and other is not NaN (SciPy's and
    PyTorch's ``xlog1py``, the companion of ``xlogy``).

    Parameters
    ----------
    input, other : Tensor, array_like or number
        Broadcast together; integers become float32.

    Returns
    -------
    Tensor
        x log(1 + y), with 0 log(1 + y) counted as 0 for any y but NaN.

    Notes
    -----
    d/dx = log1p(y), d/dy = x / (1 + y). As with ``xlogy``, where x is 0 and log1p(y) is
    not finite (y <= -1 or inf) the gradient with respect to x is 0.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.xlog1py(cr.tensor([0.0, 2.0], dtype=cr.float64), -1.0)
    tensor([0., -inf], dtype=float64)
    """
    from chainrule.autograd.ops.elementwise import log1p, where
    from chainrule.autograd.ops.trig import _floating_pair

    a, b = _floating_pair(input, other)
    b_data = b.data
    lost = (a.data == 0) & ~(np.isfinite(b_data) & (b_data > -1)) & ~np.isnan(b_data)
    return a * log1p(where(lost, 0.0, b) if lost.any() else b)


def multigammaln(input: Any, p: int) -> Tensor:
    """The log of the multivariate gamma function of dimension ``p``, elementwise.

    Parameters
    ----------
    input : Tensor of floating dtype
        Every element > (p - 1) / 2.
    p : int
        The dimension, >= 1.

    Returns
    -------
    Tensor
        p (p - 1) / 4 log(pi) + sum over j = 1..p of lgamma(x + (1 - j) / 2).

    Raises
    ------
    ValueError
        If ``p`` < 1 or an element is <= (p - 1) / 2.

    Notes
    -----
    d/dx = sum over j = 1..p of digamma(x + (1 - j) / 2).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.special.multigammaln(cr.tensor([2.5], dtype=cr.float64), 2)
    tensor([0.8570], dtype=float64)
    """
    if isinstance(p, bool) or not isinstance(p, int | np.integer) or p < 1:
        raise ValueError(f"multigammaln: expected a dimension p >= 1, got {p!r}")
    x = as_floating_tensor(input)
    if x.data.size and not bool((x.data > (p - 1) / 2).all()):
        raise ValueError(
            f"multigammaln: expected every element > (p - 1) / 2 = {(p - 1) / 2}, got a "
            f"smallest one of {x.data.min()}"
        )
    total = lgamma(x)
    for j in range(2, int(p) + 1):
        total = total + lgamma(x + (1 - j) / 2)
    return total + p * (p - 1) / 4 * math.log(math.pi)
