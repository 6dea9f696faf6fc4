"""PyTorch's products and combinations of tensors, composed of indexing, padding and
stacking, so that gradients follow: ``cross`` (with ``torch.cross``'s default dimension),
``cartesian_prod``, ``combinations`` and ``block_diag``."""

from __future__ import annotations

import itertools
import operator
from typing import Any

from chainrule.autograd.ops._operands import as_tensor, check_axis
from chainrule.autograd.ops.arithmetic import mul, sub
from chainrule.autograd.ops.shape import broadcast_to, concatenate, index, pad, reshape, stack
from chainrule.backend import default_float, np
from chainrule.dtypes import _result_dtype
from chainrule.tensor import Tensor


def cross(input: Any, other: Any, dim: int | None = None) -> Tensor:
    """The cross product of 3-vectors along ``dim``, batch dimensions broadcast
    (``torch.cross``).

    Parameters
    ----------
    input, other : Tensor of the same number of dimensions and the same dtype
        Size 3 along ``dim``; the other dimensions broadcast.
    dim : int, optional
        The dimension that holds the vectors. By default the first dimension of ``input``
        of size 3, as ``torch.cross`` chooses it (``chainrule.linalg.cross`` takes the last).

    Returns
    -------
    Tensor
        ``input x other``, of the broadcast shape and the inputs' dtype (integers stay
        integers).

    Raises
    ------
    ValueError
        If the inputs differ in number of dimensions, no dimension has size 3, the size
        along ``dim`` is not 3, ``dim`` is out of range, or the other dimensions do not
        broadcast.
    TypeError
        If the dtypes differ (PyTorch refuses float32 with float64 here).

    Notes
    -----
    (a x b) = (a2 b3 - a3 b2, a3 b1 - a1 b3, a1 b2 - a2 b1); d(a x b)/da = -[b]x and
    d(a x b)/db = [a]x, where [v]x is the matrix with [v]x w = v x w. PyTorch 2.13 warns
    that the default ``dim`` will change to -1; chainrule keeps PyTorch's present choice
    without a warning.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.cross(cr.tensor([[1.0, 0.0, 0.0]]), cr.tensor([[0.0, 1.0, 0.0]]))
    tensor([[0., 0., 1.]])
    """
    a, b = as_tensor(input), as_tensor(other)
    if a.ndim != b.ndim:
        raise ValueError(
            f"cross: expected inputs of the same number of dimensions, got shapes {a.shape} "
            f"and {b.shape}"
        )
    if a.dtype != b.dtype:
        raise TypeError(
            f"cross: expected inputs of the same dtype, got {a.dtype} and {b.dtype}; "
            "convert one first, e.g. other.to(input.dtype)"
        )
    if dim is None:
        threes = [k for k, n in enumerate(a.shape) if n == 3]
        if not threes:
            raise ValueError(f"cross: expected a dimension of size 3, got shape {a.shape}")
        dim = threes[0]
    check_axis(dim, a.ndim, "cross")
    if a.shape[dim] != 3 or b.shape[dim] != 3:
        raise ValueError(
            f"cross: expected size 3 along dim {dim}, got shapes {a.shape} and {b.shape}"
        )
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"cross: the shapes {a.shape} and {b.shape} do not broadcast together"
        ) from None
    a, b = broadcast_to(a, shape), broadcast_to(b, shape)
    axis = operator.index(dim) % a.ndim
    lead = (slice(None),) * axis
    x, y, z = (index(a, (*lead, i)) for i in range(3))
    u, v, w = (index(b, (*lead, i)) for i in range(3))
    parts = [sub(mul(y, w), mul(z, v)), sub(mul(z, u), mul(x, w)), sub(mul(x, v), mul(y, u))]
    return stack(parts, axis)


def cartesian_prod(*tensors: Any) -> Tensor:
    """Every tuple with one element from each of ``tensors``, as the rows of a matrix
    (``torch.cartesian_prod``; ``itertools.product`` of tensors).

    Parameters
    ----------
    *tensors : Tensor
        One or more 1-D tensors of one dtype.

    Returns
    -------
    Tensor
        Of shape (n1 * n2 * ... * nk, k), row-major order (the last tensor varies fastest);
        for one tensor, that tensor itself, as in PyTorch.

    Raises
    ------
    ValueError
        If no tensor is given, or one is not 1-D.
    TypeError
        If the dtypes differ.

    Notes
    -----
    Row r holds (t1[i1], ..., tk[ik]) for the r-th index tuple in row-major order. Each
    column gathers its tensor's elements, so the gradient with respect to t_j[i] is the sum
    of the output's gradients over the rows that hold it.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.cartesian_prod(cr.tensor([1, 2]), cr.tensor([3, 4, 5]))
    tensor([[1, 3],
            [1, 4],
            [1, 5],
            [2, 3],
            [2, 4],
            [2, 5]])
    """
    if not tensors:
        raise ValueError("cartesian_prod: expected at least one tensor, got none")
    items = [as_tensor(t) for t in tensors]
    for k, t in enumerate(items):
        if t.ndim != 1:
            raise ValueError(
                f"cartesian_prod: expected 1-D tensors, got shape {t.shape} for tensor {k}"
            )
    dtypes = sorted({str(t.dtype) for t in items})
    if len(dtypes) > 1:
        raise TypeError(
            f"cartesian_prod: expected tensors of one dtype, got {', '.join(dtypes)}; convert "
            "them first"
        )
    if len(items) == 1:
        return items[0]
    grids = np.indices([t.shape[0] for t in items]).reshape(len(items), -1)
    return stack([index(t, (rows,)) for t, rows in zip(items, grids, strict=True)], 1)


def combinations(input: Any, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-``r`` combinations of the elements of a 1-D tensor, as the rows of a
    matrix (``torch.combinations``; ``itertools.combinations`` of a tensor).

    Parameters
    ----------
    input : Tensor
        1-D.
    r : int, default=2
        The length of each combination, >= 0.
    with_replacement : bool, default=False
        Whether an element may repeat within a combination
        (``itertools.combinations_with_replacement``).

    Returns
    -------
    Tensor
        Of shape (C, r) in ``itertools``' order, C = n! / (r! (n - r)!) (0 when r > n),
        or (n + r - 1)! / (r! (n - 1)!) with replacement; for r = 0, an empty 1-D tensor,
        as in PyTorch.

    Raises
    ------
    ValueError
        If ``input`` is not 1-D.
    TypeError
        If ``r`` is not a non-negative integer.

    Notes
    -----
    Each row gathers elements of ``input``, so the gradient with respect to input[i] is the
    sum of the output's gradients at the places that hold it.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.combinations(cr.tensor([1, 2, 3]))
    tensor([[1, 2],
            [1, 3],
            [2, 3]])
    """
    if isinstance(r, bool) or not isinstance(r, int | np.integer) or r < 0:
        raise TypeError(f"combinations: expected an integer r >= 0, got {r!r}")
    x = as_tensor(input)
    if x.ndim != 1:
        raise ValueError(f"combinations: expected a 1-D tensor, got shape {x.shape}")
    if r == 0:
        return index(x, (slice(0, 0),))
    choose = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    picks = np.array(list(choose(range(x.shape[0]), int(r))), dtype=np.int64)
    return index(x, (picks.reshape(-1, int(r)),))


def block_diag(*tensors: Any) -> Tensor:
    """A block-diagonal matrix of ``tensors``, zero off the blocks (``torch.block_diag``,
    SciPy's ``block_diag``).

    Parameters
    ----------
    *tensors : Tensor
        Tensors of at most 2 dimensions: a 0-d tensor is a 1 x 1 block, a 1-D one a row.

    Returns
    -------
    Tensor
        Of shape (sum of the blocks' rows, sum of their columns), the blocks along the
        diagonal in order; of the dtype the tensors promote to (``chainrule.result_type``'s
        rules: a 0-d tensor counts below the others). No tensors give a (1, 0) tensor of
        the default dtype, as in PyTorch.

    Raises
    ------
    ValueError
        If a tensor has more than 2 dimensions.

    Notes
    -----
    Each block is padded with zeros to the full width and the padded rows are concatenated,
    so the gradient with respect to each block is the output's gradient on that block.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.block_diag(cr.tensor([[1, 2], [3, 4]]), cr.tensor(5))
    tensor([[1, 2, 0],
            [3, 4, 0],
            [0, 0, 5]])
    """
    items = [as_tensor(t) for t in tensors]
    for k, t in enumerate(items):
        if t.ndim > 2:
            raise ValueError(
                f"block_diag: expected tensors of at most 2 dimensions, got shape {t.shape} for "
                f"tensor {k}"
            )
    if not items:
        return Tensor._from_op(np.zeros((1, 0), default_float()), None)
    dtype = _result_dtype("block_diag", items)
    blocks = [reshape(t, (1, -1) if t.ndim < 2 else t.shape) for t in items]
    blocks = [t if t.dtype == dtype else t.to(dtype) for t in blocks]
    width = sum(t.shape[1] for t in blocks)
    rows, left = [], 0
    for t in blocks:
        rows.append(pad(t, ((0, 0), (left, width - left - t.shape[1]))))
        left += t.shape[1]
    return concatenate(rows, 0)
