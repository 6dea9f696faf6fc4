"""PyTorch's covariance, correlation and histogram: ``cov`` and ``corrcoef``, composed of
sums and a matrix product as PyTorch composes them (so gradients follow, with respect to the
observations and to ``aweights``), and ``histogram``, counts without a gradient."""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

from chainrule.autograd.ops._operands import DtypeNotSupportedError, as_tensor
from chainrule.autograd.ops.arithmetic import div, mul, sub
from chainrule.autograd.ops.elementwise import clip, sqrt
from chainrule.autograd.ops.linalg import matmul
from chainrule.autograd.ops.reductions import sum as _sum
from chainrule.autograd.ops.shape import diagonal, reshape, squeeze, transpose
from chainrule.backend import Array, np
from chainrule.tensor import Tensor, _read_in_python


def _weights(name: str, weights: Any, observations: int, kinds: str, kind_name: str) -> Tensor:
    """``fweights`` or ``aweights`` checked as PyTorch checks them."""
    w = as_tensor(weights)
    if w.ndim > 1:
        raise ValueError(f"cov: expected {name} of at most 1 dimension, got shape {w.shape}")
    if w.dtype.kind not in kinds:
        raise TypeError(f"cov: expected {name} of {kind_name} dtype, got {w.dtype}")
    if w.data.size != observations:
        raise ValueError(
            f"cov: expected {name} with one entry per observation ({observations}), got "
            f"{w.data.size}"
        )
    if observations and w.data.min() < 0:
        raise ValueError(f"cov: expected {name} >= 0, got a smallest one of {w.data.min()}")
    return w


def cov(input: Any, *, correction: int = 1, fweights: Any = None, aweights: Any = None) -> Tensor:
    """The covariance matrix of the variables in the rows of ``input``, observed in its
    columns (``torch.cov``, NumPy's ``cov``).

    Parameters
    ----------
    input : Tensor of shape (variables, observations), or (observations,)
        A 1-D tensor (or a 0-d one) is one variable. Integers give float32.
    correction : int, default=1
        Subtracted from the number of observations in the divisor: 1 for the unbiased
        estimate (Bessel's correction), 0 for the maximum-likelihood one.
    fweights : Tensor of shape (observations,), optional
        Integer frequency weights: how many times each observation occurred.
    aweights : Tensor of shape (observations,), optional
        Floating observation weights (reliabilities); a gradient flows to them.

    Returns
    -------
    Tensor of shape (variables, variables)
        Squeezed as PyTorch squeezes it: a 0-d tensor for one variable.

    Raises
    ------
    ValueError
        If ``input`` has more than 2 dimensions; a weight tensor has more than 1 dimension,
        a length other than the number of observations, or a negative entry; or the weights
        sum to zero.
    TypeError
        If ``input`` is bool or complex, ``correction`` is not an integer, ``fweights`` is
        not of an integer dtype or ``aweights`` not of a floating one.

    Notes
    -----
    With w = fweights * aweights (1 where not given), the weighted mean of row i is
    mu_i = sum_j w_j x_ij / sum_j w_j, and

        cov_ik = sum_j w_j (x_ij - mu_i) (x_kj - mu_k) / d,

    d = sum_j w_j - correction * sum_j w_j aweights_j / sum_j w_j with ``aweights`` (and
    ``correction`` not 0), else sum_j w_j - correction. Where d <= 0 it is taken as 0,
    giving inf or NaN, as PyTorch gives them (PyTorch warns there; chainrule does not, as
    its ``var`` does not).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.cov(cr.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
    tensor([[ 1., -1.],
            [-1.,  1.]])
    """
    x = as_tensor(input)
    if x.ndim > 2:
        raise ValueError(f"cov: expected input of at most 2 dimensions, got shape {x.shape}")
    if x.dtype.kind in "bc":
        raise TypeError(f"cov: expected a real, non-bool input, got dtype {x.dtype}")
    if isinstance(correction, bool) or not isinstance(correction, int | np.integer):
        raise TypeError(f"cov: expected an integer correction, got {correction!r}")
    rows = reshape(x, (1, -1)) if x.ndim < 2 else x
    observations = rows.shape[1]
    w: Tensor | None = None
    if fweights is not None:
        w = _weights("fweights", fweights, observations, "iu", "an integer")
    weights = None
    if aweights is not None:
        weights = _weights("aweights", aweights, observations, "f", "a floating")
        w = weights if w is None else mul(w, weights)
    total: Tensor | int = observations
    if w is not None:
        _read_in_python()  # the weights' values are checked, and their sum
        total = _sum(w)
        if total.data == 0:
            raise ValueError("cov: the weights sum to zero; the mean cannot be normalized")
    mean = div(_sum(rows if w is None else mul(rows, w), 1), total)
    centered = sub(rows, reshape(mean, (-1, 1)))
    product = matmul(centered, transpose(centered if w is None else mul(centered, w)))
    divisor: Tensor | int
    if w is not None and weights is not None and correction != 0:
        divisor = sub(total, div(mul(correction, _sum(mul(w, weights))), total))
    else:
        divisor = total - int(correction)
    if (divisor.data if isinstance(divisor, Tensor) else divisor) <= 0:
        divisor = 0  # no degrees of freedom: inf and NaN, as PyTorch gives them
    return squeeze(div(product, divisor))


def corrcoef(input: Any) -> Tensor:
    """The Pearson correlation coefficients of the variables in the rows of ``input``
    (``torch.corrcoef``, NumPy's ``corrcoef``).

    Parameters
    ----------
    input : Tensor of shape (variables, observations), or (observations,)
        As ``cov`` takes it.

    Returns
    -------
    Tensor of shape (variables, variables)
        Values in [-1, 1]; a 0-d tensor for one variable (1, or NaN where its variance is
        0, inf or NaN).

    Raises
    ------
    ValueError, TypeError
        As ``cov`` raises them.

    Notes
    -----
    r_ik = cov_ik / sqrt(cov_ii cov_kk), clipped to [-1, 1] against rounding (the gradient
    is 0 where a value was clipped, as for ``clip``). A constant variable gives NaN in its
    row and column.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.corrcoef(cr.tensor([[0.0, 1.0, 2.0], [2.0, 1.5, 0.0]]))
    tensor([[ 1.0000, -0.9608],
            [-0.9608,  1.0000]])
    """
    c = cov(input)
    if c.ndim == 0:
        return div(c, c)
    deviations = sqrt(diagonal(c))
    c = div(c, reshape(deviations, (-1, 1)))
    c = div(c, reshape(deviations, (1, -1)))
    return clip(c, -1, 1)


class HistBinEdges(NamedTuple):
    """What ``histogram`` returns, as PyTorch's does: the counts (or densities), and the
    edges of the bins (``hist, bin_edges = chainrule.histogram(x, 10)``)."""

    hist: Tensor
    bin_edges: Tensor


def _linspace(start: float, end: float, steps: int, dtype: np.dtype[Any]) -> Array:
    """``steps`` >= 2 evenly spaced values from ``start`` to ``end`` exactly as PyTorch's CPU
    ``linspace`` gives them, so that bin edges match: the bounds and the step rounded to
    ``dtype``, then start + step * i for the first half and end - step * (steps - 1 - i) for
    the second, each a fused multiply-add (one rounding of the exact result)."""
    low, high = dtype.type(start), dtype.type(end)
    step = (high - low) / dtype.type(steps - 1)
    i = np.arange(steps)
    first = i < steps // 2
    multiples = np.where(first, i, i - (steps - 1))  # of step, from the nearer bound
    if dtype == np.float64:
        return _fused_float64(float(low), float(high), float(step), first, multiples)
    # float32: step * multiple is exact in float64 (24 + 30 bits), so the float64 sum is the
    # exact result rounded once; rounding that to float32 is a second rounding, wrong only
    # where the sum landed on a float32 midpoint that the exact result was not on.
    base = np.where(first, np.float64(low), np.float64(high))
    product = np.float64(step) * multiples
    wide = base + product
    error = (base - (wide - (wide - base))) + (product - (wide - base))  # TwoSum: exact - wide
    out = wide.astype(np.float32)
    below = np.where(out < wide, out, np.nextafter(out, np.float32(-np.inf)))
    above = np.where(out > wide, out, np.nextafter(out, np.float32(np.inf)))
    midpoint = (below.astype(np.float64) + above.astype(np.float64)) / 2 == wide
    fix = midpoint & (error != 0) & (out.astype(np.float64) != wide)
    out[fix] = np.where(error > 0, above, below)[fix]
    return out


def _fused_float64(low: float, high: float, step: float, first: Array, multiples: Array) -> Array:
    """low + step * m (or high + step * m) for each multiple m, each rounded once from the
    exact value, as a fused multiply-add gives it: exact in Python's integers, whose true
    division rounds correctly."""
    step_num, step_den = step.as_integer_ratio()
    values = []
    for from_low, m in zip(first.tolist(), multiples.tolist(), strict=True):
        bound_num, bound_den = (low if from_low else high).as_integer_ratio()
        # bound + step * m over the common denominator (both are powers of 2)
        values.append((bound_num * step_den + step_num * m * bound_den) / (bound_den * step_den))
    return np.array(values, dtype=np.float64)


def histogram(
    input: Any,
    bins: Any = 100,
    *,
    range: tuple[float, float] | None = None,
    weight: Any = None,
    density: bool = False,
) -> HistBinEdges:
    """A histogram of the values of ``input`` (``torch.histogram``, NumPy's ``histogram``).

    Parameters
    ----------
    input : Tensor of float32 or float64
        Any shape; its elements are counted.
    bins : int or Tensor, default=100
        The number of equal-width bins, or a 1-D tensor of the bin edges (increasing, at
        least 2, of ``input``'s dtype).
    range : tuple of (float, float), optional
        The lower and upper edge, with an int ``bins``; by default the smallest and largest
        element ((0, 1) for an empty input). Elements outside are not counted.
    weight : Tensor, optional
        Of ``input``'s shape and dtype: what each element adds to its bin (1 by default).
    density : bool, default=False
        Whether to give densities, which integrate to 1 over the range, rather than counts.

    Returns
    -------
    HistBinEdges
        ``hist`` (the counts, or densities, one per bin) and ``bin_edges`` (one more than
        the bins), both of ``input``'s dtype.

    Raises
    ------
    DtypeNotSupportedError
        If ``input`` is not float32 or float64 (PyTorch has no histogram of integers, bools
        or float16).
    TypeError
        If ``bins`` is neither an int nor a tensor of edges, ``range`` is given with edges,
        or the edges' or weights' dtype is not ``input``'s.
    ValueError
        If ``bins`` < 1, there are fewer than 2 edges or they decrease, ``range`` is not a
        finite pair with min <= max (nor is the data's, with NaN or inf in it), or
        ``weight``'s shape is not ``input``'s.

    Notes
    -----
    With an int ``bins`` = B over [lo, hi] (widened to [lo - 0.5, hi + 0.5] where lo = hi),
    the edges are ``linspace(lo, hi, B + 1)`` in ``input``'s dtype, rounded exactly as
    PyTorch's. Element x falls in bin i where edge_i <= x < edge_(i+1); the last bin
    includes its right edge. With ``density``, hist_i = count_i / (sum of counts) /
    (edge_(i+1) - edge_i).

    Examples
    --------
    >>> import chainrule as cr
    >>> hist, bin_edges = cr.histogram(cr.tensor([1.0, 2.0, 1.0]), bins=4, range=(0.0, 3.0))
    >>> hist
    tensor([0., 2., 1., 0.])
    >>> bin_edges
    tensor([0.0000, 0.7500, 1.5000, 2.2500, 3.0000])
    """
    x = as_tensor(input)
    dtype = x.dtype
    if dtype not in (np.float32, np.float64):
        raise DtypeNotSupportedError(
            f"histogram: expected a float32 or float64 input, got dtype {dtype}; convert "
            "first, e.g. t.float()"
        )
    _read_in_python()  # the counts are found in NumPy, outside the ops
    values = x.data.reshape(-1)
    if isinstance(bins, int | np.integer) and not isinstance(bins, bool):
        if bins < 1:
            raise ValueError(f"histogram: expected bins >= 1, got {bins}")
        if range is not None:
            try:
                low, high = (float(bound) for bound in range)
            except (TypeError, ValueError):
                raise TypeError(
                    f"histogram: expected range as a pair of numbers (min, max), got {range!r}"
                ) from None
        elif values.size:
            low, high = float(values.min()), float(values.max())
        else:
            low, high = 0.0, 1.0
        if not (np.isfinite(low) and np.isfinite(high)):
            where = "range" if range is not None else "the data's range"
            raise ValueError(f"histogram: {where} [{low}, {high}] is not finite")
        if low > high:
            raise ValueError(f"histogram: expected range min <= max, got ({low}, {high})")
        if low == high:  # an empty range widened, as PyTorch and NumPy widen it
            low, high = low - 0.5, high + 0.5
        edges = _linspace(low, high, operator.index(bins) + 1, dtype)
    elif isinstance(bins, Tensor | np.ndarray | list | tuple):
        if range is not None:
            raise TypeError("histogram: range is taken with an int bins only, not with edges")
        edges = _edges(bins, dtype)
    else:
        raise TypeError(
            f"histogram: expected bins as an int or a tensor of edges, got {type(bins).__name__}"
        )
    if weight is None:
        weights = None
    else:
        given = as_tensor(weight)
        if given.shape != x.shape:
            raise ValueError(
                f"histogram: expected weight of input's shape {x.shape}, got shape {given.shape}"
            )
        if given.dtype != dtype:
            raise TypeError(
                f"histogram: expected weight of input's dtype {dtype}, got {given.dtype}"
            )
        weights = given.data.reshape(-1)
    counted = (values >= edges[0]) & (values <= edges[-1])  # NaN is outside
    positions = np.searchsorted(edges, values[counted], side="right") - 1
    positions = np.minimum(positions, edges.size - 2)  # the last bin holds its right edge
    hist = np.zeros(edges.size - 1, dtype=dtype)
    np.add.at(hist, positions, 1 if weights is None else weights[counted])
    if density:
        with np.errstate(divide="ignore", invalid="ignore"):
            hist = hist / dtype.type(hist.sum())
            hist = hist / np.diff(edges)
    return HistBinEdges(Tensor._from_op(hist, None), Tensor._from_op(edges, None))


def _edges(bins: Any, dtype: np.dtype[Any]) -> Array:
    """The bin edges given as a tensor (of ``dtype``) or a sequence, checked."""
    if isinstance(bins, Tensor):
        if bins.dtype != dtype:
            raise TypeError(
                f"histogram: expected bin edges of input's dtype {dtype}, got {bins.dtype}"
            )
        edges = bins.data
    else:
        edges = np.asarray(bins, dtype=dtype)
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(
            f"histogram: expected a 1-D tensor of at least 2 bin edges, got shape {edges.shape}"
        )
    if not (np.diff(edges) >= 0).all():
        raise ValueError(f"histogram: expected increasing bin edges, got {edges.tolist()}")
    return edges.copy()
